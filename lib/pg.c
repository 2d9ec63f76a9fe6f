/* pg.c: connecting, running statements, and turning server errors into
 * csvstage_error, with libpq. */
#include <config.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "error.h"
#include "pg.h"

/* Splits a libpq message into its first line (message) and the rest
 * (detail), dropping the trailing newline libpq always adds. */
static void
split_message(csvstage_error *err, const char *text)
{
  const char *nl;
  char buf[sizeof(err->message)];
  size_t n;

  if (!text)
    text = "";
  nl = strchr(text, '\n');
  n = nl ? (size_t)(nl - text) : strlen(text);
  if (n >= sizeof(buf))
    n = sizeof(buf) - 1;
  memcpy(buf, text, n);
  buf[n] = '\0';
  cs_strlcpy_utf8(err->message, buf, sizeof(err->message));
  if (nl) {
    const char *rest = nl + 1;
    while (*rest == '\t' || *rest == ' ')
      rest++;
    cs_strlcpy_utf8(err->detail, rest, sizeof(err->detail));
    n = strlen(err->detail);
    while (n > 0 && err->detail[n - 1] == '\n')
      err->detail[--n] = '\0';
  }
}

PGconn *
cs_connect(const char *conninfo, csvstage_error *err)
{
  const char *const keys[] = {"dbname", "fallback_application_name", NULL};
  const char *values[] = {conninfo ? conninfo : "", "csvstage", NULL};
  PGconn *conn;

  conn = PQconnectdbParams(keys, values, 1);
  if (!conn) {
    cs_fail(err, CSVSTAGE_E_NOMEM, "out of memory while connecting");
    return NULL;
  }
  if (PQstatus(conn) != CONNECTION_OK) {
    /* libpq's connection errors name host, port and user, never the
     * password. */
    if (!cs_failed(err)) {
      cs_fail(err, CSVSTAGE_E_CONNECT, "could not connect");
      split_message(err, PQerrorMessage(conn));
    }
    PQfinish(conn);
    return NULL;
  }
  return conn;
}

int
cs_transient(const char *sqlstate)
{
  if (!sqlstate)
    return 0;
  return strncmp(sqlstate, "40", 2) == 0 || strncmp(sqlstate, "53", 2) == 0 ||
         strncmp(sqlstate, "57", 2) == 0 || strncmp(sqlstate, "08", 2) == 0 ||
         strcmp(sqlstate, "55P03") == 0;
}

csvstage_code
cs_fail_result(csvstage_error *err, PGconn *conn, const PGresult *res)
{
  csvstage_code code;
  const char *primary;

  code = (conn && PQstatus(conn) == CONNECTION_BAD) ? CSVSTAGE_E_CONNLOST
         : res && cs_transient(PQresultErrorField(res, PG_DIAG_SQLSTATE)) ? CSVSTAGE_E_TRANSIENT
                                                                          : CSVSTAGE_E_DB;
  if (!err || cs_failed(err))
    return code;
  primary = res ? PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY) : NULL;
  cs_fail(err, code, "%s", "");
  if (primary) {
    cs_strlcpy_utf8(err->message, primary, sizeof(err->message));
    cs_strlcpy_utf8(err->detail, PQresultErrorField(res, PG_DIAG_MESSAGE_DETAIL),
                    sizeof(err->detail));
  } else {
    split_message(err, res ? PQresultErrorMessage(res)
                           : (conn ? PQerrorMessage(conn) : NULL));
    if (!err->message[0])
      cs_strlcpy_utf8(err->message, csvstage_strerror(code),
                      sizeof(err->message));
  }
  if (res) {
    cs_strlcpy_utf8(err->sqlstate, PQresultErrorField(res, PG_DIAG_SQLSTATE),
                    sizeof(err->sqlstate));
    cs_strlcpy_utf8(err->hint, PQresultErrorField(res, PG_DIAG_MESSAGE_HINT),
                    sizeof(err->hint));
    cs_strlcpy_utf8(err->table, PQresultErrorField(res, PG_DIAG_TABLE_NAME),
                    sizeof(err->table));
    cs_strlcpy_utf8(err->column, PQresultErrorField(res, PG_DIAG_COLUMN_NAME),
                    sizeof(err->column));
    cs_strlcpy_utf8(err->constraint,
                    PQresultErrorField(res, PG_DIAG_CONSTRAINT_NAME),
                    sizeof(err->constraint));
  }
  return code;
}

