/*
 * ledger.c: csvstage.loads (schemas/ledger.sql, created on first use), so
 * that the same content is not loaded into the same table twice.
 */
#include <config.h>

#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <libpq-fe.h>

#include "error.h"
#include "ledger-sql.h"
#include "ledger.h"
#include "lock.h"
#include "mode.h"
#include "pg.h"

/*
 * The ledger (schemas/ledger.sql, created on first use): looks up the
 * file's SHA-256 for this table and, when it is new (or force), records
 * this load, in the load's transaction: committed together or not at all.
 * Sets res->skipped when the content is there already. The check comes
 * after the load, so that standard input can be hashed as it is read.
 */
/* Creates the ledger when it is not there yet, and looks sha up for this
 * table: res->skipped when it is there (and not force). */
int
cs_ledger_lookup(plan *p, sql *q, const char *sha, int force, csvstage_result *res)
{
  PGresult *r;

  snprintf(res->sha256, sizeof(res->sha256), "%s", sha);
  /* Two first loads at once must not both create the schema; once it is
   * there, loads into other tables need not wait for each other here. */
  r = cs_exec(q->conn, "SELECT pg_catalog.to_regclass('csvstage.loads') IS NULL", q->err);
  if (!r)
    return -1;
  int missing = PQgetvalue(r, 0, 0)[0] == 't';
  PQclear(r);
  if (missing) {
    sql_add(q, "SELECT pg_advisory_xact_lock(%u::bigint << 32); %s", LOCK_SPACE, ledger_sql);
    if (sql_run(q, NULL))
      return -1;
  }
  /* Two loads of this content into this table at once (--jobs, two names
   * for one file) are one load: the second waits here for the first's
   * COMMIT, then finds its row. */
  sql_add(q, "SELECT pg_advisory_xact_lock(%d, pg_catalog.hashtext(", (int)LOCK_SPACE);
  sql_literal(q, p->table->display_name);
  sql_add(q, " || ' ' || ");
  sql_literal(q, sha);
  sql_add(q, "))");
  if (sql_run(q, NULL))
    return -1;
  /* An append of this content is a double load whenever it came. A load
   * that replaces the table's rows repeats nothing only when the table
   * holds this content now: when the last load into it was this content,
   * in a mode that replaces (a day's export sent again after a newer one
   * must load again). */
  sql_add(q, "SELECT to_char(finished_at, 'YYYY-MM-DD HH24:MI:SSOF') FROM ");
  if (cs_mode_replaces(p->settings))
    sql_add(q, "(SELECT * FROM csvstage.loads WHERE target = ");
  else
    sql_add(q, "csvstage.loads WHERE target = ");
  sql_literal(q, p->table->display_name);
  if (cs_mode_replaces(p->settings))
    sql_add(q, " ORDER BY finished_at DESC, id DESC LIMIT 1) l WHERE mode IN ('truncate', 'replace') "
               "AND sha256 = ");
  else
    sql_add(q, " AND sha256 = ");
  sql_literal(q, sha);
  sql_add(q, " ORDER BY finished_at DESC LIMIT 1");
  r = sql_query(q);
  if (!r)
    return -1;
  if (PQntuples(r) > 0 && !force) {
    res->skipped = 1;
    snprintf(res->loaded_before, sizeof(res->loaded_before), "%s", PQgetvalue(r, 0, 0));
  }
  PQclear(r);
  return 0;
}

int
cs_ledger_record(plan *p, sql *q, cs_input *in, int force, csvstage_result *res)
{
  const char *sha = cs_input_sha256(in);
  char host[256] = "";

  if (!sha)
    return cs_fail(q->err, CSVSTAGE_E_IO, "%s: cannot compute the SHA-256 of the file for the "
                   "ledger", res->file), -1;
  if (cs_ledger_lookup(p, q, sha, force, res) || res->skipped)
    return res->skipped ? 0 : -1;
  gethostname(host, sizeof(host) - 1);
  sql_add(q, "INSERT INTO csvstage.loads (file, size, sha256, target, records, loaded, "
             "rejected, started_at, client_host, version, mode) VALUES (");
  sql_literal(q, strcmp(res->file, "-") == 0 ? "stdin" : res->file);
  sql_add(q, ", %lld, ", res->bytes);
  sql_literal(q, sha);
  sql_add(q, ", ");
  sql_literal(q, p->table->display_name);
  sql_add(q, ", %lld, %lld, %lld, now(), ", res->records, res->loaded, res->rejected);
  sql_literal(q, host);
  sql_add(q, ", ");
  sql_literal(q, csvstage_version());
  sql_add(q, ", ");
  sql_literal(q, cs_mode_name(p->settings->mode));
  sql_add(q, ")");
  return sql_run(q, NULL);
}
