/* catalog.c: the target table's columns, types, NOT NULLs, defaults and
 * constraints, read once per load from the system catalog. */
#include <config.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "catalog.h"
#include "error.h"
#include "pg.h"

void
cs_table_free(cs_table *t)
{
  cs_constraint *lists[3];
  int counts[3];

  if (!t)
    return;
  for (int i = 0; i < t->ncols; i++) {
    free(t->cols[i].name);
    free(t->cols[i].type);
    free(t->cols[i].basetype);
    free(t->cols[i].default_expr);
  }
  free(t->cols);
  lists[0] = t->checks, counts[0] = t->nchecks;
  lists[1] = t->uniques, counts[1] = t->nuniques;
  lists[2] = t->fkeys, counts[2] = t->nfkeys;
  for (int l = 0; l < 3; l++) {
    for (int i = 0; i < counts[l]; i++) {
      cs_constraint *c = &lists[l][i];
      free(c->name);
      free(c->expr);
      free(c->cols);
      for (int j = 0; c->refcols && j < c->ncols; j++)
        free(c->refcols[j]);
      free(c->refcols);
    }
    free(lists[l]);
  }
  for (int i = 0; i < t->nconflicts; i++) {
    free(t->conflict_names[i]);
    free(t->conflict_roots[i]);
  }
  free(t->conflict_names);
  free(t->conflict_roots);
  free(t->schema);
  free(t->name);
  free(t->sql_name);
  free(t->display_name);
  free(t);
}

int
cs_table_column(const cs_table *t, const char *name)
{
  for (int i = 0; i < t->ncols; i++)
    if (strcmp(t->cols[i].name, name) == 0)
      return i;
  return -1;
}

static int
column_by_attnum(const cs_table *t, int attnum)
{
  for (int i = 0; i < t->ncols; i++)
    if (t->cols[i].attnum == attnum)
      return i;
  return -1;
}

static char *
dup_value(const PGresult *res, int row, int col)
{
  if (PQgetisnull(res, row, col))
    return NULL;
  return strdup(PQgetvalue(res, row, col));
}

/*
 * Parses a space-separated list of attnums ("3 5") into column indexes.
 * Returns the count, or -1 when one is not a plain column of t (an
 * expression index key, attnum 0): such constraints are not predicted.
 */
int
cs_table_attnums(const cs_table *t, const char *text, int **out)
{
  int n = 0, cap = 8, *cols = malloc(cap * sizeof(int));
  const char *p = text;
  char *end;

  if (!cols)
    return -1;
  while (*p) {
    long v = strtol(p, &end, 10);
    if (end == p)
      break;
    p = end;
    while (*p == ' ' || *p == ',')
      p++;
    int idx = column_by_attnum(t, (int)v);
    if (idx < 0) {
      free(cols);
      return -1;
    }
    if (n == cap) {
      int *nc = realloc(cols, (cap *= 2) * sizeof(int));
      if (!nc) {
        free(cols);
        return -1;
      }
      cols = nc;
    }
    cols[n++] = idx;
  }
  *out = cols;
  return n;
}

/*
 * default_stable, for the pg_attrdef row d: every function the DEFAULT
 * calls is immutable or stable (the funcids in its parse tree), and it is
 * no identity's NEXTVALUEEXPR. (In a format: %% is one %.)
 */
#define DEFAULT_STABLE                                                          \
  " d.adbin IS NOT NULL AND d.adbin::text NOT LIKE '%%NEXTVALUEEXPR%%' AND"     \
  "  COALESCE((SELECT bool_and(p.provolatile <> 'v')"                           \
  "   FROM regexp_matches(d.adbin::text, ':(?:funcid|opfuncid) ([0-9]+)', 'g') m" \
  "   JOIN pg_proc p ON p.oid = m[1]::oid), true)"

