/*
 * load.c: one file, one transaction: preflight, staging, insert, rejects,
 * commit or roll back.
 *
 * The plan, and why:
 *  0. Records the client can vouch for go by COPY straight into the table
 *     (direct.c: in savepointed chunks, a refused record set aside); the
 *     steps below take only the records set aside. A bare COPY's speed is
 *     the target, and most files are mostly clean.
 *  1. The records set aside go by COPY into a temporary table of text
 *     columns (plus the source line), so that no value can fail on the way
 *     in.
 *  2. One set-based pass marks the records that may fail ("suspects"): bad
 *     input for a column's type (pg_input_is_valid on 16+; on 15 a regular
 *     expression that proves the common cases valid, then a PL/pgSQL cast
 *     for the doubtful rest), NULL into NOT NULL, CHECK constraints, keys
 *     that repeat within the file or exist in the table, foreign keys with
 *     no referenced row. A suspect may turn out fine: it only costs time.
 *  3. Everything else goes in with one INSERT ... SELECT: no subtransaction
 *     per clean record.
 *  4. The suspects are then inserted one by one, in line order, each in its
 *     own subtransaction (a PL/pgSQL loop on the server: no round trip per
 *     record). The errors are the server's own, word for word, and the
 *     order makes "a later duplicate is the reject" hold.
 *  5. Should the bulk INSERT fail anyway (a trigger, an exclusion
 *     constraint, a missing partition: what step 2 cannot foresee), it is
 *     rolled back to a savepoint and every record goes one by one: slower,
 *     same result.
 * A unique key shared by records of the file makes all of them suspects, so
 * clean records never conflict with suspects and inserting the clean ones
 * first gives the same result as inserting every record alone in order.
 */
#include <config.h>

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <libpq-fe.h>

#include "catalog.h"
#include "direct.h"
#include "plan.h"
#include "settings.h"
#include "copyenc.h"
#include "error.h"
#include "input.h"
#include "ledger.h"
#include "lock.h"
#include "pg.h"
#include "reader.h"
#include "rejects.h"
#include "session.h"
#include "sql.h"


static void
plan_free(plan *p)
{
  for (int i = 0; p->fed && i < p->nfed; i++) {
    free(p->fed[i].default_text);
    free(p->fed[i].fallback_src);
  }
  free(p->csv_meta);
  free(p->exact);
  free(p->fed);
  free(p->col_fed);
}

static int
csv_index(const plan *p, const char *name, int exact_only)
{
  int found = -1;

  for (int i = 0; i < p->ncsv; i++)
    if (!p->csv_meta[i] && strcmp(p->csv_names[i], name) == 0)
      return i;
  if (exact_only)
    return -1;
  for (int i = 0; i < p->ncsv; i++) {
    if (!p->csv_meta[i] && strcasecmp(p->csv_names[i], name) == 0) {
      if (found >= 0)
        return -1;   /* ambiguous: only an exact name will do */
      found = i;
    }
  }
  return found;
}

/* "FILE:LINE: " for a rule from a config file, or "". */
static const char *
rule_where(const csvstage_settings *s, const cs_rule *r, char *buf, size_t n)
{
  if (s->path && r->line > 0)
    snprintf(buf, n, "%s:%d: ", s->path, r->line);
  else
    buf[0] = '\0';
  return buf;
}

/* Appends "a", "b", ... (up to a few) for a message. */
static void
list_names(char *buf, size_t n, const char *name)
{
  size_t len = strlen(buf);

  if (len + strlen(name) + 8 >= n) {
    if (len + 5 < n && !strstr(buf, "..."))
      strcat(buf, ", ...");
    return;
  }
  snprintf(buf + len, n - len, "%s\"%s\"", len ? ", " : "", name);
}

/*
 * Preflight: matches the CSV's columns to the table's, applying the rules.
 * Fails with CSVSTAGE_E_PREFLIGHT (or _CONFIG for rules that cannot apply)
 * when anything would make every record fail or silently lose data.
 */
static csvstage_code
plan_build(plan *p, const char *input_name, csvstage_error *err)
{
  const csvstage_settings *s = p->settings;
  cs_table *t = p->table;
  int *claimed = NULL, *used = NULL, is_reject_file = 0;
  char where[1200], names[700];
  csvstage_code rc = CSVSTAGE_OK;

  p->csv_meta = calloc((size_t)p->ncsv + 1, sizeof(int));
  claimed = calloc((size_t)p->ncsv + 1, sizeof(int));
  used = calloc((size_t)p->ncsv + 1, sizeof(int));
  p->fed = calloc((size_t)t->ncols + 1, sizeof(fed_col));
  p->col_fed = calloc((size_t)t->ncols + 1, sizeof(int));
  if (!p->csv_meta || !claimed || !used || !p->fed || !p->col_fed) {
    rc = cs_fail(err, CSVSTAGE_E_NOMEM, "out of memory");
    goto out;
  }
  /* A reject file of ours loads again: its own columns are set aside. */
  for (int i = 0; i < p->ncsv; i++)
    if (strcmp(p->csv_names[i], "_sqlstate") == 0 && cs_table_column(t, "_sqlstate") < 0)
      is_reject_file = 1;
  for (int i = 0; is_reject_file && i < p->ncsv; i++)
    for (int m = 0; m < 7; m++)
      if (strcmp(p->csv_names[i], cs_reject_meta[m]) == 0)
        p->csv_meta[i] = 1;
  for (int i = 0; i < s->nignore; i++) {
    int c = csv_index(p, s->ignore[i], 1);
    if (c < 0) {
      rc = cs_fail(err, CSVSTAGE_E_PREFLIGHT, "[source] ignore: %s has no column \"%s\"",
                   input_name, s->ignore[i]);
      goto out;
    }
    claimed[c] = used[c] = 1;
  }
  /* Rules: each names a table column; `from` claims a CSV column. */
  for (int i = 0; i < s->nrules; i++) {
    const cs_rule *r = &s->rules[i];
    int col = cs_table_column(t, r->column);

    rule_where(s, r, where, sizeof(where));
    if (col < 0) {
      rc = cs_fail(err, CSVSTAGE_E_PREFLIGHT, "%s[column \"%s\"]: table %s has no column \"%s\"",
                   where, r->column, t->display_name, r->column);
      goto out;
    }
    if (r->from) {
      int c = csv_index(p, r->from, 1);
      if (c < 0) {
        rc = cs_fail(err, CSVSTAGE_E_PREFLIGHT, "%s[column \"%s\"]: from = \"%s\": %s has no such column",
                     where, r->column, r->from, input_name);
        goto out;
      }
      claimed[c] = 1;
    }
    for (int k = 0; k < r->ncoalesce; k++) {
      if (r->coalesce[k].kind == CS_FALLBACK_COLUMN) {
        int c = csv_index(p, r->coalesce[k].text, 1);
        if (c < 0) {
          rc = cs_fail(err, CSVSTAGE_E_PREFLIGHT, "%s[column \"%s\"]: coalesce: %s has no column "
                       "\"%s\" (write a text literal in single quotes: 'text')",
                       where, r->column, input_name, r->coalesce[k].text);
          goto out;
        }
        used[c] = 1;
      }
      if (r->coalesce[k].kind == CS_FALLBACK_DEFAULT && !t->cols[col].default_expr) {
        rc = cs_fail(err, CSVSTAGE_E_PREFLIGHT, "%s[column \"%s\"]: coalesce = DEFAULT, but the "
                     "column has no DEFAULT", where, r->column);
        goto out;
      }
    }
  }
  /* Each insertable table column: fed by a rule, by name, by position, or
   * left to its DEFAULT. */
  int position = 0;
  for (int i = 0; i < t->ncols; i++) {
    const cs_column *c = &t->cols[i];
    const cs_rule *r = cs_settings_rule(s, c->name);
    int src = -1;

    p->col_fed[i] = -1;
    if (c->generated)
      continue;
    if (r && r->from) {
      src = csv_index(p, r->from, 1);
    } else if (!s->header && s->ncolumns == 0) {
      /* No names at all: the CSV's columns are the table's, in order. */
      while (position < p->ncsv && (claimed[position] || p->csv_meta[position]))
        position++;
      if (position < p->ncsv)
        src = position++;
    } else {
      src = csv_index(p, c->name, 0);
      if (src >= 0 && claimed[src])
        src = -1;
    }
    if (src < 0 && !(r && r->ncoalesce > 0 && r->coalesce[0].kind != CS_FALLBACK_DEFAULT))
      continue;
    fed_col *f = &p->fed[p->nfed];
    f->col = i;
    f->src = src;
    f->rule = r;
    if (r && r->ncoalesce > 0) {
      f->fallback_src = malloc((size_t)r->ncoalesce * sizeof(int));
      if (!f->fallback_src) {
        rc = cs_fail(err, CSVSTAGE_E_NOMEM, "out of memory");
        goto out;
      }
      for (int k = 0; k < r->ncoalesce; k++)   /* the rule pass above checked them */
        f->fallback_src[k] = r->coalesce[k].kind == CS_FALLBACK_COLUMN
                           ? csv_index(p, r->coalesce[k].text, 1) : -1;
    }
    f->trim = r && r->trim >= 0 ? r->trim : s->trim;
    f->use_default = r && r->ncoalesce > 0
                   ? r->coalesce[r->ncoalesce - 1].kind == CS_FALLBACK_DEFAULT
                   : c->notnull && c->default_expr != NULL;
    if (src >= 0)
      claimed[src] = used[src] = 1;
    if (c->identity == 'a')
      p->overriding = 1;
    p->col_fed[i] = p->nfed++;
  }
  /* Every CSV column feeds something, or is said to feed nothing. */
  names[0] = '\0';
  for (int i = 0; i < p->ncsv; i++)
    if (!used[i] && !p->csv_meta[i])
      list_names(names, sizeof(names), p->csv_names[i]);
  if (names[0]) {
    rc = cs_fail(err, CSVSTAGE_E_PREFLIGHT,
                 "%s: no column of table %s for CSV column%s %s: map %s with "
                 "[column \"NAME\"] from = ..., or list %s in [source] ignore",
                 input_name, t->display_name, strchr(names, ',') ? "s" : "", names,
                 strchr(names, ',') ? "them" : "it", strchr(names, ',') ? "them" : "it");
    goto out;
  }
  /* NOT NULL columns with no DEFAULT need a source. */
  names[0] = '\0';
  for (int i = 0; i < t->ncols; i++) {
    const cs_column *c = &t->cols[i];
    if (c->notnull && !c->default_expr && !c->identity && !c->generated && p->col_fed[i] < 0)
      list_names(names, sizeof(names), c->name);
  }
  if (names[0]) {
    rc = cs_fail(err, CSVSTAGE_E_PREFLIGHT,
                 "%s: nothing feeds NOT NULL column%s %s of table %s, which ha%s no "
                 "DEFAULT: every record would be rejected; map a CSV column with "
                 "[column \"NAME\"] from = ..., or give a coalesce",
                 input_name, strchr(names, ',') ? "s" : "", names, t->display_name,
                 strchr(names, ',') ? "ve" : "s");
    goto out;
  }
  if (p->nfed == 0)
    rc = cs_fail(err, CSVSTAGE_E_PREFLIGHT, "%s: no CSV column feeds table %s",
                 input_name, t->display_name);
out:
  free(claimed);
  free(used);
  return rc;
}

