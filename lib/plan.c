/*
 * plan.c: how one file's CSV columns feed one table: the mapping rules and
 * the catalog made into the per-column plan (plan.h) at preflight, with
 * what follows from it for the load: the DEFAULTs computed once (before
 * PostgreSQL 16), and which unique keys both paths keep in file order.
 */
#include <config.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <libpq-fe.h>

#include "error.h"
#include "plan.h"
#include "rejects.h"

void
cs_plan_free(plan *p)
{
  for (int i = 0; p->fed && i < p->nfed; i++) {
    free(p->fed[i].default_text);
    free(p->fed[i].fallback_src);
    if (p->fed[i].format)
      cs_datefmt_free(p->fed[i].format);
    free(p->fed[i].format);
  }
  free(p->csv_meta);
  free(p->exact);
  free(p->conflict);
  free(p->conflict_index);
  free(p->update);
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


/* What preflight works with: per CSV column, whether a rule or an ignore
 * claimed it (no column takes it by name) and whether it feeds anything. */
typedef struct claims {
  int *claimed;
  int *used;
  const char *input_name;
} claims;

/* A reject file of ours loads again: its own columns are set aside. */
static void
mark_reject_columns(plan *p)
{
  int is_reject_file = 0;

  for (int i = 0; i < p->ncsv; i++)
    if (strcmp(p->csv_names[i], "_sqlstate") == 0 && cs_table_column(p->table, "_sqlstate") < 0)
      is_reject_file = 1;
  for (int i = 0; is_reject_file && i < p->ncsv; i++)
    for (int m = 0; m < 7; m++)
      if (strcmp(p->csv_names[i], cs_reject_meta[m]) == 0)
        p->csv_meta[i] = 1;
}

/* [source] ignore and the rules: each names columns that must exist; `from`
 * and ignore claim a CSV column, a coalesce column uses one. */
static csvstage_code
check_rules(plan *p, claims *cl, csvstage_error *err)
{
  const csvstage_settings *s = p->settings;
  const cs_table *t = p->table;
  char where[1200];

  for (int i = 0; i < s->nignore; i++) {
    int c = csv_index(p, s->ignore[i], 1);
    if (c < 0)
      return cs_fail(err, CSVSTAGE_E_PREFLIGHT, "[source] ignore: %s has no column \"%s\"",
                     cl->input_name, s->ignore[i]);
    cl->claimed[c] = cl->used[c] = 1;
  }
  for (int i = 0; i < s->nrules; i++) {
    const cs_rule *r = &s->rules[i];
    int col = cs_table_column(t, r->column);

    rule_where(s, r, where, sizeof(where));
    if (col < 0)
      return cs_fail(err, CSVSTAGE_E_PREFLIGHT, "%s[column \"%s\"]: table %s has no column \"%s\"",
                     where, r->column, t->display_name, r->column);
    if (r->from) {
      int c = csv_index(p, r->from, 1);
      if (c < 0)
        return cs_fail(err, CSVSTAGE_E_PREFLIGHT, "%s[column \"%s\"]: from = \"%s\": %s has no "
                       "such column", where, r->column, r->from, cl->input_name);
      cl->claimed[c] = 1;
    }
    for (int k = 0; k < r->ncoalesce; k++) {
      if (r->coalesce[k].kind == CS_FALLBACK_COLUMN) {
        int c = csv_index(p, r->coalesce[k].text, 1);
        if (c < 0)
          return cs_fail(err, CSVSTAGE_E_PREFLIGHT, "%s[column \"%s\"]: coalesce: %s has no "
                         "column \"%s\" (write a text literal in single quotes: 'text')",
                         where, r->column, cl->input_name, r->coalesce[k].text);
        cl->used[c] = 1;
      }
      if (r->coalesce[k].kind == CS_FALLBACK_DEFAULT && !t->cols[col].default_expr)
        return cs_fail(err, CSVSTAGE_E_PREFLIGHT, "%s[column \"%s\"]: coalesce = DEFAULT, but "
                       "the column has no DEFAULT", where, r->column);
    }
    if ((r->number.decimal || r->number.thousands) && !cs_column_is_number(&t->cols[col]))
      return cs_fail(err, CSVSTAGE_E_PREFLIGHT, "%s[column \"%s\"]: decimal and thousands are for "
                     "number columns; \"%s\" is %s", where, r->column, r->column,
                     t->cols[col].type);
    if (r->format) {
      cs_datefmt df;
      char why[512];
      int suits = !cs_datefmt_parse(&df, r->format, why, sizeof(why)) &&
                  cs_datefmt_suits(&df, t->cols[col].basetype);
      cs_datefmt_free(&df);
      if (!cs_datefmt_type(t->cols[col].basetype))
        return cs_fail(err, CSVSTAGE_E_PREFLIGHT, "%s[column \"%s\"]: format is for date, time "
                       "and timestamp columns; \"%s\" is %s", where, r->column, r->column,
                       t->cols[col].type);
      if (!suits)
        return cs_fail(err, CSVSTAGE_E_PREFLIGHT, "%s[column \"%s\"]: format '%s' does not make "
                       "a %s (a date needs YYYY, MM, DD and no time; a time HH24 or HH12 and no "
                       "date; only timestamptz takes TZH)", where, r->column, r->format,
                       t->cols[col].type);
    }
    if ((r->words.nyes || r->words.nno) && !cs_column_is_bool(&t->cols[col]))
      return cs_fail(err, CSVSTAGE_E_PREFLIGHT, "%s[column \"%s\"]: true and false words are for "
                     "boolean columns; \"%s\" is %s", where, r->column, r->column,
                     t->cols[col].type);
  }
  return CSVSTAGE_OK;
}

/* The CSV column that feeds table column i: the rule's `from`, the one in
 * its position when the file names none, or the one of its name; -1. */
static int
source_of(plan *p, claims *cl, int i, const cs_rule *r, int *position)
{
  const csvstage_settings *s = p->settings;
  int src;

  if (r && r->from)
    return csv_index(p, r->from, 1);
  if (!s->header && s->ncolumns == 0) {
    /* No names at all: the CSV's columns are the table's, in order. */
    while (*position < p->ncsv && (cl->claimed[*position] || p->csv_meta[*position]))
      (*position)++;
    return *position < p->ncsv ? (*position)++ : -1;
  }
  src = csv_index(p, p->table->cols[i].name, 0);
  return src >= 0 && cl->claimed[src] ? -1 : src;
}

/* Each insertable table column: fed by a rule, by name, by position, or
 * left to its DEFAULT (not in p->fed). */
static csvstage_code
feed_columns(plan *p, claims *cl, csvstage_error *err)
{
  const csvstage_settings *s = p->settings;
  const cs_table *t = p->table;
  int position = 0;

  for (int i = 0; i < t->ncols; i++) {
    const cs_column *c = &t->cols[i];
    const cs_rule *r = cs_settings_rule(s, c->name);
    int src;
    fed_col *f;

    p->col_fed[i] = -1;
    if (c->generated)
      continue;
    src = source_of(p, cl, i, r, &position);
    if (src < 0 && !(r && r->ncoalesce > 0 && r->coalesce[0].kind != CS_FALLBACK_DEFAULT))
      continue;
    f = &p->fed[p->nfed];
    f->col = i;
    f->src = src;
    f->rule = r;
    if (r && r->ncoalesce > 0) {
      f->fallback_src = malloc((size_t)r->ncoalesce * sizeof(int));
      if (!f->fallback_src)
        return cs_fail(err, CSVSTAGE_E_NOMEM, "out of memory");
      for (int k = 0; k < r->ncoalesce; k++)   /* check_rules checked them */
        f->fallback_src[k] = r->coalesce[k].kind == CS_FALLBACK_COLUMN
                           ? csv_index(p, r->coalesce[k].text, 1) : -1;
    }
    f->trim = r && r->trim >= 0 ? r->trim : s->trim;
    if (cs_column_is_number(c)) {
      /* A column's own separators replace [source]'s, both of them. */
      const cs_number_format *nf = r && (r->number.decimal || r->number.thousands)
                                   ? &r->number : &s->number;
      f->decimal = nf->decimal;
      f->thousands = nf->thousands;
      if (f->thousands && !f->decimal)
        f->decimal = f->thousands == '.' ? ',' : '.';
    }
    if (cs_datefmt_type(c->basetype) && ((r && r->format) || s->format)) {
      /* A column's own pattern (a date-only one may feed a timestamp);
       * else [source]'s where it makes exactly the column's kind (a
       * date-only pattern: the date columns). */
      const char *pattern = r && r->format ? r->format : s->format;
      char why[512];
      f->format = calloc(1, sizeof(*f->format));
      if (!f->format)
        return cs_fail(err, CSVSTAGE_E_NOMEM, "out of memory");
      if (cs_datefmt_parse(f->format, pattern, why, sizeof(why)) ||
          !(r && r->format ? cs_datefmt_suits : cs_datefmt_suits_exactly)(f->format,
                                                                          c->basetype)) {
        cs_datefmt_free(f->format);
        free(f->format);
        f->format = NULL;
      } else {
        f->format_text = pattern;
      }
    }
    if (cs_column_is_bool(c)) {
      const cs_words *w = r && r->words.nyes ? &r->words : &s->words;
      f->yes = w->yes, f->nyes = w->nyes;
      w = r && r->words.nno ? &r->words : &s->words;
      f->no = w->no, f->nno = w->nno;
    }
    f->use_default = r && r->ncoalesce > 0
                   ? r->coalesce[r->ncoalesce - 1].kind == CS_FALLBACK_DEFAULT
                   : c->notnull && c->default_expr != NULL;
    if (src >= 0)
      cl->claimed[src] = cl->used[src] = 1;
    if (c->identity == 'a')
      p->overriding = 1;
    p->col_fed[i] = p->nfed++;
  }
  return CSVSTAGE_OK;
}

/* The delimiter a header read as one column seems to use (the most
 * frequent of ; tab | and comma, not the one in use), or 0. */
static char
other_delimiter(const plan *p)
{
  static const char candidates[] = ";\t|,";
  const char *name = p->ncsv == 1 ? p->csv_names[0] : NULL;
  char best = 0;
  size_t most = 0;

  for (int k = 0; name && candidates[k]; k++) {
    size_t n = 0;
    if (candidates[k] == p->settings->delimiter)
      continue;
    for (const char *s = name; *s; s++)
      n += *s == candidates[k];
    if (n > most)
      most = n, best = candidates[k];
  }
  return best;
}

/* Nothing lost, nothing impossible: every CSV column feeds something or is
 * said to feed nothing, and every NOT NULL column without a DEFAULT is fed. */
static csvstage_code
check_coverage(plan *p, claims *cl, csvstage_error *err)
{
  const cs_table *t = p->table;
  char names[700] = "", d = other_delimiter(p), given[4] = {'\'', d, '\'', 0},
       conf[4] = {'"', d, '"', 0};

  for (int i = 0; i < p->ncsv; i++)
    if (!cl->used[i] && !p->csv_meta[i])
      cs_list_name(names, sizeof(names), p->csv_names[i], 1);
  /* A header read as one column: most likely the wrong delimiter. */
  if (names[0] && d)
    return cs_fail(err, CSVSTAGE_E_PREFLIGHT,
                   "%s: the header reads as one column, %s: the file looks %s-delimited: "
                   "give --delimiter %s (or [source] delimiter = %s)", cl->input_name, names,
                   d == '\t' ? "tab" : given, d == '\t' ? "tab" : given,
                   d == '\t' ? "tab" : conf);
  if (names[0])
    return cs_fail(err, CSVSTAGE_E_PREFLIGHT,
                   "%s: no column of table %s for CSV column%s %s: map %s with "
                   "[column \"NAME\"] from = ..., or list %s in [source] ignore",
                   cl->input_name, t->display_name, strchr(names, ',') ? "s" : "", names,
                   strchr(names, ',') ? "them" : "it", strchr(names, ',') ? "them" : "it");
  for (int i = 0; i < t->ncols; i++) {
    const cs_column *c = &t->cols[i];
    if (c->notnull && !c->default_expr && !c->identity && !c->generated && p->col_fed[i] < 0)
      cs_list_name(names, sizeof(names), c->name, 1);
  }
  if (names[0])
    return cs_fail(err, CSVSTAGE_E_PREFLIGHT,
                   "%s: nothing feeds NOT NULL column%s %s of table %s, which ha%s no "
                   "DEFAULT: every record would be rejected; map a CSV column with "
                   "[column \"NAME\"] from = ..., or give a coalesce",
                   cl->input_name, strchr(names, ',') ? "s" : "", names, t->display_name,
                   strchr(names, ',') ? "ve" : "s");
  if (p->nfed == 0)
    return cs_fail(err, CSVSTAGE_E_PREFLIGHT, "%s: no CSV column feeds table %s",
                   cl->input_name, t->display_name);
  return CSVSTAGE_OK;
}

/*
 * Preflight: matches the CSV's columns to the table's, applying the rules.
 * Fails with CSVSTAGE_E_PREFLIGHT (or _CONFIG for rules that cannot apply)
 * when anything would make every record fail or silently lose data.
 */
csvstage_code
cs_plan_build(plan *p, const char *input_name, csvstage_error *err)
{
  claims cl = {.input_name = input_name};
  csvstage_code rc;

  p->csv_meta = calloc((size_t)p->ncsv + 1, sizeof(int));
  cl.claimed = calloc((size_t)p->ncsv + 1, sizeof(int));
  cl.used = calloc((size_t)p->ncsv + 1, sizeof(int));
  p->fed = calloc((size_t)p->table->ncols + 1, sizeof(fed_col));
  p->col_fed = calloc((size_t)p->table->ncols + 1, sizeof(int));
  if (!p->csv_meta || !cl.claimed || !cl.used || !p->fed || !p->col_fed) {
    rc = cs_fail(err, CSVSTAGE_E_NOMEM, "out of memory");
  } else {
    mark_reject_columns(p);
    if ((rc = check_rules(p, &cl, err)) == CSVSTAGE_OK &&
        (rc = feed_columns(p, &cl, err)) == CSVSTAGE_OK)
      rc = check_coverage(p, &cl, err);
  }
  free(cl.claimed);
  free(cl.used);
  return rc;
}

int
cs_plan_known(const plan *p, int col)
{
  const cs_column *c = &p->table->cols[col];
  int fi = p->col_fed[col];

  if (fi >= 0)
    return !p->fed[fi].use_default || c->default_stable;
  return !c->generated && !c->identity && (!c->default_expr || c->default_stable);
}

int
cs_plan_key_known(const plan *p)
{
  for (int j = 0; j < p->nconflict; j++)
    if (!cs_plan_known(p, p->conflict[j]))
      return 0;
  return p->nconflict > 0;
}

int
cs_plan_all_known(const plan *p, const cs_constraint *k)
{
  for (int j = 0; j < k->ncols; j++)
    if (!cs_plan_known(p, k->cols[j]))
      return 0;
  return 1;
}

int
cs_plan_predictable(const plan *p, const cs_constraint *k)
{
  int fed = 0;

  for (int j = 0; j < k->ncols; j++)
    fed += p->col_fed[k->cols[j]] >= 0;
  return fed > 0 && cs_plan_all_known(p, k);
}

/* The record's fields that go to the reject file (a reject file's own
 * columns are left out when it is loaded again). */
int
cs_pick_fields(const plan *p, int nfields, const char *const *in, const size_t *inlen,
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

/*
 * Before COPY's DEFAULT option (16), a blank that takes the DEFAULT goes in
 * as the DEFAULT's value, computed once here: for stable DEFAULTs only
 * (now() is one value in a transaction; nextval() is not one value).
 */
int
cs_plan_defaults(plan *p, sql *q)
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
/*
 * With upsert, an update changes a row that other records' keys may meet:
 * the careful path predicts that for unique indexes on plain columns whose
 * values it knows (predict.c); any other unique or exclusion index that an
 * update may change (an expression, a predicate: its columns are not known
 * here) could let a later record's update free a value an earlier record
 * was refused for. Such a load goes one by one. So does any row trigger
 * (an update fires UPDATE triggers, which no prediction covers).
 */
static int
keyed_strict(const plan *p)
{
  const cs_table *t = p->table;

  if (!p->conflict_index)
    return 0;
  if (p->row_triggers)
    return 1;
  /* The key compared on values it does not know (a volatile DEFAULT):
   * predict.c cannot tell which row an update finds. */
  if (p->nupdate > 0 && !cs_plan_key_known(p))
    return 1;
  for (int c = 0; c < t->nconflicts && p->nupdate > 0; c++) {
    const cs_constraint *u = NULL;
    int touched = 0;
    if (strcmp(t->conflict_roots[c], p->conflict_index) == 0)
      continue;
    for (int k = 0; k < t->nuniques && !u; k++)
      if (strcmp(t->uniques[k].name, t->conflict_roots[c]) == 0)
        u = &t->uniques[k];
    if (!u)
      return 1;   /* an expression, a predicate, an exclusion: unknown columns */
    for (int j = 0; j < u->ncols; j++)
      for (int i = 0; i < p->nupdate; i++)
        touched |= u->cols[j] == p->update[i];
    if (touched && !cs_plan_predictable(p, u))
      return 1;
  }
  return 0;
}

int
cs_plan_order(plan *p, csvstage_error *err)
{
  const cs_table *t = p->table;

  p->strict = t->self_fkey || keyed_strict(p);
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