static csvstage_code
load_columns(PGconn *conn, cs_table *t, const char *oid, csvstage_error *err)
{
  char sql[4096];
  PGresult *res;

  /*
   * basetype: the name of the column's type, or of a domain's base type,
   * with no modifier at all, schema-qualified and quoted: "bit" and
   * "character", which format_type prints, mean bit(1) and char(1), and an
   * explicit cast to them cuts the value. base_typmod: the modifier, for
   * interval, whose input reads '1' by its fields (see add_typed_value).
   * notnull_domain: a domain on the way forbids NULL.
   */
  snprintf(sql, sizeof(sql),
           "WITH RECURSIVE dom(attnum, typid, typmod, nn, dk) AS ("
           "  SELECT a.attnum, a.atttypid, a.atttypmod, false, false FROM pg_attribute a"
           "  WHERE a.attrelid = %s AND a.attnum > 0 AND NOT a.attisdropped"
           "  UNION ALL SELECT dom.attnum, t.typbasetype,"
           "   CASE WHEN t.typtypmod >= 0 THEN t.typtypmod ELSE dom.typmod END,"
           "   dom.nn OR t.typnotnull, dom.dk OR t.typnotnull OR"
           "   EXISTS (SELECT 1 FROM pg_constraint k WHERE k.contypid = t.oid)"
           "  FROM dom JOIN pg_type t ON t.oid = dom.typid WHERE t.typtype = 'd'),"
           " base AS (SELECT dom.attnum, quote_ident(n.nspname) || '.' || quote_ident(t.typname) AS name,"
           "   dom.typmod, (SELECT bool_or(d2.nn) FROM dom d2 WHERE d2.attnum = dom.attnum) AS nn,"
           "   (SELECT bool_or(d2.dk) FROM dom d2 WHERE d2.attnum = dom.attnum) AS dk,"
           "   t.oid = 'interval'::regtype AS is_interval"
           "  FROM dom JOIN pg_type t ON t.oid = dom.typid JOIN pg_namespace n ON n.oid = t.typnamespace"
           "  WHERE t.typtype <> 'd')"
           "SELECT a.attnum, a.attname, format_type(a.atttypid, a.atttypmod),"
           " b.name,"
           " a.atttypid IN ('text'::regtype, 'varchar'::regtype) AND a.atttypmod < 0,"
           " a.attnotnull, pg_get_expr(d.adbin, d.adrelid),"
           DEFAULT_STABLE ","
           " a.attidentity, a.attgenerated <> '',"
           " CASE WHEN b.is_interval THEN b.typmod ELSE -1 END, b.nn,"
           " COALESCE((SELECT NOT l.collisdeterministic FROM pg_collation l"
           "  WHERE l.oid = a.attcollation), false), b.dk"
           " FROM pg_attribute a JOIN base b ON b.attnum = a.attnum"
           " LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum"
           " WHERE a.attrelid = %s AND a.attnum > 0 AND NOT a.attisdropped"
           " ORDER BY a.attnum", oid, oid);
  res = cs_exec(conn, sql, err);
  if (!res)
    return err ? err->code : CSVSTAGE_E_DB;
  t->ncols = PQntuples(res);
  t->cols = calloc((size_t)t->ncols + 1, sizeof(*t->cols));
  if (!t->cols) {
    PQclear(res);
    return cs_fail(err, CSVSTAGE_E_NOMEM, "out of memory");
  }
  for (int i = 0; i < t->ncols; i++) {
    cs_column *c = &t->cols[i];
    c->attnum = atoi(PQgetvalue(res, i, 0));
    c->name = dup_value(res, i, 1);
    c->type = dup_value(res, i, 2);
    c->basetype = dup_value(res, i, 3);
    c->is_text = PQgetvalue(res, i, 4)[0] == 't';
    c->notnull = PQgetvalue(res, i, 5)[0] == 't';
    c->default_expr = dup_value(res, i, 6);
    c->default_stable = PQgetvalue(res, i, 7)[0] == 't';
    c->identity = PQgetvalue(res, i, 8)[0];
    c->generated = PQgetvalue(res, i, 9)[0] == 't';
    c->interval_typmod = atoi(PQgetvalue(res, i, 10));
    c->notnull_domain = PQgetvalue(res, i, 11)[0] == 't';
    c->nondeterministic = PQgetvalue(res, i, 12)[0] == 't';
    c->domain_checked = PQgetvalue(res, i, 13)[0] == 't';
    if (!c->name || !c->type || !c->basetype ||
        (!PQgetisnull(res, i, 6) && !c->default_expr)) {
      PQclear(res);
      return cs_fail(err, CSVSTAGE_E_NOMEM, "out of memory");
    }
  }
  PQclear(res);
  return CSVSTAGE_OK;
}