/* ---- expressions ---- */

/* The CSV value of column src in row `row` ("s" or "r"), trimmed or not. */
static void
add_source(sql *q, const char *row, int src, int trim)
{
  if (trim)
    sql_add(q, "btrim(%s.c%d, E' \\t\\r\\n')", row, src + 1);
  else
    sql_add(q, "%s.c%d", row, src + 1);
}

/* The column's value as text, after trim, nullif and coalesce (except
 * DEFAULT, which comes after the cast). */
static void
add_text_value(sql *q, const fed_col *f, const char *row)
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
static void
add_typed_value(sql *q, const plan *p, const fed_col *f, const char *row, int typmod)
{
  const cs_column *c = &p->table->cols[f->col];

  if (f->use_default)
    sql_add(q, "COALESCE(");
  if (c->is_text) {
    sql_add(q, "(");
    add_text_value(q, f, row);
    sql_add(q, ")");
  } else if (c->interval_typmod >= 0) {
    sql_add(q, "pg_catalog.interval_in((");
    add_text_value(q, f, row);
    sql_add(q, ")::pg_catalog.cstring, 0, %d)", c->interval_typmod);
  } else if (!typmod) {
    sql_add(q, "(");
    add_text_value(q, f, row);
    sql_add(q, ")::%s", c->basetype);
  } else {
    sql_add(q, "CASE WHEN (");
    add_text_value(q, f, row);
    sql_add(q, ") IS NULL THEN NULL::%s ELSE (", c->basetype);
    add_text_value(q, f, row);
    sql_add(q, ")::%s END", c->type);
  }
  if (f->use_default)
    sql_add(q, ", %s)", c->default_expr);
}

/*
 * A regular expression that only valid input of the type matches, for the
 * common types: on PostgreSQL 15 it spares most values the PL/pgSQL cast
 * (a subtransaction each). NULL: none.
 */
static const char *
valid_regex(const cs_column *c, char *buf, size_t n)
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

/*
 * "(the input is invalid for the column's type)" as a boolean that is
 * false for NULL, or nothing (returns 0) when any text is valid.
 */
static int
add_invalid(sql *q, const plan *p, const fed_col *f, const char *row)
{
  const cs_column *c = &p->table->cols[f->col];
  char buf[512];
  const char *re;

  if (c->is_text)
    return 0;
  sql_add(q, "(");
  if (cs_has_input_is_valid(p->session)) {
    sql_add(q, "pg_input_is_valid(");
    add_text_value(q, f, row);
    sql_add(q, ", ");
    sql_literal(q, c->type);
    sql_add(q, ")");
  } else {
    re = valid_regex(c, buf, sizeof(buf));
    if (re) {
      add_text_value(q, f, row);
      sql_add(q, " ~ ");
      sql_literal(q, re);
      sql_add(q, " OR ");
    }
    sql_add(q, "pg_temp.csvstage_valid_%d(", f->valid_fn);
    add_text_value(q, f, row);
    sql_add(q, ")");
  }
  sql_add(q, ") IS FALSE");
  return 1;
}

/* The insert's column list. */
static void
add_column_list(sql *q, const plan *p)
{
  sql_add(q, "(");
  for (int i = 0; i < p->nfed; i++) {
    if (i)
      sql_add(q, ", ");
    sql_ident(q, p->table->cols[p->fed[i].col].name);
  }
  sql_add(q, ")%s", p->overriding ? " OVERRIDING SYSTEM VALUE" : "");
}

/* ---- predicting the records that may fail ---- */

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
    add_invalid(q, p, &p->fed[fi], "s");
    sql_add(q, " THEN NULL::%s ELSE ", c->basetype);
  }
  add_typed_value(q, p, &p->fed[fi], "s", 1);
  if (!c->is_text)
    sql_add(q, " END");
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
static int
create_validators(plan *p, sql *q)
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
static int
drop_validators(plan *p, sql *q)
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
 * Fills csvstage_suspect with the lines of the records that may fail:
 * invalid input, NULL into NOT NULL, CHECK, unique keys, foreign keys.
 */
