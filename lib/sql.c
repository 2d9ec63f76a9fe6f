/*
 * sql.c: a growing SQL statement. Names go in through PQescapeIdentifier
 * and values through PQescapeLiteral (pg.c's cs_quote_*): no input text
 * reaches SQL any other way. After the first failure every append is a
 * no-op, so that a statement is built without a check per piece and
 * checked once, where it runs.
 */
#include <config.h>

#include <stdarg.h>
#include <stdlib.h>

#include "error.h"
#include "pg.h"
#include "sql.h"


void
sql_add(sql *q, const char *fmt, ...)
{
  va_list ap;
  int rc;

  if (q->failed)
    return;
  va_start(ap, fmt);
  rc = cs_buf_vprintf(&q->b, fmt, ap);
  va_end(ap);
  if (rc != 0) {
    q->failed = 1;
    cs_fail(q->err, CSVSTAGE_E_NOMEM, "out of memory");
  }
}

/* Appends text quoted by quote (cs_quote_ident or cs_quote_literal). */
void
sql_quoted(sql *q, const char *text,
           char *(*quote)(PGconn *, const char *, csvstage_error *))
{
  char *s;

  if (q->failed)
    return;
  s = quote(q->conn, text, q->err);
  if (!s) {
    q->failed = 1;
    return;
  }
  sql_add(q, "%s", s);
  PQfreemem(s);
}

void
sql_ident(sql *q, const char *name)
{
  sql_quoted(q, name, cs_quote_ident);
}

void
sql_literal(sql *q, const char *text)
{
  sql_quoted(q, text, cs_quote_literal);
}

const char *
sql_text(sql *q)
{
  if (q->failed)
    return NULL;
  if (cs_buf_reserve(&q->b, 1) != 0) {
    q->failed = 1;
    cs_fail(q->err, CSVSTAGE_E_NOMEM, "out of memory");
    return NULL;
  }
  q->b.data[q->b.len] = '\0';
  return q->b.data;
}

void
sql_reset(sql *q)
{
  q->b.len = 0;
}

/* Runs q and resets it. Returns the result (PQclear it), or NULL with err
 * filled. */
PGresult *
sql_query(sql *q)
{
  const char *text = sql_text(q);
  PGresult *res = text ? cs_exec(q->conn, text, q->err) : NULL;

  sql_reset(q);
  return res;
}

/* Runs q and resets it. Returns 0, or -1 with err filled. */
int
sql_run(sql *q, long long *rows)
{
  PGresult *res = sql_query(q);

  if (!res)
    return -1;
  if (rows)
    *rows = atoll(PQcmdTuples(res));
  PQclear(res);
  return 0;
}

int
sql_bool(sql *q)
{
  PGresult *res = sql_query(q);
  int yes;

  if (!res)
    return -1;
  yes = PQntuples(res) == 1 && PQgetvalue(res, 0, 0)[0] == 't';
  PQclear(res);
  return yes;
}