/*
 * Appends the constraints a query returns (name, expr, attnums) to *list;
 * those over something other than plain columns are left out.
 */
static csvstage_code
load_constraints(PGconn *conn, cs_table *t, const char *sql, cs_constraint **list,
                 int *count, csvstage_error *err)
{
  PGresult *res = cs_exec(conn, sql, err);
  int n;

  if (!res)
    return err ? err->code : CSVSTAGE_E_DB;
  n = PQntuples(res);
  *list = calloc((size_t)n + 1, sizeof(**list));
  if (!*list) {
    PQclear(res);
    return cs_fail(err, CSVSTAGE_E_NOMEM, "out of memory");
  }
  for (int i = 0; i < n; i++) {
    cs_constraint *c = &(*list)[*count];
    int nc = cs_table_attnums(t, PQgetvalue(res, i, 2), &c->cols);
    if (nc <= 0)
      continue;
    c->ncols = nc;
    c->name = dup_value(res, i, 0);
    c->expr = dup_value(res, i, 1);
    (*count)++;
    if (PQnfields(res) > 3) {
      /* Foreign keys: the referenced columns, one per line. */
      char *names = strdup(PQgetvalue(res, i, 3)), *save = NULL, *tok;
      c->refcols = calloc((size_t)nc, sizeof(char *));
      if (!names || !c->refcols) {
        free(names);
        PQclear(res);
        return cs_fail(err, CSVSTAGE_E_NOMEM, "out of memory");
      }
      int j = 0;
      for (tok = strtok_r(names, "\n", &save); tok && j < nc; tok = strtok_r(NULL, "\n", &save))
        c->refcols[j++] = strdup(tok);
      free(names);
    }
  }
  PQclear(res);
  return CSVSTAGE_OK;
}

/*
 * A view that takes INSERT itself (no INSTEAD OF trigger) passes a row to
 * its one base table, whose NOT NULL and DEFAULT then apply: an INSERT
 * that leaves a column out gets the base column's DEFAULT (unless the view
 * has one of its own). The view's columns say nothing of either, so they
 * are read from the view's query: each output column that is a plain
 * column of the base table (a VAR in the stored rule).
 */
static csvstage_code
load_view_base(PGconn *conn, cs_table *t, const char *oid, csvstage_error *err)
{
  char sql[2048];
  PGresult *res;

  snprintf(sql, sizeof(sql),
           "WITH rule AS (SELECT oid, ev_action FROM pg_rewrite WHERE ev_class = %s"
           "  AND rulename = '_RETURN'),"
           " base AS (SELECT DISTINCT d.refobjid AS relid FROM rule JOIN pg_depend d"
           "  ON d.classid = 'pg_rewrite'::regclass AND d.objid = rule.oid"
           "  AND d.refclassid = 'pg_class'::regclass AND d.refobjid <> %s AND d.refobjsubid > 0),"
           " tl AS (SELECT m[1]::int AS attnum, m[2]::int AS resno FROM rule,"
           "  regexp_matches(rule.ev_action::text, '\\{TARGETENTRY :expr \\{VAR :varno [0-9]+ "
           ":varattno ([0-9]+) [^}]*\\} :resno ([0-9]+)', 'g') m)"
           " SELECT tl.resno, a.attnotnull, pg_get_expr(d.adbin, d.adrelid),"
           DEFAULT_STABLE
           " FROM tl JOIN base ON (SELECT count(*) FROM base) = 1"
           " JOIN pg_attribute a ON a.attrelid = base.relid AND a.attnum = tl.attnum"
           " LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum"
           " WHERE EXISTS (SELECT 1 FROM pg_class b WHERE b.oid = base.relid AND b.relkind IN ('r', 'p'))",
           oid, oid);
  res = cs_exec(conn, sql, err);
  if (!res)
    return err ? err->code : CSVSTAGE_E_DB;
  for (int i = 0; i < PQntuples(res); i++) {
    int c = column_by_attnum(t, atoi(PQgetvalue(res, i, 0)));
    if (c < 0)
      continue;
    t->cols[c].notnull = PQgetvalue(res, i, 1)[0] == 't';
    if (!t->cols[c].default_expr && !PQgetisnull(res, i, 2)) {
      t->cols[c].default_expr = strdup(PQgetvalue(res, i, 2));
      t->cols[c].default_stable = PQgetvalue(res, i, 3)[0] == 't';
      if (!t->cols[c].default_expr) {
        PQclear(res);
        return cs_fail(err, CSVSTAGE_E_NOMEM, "out of memory");
      }
    }
  }
  PQclear(res);
  return CSVSTAGE_OK;
}

