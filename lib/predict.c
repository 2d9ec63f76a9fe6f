/*
 * predict.c: the careful path's set-based pass over the staged records:
 * marks those that may fail (csvstage_suspect), so that the others go in
 * with one INSERT ... SELECT. A suspect may turn out fine: it only costs
 * time; a record not marked that fails makes the INSERT fail, and
 * everything goes one by one (settle.c).
 */
#include <config.h>

#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "expr.h"
#include "pg.h"
#include "predict.h"
#include "refuse.h"

/* ", value AS name" for each column of k, as the table would store it. */
static void
add_known_columns(sql *q, const plan *p, const cs_constraint *k)
{
  for (int j = 0; j < k->ncols; j++) {
    sql_add(q, ", ");
    cs_add_known_value(q, p, k->cols[j]);
    sql_add(q, " AS ");
    sql_ident(q, p->table->cols[k->cols[j]].name);
  }
}

/* PostgreSQL 15 has no pg_input_is_valid: one PL/pgSQL cast per type. */
int
cs_create_validators(plan *p, sql *q)
{
  for (int i = 0; i < p->nfed; i++) {
    const cs_column *c = &p->table->cols[p->fed[i].col];
    sql body = {.conn = q->conn, .err = q->err};

    p->fed[i].valid_fn = i;
    if (c->is_text)
      continue;
    /* Assignment to a variable of the full type applies the modifier and a
     * domain's constraints as an INSERT does (too long: an error, not a
     * cut). The variable is declared in an inner block: an error while a
     * block sets up its variables escapes that block's own handler. */
    if (c->interval_typmod >= 0)
      sql_add(&body, "BEGIN DECLARE x %s := pg_catalog.interval_in(v::pg_catalog.cstring, 0, %d); "
                     "BEGIN NULL; END; RETURN true; EXCEPTION WHEN others THEN RETURN false; END",
              c->type, c->interval_typmod);
    else
      sql_add(&body, "BEGIN DECLARE x %s := v::%s; BEGIN NULL; END; RETURN true; "
                     "EXCEPTION WHEN others THEN RETURN false; END", c->type, c->basetype);
    sql_add(q, "CREATE OR REPLACE FUNCTION pg_temp.csvstage_valid_%d(v text) "
               "RETURNS boolean LANGUAGE plpgsql STABLE STRICT AS ", i);
    sql_literal(q, sql_text(&body));
    sql_reset(&body);
    cs_add_error_fn(&body, c);
    sql_add(q, "; CREATE OR REPLACE FUNCTION pg_temp.csvstage_error_%d(v text) "
               "RETURNS text[] LANGUAGE plpgsql STABLE STRICT AS ", i);
    sql_literal(q, sql_text(&body));
    free(body.b.data);
    if (body.failed)
      q->failed = 1;
    if (sql_run(q, NULL))
      return -1;
  }
  return 0;
}

/*
 * Drops them again in the load's transaction. Left in pg_temp, the server
 * drops them when the session ends, in a transaction of its own: on a
 * server with synchronous replication, a backend that is told to end
 * (pg_terminate_backend) while its standby is away then waits for the
 * standby forever, and holds the connection open with it.
 */
int
cs_drop_validators(plan *p, sql *q)
{
  const char *sep = "DROP FUNCTION IF EXISTS ";

  for (int i = 0; i < p->nfed; i++) {
    if (p->table->cols[p->fed[i].col].is_text)
      continue;
    sql_add(q, "%spg_temp.csvstage_valid_%d(text), pg_temp.csvstage_error_%d(text)", sep,
            p->fed[i].valid_fn, p->fed[i].valid_fn);
    sep = ", ";
  }
  return *sep == ',' ? sql_run(q, NULL) : 0;
}

/*
 * Creates csvstage_suspect with the lines of the records whose values may
 * fail: invalid input, NULL into NOT NULL, a CHECK false on known values.
 */
