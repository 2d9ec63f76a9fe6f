/*
 * lock.c: one run per table at a time, in csvstage's own advisory lock
 * space ("cstg" in the high 32 bits), in two keys per table (its OID):
 *
 *   the load key  (bigint LOCK_SPACE << 32 | oid): taken exclusive, for its
 *                 transaction, by every load that takes its own lock, and by
 *                 the session that takes a run's lock (csvstage_lock);
 *   the run key   (int4 pair LOCK_SPACE, oid): taken exclusive, for its
 *                 transaction, by every such load too; shared, for as long
 *                 as the session lives, by each session that loads under a
 *                 run's lock (csvstage_lock_share, --jobs' workers).
 *
 * So a load's lock lives and dies with the transaction that loads, and a
 * run of several sessions stays locked while any of its loading sessions
 * lives, whatever ends the session that took the run's lock (an idle
 * timeout, pg_terminate_backend): never two runs on one table at once.
 */
#include <config.h>

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>

#include "error.h"
#include "lock.h"
#include "pg.h"
#include "session.h"

/* The run key's second half: the OID as the int4 that advisory locks take. */
static int
run_key(unsigned int oid)
{
  return (int)(int32_t)oid;
}

/* Fails q's err with CSVSTAGE_E_BUSY, naming the backends that hold either
 * key of the table. Returns -1. */
static int
busy(plan *p, sql *q)
{
  const csvstage_settings *s = p->settings;
  char holders[256];
  PGresult *r;

  sql_add(q, "SELECT coalesce(string_agg(DISTINCT pid::text, ', '), 'unknown') FROM pg_locks "
             "WHERE locktype = 'advisory' AND granted AND classid = %u AND objid = %u "
             "AND objsubid IN (1, 2) AND pid <> pg_backend_pid()", LOCK_SPACE, p->table->oid);
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

/*
 * Runs sql_text(q), a SELECT of one boolean that says whether the locks
 * were had: at once, or (lock_wait >= 0) waiting as long as lock_wait
 * allows, in a savepoint so that a lock timeout leaves the transaction
 * usable. Returns 1 (had), 0 (held by another), -1 with q's err filled.
 */
static int
try_locks(plan *p, sql *q)
{
  const csvstage_settings *s = p->settings;
  csvstage_error e;
  char pre[96];
  PGresult *r;
  int got;

  if (s->lock_wait < 0)
    return sql_bool(q);
  snprintf(pre, sizeof(pre), "SAVEPOINT csvstage_lock; SET LOCAL lock_timeout = %ld",
           (long)(s->lock_wait * 1000));
  if (cs_run(q->conn, pre, q->err)) {
    sql_reset(q);
    return -1;
  }
  csvstage_error_clear(&e);
  r = sql_text(q) ? cs_exec(q->conn, sql_text(q), &e) : NULL;
  sql_reset(q);
  got = r && PQgetvalue(r, 0, 0)[0] == 't';
  PQclear(r);
  if (!r && strcmp(e.sqlstate, "55P03") != 0) {
    *q->err = e;
    return -1;
  }
  if (cs_run(q->conn, got ? "SET LOCAL lock_timeout TO DEFAULT; RELEASE SAVEPOINT csvstage_lock"
                          : "ROLLBACK TO SAVEPOINT csvstage_lock; RELEASE SAVEPOINT csvstage_lock",
             q->err))
    return -1;
  return got;
}

int
cs_take_lock(plan *p, sql *q)
{
  unsigned int oid = p->table->oid;
  int got;

  /* Both keys exclusive, for the loading transaction: the load key keeps
   * other loads out, the run key the runs whose sessions share it. */
  if (p->settings->lock_wait < 0)
    sql_add(q, "SELECT pg_try_advisory_xact_lock((%u::bigint << 32) | %u) "
               "AND pg_try_advisory_xact_lock(%d, %d)", LOCK_SPACE, oid, (int)LOCK_SPACE,
            run_key(oid));
  else
    sql_add(q, "SELECT pg_advisory_xact_lock((%u::bigint << 32) | %u) IS NOT NULL "
               "AND pg_advisory_xact_lock(%d, %d) IS NOT NULL", LOCK_SPACE, oid,
            (int)LOCK_SPACE, run_key(oid));
  got = try_locks(p, q);
  return got < 0 ? -1 : got ? 0 : busy(p, q);
}

csvstage_code
csvstage_lock(csvstage_session *session, const csvstage_settings *settings, csvstage_error *err)
{
  plan p = {.session = session, .settings = settings};
  sql q = {.conn = session ? session->conn : NULL, .err = err};
  csvstage_code rc;
  int got;

  if (!session || !settings || !settings->table)
    return cs_fail(err, CSVSTAGE_E_INVALID, "no session, or no table");
  if ((rc = csvstage_begin(session, err)) != CSVSTAGE_OK)
    return rc;
  p.table = cs_table_load(session->conn, settings->table, err);
  if (!p.table)
    goto fail;
  /* The load key for this transaction; the run key only looked at (taken
   * and let go): the run's loading sessions share it next
   * (csvstage_lock_share), while the load key keeps everyone else out. */
  if (settings->lock_wait < 0)
    sql_add(&q, "SELECT pg_try_advisory_xact_lock((%u::bigint << 32) | %u) "
                "AND pg_try_advisory_lock(%d, %d) AND pg_advisory_unlock(%d, %d)",
            LOCK_SPACE, p.table->oid, (int)LOCK_SPACE, run_key(p.table->oid), (int)LOCK_SPACE,
            run_key(p.table->oid));
  else
    sql_add(&q, "SELECT pg_advisory_xact_lock((%u::bigint << 32) | %u) IS NOT NULL "
                "AND pg_advisory_lock(%d, %d) IS NOT NULL AND pg_advisory_unlock(%d, %d)",
            LOCK_SPACE, p.table->oid, (int)LOCK_SPACE, run_key(p.table->oid), (int)LOCK_SPACE,
            run_key(p.table->oid));
  got = try_locks(&p, &q);
  if (got > 0)
    goto out;
  if (got == 0)
    busy(&p, &q);
fail:
  rc = err && err->code ? err->code : CSVSTAGE_E_DB;
  {
    csvstage_error e;
    csvstage_error_clear(&e);
    csvstage_rollback(session, &e);
  }
out:
  cs_table_free(p.table);
  free(q.b.data);
  return rc;
}

csvstage_code
csvstage_lock_share(csvstage_session *session, const csvstage_settings *settings,
                    csvstage_error *err)
{
  plan p = {.session = session, .settings = settings};
  sql q = {.conn = session ? session->conn : NULL, .err = err};
  csvstage_settings at_once;
  csvstage_code rc = CSVSTAGE_OK;
  int got;

  if (!session || !settings || !settings->table)
    return cs_fail(err, CSVSTAGE_E_INVALID, "no session, or no table");
  p.table = cs_table_load(session->conn, settings->table, err);
  if (!p.table)
    return err && err->code ? err->code : CSVSTAGE_E_DB;
  /* Never waits: the run's lock is held (csvstage_lock), or, for a session
   * that joins again after a loss, another run has the table now. */
  at_once = *settings;
  at_once.lock_wait = -1;
  p.settings = &at_once;
  sql_add(&q, "SELECT pg_try_advisory_lock_shared(%d, %d)", (int)LOCK_SPACE,
          run_key(p.table->oid));
  got = try_locks(&p, &q);
  if (got <= 0) {
    if (got == 0)
      busy(&p, &q);
    rc = err && err->code ? err->code : CSVSTAGE_E_DB;
  }
  cs_table_free(p.table);
  free(q.b.data);
  return rc;
}