/* t's conflict indexes (cs_table.conflict_names) and whether a foreign key
 * refers to t itself: to the table, or, for a view that takes INSERT, to
 * any relation under it (an INSERT into the view is one INSERT into its
 * base table, whose foreign keys are checked at the statement's end). */
static csvstage_code
load_conflicts(PGconn *conn, cs_table *t, const char *oid, csvstage_error *err)
{
  char sql[2048];
  PGresult *res;
  int n;

  snprintf(sql, sizeof(sql),
           "WITH RECURSIVE under(relid) AS (SELECT %s::oid UNION"
           "  SELECT d.refobjid FROM under JOIN pg_rewrite w ON w.ev_class = under.relid"
           "  AND w.rulename = '_RETURN' JOIN pg_depend d ON d.classid = 'pg_rewrite'::regclass"
           "  AND d.objid = w.oid AND d.refclassid = 'pg_class'::regclass"
           "  AND d.refobjid <> under.relid)"
           " SELECT c.relname, r.relname, NULL::boolean"
           " FROM (SELECT %s::regclass AS relid UNION SELECT relid FROM pg_partition_tree(%s)) pt"
           " JOIN pg_index i ON i.indrelid = pt.relid JOIN pg_class c ON c.oid = i.indexrelid"
           " JOIN pg_class r ON r.oid = COALESCE(pg_partition_root(i.indexrelid), i.indexrelid)"
           " WHERE i.indisunique OR i.indisexclusion"
           " UNION ALL SELECT NULL, NULL, EXISTS (SELECT 1 FROM pg_constraint f"
           "  WHERE f.contype = 'f' AND f.conrelid = f.confrelid"
           "  AND f.conrelid IN (SELECT relid FROM under))",
           oid, oid, oid);
  res = cs_exec(conn, sql, err);
  if (!res)
    return err ? err->code : CSVSTAGE_E_DB;
  n = PQntuples(res) - 1;   /* the last row only says self_fkey */
  t->self_fkey = PQgetvalue(res, n, 2)[0] == 't';
  t->conflict_names = calloc((size_t)n + 1, sizeof(char *));
  t->conflict_roots = calloc((size_t)n + 1, sizeof(char *));
  if (!t->conflict_names || !t->conflict_roots) {
    PQclear(res);
    return cs_fail(err, CSVSTAGE_E_NOMEM, "out of memory");
  }
  for (int i = 0; i < n; i++) {
    t->conflict_names[i] = dup_value(res, i, 0);
    t->conflict_roots[i] = dup_value(res, i, 1);
    t->nconflicts++;
    if (!t->conflict_names[i] || !t->conflict_roots[i]) {
      PQclear(res);
      return cs_fail(err, CSVSTAGE_E_NOMEM, "out of memory");
    }
  }
  PQclear(res);
  return CSVSTAGE_OK;
}

/* A name SQL reads the same without quotes (not checking keywords). */
static int
plain(const char *name)
{
  if (!*name || !strchr("abcdefghijklmnopqrstuvwxyz_", *name))
    return 0;
  return strspn(name, "abcdefghijklmnopqrstuvwxyz0123456789_$") == strlen(name);
}

/*
 * The relation name names (as SQL reads it: search_path, quoting), with
 * what preflight asks of it: a kind csvstage loads, a view that takes
 * INSERT, the INSERT privilege. Row triggers: tgtype bits ROW 1, BEFORE 2,
 * INSERT 4, INSTEAD 64. Returns a new cs_table, or NULL with err filled.
 */