static int
suspect_values(plan *p, sql *q)
{
  const cs_table *t = p->table;
  int any = 0;
  int *check_cols = calloc((size_t)t->ncols + 1, sizeof(int));

  if (!check_cols)
    return cs_fail(q->err, CSVSTAGE_E_NOMEM, "out of memory"), -1;
  sql_add(q, "CREATE TEMP TABLE csvstage_suspect ON COMMIT DROP AS "
             "SELECT \"csvstage:line\" AS _line FROM (SELECT s._line AS \"csvstage:line\", (false");
  for (int i = 0; i < p->nfed; i++) {
    size_t mark = q->b.len;
    sql_add(q, " OR ");
    if (cs_add_invalid(q, p, &p->fed[i], "s"))
      any = 1;
    else
      q->b.len = mark;
  }
  for (int i = 0; i < p->nfed; i++) {
    const cs_column *c = &t->cols[p->fed[i].col];
    if ((c->notnull || c->notnull_domain) && !p->fed[i].use_default) {
      sql_add(q, " OR (");
      cs_add_text_value(q, &p->fed[i], "s");
      sql_add(q, ") IS NULL");
      any = 1;
    }
  }
  sql_add(q, ") AS \"csvstage:bad\"");
  for (int k = 0; k < t->nchecks; k++)
    if (cs_plan_predictable(p, &t->checks[k]))
      for (int j = 0; j < t->checks[k].ncols; j++)
        check_cols[t->checks[k].cols[j]] = 1;
  for (int i = 0; i < t->ncols; i++) {
    if (!check_cols[i])
      continue;
    sql_add(q, ", ");
    cs_add_known_value(q, p, i);
    sql_add(q, " AS ");
    sql_ident(q, t->cols[i].name);
  }
  sql_add(q, " FROM csvstage_stage s OFFSET 0) t WHERE \"csvstage:bad\"");
  for (int k = 0; k < t->nchecks; k++) {
    if (!cs_plan_predictable(p, &t->checks[k]))
      continue;
    sql_add(q, " OR (%s) IS FALSE", t->checks[k].expr);
    any = 1;
  }
  free(check_cols);
  if (!any) {
    sql_reset(q);
    sql_add(q, "CREATE TEMP TABLE csvstage_suspect (_line bigint) ON COMMIT DROP");
  }
  return sql_run(q, NULL);
}

/* ", value AS \"csvstage:keyN\"" for each column of the upsert's key. */
static void
add_conflict_columns(sql *q, const plan *p)
{
  for (int j = 0; j < p->nconflict; j++) {
    sql_add(q, ", ");
    cs_add_known_value(q, p, p->conflict[j]);
    sql_add(q, " AS \"csvstage:key%d\"", j);
  }
}

/* " AND NOT (x.k = d.\"csvstage:keyN\" AND ...)": a row other than the one
 * the record's own key finds (a key with a NULL finds none: NULLs never
 * conflict, the record is inserted). */
static void
add_other_row(sql *q, const plan *p)
{
  sql_add(q, " AND NOT (true");
  for (int j = 0; j < p->nconflict; j++) {
    sql_add(q, " AND d.\"csvstage:key%d\" IS NOT NULL AND x.", j);
    sql_ident(q, p->table->cols[p->conflict[j]].name);
    sql_add(q, " = d.\"csvstage:key%d\"", j);
  }
  sql_add(q, ")");
}

/*
 * Adds every record of unique key u that repeats in the file, or exists in
 * the table (unless target_empty). With a key (upsert, insert-new): a
 * record's own row is no conflict (the key's index is what ON CONFLICT
 * settles; another index's value in the row the record's key finds is the
 * record's to keep or change).
 */
static int
suspect_key(plan *p, sql *q, const cs_constraint *u, int target_empty)
{
  const cs_table *t = p->table;
  int arbiter = p->conflict_index && strcmp(u->name, p->conflict_index) == 0;
  int own_row = p->conflict_index && !arbiter && cs_plan_key_known(p);

  /* Two branches, not an OR: under an OR the planner hashed the whole
   * table for the EXISTS (0.4 s for 1,000 records into 500,000 rows); alone
   * it is a join, by the key's index when the records are few. */
  sql_add(q, "WITH d AS MATERIALIZED (SELECT *, count(*) OVER (PARTITION BY ");
  for (int j = 0; j < u->ncols; j++) {
    sql_add(q, j ? ", " : "");
    sql_ident(q, t->cols[u->cols[j]].name);
  }
  sql_add(q, ") AS \"csvstage:n\" FROM (SELECT s._line AS \"csvstage:line\"");
  add_known_columns(q, p, u);
  if (own_row)
    add_conflict_columns(q, p);
  sql_add(q, " FROM csvstage_stage s OFFSET 0) u WHERE true");
  for (int j = 0; j < u->ncols; j++) {
    sql_add(q, " AND ");
    sql_ident(q, t->cols[u->cols[j]].name);
    sql_add(q, " IS NOT NULL");
  }
  sql_add(q, ") INSERT INTO csvstage_suspect SELECT \"csvstage:line\" FROM d "
             "WHERE \"csvstage:n\" > 1");
  if (!target_empty && !arbiter) {
    sql_add(q, " UNION ALL SELECT \"csvstage:line\" FROM d WHERE \"csvstage:n\" = 1 "
               "AND EXISTS (SELECT 1 FROM %s x WHERE true", t->sql_name);
    for (int j = 0; j < u->ncols; j++) {
      sql_add(q, " AND x.");
      sql_ident(q, t->cols[u->cols[j]].name);
      sql_add(q, " = d.");
      sql_ident(q, t->cols[u->cols[j]].name);
    }
    if (own_row)
      add_other_row(q, p);
    sql_add(q, ")");
  }
  return sql_run(q, NULL);
}

