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
    sql_add(q, "DECLARE x pg_catalog.interval := pg_catalog.interval_in(v::pg_catalog.cstring, 0, %d); ",
            c->interval_typmod);
  else
    sql_add(q, "DECLARE x %s := v::%s; ", c->basetype, c->basetype);
  /* (declared in an inner block: an error while a block sets up its
   * variables escapes that block's own handler) */
  sql_add(q, "BEGIN NULL; END; RETURN NULL; EXCEPTION WHEN others THEN GET STACKED DIAGNOSTICS "
             "st = RETURNED_SQLSTATE, msg = MESSAGE_TEXT, det = PG_EXCEPTION_DETAIL; "
             "RETURN ARRAY[");
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
    sql_add(q, ") e) END");
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
  sql_add(q, ")%s", re ? " END" : "");
  return 1;
}

int
cs_refuse_input(plan *p, sql *q)
{
  int any = 0;

  /* COALESCE stops at the first column with an error, as the parser does. */
  sql_add(q, "INSERT INTO csvstage_reject SELECT _line, e[2], e[1], '', e[3], e[4] "
             "FROM (SELECT s._line, COALESCE(");
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
  sql_add(q, ") AS e FROM csvstage_stage s OFFSET 0) x WHERE e IS NOT NULL");
  if (sql_run(q, NULL))
    return -1;
  /* Out of the way of the predictions and the inserts; kept for the
   * reject file's fields. */
  sql_add(q, "WITH d AS (DELETE FROM csvstage_stage s USING csvstage_reject r "
             "WHERE s._line = r._line RETURNING s.*) INSERT INTO csvstage_refused SELECT * FROM d");
  return sql_run(q, NULL);
}
