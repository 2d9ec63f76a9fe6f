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

/* "(value, ...)" of the n table columns cols, as the table would store
 * them, in row s. */
static void
add_known_row(sql *q, const plan *p, const int *cols, int n)
{
  sql_add(q, "(");
  for (int j = 0; j < n; j++) {
    sql_add(q, j ? ", " : "");
    cs_add_known_value(q, p, cols[j]);
  }
  sql_add(q, ")");
}

/* "value AS \"csvstage:<as>N\", ...": the n table columns cols, as the
 * table would store them, in row s, as a subquery's output list. */
static void
add_known_list(sql *q, const plan *p, const int *cols, int n, const char *as)
{
  for (int j = 0; j < n; j++) {
    sql_add(q, j ? ", " : "");
    cs_add_known_value(q, p, cols[j]);
    sql_add(q, " AS \"csvstage:%s%d\"", as, j);
  }
}

/* "x.a, x.b" of the n table columns cols, in row x of the table; and the
 * same as a row, "(x.a, x.b)". */
static void
add_row_list(sql *q, const plan *p, const char *row, const int *cols, int n)
{
  for (int j = 0; j < n; j++) {
    sql_add(q, "%s%s.", j ? ", " : "", row);
    sql_ident(q, p->table->cols[cols[j]].name);
  }
}

static void
add_row_columns(sql *q, const plan *p, const char *row, const int *cols, int n)
{
  sql_add(q, "(");
  add_row_list(q, p, row, cols, n);
  sql_add(q, ")");
}

/* "(e.\"csvstage:uN\", ...)" */
static void
add_named_row(sql *q, const char *as, int n)
{
  sql_add(q, "(");
  for (int j = 0; j < n; j++)
    sql_add(q, "%se.\"csvstage:%s%d\"", j ? ", " : "", as, j);
  sql_add(q, ")");
}

/* "(r.\"csvstage:cN\", ...)": the columns' values as the round's scan
 * computed them once (sure_scan). */
static void
add_kept_row(sql *q, const int *cols, int n)
{
  sql_add(q, "(");
  for (int j = 0; j < n; j++)
    sql_add(q, "%sr.\"csvstage:c%d\"", j ? ", " : "", cols[j]);
  sql_add(q, ")");
}

/*
 * Through a row of the table (upsert, an update of unique key u's
 * columns), a record not yet a suspect can meet one of round `round`:
 * which: 0, its key finds a row holding a u value the suspect gives (its
 * update may free the value for the suspect): the subquery of those keys;
 * 1, it gives the u value held by the row the suspect's key finds (the
 * suspect's update may free it): the subquery of those values.
 */
static void
add_through_rows(sql *q, const plan *p, const cs_constraint *u, int round, int which)
{
  const int *give = which == 0 ? p->conflict : u->cols, *find = which == 0 ? u->cols : p->conflict;
  int ngive = which == 0 ? p->nconflict : u->ncols, nfind = which == 0 ? u->ncols : p->nconflict;

  sql_add(q, "SELECT ");
  add_row_list(q, p, "x", give, ngive);
  sql_add(q, " FROM %s x JOIN (SELECT ", p->table->sql_name);
  add_known_list(q, p, u->cols, u->ncols, "u");
  sql_add(q, ", ");
  add_known_list(q, p, p->conflict, p->nconflict, "k");
  sql_add(q, " FROM csvstage_doubt s WHERE s._round = %d) e ON ", round);
  add_row_columns(q, p, "x", find, nfind);
  sql_add(q, " = ");
  add_named_row(q, which == 0 ? "u" : "k", nfind);
  sql_add(q, " AND ");
  add_row_columns(q, p, "x", give, ngive);
  sql_add(q, " IS DISTINCT FROM ");
  add_named_row(q, which == 0 ? "k" : "u", ngive);
}

/* Whether an upsert's update of unique key u can meet another record
 * through a row of the table (cs_predict_sure). */
static int
through_rows(const plan *p, const cs_constraint *u, int target_empty)
{
  return p->nupdate > 0 && !target_empty && cs_plan_key_known(p) &&
         cs_plan_predictable(p, u) && strcmp(u->name, p->conflict_index) != 0 && updates(p, u);
}

