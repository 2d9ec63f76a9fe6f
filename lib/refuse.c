/*
 * refuse.c: the staged records whose refusal can be known set-based, with
 * the server's own words, without inserting them one by one (a
 * subtransaction each).
 *
 * Bad input comes first: an INSERT of literals fails while it is parsed,
 * at the first column (in the statement's order) whose text its type's
 * input function refuses, before any DEFAULT, trigger, rule or constraint
 * is reached. So a record with bad input is refused whatever the table and
 * the other records are, and by the same input function called on the same
 * text: pg_input_error_info on PostgreSQL 16+, on 15 a PL/pgSQL cast that
 * catches the error (one subtransaction per bad value, not per record's
 * INSERT). Its words are those the INSERT would give: the input function's.
 */
#include <config.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "expr.h"
#include "pg.h"
#include "refuse.h"

/* The type the INSERT's literal is read as: the base type with no
 * modifier; an interval with its fields (expr.c's cs_add_typed_value). */
static void
add_input_type(sql *q, const cs_column *c)
{
  if (c->interval_typmod >= 0)
    sql_add(q, "pg_catalog.format_type('pg_catalog.interval'::pg_catalog.regtype, %d)",
            c->interval_typmod);
  else
    sql_literal(q, c->basetype);
}

void
cs_add_error_fn(sql *q, const cs_column *c)
{
  sql_add(q, "DECLARE st text; msg text; det text; BEGIN ");
  if (c->interval_typmod >= 0)
    sql_add(q, "DECLARE x pg_catalog.interval := "
               "pg_catalog.interval_in(v::pg_catalog.cstring, 0, %d); ", c->interval_typmod);
  else
    sql_add(q, "DECLARE x %s := v::%s; ", c->basetype, c->basetype);
  /* (declared in an inner block: an error while a block sets up its
   * variables escapes that block's own handler) */
  sql_add(q, "BEGIN NULL; END; RETURN NULL; EXCEPTION WHEN others THEN GET STACKED DIAGNOSTICS "
             "st = RETURNED_SQLSTATE, msg = MESSAGE_TEXT, det = PG_EXCEPTION_DETAIL; "
             "IF " CS_TRANSIENT_SQL("st") " THEN RAISE; END IF; RETURN ARRAY[");
  sql_literal(q, c->name);
  sql_add(q, ", st, msg, det]; END");
}

/* "{column, SQLSTATE, message, detail}" of fed column f's input error in
 * row s, or NULL; nothing (returns 0) for a type that takes any text. */
