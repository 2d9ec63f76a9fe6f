/*
 * mode.c: what a load does to the table's old rows and around its records:
 * [target] mode (append adds; truncate and replace empty the table first,
 * in the load's own transaction, so that a roll back leaves every old row
 * in place) and the before/after statements.
 *
 * truncate takes an ACCESS EXCLUSIVE lock until COMMIT: readers wait for
 * the whole load. replace deletes instead: readers see the old rows until
 * COMMIT, at the cost of dead rows for VACUUM. Neither cascades: a table
 * that others' foreign keys refer to is a preflight error, since emptying
 * it would fail (NO ACTION) or silently empty them too (CASCADE).
 */
#include <config.h>

#include <stdio.h>
#include <string.h>

#include <libpq-fe.h>

#include "error.h"
#include "mode.h"

int
cs_mode_replaces(const csvstage_settings *s)
{
  return s->mode == CS_MODE_TRUNCATE || s->mode == CS_MODE_REPLACE;
}

/* Refuses a table other tables' foreign keys refer to (its partitions
 * included), naming those tables. */
static int
check_referencing(plan *p, sql *q)
{
  const cs_table *t = p->table;
  PGresult *r;
  char names[600] = "";
  int n;

  sql_add(q, "SELECT DISTINCT c.conrelid::regclass::text FROM pg_constraint c "
             "WHERE c.contype = 'f' AND c.conparentid = 0 AND c.confrelid IN "
             "(SELECT %u UNION SELECT relid FROM pg_partition_tree(%u)) AND c.conrelid NOT IN "
             "(SELECT %u UNION SELECT relid FROM pg_partition_tree(%u)) ORDER BY 1",
          t->oid, t->oid, t->oid, t->oid);
  r = sql_query(q);
  if (!r)
    return -1;
  n = PQntuples(r);
  for (int i = 0; i < n; i++) {
    size_t len = strlen(names);
    if (len + strlen(PQgetvalue(r, i, 0)) + 8 >= sizeof(names)) {
      snprintf(names + len, sizeof(names) - len, ", ...");
      break;
    }
    snprintf(names + len, sizeof(names) - len, "%s%s", i ? ", " : "", PQgetvalue(r, i, 0));
  }
  PQclear(r);
  if (n > 0)
    return cs_fail(q->err, CSVSTAGE_E_PREFLIGHT, "mode = %s: foreign keys of %s refer to %s; "
                   "emptying it would fail or empty them too: load it with mode = append",
                   cs_mode_name(p->settings->mode), names, t->display_name), -1;
  return 0;
}

/* Runs a [target] before/after statement, its error said as the key's. */
static int
run_user_sql(sql *q, const char *key, const char *text)
{
  char start[64];

  if (!cs_run(q->conn, text, q->err))
    return 0;
  /* The statement's start names it; a long one is cut (on a character). */
  cs_strlcpy_utf8(start, text, sizeof(start));
  for (char *c = start; *c; c++)
    if (*c == '\n' || *c == '\r' || *c == '\t')
      *c = ' ';
  cs_prefix(q->err, "[target] %s = %s%s", key, start, strlen(text) >= sizeof(start) ? "..." : "");
  return -1;
}

int
cs_mode_begin(plan *p, sql *q, int emptied)
{
  const csvstage_settings *s = p->settings;
  const cs_table *t = p->table;

  if (cs_mode_replaces(s) && !emptied) {
    if (s->mode == CS_MODE_TRUNCATE && !strchr("rp", t->relkind))
      return cs_fail(q->err, CSVSTAGE_E_PREFLIGHT, "mode = truncate: %s is not a table and "
                     "TRUNCATE takes tables only: use mode = replace (DELETE)",
                     t->display_name), -1;
    if (check_referencing(p, q))
      return -1;
    sql_add(q, "%s %s", s->mode == CS_MODE_TRUNCATE ? "TRUNCATE" : "DELETE FROM", t->sql_name);
    if (sql_run(q, NULL)) {
      cs_prefix(q->err, "mode = %s", cs_mode_name(s->mode));
      return -1;
    }
  }
  return s->before ? run_user_sql(q, "before", s->before) : 0;
}

int
cs_mode_end(plan *p, sql *q)
{
  return p->settings->after ? run_user_sql(q, "after", p->settings->after) : 0;
}