/*
 * One round of cs_predict_sure: the records not yet in csvstage_doubt
 * that share a unique value with one there (round 0 only) or meet one of
 * round `round` through a row of the table, added as round + 1; *added:
 * how many. Each record's key values are computed once, and the rows
 * picked fetched by where they are.
 */
static int
sure_scan(plan *p, sql *q, int round, int target_empty, long long *added)
{
  const cs_table *t = p->table;
  int *kept = calloc((size_t)t->ncols + 1, sizeof(int));
  int any = 0;

  if (!kept)
    return cs_fail(q->err, CSVSTAGE_E_NOMEM, "out of memory"), -1;
  *added = 0;
  sql_add(q, "INSERT INTO csvstage_doubt SELECT s.*, %d FROM csvstage_stage s WHERE s.ctid = "
             "ANY (ARRAY(SELECT r.\"csvstage:at\" FROM (SELECT s.ctid AS \"csvstage:at\"",
          round + 1);
  for (int k = 0; k < t->nuniques; k++)
    if (cs_plan_predictable(p, &t->uniques[k]))
      for (int j = 0; j < t->uniques[k].ncols; j++)
        kept[t->uniques[k].cols[j]] = 1;
  for (int i = 0; i < t->ncols; i++)
    if (kept[i]) {
      sql_add(q, ", ");
      cs_add_known_value(q, p, i);
      sql_add(q, " AS \"csvstage:c%d\"", i);
    }
  free(kept);
  sql_add(q, " FROM csvstage_stage s WHERE s._ok & %lld <> 0%s OFFSET 0) r WHERE false",
          CS_STAGE_SURE,
          round ? " AND NOT EXISTS (SELECT 1 FROM csvstage_doubt x WHERE x._line = s._line)" : "");
  for (int k = 0; k < t->nuniques; k++) {
    const cs_constraint *u = &t->uniques[k];
    if (!cs_plan_predictable(p, u))
      continue;
    /* The first round: the records sharing a value with an unsure one
     * (later rounds add none: two sure records share no value). */
    if (round == 0) {
      sql_add(q, " OR ");
      add_kept_row(q, u->cols, u->ncols);
      sql_add(q, " IN (SELECT ");
      add_known_list(q, p, u->cols, u->ncols, "v");
      sql_add(q, " FROM csvstage_doubt s)");
      any = 1;
    }
    if (through_rows(p, u, target_empty))
      for (int which = 0; which < 2; which++) {
        sql_add(q, " OR ");
        add_kept_row(q, which == 0 ? p->conflict : u->cols, which == 0 ? p->nconflict : u->ncols);
        sql_add(q, " IN (");
        add_through_rows(q, p, u, round, which);
        sql_add(q, ")");
        any = 1;
      }
  }
  sql_add(q, "))");
  if (!any) {
    sql_reset(q);
    return 0;
  }
  return sql_run(q, added);
}

/* Whether round `round`'s records can meet any other through a row of
 * the table: 1, 0, or -1 with q's err filled (the scan is skipped when
 * not: a round's records rarely can). */
static int
through_any(plan *p, sql *q, int round, int target_empty)
{
  const cs_table *t = p->table;

  sql_add(q, "SELECT false");
  for (int k = 0; k < t->nuniques; k++)
    if (through_rows(p, &t->uniques[k], target_empty))
      for (int which = 0; which < 2; which++) {
        sql_add(q, " OR EXISTS (");
        add_through_rows(q, p, &t->uniques[k], round, which);
        sql_add(q, ")");
      }
  return sql_bool(q);
}

/* Rounds of records met through rows before the full prediction takes
 * over. */
#define THROUGH_ROWS_ROUNDS 8

/* Rounds from round `from` on, till one adds no record; then
 * csvstage_suspect from csvstage_doubt, and the foreign keys' suspects.
 * Returns as cs_predict_sure. */
