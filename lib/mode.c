/*
 * mode.c: what a load does to the table's old rows and around its records:
 * [target] mode (append adds; truncate and replace empty the table first,
 * in the load's own transaction, so that a roll back leaves every old row
 * in place; upsert and insert-new match each record to a row by a key, as
 * INSERT ... ON CONFLICT does) and the before/after statements.
 *
 * truncate takes an ACCESS EXCLUSIVE lock until COMMIT: readers wait for
 * the whole load. replace deletes instead: readers see the old rows until
 * COMMIT, at the cost of dead rows for VACUUM. Neither cascades: a table
 * that others' foreign keys refer to is a preflight error, since emptying
 * it would fail (NO ACTION) or silently empty them too (CASCADE).
 */
#include <config.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>

#include "error.h"
#include "mode.h"

int
cs_mode_replaces(const csvstage_settings *s)
{
  return s->mode == CS_MODE_TRUNCATE || s->mode == CS_MODE_REPLACE;
}

int
cs_mode_keyed(const csvstage_settings *s)
{
  return s->mode == CS_MODE_UPSERT || s->mode == CS_MODE_INSERT_NEW;
}

/* "(a, b)" of table columns cols[0..n), for messages. */
static void
column_names(const cs_table *t, const int *cols, int n, char *buf, size_t size)
{
  buf[0] = '\0';
  for (int i = 0; i < n; i++)
    cs_list_name(buf, size, t->cols[cols[i]].name, 0);
}

/* Whether table column c is one of cols[0..n). */
static int
among(const int *cols, int n, int c)
{
  for (int i = 0; i < n; i++)
    if (cols[i] == c)
      return 1;
  return 0;
}

/*
 * The unique index ON CONFLICT (p->conflict) would use: on exactly those
 * columns, no expression, no predicate, not deferrable (an arbiter must be
 * checked at once); with no key given, the primary key, whose columns it
 * sets. Fills p->conflict_index, or fails naming what is missing.
 */
static int
find_arbiter(plan *p, sql *q)
{
  const cs_table *t = p->table;
  const csvstage_settings *s = p->settings;
  PGresult *r;
  char names[400];

  sql_add(q, "SELECT c.relname, i.indisprimary, i.indkey::text FROM pg_index i "
             "JOIN pg_class c ON c.oid = i.indexrelid WHERE i.indrelid = %u AND i.indisunique "
             "AND i.indimmediate AND i.indexprs IS NULL AND i.indpred IS NULL "
             "ORDER BY NOT i.indisprimary, c.relname", t->oid);
  r = sql_query(q);
  if (!r)
    return -1;
  for (int i = 0; i < PQntuples(r) && !p->conflict_index; i++) {
    int *cols = NULL, n = cs_table_attnums(t, PQgetvalue(r, i, 2), &cols), same;
    if (s->nkey == 0 && PQgetvalue(r, i, 1)[0] == 't' && n > 0) {
      p->conflict = cols;   /* no key given: the primary key's */
      p->nconflict = n;
      cols = NULL;
    }
    same = n > 0 && n == p->nconflict;
    for (int k = 0; k < p->nconflict && same; k++)
      same = among(cols ? cols : p->conflict, n, p->conflict[k]);
    free(cols);
    if (same && !(p->conflict_index = strdup(PQgetvalue(r, i, 0))))
      break;
  }
  PQclear(r);
  if (p->conflict_index)
    return 0;
  if (s->nkey == 0 && !p->conflict)
    return cs_fail(q->err, CSVSTAGE_E_PREFLIGHT, "mode = %s: %s has no primary key: give the "
                   "key's columns with [target] key = (or --key)", cs_mode_name(s->mode),
                   t->display_name), -1;
  column_names(t, p->conflict, p->nconflict, names, sizeof(names));
  return cs_fail(q->err, CSVSTAGE_E_PREFLIGHT, "mode = %s: %s has no unique constraint or "
                 "index on exactly (%s) that ON CONFLICT can use (not deferrable, no "
                 "expression, no WHERE)", cs_mode_name(s->mode), t->display_name, names), -1;
}

/* The table columns list names (settings' key or update); -1 with err
 * filled for a name the table does not have. */
static int
resolve_columns(plan *p, char *const *list, int n, const char *what, int **out, int *nout,
                csvstage_error *err)
{
  *out = calloc((size_t)n + 1, sizeof(int));
  if (!*out)
    return cs_fail(err, CSVSTAGE_E_NOMEM, "out of memory"), -1;
  for (int i = 0; i < n; i++) {
    int c = cs_table_column(p->table, list[i]);
    if (c < 0)
      return cs_fail(err, CSVSTAGE_E_PREFLIGHT, "[target] %s: table %s has no column \"%s\"",
                     what, p->table->display_name, list[i]), -1;
    (*out)[(*nout)++] = c;
  }
  return 0;
}