static int
add_input_error(sql *q, const plan *p, const fed_col *f)
{
  const cs_column *c = &p->table->cols[f->col];
  char buf[512];
  const char *re;

  if (c->is_text)
    return 0;
  /* A date that does not fit the column's format: bad input; one that
   * fits but is no real date or time (31.02.2024, 25:00): out of range,
   * as to_date says, in the file's text (the ISO text is csvstage's). */
  if (f->format) {
    sql_add(q, "CASE WHEN ");
    cs_add_format_misfit(q, f, "s");
    sql_add(q, " THEN ARRAY[");
    sql_literal(q, c->name);
    sql_add(q, ", '22007', pg_catalog.format('invalid input syntax for type %%s: \"%%s\"', ");
    sql_literal(q, cs_datefmt_type_name(c->basetype));
    sql_add(q, ", ");
    cs_add_mapped_text(q, f, "s");
    sql_add(q, "), ''] WHEN ");
    cs_add_invalid(q, p, f, "s");
    sql_add(q, " THEN ARRAY[");
    sql_literal(q, c->name);
    sql_add(q, ", '22008', pg_catalog.format('date/time field value out of range: \"%%s\"', ");
    cs_add_mapped_text(q, f, "s");
    sql_add(q, "), ''] END");
    return 1;
  }
  /* A number that does not fit the column's separators: bad input, in the
   * words the type's input function has for text it cannot read. */
  if (f->decimal) {
    sql_add(q, "CASE WHEN ");
    cs_add_misfit(q, f, "s");
    sql_add(q, " THEN ARRAY[");
    sql_literal(q, c->name);
    sql_add(q, ", '22P02', pg_catalog.format('invalid input syntax for type %%s: \"%%s\"', "
               "pg_catalog.format_type(");
    sql_literal(q, c->basetype);
    sql_add(q, "::pg_catalog.regtype, NULL), ");
    cs_add_text_value(q, f, "s");
    sql_add(q, "), ''] ELSE ");
  }
  /* What the client vouched valid for the full type is valid input. */
  sql_add(q, "CASE WHEN ");
  if (!cs_add_vouched(q, p, f, "s"))
    sql_add(q, "false");
  sql_add(q, " THEN NULL ELSE ");
  if (cs_has_input_is_valid(p->session)) {
    sql_add(q, "CASE WHEN NOT pg_input_is_valid(");
    cs_add_text_value(q, f, "s");
    sql_add(q, ", ");
    add_input_type(q, c);
    sql_add(q, ") THEN (SELECT ARRAY[");
    sql_literal(q, c->name);
    sql_add(q, ", e.sql_error_code, e.message, COALESCE(e.detail, '')] "
               "FROM pg_input_error_info(");
    cs_add_text_value(q, f, "s");
    sql_add(q, ", ");
    add_input_type(q, c);
    sql_add(q, ") e) END END%s", f->decimal ? " END" : "");
    return 1;
  }
  /* What the regular expression proves valid for the column's full type
   * is valid input for its base type. */
  re = cs_valid_regex(c, buf, sizeof(buf));
  if (re) {
    sql_add(q, "CASE WHEN NOT (");
    cs_add_text_value(q, f, "s");
    sql_add(q, ") ~ ");
    sql_literal(q, re);
    sql_add(q, " THEN ");
  }
  sql_add(q, "pg_temp.csvstage_error_%d(", f->valid_fn);
  cs_add_text_value(q, f, "s");
  sql_add(q, ")%s END%s", re ? " END" : "", f->decimal ? " END" : "");
  return 1;
}

static int
refuse_input(plan *p, sql *q, const cs_refusal_tables *rt, long long *n)
{
  int any = 0;

  /* COALESCE stops at the first column with an error, as the parser does. */
  sql_add(q, "INSERT INTO %s SELECT _line, e[2], e[1], '', e[3], e[4] "
             "FROM (SELECT s._line, COALESCE(", rt->reject);
  for (int i = 0; i < p->nfed; i++) {
    size_t mark = q->b.len;
    sql_add(q, any ? ", " : "");
    if (add_input_error(q, p, &p->fed[i]))
      any = 1;
    else
      q->b.len = mark;
  }
  if (!any) {
    sql_reset(q);
    return 0;
  }
  /* (OFFSET 0: each use of e would evaluate it again) */
  sql_add(q, ") AS e FROM %s s OFFSET 0) x WHERE e IS NOT NULL", rt->stage);
  return sql_run(q, n);
}

/*
 * NULL into NOT NULL and CHECK constraints come next, for a plain table:
 * once every value is valid for its column (modifier and domain included),
 * with no BEFORE row trigger to change the row, no rule, no row-level
 * security and no generated column, the INSERT builds the row (the
 * DEFAULTs of the columns not given, a sequence's next value too) and
 * checks NOT NULL column by column, then the CHECK constraints by name,
 * before any key or foreign key: a record failing one is refused whatever
 * the other records do. Its words: the server's message, and the row as
 * the server prints it in the DETAIL (each value by its type's output
 * function, "null" for NULL, cut to 64 bytes), which the server shows only
 * to a user who may read the table.
 */

/* Per table column, its type's output function as SQL names it; NULL when
 * the server would not show the row as it is built here. */