static int
sure_rounds(plan *p, sql *q, int from, int target_empty)
{
  const cs_table *t = p->table;
  long long added = 0;

  for (int round = from;; round++) {
    int any = round == 0 ? 1 : through_any(p, q, round, target_empty);
    if (any < 0)
      return -1;
    if (!any)
      break;
    if (round == from + THROUGH_ROWS_ROUNDS)
      return cs_run(q->conn, "DROP TABLE csvstage_doubt", q->err) ? -1 : 0;
    if (sure_scan(p, q, round, target_empty, &added))
      return -1;
    if (added == 0)
      break;
    if (cs_run(q->conn, "ANALYZE csvstage_doubt", q->err))
      return -1;
  }
  if (cs_run(q->conn, "DROP TABLE IF EXISTS pg_temp.csvstage_suspect; "
             "CREATE TEMP TABLE csvstage_suspect ON COMMIT DROP AS "
             "SELECT _line FROM csvstage_doubt", q->err))
    return -1;
  for (int k = 0; k < t->nfkeys; k++)
    if (cs_plan_predictable(p, &t->fkeys[k]) && suspect_fkey(p, q, &t->fkeys[k]))
      return -1;
  return cs_run(q->conn, "ANALYZE csvstage_suspect (_line)", q->err) ? -1 : 1;
}

/*
 * With a key (upsert, insert-new), after the refusals: the suspects from
 * the client's word. A record staged without CS_STAGE_SURE may share a
 * unique key's value with an earlier record; the records sharing one with
 * it are found by the server's own equality; then, round by round, the
 * records that could meet a suspect through a row of the table
 * (add_through_rows); then the foreign keys. Every other record shares no
 * unique value with any other in the file (the filters have no false
 * negatives, and a key the client does not hash as the server compares
 * makes the load order-sensitive: not here), so the bulk INSERT of them,
 * in file order, then the suspects one by one, ends as every record alone
 * in file order would; what it does not foresee (a value already in
 * another row, a CHECK on an update) makes the bulk fail, and settle.c
 * predicts in full. csvstage_doubt holds the suspects' staged rows (so
 * that each round reads them, not the staging table), csvstage_suspect
 * their lines. Returns 1 when it found the suspects, 0 when it leaves them
 * to cs_predict (nothing made), -1 with q's err filled.
 */
int
cs_predict_sure(plan *p, sql *q, int target_empty)
{
  sql_add(q, "DROP TABLE IF EXISTS pg_temp.csvstage_doubt; "
             "CREATE TEMP TABLE csvstage_doubt ON COMMIT DROP AS SELECT s.*, 0 AS _round "
             "FROM csvstage_stage s WHERE s._ok & %lld = 0; ANALYZE csvstage_doubt",
          CS_STAGE_SURE);
  if (sql_run(q, NULL))
    return -1;
  return sure_rounds(p, q, 0, target_empty);
}

int
cs_predict_sure_held(plan *p, sql *q, int target_empty)
{
  const cs_table *t = p->table;
  long long held, n;
  PGresult *r;
  int round;

  r = cs_exec(q->conn, "SELECT COALESCE(max(_round), 0) + 1 FROM csvstage_doubt", q->err);
  if (!r)
    return -1;
  round = atoi(PQgetvalue(r, 0, 0));
  PQclear(r);
  held = 0;
  for (int k = 0; k < t->nuniques; k++) {
    const cs_constraint *u = &t->uniques[k];
    if (!cs_plan_predictable(p, u) || strcmp(u->name, p->conflict_index) == 0)
      continue;
    sql_add(q, "INSERT INTO csvstage_doubt SELECT s.*, %d FROM csvstage_stage s WHERE "
               "s._ok & %lld <> 0 AND NOT EXISTS (SELECT 1 FROM csvstage_doubt x WHERE "
               "x._line = s._line) AND EXISTS (SELECT 1 FROM %s x WHERE ",
            round, CS_STAGE_SURE, t->sql_name);
    add_row_columns(q, p, "x", u->cols, u->ncols);
    sql_add(q, " = ");
    add_known_row(q, p, u->cols, u->ncols);
    if (cs_plan_key_known(p)) {
      sql_add(q, " AND ");
      add_row_columns(q, p, "x", p->conflict, p->nconflict);
      sql_add(q, " IS DISTINCT FROM ");
      add_known_row(q, p, p->conflict, p->nconflict);
    }
    sql_add(q, ")");
    if (sql_run(q, &n))
      return -1;
    held += n;
  }
  /* None: the value met was not a row's before the load (a key nobody
   * predicts, or a row written by the statement itself): predicting in
   * full is what is left. */
  if (held == 0)
    return 0;
  if (cs_run(q->conn, "ANALYZE csvstage_doubt", q->err))
    return -1;
  return sure_rounds(p, q, round, target_empty);
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