/* The update's columns: those named, or every fed column outside the key. */
static int
plan_update(plan *p, csvstage_error *err)
{
  const csvstage_settings *s = p->settings;
  const cs_table *t = p->table;

  if (s->nupdate > 0) {
    if (resolve_columns(p, s->update, s->nupdate, "update", &p->update, &p->nupdate, err))
      return -1;
    for (int i = 0; i < p->nupdate; i++) {
      const char *name = t->cols[p->update[i]].name;
      if (among(p->conflict, p->nconflict, p->update[i]))
        return cs_fail(err, CSVSTAGE_E_PREFLIGHT, "[target] update: \"%s\" is a column of the "
                       "key: a row is found by it, not changed", name), -1;
      if (p->col_fed[p->update[i]] < 0)
        return cs_fail(err, CSVSTAGE_E_PREFLIGHT, "[target] update: nothing in the file feeds "
                       "column \"%s\"", name), -1;
    }
    return 0;
  }
  p->update = calloc((size_t)p->nfed + 1, sizeof(int));
  if (!p->update)
    return cs_fail(err, CSVSTAGE_E_NOMEM, "out of memory"), -1;
  for (int i = 0; i < p->nfed; i++)
    if (!among(p->conflict, p->nconflict, p->fed[i].col))
      p->update[p->nupdate++] = p->fed[i].col;
  if (p->nupdate == 0)
    return cs_fail(err, CSVSTAGE_E_PREFLIGHT, "mode = upsert: the file feeds only the key's "
                   "columns, so an update would change nothing: use mode = insert-new"), -1;
  return 0;
}

/* Whether the table (or a partition) has a row trigger of any event (an
 * update fires UPDATE triggers, so the INSERT triggers say too little), and
 * a deferrable unique or exclusion constraint. */
static int
triggers_and_deferrables(plan *p, sql *q)
{
  PGresult *r;
  unsigned oid = p->table->oid;

  sql_add(q, "WITH rel AS (SELECT %u AS relid UNION SELECT relid FROM pg_partition_tree(%u)) "
             "SELECT EXISTS (SELECT 1 FROM pg_trigger g WHERE g.tgrelid IN (SELECT relid FROM rel) "
             "AND NOT g.tgisinternal AND g.tgenabled <> 'D' AND g.tgtype & 1 = 1), "
             "EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conrelid IN (SELECT relid FROM rel) "
             "AND c.contype IN ('p', 'u', 'x') AND c.condeferrable)", oid, oid);
  r = sql_query(q);
  if (!r)
    return -1;
  p->row_triggers = PQgetvalue(r, 0, 0)[0] == 't';
  p->deferrable_keys = PQgetvalue(r, 0, 1)[0] == 't';
  PQclear(r);
  return 0;
}

int
cs_mode_plan(plan *p, sql *q)
{
  const csvstage_settings *s = p->settings;
  const cs_table *t = p->table;
  const char *mode = cs_mode_name(s->mode);
  char names[400];

  if (!cs_mode_keyed(s)) {
    if (s->nkey > 0 || s->nupdate > 0)
      return cs_fail(q->err, CSVSTAGE_E_CONFIG, "[target] %s is for mode = upsert%s, not "
                     "mode = %s", s->nkey > 0 ? "key" : "update",
                     s->nkey > 0 ? " or insert-new" : "", mode), -1;
    return 0;
  }
  if (s->mode == CS_MODE_INSERT_NEW && s->nupdate > 0)
    return cs_fail(q->err, CSVSTAGE_E_CONFIG, "[target] update is for mode = upsert: "
                   "insert-new updates nothing"), -1;
  /* ON CONFLICT is refused on a table with INSERT rules; on a view or a
   * foreign table it cannot name the base table's index. */
  if (!strchr("rp", t->relkind))
    return cs_fail(q->err, CSVSTAGE_E_PREFLIGHT, "mode = %s: %s is not a table: load the "
                   "table itself", mode, t->display_name), -1;
  if (t->insert_rules)
    return cs_fail(q->err, CSVSTAGE_E_PREFLIGHT, "mode = %s: %s has rules ON INSERT, and "
                   "INSERT ... ON CONFLICT cannot be used with them", mode, t->display_name), -1;
  if (s->nkey > 0 &&
      resolve_columns(p, s->key, s->nkey, "key", &p->conflict, &p->nconflict, q->err))
    return -1;
  if (find_arbiter(p, q))
    return -1;
  for (int i = 0; i < p->nconflict; i++)
    if (p->col_fed[p->conflict[i]] < 0) {
      column_names(t, p->conflict, p->nconflict, names, sizeof(names));
      return cs_fail(q->err, CSVSTAGE_E_PREFLIGHT, "mode = %s: nothing in the file feeds "
                     "column \"%s\" of the key (%s): a record could not be matched to a row",
                     mode, t->cols[p->conflict[i]].name, names), -1;
    }
  if (s->mode == CS_MODE_UPSERT && plan_update(p, q->err))
    return -1;
  return triggers_and_deferrables(p, q);
}

void
cs_add_on_conflict(sql *q, const plan *p)
{
  if (!cs_mode_keyed(p->settings))
    return;
  sql_add(q, " ON CONFLICT (");
  for (int i = 0; i < p->nconflict; i++) {
    sql_add(q, i ? ", " : "");
    sql_ident(q, p->table->cols[p->conflict[i]].name);
  }
  if (p->settings->mode == CS_MODE_INSERT_NEW) {
    sql_add(q, ") DO NOTHING");
    return;
  }
  sql_add(q, ") DO UPDATE SET ");
  for (int i = 0; i < p->nupdate; i++) {
    sql_add(q, i ? ", " : "");
    sql_ident(q, p->table->cols[p->update[i]].name);
    sql_add(q, " = EXCLUDED.");
    sql_ident(q, p->table->cols[p->update[i]].name);
  }
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
  for (int i = 0; i < n; i++)
    cs_list_name(names, sizeof(names), PQgetvalue(r, i, 0), 0);
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