static cs_table *
find_relation(PGconn *conn, const char *name, char *oid, size_t oidsize, csvstage_error *err)
{
  cs_table *t = NULL;
  PGresult *res = NULL;
  char *lit = cs_quote_literal(conn, name, err);
  char sql[2048];
  int ok = 0;

  if (!lit)
    return NULL;
  /* to_regclass gives NULL rather than an error when there is no such
   * relation. */
  snprintf(sql, sizeof(sql),
           "SELECT c.oid, n.nspname, c.relname, c.relkind,"
           " has_table_privilege(c.oid, 'INSERT'),"
           " EXISTS (SELECT 1 FROM pg_trigger g WHERE g.tgrelid = c.oid"
           "  AND NOT g.tgisinternal AND g.tgenabled <> 'D'"
           "  AND g.tgtype & 5 = 5 AND g.tgtype & 66 <> 0),"
           " c.relkind <> 'v' OR pg_relation_is_updatable(c.oid, false) & 8 = 8,"
           " EXISTS (SELECT 1 FROM pg_rewrite w WHERE w.ev_class = c.oid AND w.ev_type = '3')"
           " FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
           " WHERE c.oid = to_regclass(%s)", lit);
  PQfreemem(lit);
  res = cs_exec(conn, sql, err);
  if (!res)
    return NULL;
  if (PQntuples(res) == 0) {
    cs_fail(err, CSVSTAGE_E_PREFLIGHT, "table %s does not exist", name);
    goto out;
  }
  t = calloc(1, sizeof(*t));
  if (!t) {
    cs_fail(err, CSVSTAGE_E_NOMEM, "out of memory");
    goto out;
  }
  snprintf(oid, oidsize, "%s", PQgetvalue(res, 0, 0));
  t->schema = strdup(PQgetvalue(res, 0, 1));
  t->name = strdup(PQgetvalue(res, 0, 2));
  t->relkind = PQgetvalue(res, 0, 3)[0];
  t->oid = (unsigned int)strtoul(PQgetvalue(res, 0, 0), NULL, 10);
  t->row_triggers = PQgetvalue(res, 0, 5)[0] == 't';
  t->insert_rules = PQgetvalue(res, 0, 7)[0] == 't';
  if (!t->schema || !t->name)
    cs_fail(err, CSVSTAGE_E_NOMEM, "out of memory");
  else if (!strchr("rpvf", t->relkind))
    cs_fail(err, CSVSTAGE_E_PREFLIGHT, "%s is not a table (relkind '%c'): csvstage loads "
            "tables, partitioned tables, foreign tables and views that take INSERT",
            name, t->relkind);
  else if (PQgetvalue(res, 0, 6)[0] != 't')
    cs_fail(err, CSVSTAGE_E_PREFLIGHT, "view %s does not take INSERT: give it an "
            "INSTEAD OF INSERT trigger or load its underlying table", name);
  else if (PQgetvalue(res, 0, 4)[0] != 't')
    cs_fail(err, CSVSTAGE_E_PREFLIGHT, "permission denied: the current user may not "
            "INSERT into %s", name);
  else
    ok = 1;
out:
  PQclear(res);
  if (!ok) {
    cs_table_free(t);
    return NULL;
  }
  return t;
}

/* t->sql_name (quoted, for statements) and t->display_name (quoted only
 * where it must be, for messages). */
static csvstage_code
name_table(PGconn *conn, cs_table *t, csvstage_error *err)
{
  char *qs = cs_quote_ident(conn, t->schema, err);
  char *qn = qs ? cs_quote_ident(conn, t->name, err) : NULL;
  csvstage_code rc = CSVSTAGE_OK;

  if (!qn) {
    PQfreemem(qs);
    return err->code;
  }
  t->sql_name = malloc(strlen(qs) + strlen(qn) + 2);
  t->display_name = malloc(strlen(qs) + strlen(qn) + 2);
  if (!t->sql_name || !t->display_name) {
    rc = cs_fail(err, CSVSTAGE_E_NOMEM, "out of memory");
  } else {
    sprintf(t->sql_name, "%s.%s", qs, qn);
    sprintf(t->display_name, "%s.%s", plain(t->schema) ? t->schema : qs,
            plain(t->name) ? t->name : qn);
  }
  PQfreemem(qs);
  PQfreemem(qn);
  return rc;
}

