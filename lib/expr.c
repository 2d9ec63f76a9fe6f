/*
 * expr.c: the SQL for a staged record's values (csvstage_stage's text
 * columns, as row "s" or a PL/pgSQL record "r"): each column's text after
 * the mapping rules, its typed value as an INSERT of a literal gets it, and
 * whether its text is valid input for the column's type.
 */
#include <config.h>

#include <stdio.h>
#include <string.h>

#include "expr.h"
#include "pg.h"

/* The CSV value of column src in row `row` ("s" or "r"), trimmed or not. */
static void
add_source(sql *q, const char *row, int src, int trim)
{
  if (trim)
    sql_add(q, "btrim(%s.c%d, E' \\t\\r\\n')", row, src + 1);
  else
    sql_add(q, "%s.c%d", row, src + 1);
}

static void add_mapped_text(sql *q, const fed_col *f, const char *row);

/* text folded as a boolean column's words are compared: white space around
 * it dropped (as boolin drops it) and ASCII letters in lower case. */
static void
add_folded(sql *q, const fed_col *f, const char *row)
{
  sql_add(q, "pg_catalog.translate(pg_catalog.btrim(");
  add_mapped_text(q, f, row);
  sql_add(q, ", E' \\t\\n\\r\\013\\f'), 'ABCDEFGHIJKLMNOPQRSTUVWXYZ', "
             "'abcdefghijklmnopqrstuvwxyz')");
}

static void
add_words(sql *q, char *const *words, int n)
{
  for (int k = 0; k < n; k++) {
    sql_add(q, "%spg_catalog.translate(", k ? ", " : "");
    sql_literal(q, words[k]);
    sql_add(q, ", 'ABCDEFGHIJKLMNOPQRSTUVWXYZ', 'abcdefghijklmnopqrstuvwxyz')");
  }
}

const char *
cs_number_regex(const fed_col *f, char *buf, size_t n)
{
  char t[3] = "", d[3];

  if (!f->decimal)
    return NULL;
  snprintf(d, sizeof(d), "%s%c", f->decimal == '.' ? "\\" : "", f->decimal);
  if (f->thousands)
    snprintf(t, sizeof(t), "%s%c", f->thousands == '.' ? "\\" : "", f->thousands);
  if (t[0])
    snprintf(buf, n, "^[ \\t\\n\\r\\f\\v]*[-+]?(([0-9]+|[0-9]{1,3}(%s[0-9]{3})+)(%s[0-9]*)?|%s[0-9]+)"
             "[ \\t\\n\\r\\f\\v]*$", t, d, d);
  else
    snprintf(buf, n, "^[ \\t\\n\\r\\f\\v]*[-+]?([0-9]+(%s[0-9]*)?|%s[0-9]+)[ \\t\\n\\r\\f\\v]*$", d, d);
  return buf;
}

/* "((text) !~ re) IS TRUE" */
static void
add_regex_misfit(sql *q, const fed_col *f, const char *row, const char *re)
{
  sql_add(q, "((");
  add_mapped_text(q, f, row);
  sql_add(q, ") !~ ");
  sql_literal(q, re);
  sql_add(q, ") IS TRUE");
}

int
cs_add_misfit(sql *q, const fed_col *f, const char *row)
{
  char buf[2048];

  if (f->format) {
    cs_datefmt_regex(f->format, 1, buf, sizeof(buf));
    add_regex_misfit(q, f, row, buf);
    return 1;
  }
  if (!cs_number_regex(f, buf, sizeof(buf)))
    return 0;
  add_regex_misfit(q, f, row, buf);
  return 1;
}

int
cs_add_format_misfit(sql *q, const fed_col *f, const char *row)
{
  char buf[2048];

  if (!f->format)
    return 0;
  cs_datefmt_regex(f->format, 0, buf, sizeof(buf));
  add_regex_misfit(q, f, row, buf);
  return 1;
}

/* " WHEN (the folded text) IN (words) THEN 'value'", nothing without words. */
static void
add_word_case(sql *q, const fed_col *f, const char *row, char *const *words, int n,
              const char *value)
{
  if (n == 0)
    return;
  sql_add(q, " WHEN ");
  add_folded(q, f, row);
  sql_add(q, " IN (");
  add_words(q, words, n);
  sql_add(q, ") THEN '%s'", value);
}

/* The column's value as text, after trim, nullif and coalesce (except
 * DEFAULT, which comes after the cast), a boolean column's words, and a
 * number column's separators (a value that does not fit them stays as it
 * is: cs_add_misfit says so, and refuse.c refuses it first). */