static char **
output_functions(plan *p, sql *q)
{
  const cs_table *t = p->table;
  char **out = NULL;
  PGresult *r;

  if (t->relkind != 'r' || t->row_triggers || t->insert_rules || p->unchecked_domain)
    return NULL;
  for (int i = 0; i < t->ncols; i++)
    if (t->cols[i].generated || (p->col_fed[i] < 0 && t->cols[i].notnull_domain))
      return NULL;
  sql_add(q, "SELECT quote_ident(n.nspname) || '.' || quote_ident(f.proname), "
             "c.relrowsecurity OR NOT has_table_privilege(c.oid, 'SELECT') "
             "FROM pg_class c JOIN pg_attribute a ON a.attrelid = c.oid "
             "JOIN pg_type y ON y.oid = a.atttypid JOIN pg_proc f ON f.oid = y.typoutput "
             "JOIN pg_namespace n ON n.oid = f.pronamespace "
             "WHERE c.oid = %u AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum", t->oid);
  r = sql_query(q);
  if (!r)
    return NULL;
  if (PQntuples(r) == t->ncols && PQgetvalue(r, 0, 1)[0] == 'f')
    out = calloc((size_t)t->ncols, sizeof(*out));
  for (int i = 0; out && i < t->ncols; i++)
    out[i] = strdup(PQgetvalue(r, i, 0));
  PQclear(r);
  return out;
}

/* Column i's value as the row holds it, in row s. */
static void
add_row_value(sql *q, const plan *p, int i)
{
  const cs_column *c = &p->table->cols[i];
  int fi = p->col_fed[i];

  if (fi >= 0) {
    /* (as the column's type: a DEFAULT's may differ, nextval's bigint) */
    sql_add(q, "(");
    cs_add_typed_value(q, p, &p->fed[fi], "s", 1);
    sql_add(q, ")::%s", c->type);
  } else if (c->identity) {
    sql_add(q, "nextval(pg_get_serial_sequence(");
    sql_literal(q, p->table->sql_name);
    sql_add(q, ", ");
    sql_literal(q, c->name);
    sql_add(q, "))::%s", c->type);
  } else if (c->default_expr)
    sql_add(q, "(%s)::%s", c->default_expr, c->type);
  else
    sql_add(q, "NULL::%s", c->basetype);
}

/* The server's DETAIL text of column i's output: "null", or the text cut
 * to whole characters within 64 bytes, then "...". */
static void
add_shown(sql *q, int i)
{
  sql_add(q, "CASE WHEN \"csvstage:o%d\" IS NULL THEN 'null' "
             "WHEN octet_length(\"csvstage:o%d\") <= 64 THEN \"csvstage:o%d\" "
             "ELSE (SELECT left(\"csvstage:o%d\", n) FROM generate_series(64, 1, -1) n "
             "WHERE octet_length(left(\"csvstage:o%d\", n)) <= 64 LIMIT 1) || '...' END",
          i, i, i, i, i);
}

/* " WHEN <the record's first failure> THEN ": NOT NULL column by column,
 * then CHECK constraints by name (t->checks' order), as ExecConstraints. */
typedef enum { SAY_STATE, SAY_COLUMN, SAY_CONSTRAINT, SAY_MESSAGE } say;

static void
add_first_failure(sql *q, const cs_table *t, say what)
{
  char msg[1024];

  sql_add(q, "CASE");
  for (int i = 0; i < t->ncols; i++) {
    if (!t->cols[i].notnull)
      continue;
    sql_add(q, " WHEN \"csvstage:o%d\" IS NULL THEN ", i);
    if (what == SAY_STATE)
      sql_add(q, "'23502'");
    else if (what == SAY_COLUMN)
      sql_literal(q, t->cols[i].name);
    else if (what == SAY_CONSTRAINT)
      sql_add(q, "''");
    else {
      snprintf(msg, sizeof(msg), "null value in column \"%s\" of relation \"%s\" violates "
               "not-null constraint", t->cols[i].name, t->name);
      sql_literal(q, msg);
    }
  }
  for (int k = 0; k < t->nchecks; k++) {
    sql_add(q, " WHEN \"csvstage:k%d\" THEN ", k);
    if (what == SAY_STATE)
      sql_add(q, "'23514'");
    else if (what == SAY_COLUMN)
      sql_add(q, "''");
    else if (what == SAY_CONSTRAINT)
      sql_literal(q, t->checks[k].name);
    else {
      snprintf(msg, sizeof(msg), "new row for relation \"%s\" violates check constraint \"%s\"",
               t->name, t->checks[k].name);
      sql_literal(q, msg);
    }
  }
  sql_add(q, " END");
}