/* The constraints the client and the careful path predict: CHECKs, unique
 * indexes on plain columns, foreign keys to other tables. */
static csvstage_code
load_keys(PGconn *conn, cs_table *t, const char *oid, csvstage_error *err)
{
  char sql[1024];
  csvstage_code rc;

  /* CHECK constraints, in the order the server checks them (by name). */
  snprintf(sql, sizeof(sql),
           "SELECT conname, pg_get_expr(conbin, conrelid), array_to_string(conkey, ' ')"
           " FROM pg_constraint WHERE conrelid = %s AND contype = 'c' ORDER BY conname",
           oid);
  if ((rc = load_constraints(conn, t, sql, &t->checks, &t->nchecks, err)) != CSVSTAGE_OK)
    return rc;
  /*
   * Unique indexes on plain columns, without a predicate, NULLs distinct
   * (the others are left to the insert itself to find).
   */
  snprintf(sql, sizeof(sql),
           "SELECT c.relname, NULL, i.indkey::text"
           " FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid"
           " WHERE i.indrelid = %s AND i.indisunique AND i.indexprs IS NULL"
           " AND i.indpred IS NULL AND NOT i.indnullsnotdistinct"
           " ORDER BY i.indexrelid", oid);
  if ((rc = load_constraints(conn, t, sql, &t->uniques, &t->nuniques, err)) != CSVSTAGE_OK)
    return rc;
  /* Foreign keys to other tables, MATCH SIMPLE. */
  snprintf(sql, sizeof(sql),
           "SELECT c.conname,"
           " rn.nspname || E'\\n' || rc.relname,"
           " array_to_string(c.conkey, ' '),"
           " (SELECT string_agg(a.attname, E'\\n' ORDER BY k.ord)"
           "  FROM unnest(c.confkey) WITH ORDINALITY k(attnum, ord)"
           "  JOIN pg_attribute a ON a.attrelid = c.confrelid AND a.attnum = k.attnum)"
           " FROM pg_constraint c JOIN pg_class rc ON rc.oid = c.confrelid"
           " JOIN pg_namespace rn ON rn.oid = rc.relnamespace"
           " WHERE c.conrelid = %s AND c.contype = 'f' AND c.confmatchtype <> 'f'"
           " AND c.confrelid <> c.conrelid ORDER BY c.conname", oid);
  return load_constraints(conn, t, sql, &t->fkeys, &t->nfkeys, err);
}


/* The target named name, from the catalog (catalog.h). NULL with err
 * filled when it cannot be loaded. */
cs_table *
cs_table_load(PGconn *conn, const char *name, csvstage_error *err)
{
  char oid[16];
  cs_table *t = find_relation(conn, name, oid, sizeof(oid), err);

  if (!t)
    return NULL;
  if (name_table(conn, t, err) != CSVSTAGE_OK ||
      load_columns(conn, t, oid, err) != CSVSTAGE_OK ||
      /* Without an INSTEAD OF trigger (row_triggers), the base table's rules. */
      (t->relkind == 'v' && !t->row_triggers && load_view_base(conn, t, oid, err) != CSVSTAGE_OK) ||
      load_keys(conn, t, oid, err) != CSVSTAGE_OK ||
      load_conflicts(conn, t, oid, err) != CSVSTAGE_OK) {
    cs_table_free(t);
    return NULL;
  }
  return t;
}

int
cs_column_is_bool(const cs_column *c)
{
  return strcmp(c->basetype, "pg_catalog.bool") == 0;
}

int
cs_column_is_number(const cs_column *c)
{
  static const char *const types[] = {"pg_catalog.int2", "pg_catalog.int4", "pg_catalog.int8",
                                      "pg_catalog.\"numeric\"", "pg_catalog.float4",
                                      "pg_catalog.float8"};

  for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++)
    if (strcmp(c->basetype, types[i]) == 0)
      return 1;
  return 0;
}