PGresult *
cs_exec(PGconn *conn, const char *sql, csvstage_error *err)
{
  PGresult *res;
  ExecStatusType st;

  res = PQexec(conn, sql);
  st = PQresultStatus(res);
  if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK)
    return res;
  cs_fail_result(err, conn, res);
  PQclear(res);
  return NULL;
}

char *
cs_quote_ident(PGconn *conn, const char *name, csvstage_error *err)
{
  char *q = PQescapeIdentifier(conn, name, strlen(name));

  if (!q)
    cs_fail(err, CSVSTAGE_E_INVALID, "cannot quote identifier: %s",
            PQerrorMessage(conn));
  return q;
}

PGconn *
cs_offline_conn(void)
{
  /* A socket path that cannot exist (/dev/null is no directory): the
   * attempt fails at once, with no network and no wait; the object stays. */
  PGconn *conn = PQconnectStart("host=/dev/null port=1");

  return conn;
}

static int
ident_start(unsigned char c)
{
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '_' || c >= 0x80;
}

static int
ident_cont(unsigned char c)
{
  return ident_start(c) || (c >= '0' && c <= '9') || c == '$';
}

static int
sql_space(char c)
{
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

int
cs_parse_ident(const char *text, char **parts, int max, char *why, size_t whylen)
{
  const char *p = text;
  int n = 0, after_dot = 0;

  while (sql_space(*p))
    p++;
  for (;;) {
    char *part = NULL;
    if (*p == '"') {
      size_t len = 0;
      if (!(part = malloc(strlen(p) + 1)))
        goto nomem;
      for (p++;; p++) {
        if (!*p) {
          snprintf(why, whylen, "string is not a valid identifier: \"%s\" (it has unclosed "
                   "double quotes)", text);
          goto bad;
        }
        if (*p == '"' && p[1] != '"')
          break;
        if (*p == '"')
          p++;
        part[len++] = *p;
      }
      p++;
      part[len] = '\0';
      if (len == 0) {
        snprintf(why, whylen, "string is not a valid identifier: \"%s\" (a quoted identifier "
                 "must not be empty)", text);
        goto bad;
      }
    } else if (ident_start((unsigned char)*p)) {
      size_t len = 0;
      while (ident_cont((unsigned char)p[len]))
        len++;
      if (!(part = strndup(p, len)))
        goto nomem;
      for (size_t i = 0; i < len; i++)   /* ASCII only, as for a UTF8 server */
        if (part[i] >= 'A' && part[i] <= 'Z')
          part[i] = (char)(part[i] - 'A' + 'a');
      p += len;
    } else {
      snprintf(why, whylen, "string is not a valid identifier: \"%s\"%s", text,
               *p == '.' ? " (no valid identifier before \".\")"
               : after_dot ? " (no valid identifier after \".\")" : "");
      goto bad;
    }
    if (n == max) {
      snprintf(why, whylen, "\"%s\" has more than %d parts", text, max);
      goto bad;
    }
    parts[n++] = part;
    while (sql_space(*p))
      p++;
    if (*p == '.') {
      after_dot = 1;
      for (p++; sql_space(*p); p++)
        ;
    } else if (!*p) {
      return n;
    } else {
      snprintf(why, whylen, "string is not a valid identifier: \"%s\"", text);
      part = NULL;
      goto bad;
    }
    continue;
  nomem:
    snprintf(why, whylen, "out of memory");
  bad:
    free(part);
    while (n > 0)
      free(parts[--n]);
    return -1;
  }
}

char *
cs_quote_literal(PGconn *conn, const char *text, csvstage_error *err)
{
  char *q = PQescapeLiteral(conn, text, strlen(text));

  if (!q)
    cs_fail(err, CSVSTAGE_E_INVALID, "cannot quote literal: %s",
            PQerrorMessage(conn));
  return q;
}

int
cs_run(PGconn *conn, const char *sql, csvstage_error *err)
{
  PGresult *res = cs_exec(conn, sql, err);

  PQclear(res);
  return res ? 0 : -1;
}

cs_commit_end
cs_commit_recheck(PGconn *lost, const char *xid, int seconds, const volatile sig_atomic_t *stop)
{
  PQconninfoOption *opts = PQconninfo(lost), *o;
  const char *keys[64], *vals[64];
  int n = 0, timeout_set = 0;
  struct timespec now, until, pause = {0, 250 * 1000 * 1000};
  cs_commit_end end = CS_COMMIT_UNKNOWN;

  if (!opts)
    return end;
  for (o = opts; o->keyword && n < 62; o++) {
    if (!o->val)
      continue;
    timeout_set |= strcmp(o->keyword, "connect_timeout") == 0;
    keys[n] = o->keyword;
    vals[n++] = o->val;
  }
  if (!timeout_set) {
    /* A host that is down would otherwise hold each try for the OS's
     * TCP timeout. */
    keys[n] = "connect_timeout";
    vals[n++] = "2";
  }
  keys[n] = vals[n] = NULL;
  clock_gettime(CLOCK_MONOTONIC, &until);
  until.tv_sec += seconds;
  do {
    PGconn *c = PQconnectdbParams(keys, vals, 0);
    if (c && PQstatus(c) == CONNECTION_OK) {
      const char *params[1] = {xid};
      PGresult *r = PQexecParams(c, "SELECT txid_status($1::bigint)", 1, NULL, params, NULL,
                                 NULL, 0);
      const char *st = PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1 &&
                       !PQgetisnull(r, 0, 0) ? PQgetvalue(r, 0, 0) : "";
      if (strcmp(st, "committed") == 0)
        end = CS_COMMITTED_AFTER_LOSS;
      else if (strcmp(st, "aborted") == 0)
        end = CS_ROLLED_BACK_AFTER_LOSS;
      /* "in progress": the old backend is still ending it; ask again.
       * No answer at all (an id too old to know): unknown. */
      if (strcmp(st, "in progress") != 0) {
        PQclear(r);
        PQfinish(c);
        break;
      }
      PQclear(r);
    }
    PQfinish(c);
    nanosleep(&pause, NULL);
    clock_gettime(CLOCK_MONOTONIC, &now);
  } while (!(stop && *stop) && now.tv_sec < until.tv_sec);
  PQconninfoFree(opts);
  return end;
}

cs_commit_end
cs_commit(PGconn *conn, char *xid, size_t xidsize, csvstage_error *err)
{
  csvstage_error e;
  PGresult *r;
  cs_commit_end end;

  csvstage_error_clear(&e);
  xid[0] = '\0';
  if (!(r = cs_exec(conn, "SELECT txid_current()", &e))) {
    end = CS_ROLLED_BACK;
  } else {
    snprintf(xid, xidsize, "%s", PQgetvalue(r, 0, 0));
    PQclear(r);
    if (cs_run(conn, "COMMIT", &e) == 0)
      return CS_COMMITTED;
    end = e.code == CSVSTAGE_E_CONNLOST
            ? cs_commit_recheck(conn, xid, CS_RECHECK_SECONDS, NULL)
            : CS_ROLLED_BACK;   /* refused: a deferred constraint, say */
  }
  if (end != CS_COMMITTED_AFTER_LOSS && err && !cs_failed(err))
    *err = e;
  return end;
}

int
cs_copy_begin(PGconn *conn, const char *sql, csvstage_error *err)
{
  PGresult *res = PQexec(conn, sql);

  if (PQresultStatus(res) != PGRES_COPY_IN) {
    cs_fail_result(err, conn, res);
    PQclear(res);
    return -1;
  }
  PQclear(res);
  return 0;
}

int
cs_copy_put(PGconn *conn, const char *data, size_t len, csvstage_error *err)
{
  /* PQputCopyData takes an int length: send huge buffers in slices. */
  while (len > 0) {
    int n = len > (1u << 30) ? (1 << 30) : (int)len;
    if (PQputCopyData(conn, data, n) != 1) {
      cs_fail_result(err, conn, NULL);
      return -1;
    }
    data += n;
    len -= (size_t)n;
  }
  return 0;
}

int
cs_copy_end(PGconn *conn, const char *abort_reason, long long *rows,
            csvstage_error *err)
{
  return cs_copy_end_ctx(conn, abort_reason, rows, err, NULL, 0);
}

int
cs_copy_end_ctx(PGconn *conn, const char *abort_reason, long long *rows,
                csvstage_error *err, char *context, size_t context_size)
{
  PGresult *res;
  int ok = 0, failed = 0;

  if (PQputCopyEnd(conn, abort_reason) != 1) {
    cs_fail_result(err, conn, NULL);
    failed = 1;
  }
  /* The verdict comes from PQgetResult; while it still says COPY_IN the end
   * did not get through, so say it again (psql's handleCopyIn does). */
  while ((res = PQgetResult(conn)) != NULL) {
    ExecStatusType st = PQresultStatus(res);
    if (st == PGRES_COPY_IN) {
      if (PQputCopyEnd(conn, abort_reason ? abort_reason : "csvstage: aborted") != 1)
        failed = 1;
    } else if (st == PGRES_COMMAND_OK) {
      ok = 1;
      if (rows)
        *rows = strtoll(PQcmdTuples(res), NULL, 10);
    } else {
      const char *ctx = PQresultErrorField(res, PG_DIAG_CONTEXT);
      if (context && context_size > 0 && !failed)
        snprintf(context, context_size, "%s", ctx ? ctx : "");
      cs_fail_result(err, conn, res);
      failed = 1;
    }
    PQclear(res);
    if (PQstatus(conn) == CONNECTION_BAD) {
      cs_fail_result(err, conn, NULL);
      failed = 1;
      break;
    }
  }
  return ok && !failed && !abort_reason ? 0 : -1;
}

/* Appends s to buf (size bufsize, holding used bytes) and returns the new
 * length; stops at the end of buf, always terminating it. */
static size_t
append(char *buf, size_t bufsize, size_t used, const char *s)
{
  size_t n = strlen(s);

  if (used + 1 >= bufsize)
    return used;
  if (n > bufsize - used - 1)
    n = bufsize - used - 1;
  memcpy(buf + used, s, n);
  buf[used + n] = '\0';
  return used + n;
}

char *
csvstage_conninfo_redact(const char *conninfo, char *buf, size_t bufsize)
{
  PQconninfoOption *opts, *o;
  char *perr = NULL;
  int has_password = 0;
  size_t used = 0;

  if (!buf || bufsize == 0)
    return buf;
  buf[0] = '\0';
  if (!conninfo)
    conninfo = "";
  opts = PQconninfoParse(conninfo, &perr);
  if (!opts) {
    PQfreemem(perr);
    append(buf, bufsize, 0, "(connection string not shown: libpq cannot parse it)");
    return buf;
  }
  for (o = opts; o->keyword; o++)
    if (strcmp(o->keyword, "password") == 0 && o->val)
      has_password = 1;
  if (!has_password) {
    PQconninfoFree(opts);
    append(buf, bufsize, 0, conninfo);
    return buf;
  }
  /* Rebuild it as key=value pairs: a URI's password can sit in several
   * places, and only the parsed form tells which. */
  for (o = opts; o->keyword; o++) {
    const char *v;
    if (!o->val)
      continue;
    v = strcmp(o->keyword, "password") == 0 ? "********" : o->val;
    if (used > 0)
      used = append(buf, bufsize, used, " ");
    used = append(buf, bufsize, used, o->keyword);
    used = append(buf, bufsize, used, "='");
    for (; *v; v++) {
      char c[3] = {0};
      if (*v == '\'' || *v == '\\') {
        c[0] = '\\';
        c[1] = *v;
      } else {
        c[0] = *v;
      }
      used = append(buf, bufsize, used, c);
    }
    used = append(buf, bufsize, used, "'");
  }
  PQconninfoFree(opts);
  return buf;
}

/* The line COPY names in CONTEXT ("COPY users, line 5, column x: ..."),
 * found after the table's name so that translated messages do too; 0 when
 * there is none. */
long long
cs_context_line(const char *ctx, const char *relname)
{
  const char *at = ctx;
  size_t n = strlen(relname);

  while ((at = strstr(at, relname)) != NULL) {
    const char *s = at + n;
    for (int skip = 0; *s && *s != '\n' && skip < 24; s++, skip++)
      if (*s >= '0' && *s <= '9')
        return strtoll(s, NULL, 10);
    at += n;
  }
  return 0;
}