/*
 * The records whose row fails NOT NULL or a CHECK constraint, every value
 * valid: picked by a NULL given to a NOT NULL column or a CHECK false on
 * the values known without a volatile DEFAULT (f, cs_plan_all_known);
 * their rows built as the INSERT builds them, DEFAULTs and a sequence's
 * next value included (v: each of them is refused, so each draws a value,
 * as its INSERT would); then each value's text by its type's output
 * function and each CHECK (o), and the first failure.
 */
static int
refuse_rows(plan *p, sql *q, const cs_refusal_tables *rt, long long *n)
{
  const cs_table *t = p->table;
  char **outfn;
  int pick = 0, rc;

  for (int i = 0; i < p->nfed; i++)
    if (t->cols[p->fed[i].col].notnull && !p->fed[i].use_default)
      pick = 1;
  for (int k = 0; k < t->nchecks; k++)
    if (cs_plan_all_known(p, &t->checks[k]))
      pick = 1;
  if (!pick)
    return 0;
  outfn = output_functions(p, q);
  if (!outfn)
    return q->err->code ? -1 : 0;
  /* f keeps where each picked record's staged row is, for v to fetch it
   * by that alone: a join back to the staging table hashed all of it (the
   * planner cannot tell how few an OR of conditions picks: 1.5 s of 2.8 s
   * for 4,000 of 2M records). */
  sql_add(q, "WITH f AS MATERIALIZED (SELECT \"csvstage:line\", \"csvstage:at\" FROM "
             "(SELECT s._line AS \"csvstage:line\", s.ctid AS \"csvstage:at\", (true");
  for (int i = 0; i < p->nfed; i++) {
    if (t->cols[p->fed[i].col].notnull_domain) {
      sql_add(q, " AND (");
      cs_add_text_value(q, &p->fed[i], "s");
      sql_add(q, ") IS NOT NULL");
    }
    size_t mark = q->b.len;
    sql_add(q, " AND NOT ");
    if (!cs_add_invalid(q, p, &p->fed[i], "s"))
      q->b.len = mark;
  }
  sql_add(q, ") AS \"csvstage:valid\", (false");
  for (int i = 0; i < p->nfed; i++)
    if (t->cols[p->fed[i].col].notnull && !p->fed[i].use_default) {
      sql_add(q, " OR (");
      cs_add_text_value(q, &p->fed[i], "s");
      sql_add(q, ") IS NULL");
    }
  sql_add(q, ") AS \"csvstage:null\"");
  for (int i = 0; i < t->ncols; i++) {
    int used = 0;
    for (int k = 0; k < t->nchecks && !used; k++)
      if (cs_plan_all_known(p, &t->checks[k]))
        for (int j = 0; j < t->checks[k].ncols; j++)
          used |= t->checks[k].cols[j] == i;
    if (!used)
      continue;
    sql_add(q, ", ");
    cs_add_known_value(q, p, i);
    sql_add(q, " AS ");
    sql_ident(q, t->cols[i].name);
  }
  sql_add(q, " FROM %s s WHERE NOT EXISTS (SELECT 1 FROM %s r WHERE r._line = s._line) "
             "OFFSET 0) x WHERE \"csvstage:valid\" AND (\"csvstage:null\"", rt->stage, rt->reject);
  for (int k = 0; k < t->nchecks; k++)
    if (cs_plan_all_known(p, &t->checks[k]))
      sql_add(q, " OR (%s) IS FALSE", t->checks[k].expr);
  sql_add(q, ")), v AS MATERIALIZED (SELECT s._line AS \"csvstage:line\"");
  for (int i = 0; i < t->ncols; i++) {
    sql_add(q, ", ");
    add_row_value(q, p, i);
    sql_add(q, " AS ");
    sql_ident(q, t->cols[i].name);
  }
  sql_add(q, " FROM %s s WHERE s.ctid = ANY (ARRAY(SELECT \"csvstage:at\" FROM f))), "
             "o AS (SELECT \"csvstage:line\"", rt->stage);
  /* NULL as a datum (a composite of NULLs IS NULL in SQL, but is a value):
   * its output is NULL. */
  for (int i = 0; i < t->ncols; i++) {
    sql_add(q, ", %s(", outfn[i]);
    sql_ident(q, t->cols[i].name);
    sql_add(q, ")::text AS \"csvstage:o%d\"", i);
  }
  for (int k = 0; k < t->nchecks; k++)
    sql_add(q, ", (%s) IS FALSE AS \"csvstage:k%d\"", t->checks[k].expr, k);
  sql_add(q, " FROM v) INSERT INTO %s SELECT \"csvstage:line\", ", rt->reject);
  add_first_failure(q, t, SAY_STATE);
  sql_add(q, ", ");
  add_first_failure(q, t, SAY_COLUMN);
  sql_add(q, ", ");
  add_first_failure(q, t, SAY_CONSTRAINT);
  sql_add(q, ", ");
  add_first_failure(q, t, SAY_MESSAGE);
  sql_add(q, ", 'Failing row contains (' || ");
  for (int i = 0; i < t->ncols; i++) {
    sql_add(q, i ? " || ', ' || " : "");
    add_shown(q, i);
  }
  sql_add(q, " || ').' FROM o");
  rc = sql_run(q, n);
  for (int i = 0; i < t->ncols; i++)
    free(outfn[i]);
  free(outfn);
  return rc;
}

