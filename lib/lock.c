/*
 * lock.c: one run per table at a time: a transaction-level advisory lock
 * keyed on the table's OID, in a key space of csvstage's own ("cstg" in the
 * high 32 bits), held until COMMIT or ROLLBACK.
 */
#include <config.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>

#include "error.h"
#include "lock.h"
#include "pg.h"
#include "session.h"

/*
 * One run per table at a time: a transaction-level advisory lock keyed on
 * the table's OID, in a key space of csvstage's own ("cstg" in the high 32
 * bits), held until COMMIT or ROLLBACK. When another run holds it:
 * CSVSTAGE_E_BUSY, naming that run's backend, at once or after the wait the
 * settings allow (lock_timeout bounds it; a SAVEPOINT keeps the transaction
 * usable to ask who holds the lock).
 */
int
cs_take_lock(plan *p, sql *q)
{
  const csvstage_settings *s = p->settings;
  PGresult *r;
  csvstage_error e;
  int got = 0;
  char holders[256] = "";

  if (s->lock_wait < 0) {
    sql_add(q, "SELECT pg_try_advisory_xact_lock((%u::bigint << 32) | %u)", LOCK_SPACE,
            p->table->oid);
    r = sql_query(q);
    if (!r)
      return -1;
    got = PQgetvalue(r, 0, 0)[0] == 't';
    PQclear(r);
  } else {
    sql_add(q, "SAVEPOINT csvstage_lock; SET LOCAL lock_timeout = %ld; "
               "SELECT pg_advisory_xact_lock((%u::bigint << 32) | %u)",
            (long)(s->lock_wait * 1000), LOCK_SPACE, p->table->oid);
    csvstage_error_clear(&e);
    r = sql_text(q) ? cs_exec(q->conn, sql_text(q), &e) : NULL;
    sql_reset(q);
    PQclear(r);
    if (!r && strcmp(e.sqlstate, "55P03") != 0) {
      *q->err = e;
      return -1;
    }
    got = r != NULL;
    if (cs_run(q->conn, got ? "SET LOCAL lock_timeout TO DEFAULT; RELEASE SAVEPOINT csvstage_lock"
                         : "ROLLBACK TO SAVEPOINT csvstage_lock", q->err))
      return -1;
  }
  if (got)
    return 0;
  sql_add(q, "SELECT coalesce(string_agg(pid::text, ', '), 'unknown') FROM pg_locks "
             "WHERE locktype = 'advisory' AND granted AND classid = %u AND objid = %u "
             "AND objsubid = 1", LOCK_SPACE, p->table->oid);
  r = sql_query(q);
  if (!r)
    return -1;
  snprintf(holders, sizeof(holders), "%s", PQgetvalue(r, 0, 0));
  PQclear(r);
  if (s->lock_wait < 0)
    cs_fail(q->err, CSVSTAGE_E_BUSY, "another csvstage run (backend pid %s) is loading %s: "
            "try again later, or give --wait", holders, p->table->display_name);
  else
    cs_fail(q->err, CSVSTAGE_E_BUSY, "waited %g s for another csvstage run (backend pid %s) "
            "loading %s: try again later", s->lock_wait, holders, p->table->display_name);
  return -1;
}

csvstage_code
csvstage_lock(csvstage_session *session, const csvstage_settings *settings, csvstage_error *err)
{
  plan p = {.session = session, .settings = settings};
  sql q = {.conn = session ? session->conn : NULL, .err = err};
  csvstage_code rc;

  if (!session || !settings || !settings->table)
    return cs_fail(err, CSVSTAGE_E_INVALID, "no session, or no table");
  if ((rc = csvstage_begin(session, err)) != CSVSTAGE_OK)
    return rc;
  p.table = cs_table_load(session->conn, settings->table, err);
  if (!p.table || cs_take_lock(&p, &q)) {
    csvstage_error e;
    rc = err && err->code ? err->code : CSVSTAGE_E_DB;
    csvstage_error_clear(&e);
    csvstage_rollback(session, &e);
  }
  cs_table_free(p.table);
  free(q.b.data);
  return rc;
}