/*
 * With upsert, an update may change the value of unique key u in the row
 * it finds, freeing the old value for a record that would have met it: in
 * file order, that record is refused if it comes first, and goes in if it
 * comes after. Adds both: every record whose row (found by its key) holds a
 * u value another record of the file has.
 */
static int
suspect_freed(plan *p, sql *q, const cs_constraint *u)
{
  const cs_table *t = p->table;

  sql_add(q, "WITH v AS MATERIALIZED (SELECT s._line AS \"csvstage:line\"");
  add_known_columns(q, p, u);
  add_conflict_columns(q, p);
  sql_add(q, " FROM csvstage_stage s) INSERT INTO csvstage_suspect "
             "SELECT d.\"csvstage:line\" FROM v d JOIN %s x ON true", t->sql_name);
  for (int j = 0; j < p->nconflict; j++) {
    sql_add(q, " AND x.");
    sql_ident(q, t->cols[p->conflict[j]].name);
    sql_add(q, " = d.\"csvstage:key%d\"", j);
  }
  sql_add(q, " WHERE EXISTS (SELECT 1 FROM v e WHERE NOT (true");
  for (int j = 0; j < p->nconflict; j++)
    sql_add(q, " AND e.\"csvstage:key%d\" IS NOT DISTINCT FROM d.\"csvstage:key%d\"", j, j);
  sql_add(q, ")");
  for (int j = 0; j < u->ncols; j++) {
    sql_add(q, " AND e.");
    sql_ident(q, t->cols[u->cols[j]].name);
    sql_add(q, " = x.");
    sql_ident(q, t->cols[u->cols[j]].name);
  }
  sql_add(q, ")");
  return sql_run(q, NULL);
}

/* Whether an upsert's update sets a column of u. */
static int
updates(const plan *p, const cs_constraint *u)
{
  for (int j = 0; j < u->ncols; j++)
    for (int i = 0; i < p->nupdate; i++)
      if (u->cols[j] == p->update[i])
        return 1;
  return 0;
}

/* Adds the records whose foreign key f is complete and has no referenced
 * row (f->expr is the referenced table's "schema\nname"). */
static int
suspect_fkey(plan *p, sql *q, cs_constraint *f)
{
  const cs_table *t = p->table;
  char *nl = strchr(f->expr, '\n');

  if (!nl)
    return 0;
  *nl = '\0';
  sql_add(q, "INSERT INTO csvstage_suspect SELECT \"csvstage:line\" FROM (SELECT s._line "
             "AS \"csvstage:line\"");
  add_known_columns(q, p, f);
  sql_add(q, " FROM csvstage_stage s OFFSET 0) d WHERE NOT EXISTS (SELECT 1 FROM ");
  sql_ident(q, f->expr);
  sql_add(q, ".");
  sql_ident(q, nl + 1);
  sql_add(q, " x WHERE true");
  *nl = '\n';
  for (int j = 0; j < f->ncols; j++) {
    sql_add(q, " AND x.");
    sql_ident(q, f->refcols[j] ? f->refcols[j] : "");
    sql_add(q, " = d.");
    sql_ident(q, t->cols[f->cols[j]].name);
  }
  sql_add(q, ")");
  for (int j = 0; j < f->ncols; j++) {
    sql_add(q, " AND d.");
    sql_ident(q, t->cols[f->cols[j]].name);
    sql_add(q, " IS NOT NULL");
  }
  return sql_run(q, NULL);
}

/*
 * Fills csvstage_suspect with the lines of the records that may fail:
 * invalid input, NULL into NOT NULL, CHECK, unique keys, foreign keys.
 */
int
cs_predict(plan *p, sql *q, int target_empty)
{
  const cs_table *t = p->table;

  if (suspect_values(p, q))
    return -1;
  for (int k = 0; k < t->nuniques; k++) {
    const cs_constraint *u = &t->uniques[k];
    if (!cs_plan_predictable(p, u))
      continue;
    if (suspect_key(p, q, u, target_empty))
      return -1;
    /* (plan.c's keyed_strict sends an unpredictable key of this kind one
     * by one; the key's own index changes no row's key.) */
    if (p->nupdate > 0 && !target_empty && cs_plan_key_known(p) &&
        strcmp(u->name, p->conflict_index) != 0 && updates(p, u) && suspect_freed(p, q, u))
      return -1;
  }
  for (int k = 0; k < t->nfkeys; k++)
    if (cs_plan_predictable(p, &t->fkeys[k]) && suspect_fkey(p, q, &t->fkeys[k]))
      return -1;
  return cs_run(q->conn, "ANALYZE csvstage_suspect (_line)", q->err);
}