void
cs_add_text_value(sql *q, const fed_col *f, const char *row)
{
  if (f->format) {
    char buf[2048];
    cs_datefmt_regex(f->format, 1, buf, sizeof(buf));
    sql_add(q, "CASE WHEN ");
    cs_add_misfit(q, f, row);
    sql_add(q, " THEN ");
    add_mapped_text(q, f, row);
    sql_add(q, " ELSE (SELECT ");
    cs_datefmt_add_iso(q, f->format, "(x.m)");
    sql_add(q, " FROM pg_catalog.regexp_match(");
    add_mapped_text(q, f, row);
    sql_add(q, ", ");
    sql_literal(q, buf);
    sql_add(q, ") AS x(m)) END");
    return;
  }
  if (f->decimal) {
    sql_add(q, "CASE WHEN ");
    cs_add_misfit(q, f, row);
    sql_add(q, " THEN ");
    add_mapped_text(q, f, row);
    sql_add(q, " ELSE ");
    if (f->decimal != '.')
      sql_add(q, "pg_catalog.replace(");
    if (f->thousands)
      sql_add(q, "pg_catalog.replace(");
    sql_add(q, "pg_catalog.btrim(");
    add_mapped_text(q, f, row);
    sql_add(q, ", E' \\t\\n\\r\\013\\f')");
    if (f->thousands) {
      char t[2] = {f->thousands, 0};
      sql_add(q, ", ");
      sql_literal(q, t);
      sql_add(q, ", '')");
    }
    if (f->decimal != '.') {
      char d[2] = {f->decimal, 0};
      sql_add(q, ", ");
      sql_literal(q, d);
      sql_add(q, ", '.')");
    }
    sql_add(q, " END");
    return;
  }
  if (!f->nyes && !f->nno) {
    add_mapped_text(q, f, row);
    return;
  }
  sql_add(q, "CASE");
  add_word_case(q, f, row, f->yes, f->nyes, "true");
  add_word_case(q, f, row, f->no, f->nno, "false");
  sql_add(q, " ELSE ");
  add_mapped_text(q, f, row);
  sql_add(q, " END");
}

void
cs_add_mapped_text(sql *q, const fed_col *f, const char *row)
{
  add_mapped_text(q, f, row);
}

static void
add_mapped_text(sql *q, const fed_col *f, const char *row)
{
  const cs_rule *r = f->rule;
  int nfallback = 0;

  if (r)
    for (int k = 0; k < r->ncoalesce; k++)
      nfallback += r->coalesce[k].kind != CS_FALLBACK_DEFAULT;
  if (nfallback)
    sql_add(q, "COALESCE(");
  for (int k = 0; r && k < r->nnullif; k++)
    sql_add(q, "NULLIF(");
  if (f->src >= 0)
    add_source(q, row, f->src, f->trim);
  else
    sql_add(q, "NULL::text");
  for (int k = 0; r && k < r->nnullif; k++) {
    sql_add(q, ", ");
    sql_literal(q, r->nullif[k]);
    sql_add(q, ")");
  }
  for (int k = 0; r && k < r->ncoalesce; k++) {
    const cs_fallback *fb = &r->coalesce[k];
    if (fb->kind == CS_FALLBACK_LITERAL) {
      sql_add(q, ", ");
      sql_literal(q, fb->text);
    } else if (fb->kind == CS_FALLBACK_COLUMN) {
      sql_add(q, ", ");
      add_source(q, row, f->fallback_src[k], f->trim);
    }
  }
  if (nfallback)
    sql_add(q, ")");
}

/*
 * The typed value as an INSERT of the text as a literal gets it: the input
 * function of the type (a domain's base type) with no modifier, then the
 * INSERT's own assignment to the column applies the modifier and the
 * domain's constraints ("value too long for type character(3)", not a
 * silent cut). PostgreSQL makes one exception, which this follows: an
 * interval's input takes its modifier, so that '1' into interval hour to
 * minute means one minute.
 * typmod: the value as the column holds it (for predictions), and NULL as a
 * NULL of the base type, so that a domain's NOT NULL does not fail the
 * whole statement.
 */
void
cs_add_typed_value(sql *q, const plan *p, const fed_col *f, const char *row, int typmod)
{
  const cs_column *c = &p->table->cols[f->col];

  if (f->use_default)
    sql_add(q, "COALESCE(");
  if (c->is_text) {
    sql_add(q, "(");
    cs_add_text_value(q, f, row);
    sql_add(q, ")");
  } else if (c->interval_typmod >= 0) {
    sql_add(q, "pg_catalog.interval_in((");
    cs_add_text_value(q, f, row);
    sql_add(q, ")::pg_catalog.cstring, 0, %d)", c->interval_typmod);
  } else if (!typmod) {
    sql_add(q, "(");
    cs_add_text_value(q, f, row);
    sql_add(q, ")::%s", c->basetype);
  } else {
    sql_add(q, "CASE WHEN (");
    cs_add_text_value(q, f, row);
    sql_add(q, ") IS NULL THEN NULL::%s ELSE (", c->basetype);
    cs_add_text_value(q, f, row);
    sql_add(q, ")::%s END", c->type);
  }
  if (f->use_default)
    sql_add(q, ", %s)", c->default_expr);
}