int
cs_refuse(plan *p, sql *q, const cs_refusal_tables *rt)
{
  static const cs_refusal_tables settle = {"csvstage_stage", "csvstage_reject"};
  char analyze[128];
  long long bad = 0, worse = 0;
  double staged;
  PGresult *r;

  /* (ANALYZE: a temporary table has no statistics else, and the planner
   * took 6,000 rejects for a handful: a nested loop over them for each of
   * 12,000 records, 2 s instead of 20 ms) */
  if (!rt)
    rt = &settle;
  snprintf(analyze, sizeof(analyze), "ANALYZE %s (_line)", rt->reject);
  if (refuse_input(p, q, rt, &bad) || cs_run(q->conn, analyze, q->err) ||
      refuse_rows(p, q, rt, &worse))
    return -1;
  if (rt != &settle || bad + worse == 0)
    return 0;
  /*
   * The records refused out of the way of the predictions and the inserts,
   * kept for the reject file's fields. A few: moved to csvstage_refused. Many
   * (a quarter of them or more): csvstage_stage becomes a new table of the
   * others, and csvstage_staged keeps them all, for a DELETE of most of a
   * table costs more than copying the rest (1.1 s against 0.3 s for
   * 200,000 of 300,000 records, measured).
   */
  r = cs_exec(q->conn, "SELECT reltuples FROM pg_class WHERE oid = 'csvstage_stage'::regclass",
              q->err);
  if (!r)
    return -1;
  staged = atof(PQgetvalue(r, 0, 0));
  PQclear(r);
  if ((double)(bad + worse) * 4 < staged) {
    /* (one statement: one scan of the staging table) */
    if (cs_run(q->conn, "CREATE TEMP TABLE csvstage_refused (LIKE csvstage_stage) ON COMMIT DROP; "
               "WITH d AS (DELETE FROM csvstage_stage s USING csvstage_reject r "
               "WHERE s._line = r._line RETURNING s.*) INSERT INTO csvstage_refused SELECT * FROM d",
               q->err))
      return -1;
    p->split = CS_SPLIT_MOVED;
    return 0;
  }
  if (cs_run(q->conn, "ALTER TABLE csvstage_stage RENAME TO csvstage_staged; "
             "CREATE TEMP TABLE csvstage_stage ON COMMIT DROP AS SELECT * FROM csvstage_staged s "
             "WHERE NOT EXISTS (SELECT 1 FROM csvstage_reject r WHERE r._line = s._line); "
             "ANALYZE csvstage_stage (_line)", q->err))
    return -1;
  p->split = CS_SPLIT_COPIED;
  return 0;
}
