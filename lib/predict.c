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

/* Whether predictions can know column col's value without evaluating a
 * volatile DEFAULT (nextval, identity). */
static int
known(const plan *p, int col)
{
  const cs_column *c = &p->table->cols[col];
  int fi = p->col_fed[col];

  if (fi >= 0)
    return !p->fed[fi].use_default || c->default_stable;
  return !c->generated && !c->identity && (!c->default_expr || c->default_stable);
}

/* Column col's value as the table would store it; NULL for invalid input
 * (such records are suspects already). Only for known columns. */
static void
add_known_value(sql *q, const plan *p, int col)
{
  const cs_column *c = &p->table->cols[col];
  int fi = p->col_fed[col];

  if (fi < 0) {
    if (c->default_expr)
      sql_add(q, "(%s)::%s", c->default_expr, c->type);
    else
      sql_add(q, "NULL::%s", c->basetype);
    return;
  }
  if (!c->is_text) {
    sql_add(q, "CASE WHEN ");
    cs_add_invalid(q, p, &p->fed[fi], "s");
    sql_add(q, " THEN NULL::%s ELSE ", c->basetype);
  }
  cs_add_typed_value(q, p, &p->fed[fi], "s", 1);
  if (!c->is_text)
    sql_add(q, " END");
}

/* ", value AS name" for each column of k, as the table would store it. */
static void
add_known_columns(sql *q, const plan *p, const cs_constraint *k)
{
  for (int j = 0; j < k->ncols; j++) {
    sql_add(q, ", ");
    add_known_value(q, p, k->cols[j]);
    sql_add(q, " AS ");
    sql_ident(q, p->table->cols[k->cols[j]].name);
  }
}

static int
all_known(const plan *p, const cs_constraint *k)
{
  int fed = 0;

  for (int j = 0; j < k->ncols; j++) {
    if (!known(p, k->cols[j]))
      return 0;
    fed += p->col_fed[k->cols[j]] >= 0;
  }
  return fed > 0;
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
    sql_add(q, "%spg_temp.csvstage_valid_%d(text)", sep, p->fed[i].valid_fn);
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
    if (all_known(p, &t->checks[k]))
      for (int j = 0; j < t->checks[k].ncols; j++)
        check_cols[t->checks[k].cols[j]] = 1;
  for (int i = 0; i < t->ncols; i++) {
    if (!check_cols[i])
      continue;
    sql_add(q, ", ");
    add_known_value(q, p, i);
    sql_add(q, " AS ");
    sql_ident(q, t->cols[i].name);
  }
  sql_add(q, " FROM csvstage_stage s OFFSET 0) t WHERE \"csvstage:bad\"");
  for (int k = 0; k < t->nchecks; k++) {
    if (!all_known(p, &t->checks[k]))
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

/* Adds every record of unique key u that repeats in the file, or exists in
 * the table (unless target_empty). */
static int
suspect_key(plan *p, sql *q, const cs_constraint *u, int target_empty)
{
  const cs_table *t = p->table;

  sql_add(q, "INSERT INTO csvstage_suspect SELECT \"csvstage:line\" FROM (SELECT *, "
             "count(*) OVER (PARTITION BY ");
  for (int j = 0; j < u->ncols; j++) {
    sql_add(q, j ? ", " : "");
    sql_ident(q, t->cols[u->cols[j]].name);
  }
  sql_add(q, ") AS \"csvstage:n\" FROM (SELECT s._line AS \"csvstage:line\"");
  add_known_columns(q, p, u);
  sql_add(q, " FROM csvstage_stage s OFFSET 0) u WHERE true");
  for (int j = 0; j < u->ncols; j++) {
    sql_add(q, " AND ");
    sql_ident(q, t->cols[u->cols[j]].name);
    sql_add(q, " IS NOT NULL");
  }
  sql_add(q, ") d WHERE \"csvstage:n\" > 1");
  if (!target_empty) {
    sql_add(q, " OR EXISTS (SELECT 1 FROM %s x WHERE true", t->sql_name);
    for (int j = 0; j < u->ncols; j++) {
      sql_add(q, " AND x.");
      sql_ident(q, t->cols[u->cols[j]].name);
      sql_add(q, " = d.");
      sql_ident(q, t->cols[u->cols[j]].name);
    }
    sql_add(q, ")");
  }
  return sql_run(q, NULL);
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
  for (int k = 0; k < t->nuniques; k++)
    if (all_known(p, &t->uniques[k]) && suspect_key(p, q, &t->uniques[k], target_empty))
      return -1;
  for (int k = 0; k < t->nfkeys; k++)
    if (all_known(p, &t->fkeys[k]) && suspect_fkey(p, q, &t->fkeys[k]))
      return -1;
  return 0;
}