const char *
cs_valid_regex(const cs_column *c, char *buf, size_t n)
{
  static const char date[] = "[1-9][0-9]{3}-(0[1-9]|1[0-2])-(0[1-9]|1[0-9]|2[0-8])";
  const char *t = c->type;

  if (strcmp(t, "smallint") == 0)
    return "^ *[-+]?[0-9]{1,4} *$";
  if (strcmp(t, "integer") == 0)
    return "^ *[-+]?[0-9]{1,9} *$";
  if (strcmp(t, "bigint") == 0)
    return "^ *[-+]?[0-9]{1,18} *$";
  if (strcmp(t, "numeric") == 0)
    return "^ *[-+]?([0-9]{1,100}(\\.[0-9]{0,100})?|\\.[0-9]{1,100}) *$";
  if (strncmp(t, "numeric(", 8) == 0) {
    int prec, scale;
    /* Fewer integer digits than precision - scale: rounding cannot overflow. */
    if (sscanf(t, "numeric(%d,%d)", &prec, &scale) == 2 && prec - scale >= 2) {
      snprintf(buf, n, "^ *[-+]?[0-9]{1,%d}(\\.[0-9]*)? *$", prec - scale - 1);
      return buf;
    }
    return NULL;
  }
  if (strcmp(t, "boolean") == 0)
    return "^ *([tT]([rR][uU][eE])?|[fF]([aA][lL][sS][eE])?|[yY]([eE][sS])?|[nN][oO]?|"
           "[oO][nN]|[oO][fF][fF]|1|0) *$";
  if (strcmp(t, "date") == 0) {
    snprintf(buf, n, "^%s$", date);
    return buf;
  }
  if (strcmp(t, "timestamp with time zone") == 0 ||
      strcmp(t, "timestamp without time zone") == 0) {
    snprintf(buf, n, "^%s([ T]([01][0-9]|2[0-3]):[0-5][0-9](:[0-5][0-9](\\.[0-9]{1,6})?)?)?"
             "( ?(Z|[+-]([01][0-9]|2[0-3])(:?[0-5][0-9])?))?$", date);
    return buf;
  }
  return NULL;
}

/* Column col's value as the table would store it; NULL for invalid input
 * (such records are suspects already). Only for known columns. */
void
cs_add_known_value(sql *q, const plan *p, int col)
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

int
cs_add_vouched(sql *q, const plan *p, const fed_col *f, const char *row)
{
  long i = f - p->fed;

  if (i < 0 || i >= CS_VOUCHED_COLUMNS)
    return 0;
  sql_add(q, "%s._ok & %lld <> 0", row, 1LL << i);
  return 1;
}

/*
 * "(the input is invalid for the column's type)" as a boolean that is
 * false for NULL, or nothing (returns 0) when any text is valid. A value
 * the client vouched for is not checked again.
 */
int
cs_add_invalid(sql *q, const plan *p, const fed_col *f, const char *row)
{
  const cs_column *c = &p->table->cols[f->col];
  char buf[512];
  const char *re;
  size_t mark;
  int vouch;

  if (c->is_text)
    return 0;
  if (f->decimal || f->format) {
    sql_add(q, "(");
    cs_add_misfit(q, f, row);
    sql_add(q, " OR ");
  }
  sql_add(q, "(CASE WHEN ");
  mark = q->b.len;
  vouch = cs_add_vouched(q, p, f, row);
  if (vouch)
    sql_add(q, " THEN false ELSE ");
  else
    q->b.len = mark - strlen("CASE WHEN ");
  sql_add(q, "(");
  if (cs_has_input_is_valid(p->session)) {
    sql_add(q, "pg_input_is_valid(");
    cs_add_text_value(q, f, row);
    sql_add(q, ", ");
    sql_literal(q, c->type);
    sql_add(q, ")");
  } else {
    re = cs_valid_regex(c, buf, sizeof(buf));
    if (re) {
      cs_add_text_value(q, f, row);
      sql_add(q, " ~ ");
      sql_literal(q, re);
      sql_add(q, " OR ");
    }
    sql_add(q, "pg_temp.csvstage_valid_%d(", f->valid_fn);
    cs_add_text_value(q, f, row);
    sql_add(q, ")");
  }
  sql_add(q, ") IS FALSE%s)%s", vouch ? " END" : "", f->decimal || f->format ? ")" : "");
  return 1;
}

/* The insert's column list. */
void
cs_add_column_list(sql *q, const plan *p)
{
  sql_add(q, "(");
  for (int i = 0; i < p->nfed; i++) {
    if (i)
      sql_add(q, ", ");
    sql_ident(q, p->table->cols[p->fed[i].col].name);
  }
  sql_add(q, ")%s", p->overriding ? " OVERRIDING SYSTEM VALUE" : "");
}
