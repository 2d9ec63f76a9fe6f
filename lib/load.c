/*
 * load.c: one file, one transaction: preflight, the records read and sent
 * on their way, the careful path for the doubtful ones, the accounting,
 * then commit or roll back. The pieces live in files of their own:
 *
 *   plan.c     the mapping rules and the catalog into the per-column plan
 *   lock.c     one run per table; ledger.c: no content loaded twice
 *   direct.c   the fast path: what the client can vouch for, by COPY
 *              straight into the table, the rest set aside
 *   settle.c   the careful path for the records set aside, in file order
 *   tally.c    the rejects counted for the summary; rejects.c the file
 *   session.c  the connection and COMMIT with its recheck
 *
 * A bare COPY's speed is the target, and most files are mostly clean; the
 * promise is that the load ends as if every record had been inserted
 * alone, in file order, each in its own savepoint (README).
 */
#include <config.h>

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <libpq-fe.h>

#include "catalog.h"
#include "direct.h"
#include "plan.h"
#include "settings.h"
#include "copyenc.h"
#include "error.h"
#include "input.h"
#include "ledger.h"
#include "lock.h"
#include "pg.h"
#include "reader.h"
#include "rejects.h"
#include "session.h"
#include "settle.h"
#include "sql.h"
#include "tally.h"

/* The length of name without a final .gz, then .csv. */
static size_t
without_suffixes(const char *name)
{
  size_t len = strlen(name);

  if (len > 3 && strcmp(name + len - 3, ".gz") == 0)
    len -= 3;
  if (len > 4 && strncasecmp(name + len - 4, ".csv", 4) == 0)
    len -= 4;
  return len;
}

/*
 * The reject file's path: the configured one, with strftime patterns and
 * %f for the input's name without directory, .gz and .csv ("users" for
 * incoming/users.csv.gz, "stdin"), or NAME.rejects.csv beside the input
 * (stdin: in the current directory). several: one of several files in a
 * run; a configured path without %f then gets %f before its extension
 * (rejects.csv: rejects.users.csv), so that the files' reject files do not
 * replace each other.
 */
static int
reject_path(const csvstage_settings *s, const char *input, int several, char *out, size_t n,
            csvstage_error *err)
{
  const char *name = !input || strcmp(input, "-") == 0 ? "stdin" : input;
  size_t len;

  if (s->rejects_file) {
    const char *p = s->rejects_file, *base = strrchr(p, '/') ? strrchr(p, '/') + 1 : p;
    const char *ext = several && !strstr(p, "%f") ? strrchr(base, '.') : NULL;
    const char *stem = strrchr(name, '/') ? strrchr(name, '/') + 1 : name;
    size_t stem_len = without_suffixes(stem);
    cs_buf pattern = {0};
    int failed = 0;
    time_t now = time(NULL);
    struct tm tm;

    if (several && !strstr(p, "%f") && !ext)
      ext = p + strlen(p);
    /* One pass: %f (and the name put in before ext) becomes the input's
     * name with its own % doubled for strftime; %% stays as it is. */
    for (;; p++) {
      int name_here = p == ext || (p[0] == '%' && p[1] == 'f');
      if (p == ext)
        failed |= cs_buf_printf(&pattern, ".");
      for (size_t i = 0; name_here && i < stem_len; i++)
        failed |= cs_buf_printf(&pattern, "%s%c", stem[i] == '%' ? "%" : "", stem[i]);
      if (!*p)
        break;
      if (p != ext && name_here) {
        p++;   /* the f of %f */
      } else if (p[0] == '%' && p[1] == '%') {
        failed |= cs_buf_printf(&pattern, "%%%%");
        p++;
      } else {
        failed |= cs_buf_printf(&pattern, "%c", *p);
      }
    }
    localtime_r(&now, &tm);
    if (failed || !pattern.data || strftime(out, n, pattern.data, &tm) == 0) {
      free(pattern.data);
      return cs_fail(err, CSVSTAGE_E_CONFIG, "[rejects] file: the path is empty or too long"), -1;
    }
    free(pattern.data);
    return 0;
  }
  len = without_suffixes(name);
  if (len + 13 > n)
    return cs_fail(err, CSVSTAGE_E_CONFIG, "the input path is too long"), -1;
  memcpy(out, name, len);
  strcpy(out + len, ".rejects.csv");
  return 0;
}