static int
predict(plan *p, sql *q, int target_empty)
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
    if (add_invalid(q, p, &p->fed[i], "s"))
      any = 1;
    else
      q->b.len = mark;
  }
  for (int i = 0; i < p->nfed; i++) {
    const cs_column *c = &t->cols[p->fed[i].col];
    if ((c->notnull || c->notnull_domain) && !p->fed[i].use_default) {
      sql_add(q, " OR (");
      add_text_value(q, &p->fed[i], "s");
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
  if (sql_run(q, NULL))
    return -1;

  /* Keys: every record of a key that repeats in the file, or exists. */
  for (int k = 0; k < t->nuniques; k++) {
    const cs_constraint *u = &t->uniques[k];
    if (!all_known(p, u))
      continue;
    sql_add(q, "INSERT INTO csvstage_suspect SELECT \"csvstage:line\" FROM (SELECT *, "
               "count(*) OVER (PARTITION BY ");
    for (int j = 0; j < u->ncols; j++) {
      sql_add(q, j ? ", " : "");
      sql_ident(q, t->cols[u->cols[j]].name);
    }
    sql_add(q, ") AS \"csvstage:n\" FROM (SELECT s._line AS \"csvstage:line\"");
    for (int j = 0; j < u->ncols; j++) {
      sql_add(q, ", ");
      add_known_value(q, p, u->cols[j]);
      sql_add(q, " AS ");
      sql_ident(q, t->cols[u->cols[j]].name);
    }
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
    if (sql_run(q, NULL))
      return -1;
  }

  /* Foreign keys: records whose key is complete and has no referenced row. */
  for (int k = 0; k < t->nfkeys; k++) {
    const cs_constraint *f = &t->fkeys[k];
    char *nl = strchr(f->expr, '\n');
    if (!all_known(p, f) || !nl)
      continue;
    *nl = '\0';
    sql_add(q, "INSERT INTO csvstage_suspect SELECT \"csvstage:line\" FROM (SELECT s._line "
               "AS \"csvstage:line\"");
    for (int j = 0; j < f->ncols; j++) {
      sql_add(q, ", ");
      add_known_value(q, p, f->cols[j]);
      sql_add(q, " AS ");
      sql_ident(q, t->cols[f->cols[j]].name);
    }
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
    if (sql_run(q, NULL))
      return -1;
  }
  return 0;
}

/* ---- inserting ---- */

/* INSERT ... SELECT of every record that is not a suspect. */
static int
insert_clean(plan *p, sql *q, long long *rows)
{
  sql_add(q, "INSERT INTO %s ", p->table->sql_name);
  add_column_list(q, p);
  sql_add(q, " SELECT ");
  for (int i = 0; i < p->nfed; i++) {
    sql_add(q, i ? ", " : "");
    add_typed_value(q, p, &p->fed[i], "s", 0);
  }
  sql_add(q, " FROM csvstage_stage s WHERE NOT EXISTS (SELECT 1 FROM csvstage_suspect x "
             "WHERE x._line = s._line)");
  return sql_run(q, rows);
}

/*
 * Inserts records one by one, in line order, each in its own
 * subtransaction, on the server; the errors go to csvstage_reject with the
 * server's words. all: every record (else the suspects only).
 *
 * Each record is one INSERT whose values are SQL literals, run by EXECUTE:
 * the statement a user would write, so that every error is the one that
 * statement gives, and the first of several: a literal's input is checked
 * when the statement is parsed, column by column, modifiers (too long for
 * char(3)) when it is planned, domains, NOT NULL and CHECK when it runs. A
 * value that takes the column's DEFAULT is the DEFAULT keyword (for a view:
 * its base table's DEFAULT).
 */
static int
insert_one_by_one(plan *p, sql *q, int all, long long *rows)
{
  sql body = {.conn = q->conn, .err = q->err};
  sql head = {.conn = q->conn, .err = q->err};
  PGresult *res;
  int rc = -1;

  sql_add(&head, "INSERT INTO %s ", p->table->sql_name);
  add_column_list(&head, p);
  sql_add(&head, " VALUES (");
  sql_add(&body, "DECLARE r record; st text; msg text; det text; col text; con text; "
                 "n bigint := 0; k bigint; "
                 "BEGIN FOR r IN SELECT s.* FROM csvstage_stage s%s ORDER BY s._line LOOP "
                 "BEGIN EXECUTE ",
          all ? "" : " WHERE s._line IN (SELECT _line FROM csvstage_suspect)");
  sql_literal(&body, sql_text(&head) ? sql_text(&head) : "");
  for (int i = 0; i < p->nfed; i++) {
    const fed_col *f = &p->fed[i];
    sql_add(&body, " || %s", i ? "', ' || " : "");
    if (f->use_default) {
      sql_add(&body, "CASE WHEN (");
      add_text_value(&body, f, "r");
      sql_add(&body, ") IS NULL THEN 'DEFAULT' ELSE quote_literal(");
      add_text_value(&body, f, "r");
      sql_add(&body, ") END");
    } else {
      sql_add(&body, "quote_nullable(");
      add_text_value(&body, f, "r");
      sql_add(&body, ")");
    }
  }
  sql_add(&body, " || ')'");
  if (head.failed)
    body.failed = 1;
  free(head.b.data);
  sql_add(&body, "; GET DIAGNOSTICS k = ROW_COUNT; n := n + k; "
                 "EXCEPTION WHEN OTHERS THEN GET STACKED DIAGNOSTICS "
                 "st = RETURNED_SQLSTATE, msg = MESSAGE_TEXT, det = PG_EXCEPTION_DETAIL, "
                 "col = COLUMN_NAME, con = CONSTRAINT_NAME; ");
  /* Bad input for a type names no column: find the first that fails. */
  size_t case_start = body.b.len;
  int nwhen = 0;
  sql_add(&body, "IF col = '' AND st LIKE '22%%' THEN col := CASE");
  for (int i = 0; i < p->nfed; i++) {
    size_t mark = body.b.len;
    sql_add(&body, " WHEN ");
    if (!add_invalid(&body, p, &p->fed[i], "r")) {
      body.b.len = mark;
      continue;
    }
    sql_add(&body, " THEN ");
    sql_literal(&body, p->table->cols[p->fed[i].col].name);
    nwhen++;
  }
  if (nwhen)
    sql_add(&body, " ELSE '' END; END IF; ");
  else
    body.b.len = case_start;   /* text columns only: no input is bad */
  sql_add(&body, "INSERT INTO csvstage_reject VALUES (r._line, st, col, con, msg, det); "
                 "END; END LOOP; PERFORM set_config('csvstage.inserted', n::text, true); END");
  sql_add(q, "DO ");
  sql_literal(q, sql_text(&body));
  if (body.failed)
    q->failed = 1;
  if (sql_run(q, NULL))
    goto out;
  res = cs_exec(q->conn, "SELECT current_setting('csvstage.inserted')", q->err);
  if (!res)
    goto out;
  *rows = atoll(PQgetvalue(res, 0, 0));
  PQclear(res);
  rc = 0;
out:
  free(body.b.data);
  return rc;
}

/* ---- reporting rejects ---- */

typedef struct tally {
  csvstage_result *res;
  int ngroups;
  csvstage_reject_group groups[64];   /* the first 64 kinds; the rest: other */
  long long other;
  int nfirst_early;
  csvstage_reject_line first_early[CSVSTAGE_FIRST_REJECTS];
  int nfirst_late;
  csvstage_reject_line first_late[CSVSTAGE_FIRST_REJECTS];
} tally;

/* Rejects are grouped by SQLSTATE and column, or constraint when the error
 * names no column (a unique key). */
static void
tally_add(tally *t, int early, long long line, const char *sqlstate, const char *column,
          const char *constraint, const char *message)
{
  int g;
  csvstage_reject_line *first = early ? t->first_early : t->first_late;
  int *nfirst = early ? &t->nfirst_early : &t->nfirst_late;

  for (g = 0; g < t->ngroups; g++)
    if (strcmp(t->groups[g].sqlstate, sqlstate) == 0 && strcmp(t->groups[g].column, column) == 0 &&
        strcmp(t->groups[g].constraint, *column ? "" : constraint) == 0)
      break;
  if (g == t->ngroups && g < 64) {
    cs_strlcpy_utf8(t->groups[g].sqlstate, sqlstate, sizeof(t->groups[g].sqlstate));
    cs_strlcpy_utf8(t->groups[g].column, column, sizeof(t->groups[g].column));
    cs_strlcpy_utf8(t->groups[g].constraint, *column ? "" : constraint,
                    sizeof(t->groups[g].constraint));
    t->groups[g].count = 0;
    t->ngroups++;
  }
  if (g < 64)
    t->groups[g].count++;
  else
    t->other++;
  if (*nfirst < CSVSTAGE_FIRST_REJECTS) {
    first[*nfirst].line = line;
    cs_strlcpy_utf8(first[*nfirst].sqlstate, sqlstate, sizeof(first[*nfirst].sqlstate));
    cs_strlcpy_utf8(first[*nfirst].message, message, sizeof(first[*nfirst].message));
    (*nfirst)++;
  }
}

static int
group_cmp(const void *a, const void *b)
{
  const csvstage_reject_group *x = a, *y = b;

  if (x->count != y->count)
    return x->count > y->count ? -1 : 1;
  int c = strcmp(x->sqlstate, y->sqlstate);
  return c ? c : strcmp(x->column, y->column);
}

/* Moves the tally into the result: kinds by frequency, first rejects by line. */
static void
tally_finish(tally *t)
{
  csvstage_result *res = t->res;
  int i = 0, j = 0;

  qsort(t->groups, (size_t)t->ngroups, sizeof(t->groups[0]), group_cmp);
  res->ngroups = t->ngroups < CSVSTAGE_MAX_GROUPS ? t->ngroups : CSVSTAGE_MAX_GROUPS;
  memcpy(res->groups, t->groups, (size_t)res->ngroups * sizeof(t->groups[0]));
  res->other_rejects = t->other;
  for (int g = res->ngroups; g < t->ngroups; g++)
    res->other_rejects += t->groups[g].count;
  res->nfirst = 0;
  while (res->nfirst < CSVSTAGE_FIRST_REJECTS && (i < t->nfirst_early || j < t->nfirst_late)) {
    if (j >= t->nfirst_late || (i < t->nfirst_early && t->first_early[i].line < t->first_late[j].line))
      res->first[res->nfirst++] = t->first_early[i++];
    else
      res->first[res->nfirst++] = t->first_late[j++];
  }
}

/* The record's fields that go to the reject file (a reject file's own
 * columns are left out when it is loaded again). */
static int
pick_fields(const plan *p, int nfields, const char *const *in, const size_t *inlen,
            const char **out, size_t *outlen)
{
  int n = 0;

  for (int i = 0; i < p->ncsv; i++) {
    if (p->csv_meta[i])
      continue;
    out[n] = i < nfields ? in[i] : NULL;
    outlen[n] = i < nfields && in[i] ? inlen[i] : 0;
    n++;
  }
  return n;
}

/* A staging row as bytea text ("\\x4a09..."), back into the record's fields
 * (raw holds their bytes). Returns 0, or -1 when out of memory. */
static int
unhex_row(const plan *p, const char *hex, cs_buf *raw, char **split, size_t *slens,
          const char **fields, size_t *lens)
{
  size_t n = strlen(hex);
  int nf;

  if (n >= 2 && hex[0] == '\\' && hex[1] == 'x')
    hex += 2, n -= 2;
  raw->len = 0;
  if (cs_buf_reserve(raw, n / 2 + 1) != 0)
    return -1;
  for (size_t i = 0; i + 1 < n; i += 2) {
    unsigned v;
    sscanf(hex + i, "%2x", &v);
    raw->data[raw->len++] = (char)v;
  }
  nf = cs_copy_split_row(raw->data, raw->len, split, slens, p->ncsv + 1);
  for (int i = 0; i < p->ncsv; i++) {
    fields[i] = i + 1 < nf ? split[i + 1] : NULL;
    lens[i] = i + 1 < nf ? slens[i + 1] : 0;
  }
  return 0;
}

/* Streams csvstage_reject, joined to the records, into the reject file. */
static int
write_server_rejects(plan *p, PGconn *conn, cs_rejects *rj, tally *ty, csvstage_error *err)
{
  sql q = {.conn = conn, .err = err};
  PGresult *res = NULL;
  const char **fields = NULL, **picked = NULL;
  char **split = NULL;
  size_t *lens = NULL, *plens = NULL, *slens = NULL;
  cs_buf raw = {0};
  int rc = -1, done = 0;

  split = calloc((size_t)p->ncsv + 2, sizeof(*split));
  slens = calloc((size_t)p->ncsv + 2, sizeof(*slens));
  fields = calloc((size_t)p->ncsv + 1, sizeof(*fields));
  picked = calloc((size_t)p->ncsv + 1, sizeof(*picked));
  lens = calloc((size_t)p->ncsv + 1, sizeof(*lens));
  plens = calloc((size_t)p->ncsv + 1, sizeof(*plens));
  if (!fields || !picked || !lens || !plens || !split || !slens) {
    cs_fail(err, CSVSTAGE_E_NOMEM, "out of memory");
    goto out;
  }
  /* The records the server could not convert come as their staging row,
   * in the input's bytes. */
  sql_add(&q, "SELECT r._line, r.st, r.col, r.con, r.msg, r.det, NULL::bytea");
  for (int i = 0; i < p->ncsv; i++)
    sql_add(&q, ", s.c%d", i + 1);
  sql_add(&q, " FROM csvstage_reject r JOIN csvstage_stage s ON s._line = r._line "
              "UNION ALL SELECT u._line, u.st, '', '', u.msg, '', u.row");
  for (int i = 0; i < p->ncsv; i++)
    sql_add(&q, ", NULL");
  sql_add(&q, " FROM csvstage_unconverted u ORDER BY 1");
  /* Row by row: the rejects may be many; memory stays flat. */
  if (!sql_text(&q) || !PQsendQuery(conn, sql_text(&q)) || !PQsetSingleRowMode(conn)) {
    cs_fail_result(err, conn, NULL);
    goto out;
  }
  while ((res = PQgetResult(conn)) != NULL) {
    ExecStatusType st = PQresultStatus(res);
    if (st == PGRES_SINGLE_TUPLE && !done) {
      for (int i = 0; i < p->ncsv; i++) {
        fields[i] = PQgetisnull(res, 0, 7 + i) ? NULL : PQgetvalue(res, 0, 7 + i);
        lens[i] = (size_t)PQgetlength(res, 0, 7 + i);
      }
      if (!PQgetisnull(res, 0, 6) && unhex_row(p, PQgetvalue(res, 0, 6), &raw, split, slens,
                                                fields, lens)) {
        cs_fail(err, CSVSTAGE_E_NOMEM, "out of memory");
        done = -1;
      }
      int n = pick_fields(p, p->ncsv, fields, lens, picked, plens);
      cs_reject_row row = {
        .line = atoll(PQgetvalue(res, 0, 0)),
        .sqlstate = PQgetvalue(res, 0, 1), .column = PQgetvalue(res, 0, 2),
        .constraint = PQgetvalue(res, 0, 3), .message = PQgetvalue(res, 0, 4),
        .detail = PQgetvalue(res, 0, 5), .fields = picked, .lens = plens, .nfields = n,
      };
      if (cs_rejects_add(rj, &row, err))
        done = -1;   /* keep draining: the connection must stay usable */
      else
        tally_add(ty, 0, row.line, row.sqlstate, row.column, row.constraint, row.message);
    } else if (st != PGRES_TUPLES_OK && st != PGRES_SINGLE_TUPLE && done == 0) {
      cs_fail_result(err, conn, res);
      done = -1;
    }
    PQclear(res);
  }
  res = NULL;
  if (done == 0)
    rc = 0;
out:
  free(q.b.data);
  free(fields);
  free(picked);
  free(lens);
  free(plens);
  free(split);
  free(slens);
  free(raw.data);
  return rc;
}

/* ---- one load ---- */

/* The length of name without a final .gz, then .csv. */
static size_t
without_suffixes(const char *name)
{
  size_t len = strlen(name);

  if (len > 3 && strcmp(name + len - 3, ".gz") == 0)
    len -= 3;
  if (len > 4 && strncasecmp(name + len - 4, ".csv", 4) == 0)
    len -= 4;
  return len;
}

/*
 * The reject file's path: the configured one, with strftime patterns and
 * %f for the input's name without directory, .gz and .csv ("users" for
 * incoming/users.csv.gz, "stdin"), or NAME.rejects.csv beside the input
 * (stdin: in the current directory). several: one of several files in a
 * run; a configured path without %f then gets %f before its extension
 * (rejects.csv: rejects.users.csv), so that the files' reject files do not
 * replace each other.
 */
static int
reject_path(const csvstage_settings *s, const char *input, int several, char *out, size_t n,
            csvstage_error *err)
{
  const char *name = !input || strcmp(input, "-") == 0 ? "stdin" : input;
  size_t len;

  if (s->rejects_file) {
    const char *p = s->rejects_file, *base = strrchr(p, '/') ? strrchr(p, '/') + 1 : p;
    const char *ext = several && !strstr(p, "%f") ? strrchr(base, '.') : NULL;
    const char *stem = strrchr(name, '/') ? strrchr(name, '/') + 1 : name;
    size_t stem_len = without_suffixes(stem);
    cs_buf pattern = {0};
    int failed = 0;
    time_t now = time(NULL);
    struct tm tm;

    if (several && !strstr(p, "%f") && !ext)
      ext = p + strlen(p);
    /* One pass: %f (and the name put in before ext) becomes the input's
     * name with its own % doubled for strftime; %% stays as it is. */
    for (;; p++) {
      int name_here = p == ext || (p[0] == '%' && p[1] == 'f');
      if (p == ext)
        failed |= cs_buf_printf(&pattern, ".");
      for (size_t i = 0; name_here && i < stem_len; i++)
        failed |= cs_buf_printf(&pattern, "%s%c", stem[i] == '%' ? "%" : "", stem[i]);
      if (!*p)
        break;
      if (p != ext && name_here) {
        p++;   /* the f of %f */
      } else if (p[0] == '%' && p[1] == '%') {
        failed |= cs_buf_printf(&pattern, "%%%%");
        p++;
      } else {
        failed |= cs_buf_printf(&pattern, "%c", *p);
      }
    }
    localtime_r(&now, &tm);
    if (failed || !pattern.data || strftime(out, n, pattern.data, &tm) == 0) {
      free(pattern.data);
      return cs_fail(err, CSVSTAGE_E_CONFIG, "[rejects] file: the path is empty or too long"), -1;
    }
    free(pattern.data);
    return 0;
  }
  len = without_suffixes(name);
  if (len + 13 > n)
    return cs_fail(err, CSVSTAGE_E_CONFIG, "the input path is too long"), -1;
  memcpy(out, name, len);
  strcpy(out + len, ".rejects.csv");
  return 0;
}

static double
now_s(void)
{
  struct timespec ts;

  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/*
 * Reads every record: malformed ones into the reject file, the others
 * straight into the table (direct.c) or, when they may fail, into the
 * staging table. *staged: how many went there.
 */
static double now_s(void);

/* Calls the session's progress function: every 4096 records at most once
 * per 100 ms, and at the end (done). */
static void
progress(plan *p, cs_input *in, cs_reader *rd, const char *path, double t0, int done,
         double *last)
{
  csvstage_progress pr;
  cs_reader_stats st;
  double now;

  if (!p->session->progress)
    return;
  now = now_s();
  if (!done && now - *last < 0.1)
    return;
  *last = now;
  cs_reader_get_stats(rd, &st);
  pr.file = path && *path ? path : "-";
  pr.bytes = cs_input_position(in);
  pr.size = cs_input_size(in);
  pr.records = st.records;
  pr.rejects = st.rejects;
  pr.elapsed_s = now - t0;
  pr.done = done;
  p->session->progress(&pr, p->session->progress_arg);
}

/*
 * Records row k of the records set aside (d's numbering) in
 * csvstage_unconverted: the server could not convert its bytes from the
 * source encoding (e: its error). The row keeps the input's bytes, for the
 * reject file.
 */
static int
unconverted(plan *p, sql *q, cs_direct *d, int all, long long k, const csvstage_error *e)
{
  cs_buf row = {0};
  char *hex = NULL;
  int rc = -1;

  if (cs_direct_row(d, all, k, &row, q->err))
    goto out;
  hex = malloc(row.len * 2 + 1);
  if (!hex) {
    cs_fail(q->err, CSVSTAGE_E_NOMEM, "out of memory");
    goto out;
  }
  for (size_t i = 0; i < row.len; i++)
    snprintf(hex + 2 * i, 3, "%02x", (unsigned char)row.data[i]);
  hex[row.len * 2] = '\0';
  /* The line: the row's first field, digits only (cs_copy_encode). */
  sql_add(q, "INSERT INTO csvstage_unconverted VALUES (%lld, ",
          row.len ? strtoll(row.data, NULL, 10) : 0);
  sql_literal(q, e->sqlstate);
  sql_add(q, ", ");
  sql_literal(q, e->message);
  sql_add(q, ", decode('%s', 'hex'))", hex);
  rc = sql_run(q, NULL);
out:
  free(row.data);
  free(hex);
  return rc;
}

/*
 * COPYs rows [from, to) of the records set aside into csvstage_stage in a
 * savepoint. Returns 0; 1 when the server could not convert a row from the
 * source encoding (*bad: its number; rolled back, e filled); -1 with q's
 * err filled.
 */
static int
copy_stage_rows(sql *q, cs_direct *d, int all, long long from, long long to, long long *bad,
                csvstage_error *e)
{
  char ctx[1024] = "";
  long long line;

  csvstage_error_clear(e);
  if (cs_run(q->conn, "SAVEPOINT csvstage_fill", q->err) ||
      cs_copy_begin(q->conn, "COPY csvstage_stage FROM STDIN", q->err))
    return -1;
  if (cs_direct_send_rows(d, all, from, to, q->err)) {
    cs_copy_end(q->conn, "csvstage stopped reading the records set aside", NULL, NULL);
    return -1;
  }
  if (cs_copy_end_ctx(q->conn, NULL, NULL, e, ctx, sizeof(ctx)) == 0)
    return cs_run(q->conn, "RELEASE SAVEPOINT csvstage_fill", q->err);
  line = cs_context_line(ctx, "csvstage_stage");
  if (PQstatus(q->conn) != CONNECTION_OK || line < 1 ||
      (strcmp(e->sqlstate, "22P05") != 0 && strcmp(e->sqlstate, "22021") != 0)) {
    *q->err = *e;
    return -1;
  }
  *bad = from + line - 1;
  return cs_run(q->conn, "ROLLBACK TO SAVEPOINT csvstage_fill; RELEASE SAVEPOINT csvstage_fill",
                q->err) ? -1 : 1;
}

/*
 * Creates csvstage_stage and fills it with the records set aside (all:
 * every record of the file, one row a line). A record whose bytes the
 * server cannot convert from the source encoding (WIN1252's 0x81, a cut
 * SJIS character) cannot be staged: it goes to csvstage_unconverted with
 * the server's error, a reject at its line, and the COPY starts again
 * after it; the rows before it go in first.
 */
static int
fill_stage(plan *p, sql *q, cs_direct *d, int all)
{
  long long from = 0, bad, none;
  csvstage_error e, e2;
  int r;

  /* In one transaction for several files, the last file's are still here. */
  sql_add(q, "DROP TABLE IF EXISTS pg_temp.csvstage_stage, pg_temp.csvstage_suspect, "
             "pg_temp.csvstage_reject, pg_temp.csvstage_unconverted; "
             "CREATE TEMP TABLE csvstage_unconverted (_line bigint, st text, msg text, "
             "row bytea) ON COMMIT DROP; CREATE TEMP TABLE csvstage_stage (_line bigint");
  for (int i = 0; i < p->ncsv; i++)
    sql_add(q, ", c%d text", i + 1);
  sql_add(q, ") ON COMMIT DROP");
  if (sql_run(q, NULL))
    return -1;
  while ((r = copy_stage_rows(q, d, all, from, -1, &bad, &e)) == 1) {
    if ((bad > from && copy_stage_rows(q, d, all, from, bad, &none, &e2) != 0) ||
        unconverted(p, q, d, all, bad, &e))
      return -1;
    from = bad + 1;
  }
  if (r < 0)
    return -1;
  /* A record the server refused is in the journal and set aside. */
  if (all && cs_run(q->conn, "DELETE FROM csvstage_stage a USING csvstage_stage b "
                    "WHERE a._line = b._line AND a.ctid > b.ctid; "
                    "DELETE FROM csvstage_unconverted a USING csvstage_unconverted b "
                    "WHERE a._line = b._line AND a.ctid > b.ctid", q->err))
    return -1;
  return 0;
}

static int
stage(plan *p, PGconn *conn, cs_input *in, cs_reader *rd, cs_rejects *rj, tally *ty,
      cs_direct **dp, long long *staged, const char *path, double t0, csvstage_error *err)
{
  double last = t0;
  sql q = {.conn = conn, .err = err};
  cs_direct *d = NULL;
  cs_record rec;
  const char **picked = NULL;
  size_t *plens = NULL;
  int rc = -1, more;

  picked = calloc((size_t)p->ncsv + 1, sizeof(*picked));
  plens = calloc((size_t)p->ncsv + 1, sizeof(*plens));
  if (!picked || !plens) {
    cs_fail(err, CSVSTAGE_E_NOMEM, "out of memory");
    goto out;
  }
  /* SAVEPOINT and COPY in one message: one round trip per chunk. */
  sql_add(&q, "SAVEPOINT csvstage_chunk; COPY %s (", p->table->sql_name);
  for (int i = 0; i < p->nfed; i++) {
    sql_add(&q, i ? ", " : "");
    sql_ident(&q, p->table->cols[p->fed[i].col].name);
  }
  sql_add(&q, ") FROM STDIN");
  if (cs_copy_has_default(p->session)) {
    sql_add(&q, " WITH (DEFAULT ");
    sql_literal(&q, CS_DEFAULT_MARKER);
    sql_add(&q, ")");
  }
  /* A view takes INSERT through its rules or triggers, not COPY; and COPY
   * bypasses a table's rules ON INSERT. Those take the staging path. */
  if (sql_text(&q))
    d = cs_direct_open(p, conn, sql_text(&q), p->table->relkind != 'v' && !p->table->insert_rules &&
                       !p->strict && !p->unchecked_domain, err);
  sql_reset(&q);
  if (!d)
    goto out;
  while ((more = cs_reader_next(rd, &rec, err)) == 1) {
    if (rec.kind == CS_RECORD_REJECT) {
      int n = pick_fields(p, rec.nfields, (const char *const *)rec.field, rec.len, picked, plens);
      cs_reject_row row = {
        .line = rec.line, .sqlstate = rec.sqlstate, .column = "", .constraint = "",
        .message = rec.message, .detail = rec.detail, .fields = picked, .lens = plens,
        .nfields = n, .raw = rec.raw, .raw_len = rec.raw_len,
      };
      if (cs_rejects_add_early(rj, &row, err))
        break;
      tally_add(ty, 1, rec.line, rec.sqlstate, "", "", rec.message);
      continue;
    }
    if (p->session->interrupted) {
      cs_fail(err, CSVSTAGE_E_INTERRUPTED, "interrupted");
      break;
    }
    if (cs_direct_add(d, &rec, err))
      break;
    if ((rec.line & 4095) == 0)
      progress(p, in, rd, path, t0, 0, &last);
  }
  if (!cs_failed(err))
    progress(p, in, rd, path, t0, 1, &last);
  if (cs_failed(err) || cs_direct_finish(d, err))
    goto out;
  *staged = cs_direct_set_aside(d);
  p->refusals = cs_direct_refusals(d);
  p->inserted = cs_direct_inserted(d);
  if (*staged > 0 && fill_stage(p, &q, d, 0))
    goto out;
  rc = 0;
out:
  *dp = d;   /* the caller's to free: settle may need it again */
  free(q.b.data);
  free(picked);
  free(plens);
  return rc;
}

/*
 * Before COPY's DEFAULT option (16), a blank that takes the DEFAULT goes in
 * as the DEFAULT's value, computed once here: for stable DEFAULTs only
 * (now() is one value in a transaction; nextval() is not one value).
 */
static int
compute_defaults(plan *p, sql *q)
{
  for (int i = 0; i < p->nfed; i++) {
    fed_col *f = &p->fed[i];
    const cs_column *c = &p->table->cols[f->col];
    PGresult *r;

    if (!f->use_default || !c->default_expr || !c->default_stable ||
        cs_copy_has_default(p->session))
      continue;
    sql_add(q, "SELECT ((%s)::%s)::text", c->default_expr, c->type);
    r = sql_query(q);
    if (!r)
      return -1;
    f->default_known = 1;
    if (!PQgetisnull(r, 0, 0) && !(f->default_text = strdup(PQgetvalue(r, 0, 0)))) {
      PQclear(r);
      return cs_fail(q->err, CSVSTAGE_E_NOMEM, "out of memory"), -1;
    }
    PQclear(r);
  }
  return 0;
}



/*
 * Which unique keys both paths keep in file order. The fast path sets a
 * record aside when a key of it may have come before (a Bloom filter of
 * the keys as the client sees them), and the staging path settles every
 * record of a repeated key one by one, in order; that holds for a unique
 * index on plain columns whose text the client can compare exactly
 * (integers, text, char(n)) when no trigger may change a key on the way
 * and no key column takes a DEFAULT the client cannot see. Any other
 * unique or exclusion index (an expression, a predicate, NULLS NOT
 * DISTINCT, dates or numerics spelled two ways, a partition's own, a
 * view's base table's) may let a later record in before an earlier one
 * that the staging path settles afterwards: the earlier is then refused
 * in its place. Such a refusal (a 23505 or 23P01 naming an index not kept
 * exact) makes settle() start over in file order.
 */
static int
order_plan(plan *p, csvstage_error *err)
{
  const cs_table *t = p->table;

  p->strict = t->self_fkey;
  /* COPY gives a column it leaves out (no DEFAULT) a NULL without its
   * domain's check, where an INSERT checks it ("domain d does not allow
   * null values"): such a table takes the staging path. */
  p->unchecked_domain = 0;
  for (int i = 0; i < t->ncols; i++)
    if (p->col_fed[i] < 0 && t->cols[i].domain_checked && !t->cols[i].default_expr &&
        !t->cols[i].generated)
      p->unchecked_domain = 1;
  p->nexact = 0;
  p->exact = calloc((size_t)t->nconflicts + 1, sizeof(*p->exact));
  if (!p->exact)
    return cs_fail(err, CSVSTAGE_E_NOMEM, "out of memory"), -1;
  for (int c = 0; c < t->nconflicts; c++) {
    int exact = 0;
    for (int k = 0; k < t->nuniques && !exact && !t->row_triggers; k++) {
      const cs_constraint *u = &t->uniques[k];
      int ok = 1, fed = 0;
      if (strcmp(u->name, t->conflict_roots[c]) != 0)
        continue;
      for (int j = 0; j < u->ncols && ok; j++) {
        const cs_column *col = &t->cols[u->cols[j]];
        int fi = p->col_fed[u->cols[j]];
        if (fi < 0) {
          ok = !col->generated && !col->identity && col->default_expr && col->default_stable;
          continue;
        }
        fed = 1;
        ok = !p->fed[fi].use_default && !col->nondeterministic &&
             (p->fed[fi].type.kind == CS_KIND_INT2 || p->fed[fi].type.kind == CS_KIND_INT4 ||
              p->fed[fi].type.kind == CS_KIND_INT8 || p->fed[fi].type.kind == CS_KIND_TEXT ||
              p->fed[fi].type.kind == CS_KIND_VARCHAR || p->fed[fi].type.kind == CS_KIND_BPCHAR);
      }
      exact = ok && fed;
    }
    if (exact)
      p->exact[p->nexact++] = t->conflict_names[c];
  }
  p->order_sensitive = t->relkind == 'v' || p->nexact < t->nconflicts;
  return 0;
}

/* Whether the careful path refused a record for a key conflict that may
 * be out of file order (order_plan): 1, 0, or -1 with q's err filled. */
static int
out_of_order(plan *p, sql *q)
{
  PGresult *r;
  int found;

  sql_add(q, "SELECT EXISTS (SELECT 1 FROM csvstage_reject WHERE st IN ('23505', '23P01') "
             "AND con <> ALL (ARRAY[");
  for (int i = 0; i < p->nexact; i++) {
    sql_add(q, i ? ", " : "");
    sql_literal(q, p->exact[i]);
  }
  sql_add(q, "]::text[]))");
  r = sql_query(q);
  if (!r)
    return -1;
  found = PQgetvalue(r, 0, 0)[0] == 't';
  PQclear(r);
  return found;
}

/*
 * The careful path for the records set aside (in csvstage_stage): the
 * set-based prediction, one INSERT ... SELECT of the records predicted
 * fine, then the others one by one; csvstage_reject holds the server's
 * refusals. Should the INSERT fail anyway, everything set aside goes one by
 * one. Should a key conflict come out of file order (order_plan), the
 * whole file's work is rolled back to csvstage_data and every record goes
 * one by one, in file order: the reference itself. *bulk, *one: the rows
 * each way put in (p->inserted is zeroed when the fast path's are undone).
 */
static int
settle(plan *p, sql *q, cs_direct *d, csvstage_result *res, long long *bulk, long long *one)
{
  PGconn *conn = q->conn;
  csvstage_error *err = q->err;
  const char *reject_table = "CREATE TEMP TABLE csvstage_reject (_line bigint, st text, "
                             "col text, con text, msg text, det text) ON COMMIT DROP";
  PGresult *r;
  int target_empty, found;

  if (!cs_has_input_is_valid(p->session) && create_validators(p, q))
    return -1;
  if (p->strict) {
    res->row_by_row = 1;
    return cs_run(conn, reject_table, err) || insert_one_by_one(p, q, 1, one) ? -1 : 0;
  }
  sql_add(q, "SELECT NOT EXISTS (SELECT 1 FROM %s)", p->table->sql_name);
  r = sql_query(q);
  if (!r)
    return -1;
  target_empty = PQgetvalue(r, 0, 0)[0] == 't';
  PQclear(r);
  if (cs_run(conn, reject_table, err) || predict(p, q, target_empty) ||
      cs_run(conn, "SAVEPOINT csvstage_bulk", err))
    return -1;
  if (insert_clean(p, q, bulk) == 0) {
    if (cs_run(conn, "RELEASE SAVEPOINT csvstage_bulk", err) ||
        insert_one_by_one(p, q, 0, one))
      return -1;
  } else {
    /* What prediction could not foresee: start over, one by one. */
    if (err->code != CSVSTAGE_E_DB)
      return -1;
    csvstage_error_clear(err);
    *bulk = 0;
    res->row_by_row = 1;
    if (cs_run(conn, "ROLLBACK TO SAVEPOINT csvstage_bulk", err) ||
        insert_one_by_one(p, q, 1, one))
      return -1;
  }
  if (!p->order_sensitive)
    return 0;
  found = out_of_order(p, q);
  if (found <= 0)
    return found;
  /* Once more, in file order: the file's records, none in the table. */
  res->row_by_row = 1;
  res->reordered = 1;
  p->inserted = *bulk = *one = 0;
  if (cs_run(conn, "ROLLBACK TO SAVEPOINT csvstage_data", err) || fill_stage(p, q, d, 1) ||
      (!cs_has_input_is_valid(p->session) && create_validators(p, q)) ||
      cs_run(conn, reject_table, err) || insert_one_by_one(p, q, 1, one))
    return -1;
  return 0;
}

csvstage_code
csvstage_load(csvstage_session *session, const csvstage_settings *settings,
              const char *path, int flags, csvstage_result *res, csvstage_error *err)
{
  PGconn *conn = session ? session->conn : NULL;
  csvstage_result dummy;
  csvstage_error localerr;
  cs_input *in = NULL;
  cs_reader *rd = NULL;
  cs_rejects *rj = NULL;
  cs_direct *d = NULL;
  plan p = {0};
  tally *ty = NULL;
  sql q = {.conn = conn};
  const char **names = NULL;
  int in_tx = 0, dry = (flags & CSVSTAGE_DRY_RUN) != 0, over = 0;
  double t0 = now_s();
  csvstage_code rc = CSVSTAGE_OK;
  char rpath[4096];
  cs_reader_opts ro;
  cs_reader_stats st;
  long long bulk = 0, one = 0, staged = 0;

  if (!err) {
    csvstage_error_clear(&localerr);
    err = &localerr;
  }
  q.err = err;
  if (!res)
    res = &dummy;
  memset(res, 0, sizeof(*res));
  res->dry_run = dry;
  cs_strlcpy_utf8(res->file, path && strcmp(path, "-") != 0 ? path : "-", sizeof(res->file));
  if (!session || !settings) {
    rc = cs_fail(err, CSVSTAGE_E_INVALID, "no session or no settings");
    goto out;
  }
  if (!settings->table) {
    rc = cs_fail(err, CSVSTAGE_E_CONFIG, "no target table: give -t TABLE, or table = in [target]");
    goto out;
  }
  if (settings->header && settings->ncolumns > 0) {
    rc = cs_fail(err, CSVSTAGE_E_CONFIG, "[source] columns names the columns of a file without "
                 "a header: set header = false, or leave columns out");
    goto out;
  }
  p.session = session;
  p.settings = settings;
  ty = calloc(1, sizeof(*ty));
  if (!ty) {
    rc = cs_fail(err, CSVSTAGE_E_NOMEM, "out of memory");
    goto out;
  }
  ty->res = res;

  if (cs_run(conn, session->outer ? "SAVEPOINT csvstage_file" : "BEGIN", err))
    goto failed;
  in_tx = 1;
  /* Deferrable constraints are checked per record, not at COMMIT, where one
   * bad record would take the whole file down. */
  if (cs_run(conn, "SET CONSTRAINTS ALL IMMEDIATE", err))
    goto failed;
  sql_add(&q, "SET LOCAL client_encoding = ");
  sql_literal(&q, settings->encoding);
  if (sql_run(&q, NULL)) {
    if (err->code == CSVSTAGE_E_DB) {
      char msg[sizeof(err->message)];
      cs_strlcpy_utf8(msg, err->message, sizeof(msg));
      csvstage_error_clear(err);
      cs_fail(err, CSVSTAGE_E_CONFIG, "[source] encoding: %s", msg);
    }
    goto failed;
  }
  p.table = cs_table_load(conn, settings->table, err);
  if (!p.table)
    goto failed;
  snprintf(res->table, sizeof(res->table), "%s", p.table->display_name);
  if (cs_take_lock(&p, &q))
    goto failed;
  if (settings->ledger && !(flags & CSVSTAGE_FORCE)) {
    /* A regular file is hashed first: content loaded before is skipped
     * without reading it again (standard input is checked at the end). */
    char sha[65];
    int got = cs_file_sha256(path, sha, err);
    if (got < 0 || (got == 1 && cs_ledger_lookup(&p, &q, sha, 0, res)))
      goto failed;
    if (res->skipped) {
      if (cs_run(conn, cs_rollback_sql(session), err))
        goto failed;
      in_tx = 0;
      goto out;
    }
  }

  in = cs_input_open_hashed(path, settings->ledger, err);
  if (!in)
    goto failed;
  cs_settings_reader_opts(settings, &ro);
  ro.header = settings->header;
  ro.ncolumns = settings->ncolumns;
  if (!settings->header && settings->ncolumns == 0) {
    /* Neither a header nor names: as COPY without a column list, every
     * record holds every column the table takes, in order. */
    for (int i = 0; i < p.table->ncols; i++)
      ro.ncolumns += !p.table->cols[i].generated;
  }
  rd = cs_reader_open(in, &ro, err);
  if (!rd)
    goto failed;

  /* The CSV's column names: the header's, the configured ones, or 1, 2, ... */
  p.ncsv = cs_reader_ncolumns(rd);
  names = calloc((size_t)p.ncsv + 1, sizeof(*names));
  if (!names) {
    cs_fail(err, CSVSTAGE_E_NOMEM, "out of memory");
    goto failed;
  }
  for (int i = 0; i < p.ncsv; i++)
    names[i] = i < settings->ncolumns ? settings->columns[i] : cs_reader_column(rd, i);
  p.csv_names = names;
  if (p.ncsv > 0 && plan_build(&p, cs_input_name(in), err) != CSVSTAGE_OK)
    goto failed;

  /* The reject file's directory must take a file before anything loads. */
  if (reject_path(settings, path, (flags & CSVSTAGE_SEVERAL_FILES) != 0, rpath, sizeof(rpath),
                  err))
    goto failed;
  {
    /* The header: the input's names, but a reject file's own columns. */
    const char **picked = calloc((size_t)p.ncsv + 1, sizeof(*picked));
    int n = 0;
    for (int i = 0; picked && i < p.ncsv; i++)
      if (!p.csv_meta[i])
        picked[n++] = names[i];
    if (picked)
      rj = cs_rejects_open(rpath, settings->delimiter, settings->quote, settings->null_marker,
                           picked, n, err);
    else
      cs_fail(err, CSVSTAGE_E_NOMEM, "out of memory");
    free(picked);
    if (!rj) {
      if (err->code == CSVSTAGE_E_IO)
        err->code = CSVSTAGE_E_CONFIG;   /* nothing was loaded: a setup error */
      goto failed;
    }
  }
  if (p.ncsv == 0)
    goto counted;   /* an empty file: nothing to load */

  {
    int utf8 = strcasecmp(settings->encoding, "UTF8") == 0 ||
               strcasecmp(settings->encoding, "UTF-8") == 0;
    for (int i = 0; i < p.nfed; i++)
      cs_type_parse(&p.fed[i].type, p.table->cols[p.fed[i].col].type, utf8);
  }
  if (compute_defaults(&p, &q))
    goto failed;
  if (order_plan(&p, err))
    goto failed;
  /* Where a key conflict may come out of file order, the whole file is
   * settled again from here. */
  if (cs_run(conn, "SAVEPOINT csvstage_data", err) ||
      stage(&p, conn, in, rd, rj, ty, &d, &staged, path, t0, err) || session->interrupted)
    goto failed;
  res->staged = staged;
  if (staged > 0 && (settle(&p, &q, d, res, &bulk, &one) ||
                     write_server_rejects(&p, conn, rj, ty, err) ||
                     (!cs_has_input_is_valid(session) && drop_validators(&p, &q))))
    goto failed;
  if (cs_run(conn, "RELEASE SAVEPOINT csvstage_data", err))
    goto failed;
counted:
  if (cs_rejects_finish(rj, err))
    goto failed;
  cs_reader_get_stats(rd, &st);
  res->records = st.records;
  res->rejected = cs_rejects_count(rj);
  /* What the server inserted: a record a trigger dropped is neither loaded
   * nor rejected. */
  res->loaded = p.inserted + bulk + one;
  res->dropped = res->records - res->rejected - res->loaded;
  res->bytes = cs_input_position(in);
  tally_finish(ty);
  over = (settings->max_rejects >= 0 && res->rejected > settings->max_rejects) ||
         (settings->max_rejects_pct >= 0 &&
          (double)res->rejected * 100.0 > settings->max_rejects_pct * (double)res->records);
  if (settings->ledger && !over && cs_ledger_record(&p, &q, in, (flags & CSVSTAGE_FORCE) != 0, res))
    goto failed;
  if (session->interrupted)
    goto failed;   /* the last moment to stop: COMMIT would not be canceled */
  if (res->skipped) {
    /* Loaded before: nothing of this run stays, its rejects included. */
    if (cs_run(conn, cs_rollback_sql(session), err))
      goto failed;
    in_tx = 0;
    res->records = res->loaded = res->rejected = res->dropped = res->staged = 0;
    res->ngroups = res->nfirst = 0;
    res->other_rejects = 0;
    goto out;
  }
  if (over || dry) {
    if (cs_run(conn, cs_rollback_sql(session), err))
      goto failed;
  } else if (session->outer) {
    if (cs_run(conn, "RELEASE SAVEPOINT csvstage_file", err))
      goto failed;
    res->pending = 1;
  } else {
    char xid[32];
    cs_commit_end how = cs_commit(conn, &session->interrupted, xid, sizeof(xid), err);

    if (how == CS_ROLLED_BACK)
      goto failed;   /* refused at COMMIT, or lost before it: said as usual */
    in_tx = 0;
    if (how == CS_ROLLED_BACK_AFTER_LOSS) {
      cs_lost_commit(err, how, res->file, xid, "");
      goto failed;
    }
    if (how == CS_COMMIT_UNKNOWN) {
      /* If it did commit, its rejects are the only record of what did not
       * go in: keep them. */
      char more[sizeof(rpath) + 128] = "";
      cs_rejects *r = rj;
      rj = NULL;
      if (settings->ledger)
        snprintf(more, sizeof(more), ", or run the same command again: the ledger skips it "
                 "if it was loaded");
      if (res->rejected > 0 && cs_rejects_commit(r, NULL) == 0)
        snprintf(more + strlen(more), sizeof(more) - strlen(more),
                 "; its rejects, in case it did: %s", rpath);
      else if (res->rejected == 0)
        cs_rejects_discard(r);
      res->outcome_unknown = 1;
      cs_lost_commit(err, how, res->file, xid, more);
      goto failed;
    }
    res->committed = 1;
    res->commit_rechecked = how == CS_COMMITTED_AFTER_LOSS;
  }
  in_tx = 0;
  if (res->rejected > 0)
    snprintf(res->reject_file, sizeof(res->reject_file), "%s", rpath);
  {
    cs_rejects *r = rj;
    rj = NULL;
    if (cs_rejects_commit(r, err) != 0 && res->committed)
      /* The load is in; only the report of its rejects failed. */
      res->reject_file[0] = '\0';
  }
  if (over) {
    char limit[64];
    if (settings->max_rejects >= 0)
      snprintf(limit, sizeof(limit), "%lld", settings->max_rejects);
    else
      snprintf(limit, sizeof(limit), "%g%%", settings->max_rejects_pct);
    rc = cs_fail(err, CSVSTAGE_E_REJECTS, "%s: %lld of %lld records rejected, more than "
                 "max_rejects %s: nothing committed", res->file, res->rejected,
                 res->records, limit);
  } else if (cs_failed(err)) {
    rc = err->code;
  }
  goto out;

failed:
  /* An interruption shows as whatever it broke (a canceled statement, a
   * COPY cut short): say what happened instead. */
  if (session && session->interrupted && !res->outcome_unknown) {
    /* (Interrupted while asking what became of a lost COMMIT: that is
     * unknown, not rolled back.) */
    csvstage_error_clear(err);
    cs_fail(err, CSVSTAGE_E_INTERRUPTED, "interrupted: %s rolled back, nothing of it "
            "committed", res->file);
  } else if (in_tx && conn && PQstatus(conn) == CONNECTION_BAD && !res->outcome_unknown) {
    /* Lost before COMMIT was sent: the server rolled the transaction back.
     * (A loss during COMMIT is worded where it happens: the outcome is
     * unknown there.) */
    char msg[sizeof(err->message)];
    cs_strlcpy_utf8(msg, err->message[0] ? err->message : "no reason given", sizeof(msg));
    csvstage_error_clear(err);
    cs_fail(err, CSVSTAGE_E_CONNLOST, "the connection to the server was lost while loading "
            "%s (%s): nothing of it was committed; load it again when the server is back",
            res->file, msg);
  }
  rc = err->code ? err->code : CSVSTAGE_E_DB;
  if (in_tx && PQstatus(conn) == CONNECTION_OK) {
    csvstage_error ignored;
    csvstage_error_clear(&ignored);
    cs_run(conn, cs_rollback_sql(session), &ignored);
  }
  /* Nothing was committed, so nothing is accounted for: the error says why. */
  res->records = res->loaded = res->rejected = res->dropped = res->staged = 0;
  res->committed = 0;
out:
  res->elapsed_s = now_s() - t0;
  cs_rejects_discard(rj);
  cs_direct_free(d);
  cs_reader_free(rd);
  cs_input_close(in);
  cs_table_free(p.table);
  plan_free(&p);
  free(names);
  free(ty);
  free(q.b.data);
  return rc;
}