static double
now_s(void)
{
  struct timespec ts;

  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Calls the session's progress function: every 4096 records at most once
 * per 100 ms, and at the end (done). */
static void
progress(plan *p, cs_input *in, cs_reader *rd, const char *path, double t0, int done,
         double *last)
{
  csvstage_progress pr;
  cs_reader_stats st;
  double now;

  if (!p->session->progress)
    return;
  now = now_s();
  if (!done && now - *last < 0.1)
    return;
  *last = now;
  cs_reader_get_stats(rd, &st);
  pr.file = path && *path ? path : "-";
  pr.bytes = cs_input_position(in);
  pr.size = cs_input_size(in);
  pr.records = st.records;
  pr.rejects = st.rejects;
  pr.elapsed_s = now - t0;
  pr.done = done;
  p->session->progress(&pr, p->session->progress_arg);
}

/*
 * Reads every record: malformed ones into the reject file, the others
 * straight into the table (direct.c) or, when they may fail, into the
 * staging table. *staged: how many went there; *dp: the fast path, for the
 * caller to free (the careful path may need its records again).
 */
static int
stage(plan *p, PGconn *conn, cs_input *in, cs_reader *rd, cs_rejects *rj, tally *ty,
      cs_direct **dp, long long *staged, const char *path, double t0, csvstage_error *err)
{
  double last = t0;
  sql q = {.conn = conn, .err = err};
  cs_direct *d = NULL;
  cs_record rec;
  const char **picked = NULL;
  size_t *plens = NULL;
  int rc = -1, more;

  picked = calloc((size_t)p->ncsv + 1, sizeof(*picked));
  plens = calloc((size_t)p->ncsv + 1, sizeof(*plens));
  if (!picked || !plens) {
    cs_fail(err, CSVSTAGE_E_NOMEM, "out of memory");
    goto out;
  }
  /* SAVEPOINT and COPY in one message: one round trip per chunk. */
  sql_add(&q, "SAVEPOINT csvstage_chunk; COPY %s (", p->table->sql_name);
  for (int i = 0; i < p->nfed; i++) {
    sql_add(&q, i ? ", " : "");
    sql_ident(&q, p->table->cols[p->fed[i].col].name);
  }
  sql_add(&q, ") FROM STDIN");
  if (cs_copy_has_default(p->session)) {
    sql_add(&q, " WITH (DEFAULT ");
    sql_literal(&q, CS_DEFAULT_MARKER);
    sql_add(&q, ")");
  }
  /* A view takes INSERT through its rules or triggers, not COPY; and COPY
   * bypasses a table's rules ON INSERT. Those take the staging path. */
  if (sql_text(&q))
    d = cs_direct_open(p, conn, sql_text(&q), p->table->relkind != 'v' && !p->table->insert_rules &&
                       !p->strict && !p->unchecked_domain, err);
  sql_reset(&q);
  if (!d)
    goto out;
  while ((more = cs_reader_next(rd, &rec, err)) == 1) {
    if (rec.kind == CS_RECORD_REJECT) {
      int n = cs_pick_fields(p, rec.nfields, (const char *const *)rec.field, rec.len, picked, plens);
      cs_reject_row row = {
        .line = rec.line, .sqlstate = rec.sqlstate, .column = "", .constraint = "",
        .message = rec.message, .detail = rec.detail, .fields = picked, .lens = plens,
        .nfields = n, .raw = rec.raw, .raw_len = rec.raw_len,
      };
      if (cs_rejects_add_early(rj, &row, err))
        break;
      cs_tally_add(ty, 1, rec.line, rec.sqlstate, "", "", rec.message);
      continue;
    }
    if (p->session->interrupted) {
      cs_fail(err, CSVSTAGE_E_INTERRUPTED, "interrupted");
      break;
    }
    if (cs_direct_add(d, &rec, err))
      break;
    if ((rec.line & 4095) == 0)
      progress(p, in, rd, path, t0, 0, &last);
  }
  if (!cs_failed(err))
    progress(p, in, rd, path, t0, 1, &last);
  if (cs_failed(err) || cs_direct_finish(d, err))
    goto out;
  *staged = cs_direct_set_aside(d);
  p->refusals = cs_direct_refusals(d);
  p->inserted = cs_direct_inserted(d);
  if (*staged > 0 && cs_fill_stage(p, &q, d, 0))
    goto out;
  rc = 0;
out:
  *dp = d;   /* the caller's to free: settle may need it again */
  free(q.b.data);
  free(picked);
  free(plens);
  return rc;
}

csvstage_code
csvstage_load(csvstage_session *session, const csvstage_settings *settings,
              const char *path, int flags, csvstage_result *res, csvstage_error *err)
{
  PGconn *conn = session ? session->conn : NULL;
  csvstage_result dummy;
  csvstage_error localerr;
  cs_input *in = NULL;
  cs_reader *rd = NULL;
  cs_rejects *rj = NULL;
  cs_direct *d = NULL;
  plan p = {0};
  tally *ty = NULL;
  sql q = {.conn = conn};
  const char **names = NULL;
  int in_tx = 0, dry = (flags & CSVSTAGE_DRY_RUN) != 0, over = 0;
  double t0 = now_s();
  csvstage_code rc = CSVSTAGE_OK;
  char rpath[4096];
  cs_reader_opts ro;
  cs_reader_stats st;
  long long bulk = 0, one = 0, staged = 0;

  if (!err) {
    csvstage_error_clear(&localerr);
    err = &localerr;
  }
  q.err = err;
  if (!res)
    res = &dummy;
  memset(res, 0, sizeof(*res));
  res->dry_run = dry;
  cs_strlcpy_utf8(res->file, path && strcmp(path, "-") != 0 ? path : "-", sizeof(res->file));
  if (!session || !settings) {
    rc = cs_fail(err, CSVSTAGE_E_INVALID, "no session or no settings");
    goto out;
  }
  if (!settings->table) {
    rc = cs_fail(err, CSVSTAGE_E_CONFIG, "no target table: give -t TABLE, or table = in [target]");
    goto out;
  }
  if (settings->header && settings->ncolumns > 0) {
    rc = cs_fail(err, CSVSTAGE_E_CONFIG, "[source] columns names the columns of a file without "
                 "a header: set header = false, or leave columns out");
    goto out;
  }
  p.session = session;
  p.settings = settings;
  ty = calloc(1, sizeof(*ty));
  if (!ty) {
    rc = cs_fail(err, CSVSTAGE_E_NOMEM, "out of memory");
    goto out;
  }
  ty->res = res;

  if (cs_run(conn, session->outer ? "SAVEPOINT csvstage_file" : "BEGIN", err))
    goto failed;
  in_tx = 1;
  /* Deferrable constraints are checked per record, not at COMMIT, where one
   * bad record would take the whole file down. */
  if (cs_run(conn, "SET CONSTRAINTS ALL IMMEDIATE", err))
    goto failed;
  sql_add(&q, "SET LOCAL client_encoding = ");
  sql_literal(&q, settings->encoding);
  if (sql_run(&q, NULL)) {
    if (err->code == CSVSTAGE_E_DB) {
      char msg[sizeof(err->message)];
      cs_strlcpy_utf8(msg, err->message, sizeof(msg));
      csvstage_error_clear(err);
      cs_fail(err, CSVSTAGE_E_CONFIG, "[source] encoding: %s", msg);
    }
    goto failed;
  }
  p.table = cs_table_load(conn, settings->table, err);
  if (!p.table)
    goto failed;
  snprintf(res->table, sizeof(res->table), "%s", p.table->display_name);
  if (cs_take_lock(&p, &q))
    goto failed;
  if (settings->ledger && !(flags & CSVSTAGE_FORCE)) {
    /* A regular file is hashed first: content loaded before is skipped
     * without reading it again (standard input is checked at the end). */
    char sha[65];
    int got = cs_file_sha256(path, sha, err);
    if (got < 0 || (got == 1 && cs_ledger_lookup(&p, &q, sha, 0, res)))
      goto failed;
    if (res->skipped) {
      if (cs_run(conn, cs_rollback_sql(session), err))
        goto failed;
      in_tx = 0;
      goto out;
    }
  }

  in = cs_input_open_hashed(path, settings->ledger, err);
  if (!in)
    goto failed;
  cs_settings_reader_opts(settings, &ro);
  ro.header = settings->header;
  ro.ncolumns = settings->ncolumns;
  if (!settings->header && settings->ncolumns == 0) {
    /* Neither a header nor names: as COPY without a column list, every
     * record holds every column the table takes, in order. */
    for (int i = 0; i < p.table->ncols; i++)
      ro.ncolumns += !p.table->cols[i].generated;
  }
  rd = cs_reader_open(in, &ro, err);
  if (!rd)
    goto failed;

  /* The CSV's column names: the header's, the configured ones, or 1, 2, ... */
  p.ncsv = cs_reader_ncolumns(rd);
  names = calloc((size_t)p.ncsv + 1, sizeof(*names));
  if (!names) {
    cs_fail(err, CSVSTAGE_E_NOMEM, "out of memory");
    goto failed;
  }
  for (int i = 0; i < p.ncsv; i++)
    names[i] = i < settings->ncolumns ? settings->columns[i] : cs_reader_column(rd, i);
  p.csv_names = names;
  if (p.ncsv > 0 && cs_plan_build(&p, cs_input_name(in), err) != CSVSTAGE_OK)
    goto failed;

  /* The reject file's directory must take a file before anything loads. */
  if (reject_path(settings, path, (flags & CSVSTAGE_SEVERAL_FILES) != 0, rpath, sizeof(rpath),
                  err))
    goto failed;
  {
    /* The header: the input's names, but a reject file's own columns. */
    const char **picked = calloc((size_t)p.ncsv + 1, sizeof(*picked));
    int n = 0;
    for (int i = 0; picked && i < p.ncsv; i++)
      if (!p.csv_meta[i])
        picked[n++] = names[i];
    if (picked)
      rj = cs_rejects_open(rpath, settings->delimiter, settings->quote, settings->null_marker,
                           picked, n, err);
    else
      cs_fail(err, CSVSTAGE_E_NOMEM, "out of memory");
    free(picked);
    if (!rj) {
      if (err->code == CSVSTAGE_E_IO)
        err->code = CSVSTAGE_E_CONFIG;   /* nothing was loaded: a setup error */
      goto failed;
    }
  }
  if (p.ncsv == 0)
    goto counted;   /* an empty file: nothing to load */

  {
    int utf8 = strcasecmp(settings->encoding, "UTF8") == 0 ||
               strcasecmp(settings->encoding, "UTF-8") == 0;
    for (int i = 0; i < p.nfed; i++)
      cs_type_parse(&p.fed[i].type, p.table->cols[p.fed[i].col].type, utf8);
  }
  if (cs_plan_defaults(&p, &q))
    goto failed;
  if (cs_plan_order(&p, err))
    goto failed;
  /* Where a key conflict may come out of file order, the whole file is
   * settled again from here. */
  if (cs_run(conn, "SAVEPOINT csvstage_data", err) ||
      stage(&p, conn, in, rd, rj, ty, &d, &staged, path, t0, err) || session->interrupted)
    goto failed;
  res->staged = staged;
  if (staged > 0 && (cs_settle(&p, &q, d, res, &bulk, &one) ||
                     cs_settle_rejects(&p, &q, rj, ty)))
    goto failed;
  if (cs_run(conn, "RELEASE SAVEPOINT csvstage_data", err))
    goto failed;
counted:
  if (cs_rejects_finish(rj, err))
    goto failed;
  cs_reader_get_stats(rd, &st);
  res->records = st.records;
  res->rejected = cs_rejects_count(rj);
  /* What the server inserted: a record a trigger dropped is neither loaded
   * nor rejected. */
  res->loaded = p.inserted + bulk + one;
  res->dropped = res->records - res->rejected - res->loaded;
  res->bytes = cs_input_position(in);
  cs_tally_finish(ty);
  over = (settings->max_rejects >= 0 && res->rejected > settings->max_rejects) ||
         (settings->max_rejects_pct >= 0 &&
          (double)res->rejected * 100.0 > settings->max_rejects_pct * (double)res->records);
  if (settings->ledger && !over && cs_ledger_record(&p, &q, in, (flags & CSVSTAGE_FORCE) != 0, res))
    goto failed;
  if (session->interrupted)
    goto failed;   /* the last moment to stop: COMMIT would not be canceled */
  if (res->skipped) {
    /* Loaded before: nothing of this run stays, its rejects included. */
    if (cs_run(conn, cs_rollback_sql(session), err))
      goto failed;
    in_tx = 0;
    res->records = res->loaded = res->rejected = res->dropped = res->staged = 0;
    res->ngroups = res->nfirst = 0;
    res->other_rejects = 0;
    goto out;
  }
  if (over || dry) {
    if (cs_run(conn, cs_rollback_sql(session), err))
      goto failed;
  } else if (session->outer) {
    if (cs_run(conn, "RELEASE SAVEPOINT csvstage_file", err))
      goto failed;
    res->pending = 1;
  } else {
    char xid[32];
    cs_commit_end how = cs_commit(conn, &session->interrupted, xid, sizeof(xid), err);

    if (how == CS_ROLLED_BACK)
      goto failed;   /* refused at COMMIT, or lost before it: said as usual */
    in_tx = 0;
    if (how == CS_ROLLED_BACK_AFTER_LOSS) {
      cs_lost_commit(err, how, res->file, xid, "");
      goto failed;
    }
    if (how == CS_COMMIT_UNKNOWN) {
      /* If it did commit, its rejects are the only record of what did not
       * go in: keep them. */
      char more[sizeof(rpath) + 128] = "";
      cs_rejects *r = rj;
      rj = NULL;
      if (settings->ledger)
        snprintf(more, sizeof(more), ", or run the same command again: the ledger skips it "
                 "if it was loaded");
      if (res->rejected > 0 && cs_rejects_commit(r, NULL) == 0)
        snprintf(more + strlen(more), sizeof(more) - strlen(more),
                 "; its rejects, in case it did: %s", rpath);
      else if (res->rejected == 0)
        cs_rejects_discard(r);
      res->outcome_unknown = 1;
      cs_lost_commit(err, how, res->file, xid, more);
      goto failed;
    }
    res->committed = 1;
    res->commit_rechecked = how == CS_COMMITTED_AFTER_LOSS;
  }
  in_tx = 0;
  if (res->rejected > 0)
    snprintf(res->reject_file, sizeof(res->reject_file), "%s", rpath);
  {
    cs_rejects *r = rj;
    rj = NULL;
    if (cs_rejects_commit(r, err) != 0 && res->committed)
      /* The load is in; only the report of its rejects failed. */
      res->reject_file[0] = '\0';
  }
  if (over) {
    char limit[64];
    if (settings->max_rejects >= 0)
      snprintf(limit, sizeof(limit), "%lld", settings->max_rejects);
    else
      snprintf(limit, sizeof(limit), "%g%%", settings->max_rejects_pct);
    rc = cs_fail(err, CSVSTAGE_E_REJECTS, "%s: %lld of %lld records rejected, more than "
                 "max_rejects %s: nothing committed", res->file, res->rejected,
                 res->records, limit);
  } else if (cs_failed(err)) {
    rc = err->code;
  }
  goto out;

failed:
  /* An interruption shows as whatever it broke (a canceled statement, a
   * COPY cut short): say what happened instead. */
  if (session && session->interrupted && !res->outcome_unknown) {
    /* (Interrupted while asking what became of a lost COMMIT: that is
     * unknown, not rolled back.) */
    csvstage_error_clear(err);
    cs_fail(err, CSVSTAGE_E_INTERRUPTED, "interrupted: %s rolled back, nothing of it "
            "committed", res->file);
  } else if (in_tx && conn && PQstatus(conn) == CONNECTION_BAD && !res->outcome_unknown) {
    /* Lost before COMMIT was sent: the server rolled the transaction back.
     * (A loss during COMMIT is worded where it happens: the outcome is
     * unknown there.) */
    char msg[sizeof(err->message)];
    cs_strlcpy_utf8(msg, err->message[0] ? err->message : "no reason given", sizeof(msg));
    csvstage_error_clear(err);
    cs_fail(err, CSVSTAGE_E_CONNLOST, "the connection to the server was lost while loading "
            "%s (%s): nothing of it was committed; load it again when the server is back",
            res->file, msg);
  }
  rc = err->code ? err->code : CSVSTAGE_E_DB;
  if (in_tx && PQstatus(conn) == CONNECTION_OK) {
    csvstage_error ignored;
    csvstage_error_clear(&ignored);
    cs_run(conn, cs_rollback_sql(session), &ignored);
  }
  /* Nothing was committed, so nothing is accounted for: the error says why. */
  res->records = res->loaded = res->rejected = res->dropped = res->staged = 0;
  res->committed = 0;
out:
  res->elapsed_s = now_s() - t0;
  cs_rejects_discard(rj);
  cs_direct_free(d);
  cs_reader_free(rd);
  cs_input_close(in);
  cs_table_free(p.table);
  cs_plan_free(&p);
  free(names);
  free(ty);
  free(q.b.data);
  return rc;
}
