/*
 * settle.c: the careful path, for the records the fast path (direct.c) set
 * aside.
 *
 *  1. They go by COPY into a temporary table of text columns (plus the
 *     source line), so that no value can fail on the way in (a record
 *     whose bytes the server cannot convert from the source encoding is
 *     rejected there, at its line).
 *     With a key (upsert, insert-new) every record is staged, and when the
 *     client vouched for all of them, one INSERT ... ON CONFLICT of the
 *     whole file, in line order, is tried first: it ends as one per record
 *     would, or fails and the steps below follow.
 *  2. One set-based pass marks the records that may fail ("suspects"): bad
 *     input for a column's type (pg_input_is_valid on 16+; on 15 a regular
 *     expression that proves the common cases valid, then a PL/pgSQL cast
 *     for the doubtful rest), NULL into NOT NULL, CHECK constraints, keys
 *     that repeat within the file or exist in the table, foreign keys with
 *     no referenced row. A suspect may turn out fine: it only costs time.
 *     With a key, the certain refusals (refuse.c) come first, and the
 *     client's word on each record's keys picks the suspects
 *     (predict.c's cs_predict_sure); the full pass only when that fails.
 *  3. Everything else goes in with one INSERT ... SELECT: no subtransaction
 *     per clean record.
 *  4. The suspects are then inserted one by one, in line order, each in its
 *     own subtransaction (a PL/pgSQL loop on the server: no round trip per
 *     record), each as the INSERT of SQL literals a user would write. The
 *     errors are the server's own, word for word, and the order makes "a
 *     later duplicate is the reject" hold.
 *  5. Should the bulk INSERT fail anyway (a trigger, an exclusion
 *     constraint, a missing partition: what step 2 cannot foresee), it is
 *     rolled back to a savepoint and every record goes one by one: slower,
 *     same result.
 *  6. Should a key conflict have come out of file order (plan.c's
 *     cs_plan_order), the file's work is rolled back and every record goes
 *     one by one, in line order: the reference itself.
 * A unique key shared by records of the file makes all of them suspects, so
 * clean records never conflict with suspects and inserting the clean ones
 * first gives the same result as inserting every record alone in order.
 */
#include <config.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>

#include "error.h"
#include "expr.h"
#include "mode.h"
#include "pg.h"
#include "predict.h"
#include "refuse.h"
#include "settle.h"

/* Statistics for the planner: the careful path joins on the stage's lines
 * (the other columns' would cost more than they help: 0.3 s for 50,000
 * records); one INSERT of every record needs none. */
#define ANALYZE_STAGE "ANALYZE csvstage_stage (_line)"

/* ---- inserting ---- */

#define NOT_SUSPECT " WHERE NOT EXISTS (SELECT 1 FROM csvstage_suspect x WHERE x._line = s._line)"

/* " AND x.k = <record r's typed key> ...": the key as the record gives it,
 * NULL where it takes the DEFAULT (a volatile DEFAULT is not evaluated: a
 * key from it finds no row). */
static void
add_key_match(sql *q, const plan *p, const char *row, int typmod)
{
  for (int j = 0; j < p->nconflict; j++) {
    fed_col f = p->fed[p->col_fed[p->conflict[j]]];
    f.use_default = 0;
    sql_add(q, " AND x.");
    sql_ident(q, p->table->cols[p->conflict[j]].name);
    sql_add(q, " = ");
    cs_add_typed_value(q, p, &f, row, typmod);
  }
}

/*
 * INSERT ... SELECT of the staged records: every one that is not a suspect
 * (all: every one). With a key (upsert, insert-new) it is INSERT ... ON
 * CONFLICT, and counts: the records left out (insert-new), or the rows
 * updated (upsert): by xmax, or for a partitioned table the records whose
 * key finds a row, counted in the statement's snapshot (before its own
 * rows). Of the records not suspect, none shares a key with another
 * (predict.c), so each finds at most its own row.
 */
static int
insert_staged(plan *p, sql *q, int all, long long *rows)
{
  const char *which = all ? "" : NOT_SUSPECT;
  PGresult *r;
  long long written, found, staged;

  if (p->conflict_index)
    sql_add(q, "WITH w AS (");
  sql_add(q, "INSERT INTO %s ", p->table->sql_name);
  cs_add_column_list(q, p);
  sql_add(q, " SELECT ");
  for (int i = 0; i < p->nfed; i++) {
    sql_add(q, i ? ", " : "");
    cs_add_typed_value(q, p, &p->fed[i], "s", 0);
  }
  sql_add(q, " FROM csvstage_stage s%s", which);
  if (!p->conflict_index)
    return sql_run(q, rows);
  cs_add_on_conflict(q, p);
  if (p->settings->mode == CS_MODE_INSERT_NEW) {
    /* The records left out: those staged that wrote no row. */
    sql_add(q, " RETURNING 1) SELECT (SELECT count(*) FROM w), 0, count(*) "
               "FROM csvstage_stage s%s", which);
  } else if (p->table->relkind == 'r') {
    /* A row ON CONFLICT updated carries the lock it took on the old
     * version in xmax; a new row has none (a partitioned table has no
     * system columns to return: below). */
    sql_add(q, " RETURNING xmax = 0 AS new) SELECT count(*), count(*) FILTER (WHERE NOT new), "
               "0 FROM w");
  } else {
    sql_add(q, " RETURNING 1) SELECT (SELECT count(*) FROM w), count(*) FILTER (WHERE EXISTS "
               "(SELECT 1 FROM %s x WHERE true", p->table->sql_name);
    add_key_match(q, p, "s", 1);
    sql_add(q, ")), 0 FROM csvstage_stage s%s", which);
  }
  r = sql_query(q);
  if (!r)
    return -1;
  written = atoll(PQgetvalue(r, 0, 0));
  found = atoll(PQgetvalue(r, 0, 1));
  staged = atoll(PQgetvalue(r, 0, 2));
  PQclear(r);
  *rows = written;
  if (p->settings->mode == CS_MODE_UPSERT)
    p->updated += found;
  else
    p->ignored += staged - written;
  return 0;
}

/*
 * With a key, every record is staged (COPY has no ON CONFLICT); most files
 * are clean and their keys apart, and then one INSERT ... ON CONFLICT of
 * every record, in file order, ends as one per record would: a record that
 * fails makes the statement fail; so does an upsert's second record of a
 * key ("cannot affect row a second time"); insert-new leaves it out, as
 * alone it would be. The order is the staging table's, a temporary table
 * filled by COPY in line order: its sequential scan returns rows as they
 * were written (no synchronized or parallel scans of local buffers). What
 * a statement checks only at its end would differ: a deferrable key (then
 * this is not tried), foreign keys to the table itself (p->strict), and
 * triggers (p->strict). Returns 1 when it went in, 0 when it did not (all
 * rolled back: the careful path follows), -1 with q's err filled.
 */
static int
insert_all_at_once(plan *p, sql *q, long long *bulk)
{
  if (cs_run(q->conn, "SAVEPOINT csvstage_all", q->err))
    return -1;
  if (insert_staged(p, q, 1, bulk) == 0)
    return cs_run(q->conn, "RELEASE SAVEPOINT csvstage_all", q->err) ? -1 : 1;
  if (q->err->code != CSVSTAGE_E_DB || p->session->interrupted)
    return -1;   /* (a canceled statement is no record's failure) */
  csvstage_error_clear(q->err);
  *bulk = 0;
  p->updated = p->ignored = 0;
  return cs_run(q->conn, "ROLLBACK TO SAVEPOINT csvstage_all; RELEASE SAVEPOINT csvstage_all",
                q->err) ? -1 : 0;
}

/*
 * With a key, the suspects from the client's word (cs_predict_sure), then
 * the bulk INSERT of the others, in a savepoint; should it meet a unique
 * value a row holds, once more with the records giving such values among
 * the suspects (cs_predict_sure_held). Returns 1 when it went in (the
 * suspects are to go one by one), 0 when it did not (rolled back, no
 * csvstage_suspect: cs_predict follows), -1 with q's err filled.
 */
static int
insert_sure(plan *p, sql *q, int target_empty, long long *bulk)
{
  long long updated = p->updated, ignored = p->ignored;
  int found = cs_predict_sure(p, q, target_empty);

  for (int again = 0; found == 1; again++) {
    char state[6];
    /* (a foreign key's suspects are in csvstage_suspect only) */
    p->suspects_kept = 1;
    for (int k = 0; k < p->table->nfkeys; k++)
      if (cs_plan_predictable(p, &p->table->fkeys[k]))
        p->suspects_kept = 0;
    if (cs_run(q->conn, "SAVEPOINT csvstage_sure", q->err))
      return -1;
    if (insert_staged(p, q, 0, bulk) == 0)
      return cs_run(q->conn, "RELEASE SAVEPOINT csvstage_sure", q->err) ? -1 : 1;
    if (q->err->code != CSVSTAGE_E_DB || p->session->interrupted)
      return -1;
    snprintf(state, sizeof(state), "%s", q->err->sqlstate);
    csvstage_error_clear(q->err);
    *bulk = 0;
    p->updated = updated;
    p->ignored = ignored;
    p->suspects_kept = 0;
    if (cs_run(q->conn, "ROLLBACK TO SAVEPOINT csvstage_sure; RELEASE SAVEPOINT csvstage_sure",
               q->err))
      return -1;
    /* A value already in the table, once: those records go with the
     * suspects (cheaper than predicting every record in full). */
    found = again == 0 && strcmp(state, "23505") == 0 ? cs_predict_sure_held(p, q, target_empty)
                                                       : 0;
  }
  if (found < 0)
    return -1;
  return cs_run(q->conn, "DROP TABLE IF EXISTS pg_temp.csvstage_suspect", q->err) ? -1 : 0;
}

/*
 * "ex := whether record r's key finds a row;": before its INSERT, so that
 * a row written is known for an insert or an update. The key as the column
 * would hold it (numeric(5,2) rounds, an interval takes its fields), as
 * ON CONFLICT compares it; only for a key whose text is valid input for
 * the column's type, modifier and domain included, so that the cast cannot
 * fail (else the INSERT fails, with the right error).
 */
static void
add_key_exists(sql *q, const plan *p)
{
  sql_add(q, "ex := false; IF NOT (false");
  for (int j = 0; j < p->nconflict; j++) {
    size_t mark = q->b.len;
    sql_add(q, " OR ");
    if (!cs_add_invalid(q, p, &p->fed[p->col_fed[p->conflict[j]]], "r"))
      q->b.len = mark;
  }
  sql_add(q, ") THEN ex := EXISTS (SELECT 1 FROM %s x WHERE true", p->table->sql_name);
  add_key_match(q, p, "r", 1);
  sql_add(q, "); END IF; ");
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
  cs_add_column_list(&head, p);
  sql_add(&head, " VALUES (");
  sql_add(&body, "DECLARE r record; st text; msg text; det text; col text; con text; "
                 "n bigint := 0; k bigint; ex boolean := false; nu bigint := 0; ng bigint := 0; "
                 "tr bigint := 0; "
                 "BEGIN FOR r IN SELECT s.* FROM %s ORDER BY s._line LOOP "
                 "tr := tr + 1; BEGIN ",
          all ? "csvstage_stage s"
          : p->suspects_kept ? "csvstage_doubt s"   /* (no scan of the stage) */
          : "csvstage_stage s WHERE s._line IN (SELECT _line FROM csvstage_suspect)");
  if (p->conflict_index)
    add_key_exists(&body, p);
  sql_add(&body, "EXECUTE ");
  sql_literal(&body, sql_text(&head) ? sql_text(&head) : "");
  for (int i = 0; i < p->nfed; i++) {
    const fed_col *f = &p->fed[i];
    sql_add(&body, " || %s", i ? "', ' || " : "");
    if (f->use_default) {
      sql_add(&body, "CASE WHEN (");
      cs_add_text_value(&body, f, "r");
      sql_add(&body, ") IS NULL THEN 'DEFAULT' ELSE quote_literal(");
      cs_add_text_value(&body, f, "r");
      sql_add(&body, ") END");
    } else {
      sql_add(&body, "quote_nullable(");
      cs_add_text_value(&body, f, "r");
      sql_add(&body, ")");
    }
  }
  sql_add(&body, " || ')'");
  if (p->conflict_index) {
    sql_reset(&head);
    cs_add_on_conflict(&head, p);
    sql_add(&body, " || ");
    sql_literal(&body, sql_text(&head) ? sql_text(&head) : "");
  }
  if (head.failed)
    body.failed = 1;
  free(head.b.data);
  /* With a key: a row written for a key that was there is an update; no
   * row, for insert-new, a record left out. */
  sql_add(&body, "; GET DIAGNOSTICS k = ROW_COUNT; n := n + k; %s",
          !p->conflict_index ? ""
          : p->settings->mode == CS_MODE_UPSERT ? "IF k > 0 AND ex THEN nu := nu + 1; END IF; "
          : "IF k = 0 AND ex THEN ng := ng + 1; END IF; ");
  sql_add(&body, ""
                 "EXCEPTION WHEN OTHERS THEN GET STACKED DIAGNOSTICS "
                 "st = RETURNED_SQLSTATE, msg = MESSAGE_TEXT, det = PG_EXCEPTION_DETAIL, "
                 "col = COLUMN_NAME, con = CONSTRAINT_NAME; "
                 "IF " CS_TRANSIENT_SQL("st") " THEN RAISE; END IF; ");
  /* Bad input for a type names no column: find the first that fails. */
  size_t case_start = body.b.len;
  int nwhen = 0;
  sql_add(&body, "IF col = '' AND st LIKE '22%%' THEN col := CASE");
  for (int i = 0; i < p->nfed; i++) {
    size_t mark = body.b.len;
    sql_add(&body, " WHEN ");
    if (!cs_add_invalid(&body, p, &p->fed[i], "r")) {
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
                 "END; END LOOP; PERFORM set_config('csvstage.inserted', n::text, true), "
                 "set_config('csvstage.updated', nu::text, true), "
                 "set_config('csvstage.ignored', ng::text, true), "
                 "set_config('csvstage.tried', tr::text, true); END");
  sql_add(q, "DO ");
  sql_literal(q, sql_text(&body));
  if (body.failed)
    q->failed = 1;
  if (sql_run(q, NULL))
    goto out;
  res = cs_exec(q->conn, "SELECT current_setting('csvstage.inserted'), "
                 "current_setting('csvstage.updated'), current_setting('csvstage.ignored'), "
                 "current_setting('csvstage.tried')", q->err);
  if (!res)
    goto out;
  *rows = atoll(PQgetvalue(res, 0, 0));
  p->updated += atoll(PQgetvalue(res, 0, 1));
  p->ignored += atoll(PQgetvalue(res, 0, 2));
  p->tried += atoll(PQgetvalue(res, 0, 3));
  PQclear(res);
  rc = 0;
out:
  free(body.b.data);
  return rc;
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

/*
 * Streams csvstage_reject, joined to the records, into the reject file: by
 * COPY TO STDOUT, in text format, split on the client (rejects may be many:
 * a row as a PGresult of its own cost the client more than the server's
 * query, measured at 200,000 rejects).
 */
static int
write_server_rejects(plan *p, PGconn *conn, cs_rejects *rj, tally *ty, csvstage_error *err)
{
  sql q = {.conn = conn, .err = err};
  PGresult *res = NULL;
  const char **fields = NULL, **picked = NULL;
  char **split = NULL, *buf = NULL;
  size_t *lens = NULL, *plens = NULL, *slens = NULL;
  cs_buf raw = {0};
  int rc = -1, failed = 0, n, nf, want = 7 + p->ncsv;

  /* (room after the row's fields for an unconverted record's, unhex_row) */
  split = calloc((size_t)want + (size_t)p->ncsv + 2, sizeof(*split));
  slens = calloc((size_t)want + (size_t)p->ncsv + 2, sizeof(*slens));
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
  sql_add(&q, "COPY (SELECT r._line, r.st, r.col, r.con, r.msg, r.det, NULL::bytea");
  for (int i = 0; i < p->ncsv; i++)
    sql_add(&q, ", s.c%d", i + 1);
  /* Moved: the refused records from their own table, the rest from the
   * staging table, joined to those rejects only (none: a hash join of
   * nothing reads no staging table). */
  if (p->split == CS_SPLIT_MOVED) {
    sql_add(&q, " FROM csvstage_reject r JOIN csvstage_refused s ON s._line = r._line "
                "UNION ALL SELECT r._line, r.st, r.col, r.con, r.msg, r.det, NULL::bytea");
    for (int i = 0; i < p->ncsv; i++)
      sql_add(&q, ", s.c%d", i + 1);
    sql_add(&q, " FROM (SELECT * FROM csvstage_reject r WHERE NOT EXISTS (SELECT 1 FROM "
                "csvstage_refused x WHERE x._line = r._line)) r");
  } else {
    sql_add(&q, " FROM csvstage_reject r");
  }
  sql_add(&q, " JOIN %s s ON s._line = r._line "
              "UNION ALL SELECT u._line, u.st, '', '', u.msg, '', u.row",
          p->split == CS_SPLIT_COPIED ? "csvstage_staged" : "csvstage_stage");
  for (int i = 0; i < p->ncsv; i++)
    sql_add(&q, ", NULL");
  sql_add(&q, " FROM csvstage_unconverted u ORDER BY 1) TO STDOUT");
  if (!sql_text(&q)) {
    cs_fail(err, CSVSTAGE_E_NOMEM, "out of memory");
    goto out;
  }
  res = PQexec(conn, sql_text(&q));
  if (PQresultStatus(res) != PGRES_COPY_OUT) {
    cs_fail_result(err, conn, res);
    goto out;
  }
  PQclear(res);
  res = NULL;
  /* Row by row: memory stays flat. On a failure, keep reading to the end:
   * the connection must stay usable. */
  while ((n = PQgetCopyData(conn, &buf, 0)) > 0) {
    if (failed) {
      PQfreemem(buf);
      continue;
    }
    nf = cs_copy_split_row(buf, (size_t)n, split, slens, want);
    if (nf != want) {
      cs_fail(err, CSVSTAGE_E_DB, "the server sent a reject row csvstage cannot read");
      failed = 1;
    } else {
      /* Each field ends where its tab (or the newline) was: a C string. */
      for (int i = 0; i < want; i++)
        if (split[i])
          split[i][slens[i]] = '\0';
      for (int i = 0; i < p->ncsv; i++) {
        fields[i] = split[7 + i];
        lens[i] = slens[7 + i];
      }
      if (split[6] && unhex_row(p, split[6], &raw, split + want, slens + want, fields, lens)) {
        cs_fail(err, CSVSTAGE_E_NOMEM, "out of memory");
        failed = 1;
      }
    }
    if (!failed) {
      int k = cs_pick_fields(p, p->ncsv, fields, lens, picked, plens);
      cs_reject_row row = {
        .line = atoll(split[0]), .sqlstate = split[1] ? split[1] : "",
        .column = split[2] ? split[2] : "", .constraint = split[3] ? split[3] : "",
        .message = split[4] ? split[4] : "", .detail = split[5] ? split[5] : "",
        .fields = picked, .lens = plens, .nfields = k,
      };
      if (cs_rejects_add(rj, &row, err))
        failed = 1;
      else
        cs_tally_add(ty, 0, row.line, row.sqlstate, row.column, row.constraint, row.message);
    }
    PQfreemem(buf);
  }
  if (n == -2 && !failed) {
    cs_fail_result(err, conn, NULL);
    failed = 1;
  }
  while ((res = PQgetResult(conn)) != NULL) {
    if (PQresultStatus(res) != PGRES_COMMAND_OK && !failed) {
      cs_fail_result(err, conn, res);
      failed = 1;
    }
    PQclear(res);
  }
  rc = failed ? -1 : 0;
out:
  PQclear(res);
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

/* ---- the staging table ---- */

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

/* Whether a COPY into the staging table failed on a row whose bytes the
 * server cannot convert from the source encoding (the connection still
 * usable): that record is the one to set apart. */
static int
unconvertible(PGconn *conn, const csvstage_error *e)
{
  return PQstatus(conn) == CONNECTION_OK &&
         (strcmp(e->sqlstate, "22P05") == 0 || strcmp(e->sqlstate, "22021") == 0);
}

/*
 * COPYs rows [from, to) of the records set aside into table (csvstage_stage,
 * or csvstage_probe) in a savepoint. Returns 0; 1 when the server could not
 * convert a row from the source encoding (*bad: its number; rolled back, e
 * filled); -1 with q's err filled.
 */
static int
copy_stage_rows(sql *q, cs_direct *d, int all, const char *table, long long from, long long to,
                long long *bad, csvstage_error *e)
{
  char ctx[1024] = "", copy[128];
  long long line;

  csvstage_error_clear(e);
  snprintf(copy, sizeof(copy), "COPY %s FROM STDIN", table);
  if (cs_run(q->conn, "SAVEPOINT csvstage_fill", q->err) ||
      cs_copy_begin(q->conn, copy, q->err))
    return -1;
  if (cs_direct_send_rows(d, all, from, to, q->err)) {
    cs_copy_end(q->conn, "csvstage stopped reading the records set aside", NULL, NULL);
    return -1;
  }
  if (cs_copy_end_ctx(q->conn, NULL, NULL, e, ctx, sizeof(ctx)) == 0)
    return cs_run(q->conn, "RELEASE SAVEPOINT csvstage_fill", q->err);
  line = cs_context_line(ctx, table);
  if (line < 1 || !unconvertible(q->conn, e)) {
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
int
cs_stage_create(plan *p, sql *q)
{
  /* In one transaction for several files, the last file's are still here. */
  sql_add(q, "DROP TABLE IF EXISTS pg_temp.csvstage_stage, pg_temp.csvstage_suspect, "
             "pg_temp.csvstage_reject, pg_temp.csvstage_unconverted, pg_temp.csvstage_staged, "
             "pg_temp.csvstage_refused; "
             "CREATE TEMP TABLE csvstage_unconverted (_line bigint, st text, msg text, "
             "row bytea) ON COMMIT DROP; CREATE TEMP TABLE csvstage_stage (_line bigint");
  for (int i = 0; i < p->ncsv; i++)
    sql_add(q, ", c%d text", i + 1);
  /* _ok: the client's word on the values (direct.c's vouched) */
  sql_add(q, ", _ok bigint) ON COMMIT DROP");
  p->split = CS_SPLIT_NONE;
  return sql_run(q, NULL);
}

int
cs_stage_streamed(plan *p, sql *q, cs_direct *d)
{
  char ctx[1024] = "";
  csvstage_error e;

  csvstage_error_clear(&e);
  if (cs_direct_stream_end(d, NULL, ctx, sizeof(ctx), &e) == 0)
    return cs_run(q->conn, "RELEASE SAVEPOINT csvstage_fill", q->err);
  /* A record whose bytes the server cannot convert: staged again, the
   * careful way (cs_fill_stage). */
  if (p->session->interrupted || !unconvertible(q->conn, &e)) {
    *q->err = e;
    return -1;
  }
  return cs_run(q->conn, "ROLLBACK TO SAVEPOINT csvstage_fill; RELEASE SAVEPOINT csvstage_fill",
                q->err) ? -1 : cs_fill_stage(p, q, d, 0);
}

int
cs_fill_stage(plan *p, sql *q, cs_direct *d, int all)
{
  long long from = 0, bad, none;
  csvstage_error e, e2;
  int r;

  if (cs_stage_create(p, q))
    return -1;
  while ((r = copy_stage_rows(q, d, all, "csvstage_stage", from, -1, &bad, &e)) == 1) {
    /* The rows before it convert (the server names the first that does
     * not); should one not, that is the error. */
    int before = bad > from ? copy_stage_rows(q, d, all, "csvstage_stage", from, bad, &none,
                                              &e2) : 0;
    if (before == 1)
      *q->err = e2;
    if (before != 0 || unconverted(p, q, d, all, bad, &e))
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

/*
 * Counts, among rows [from, to) of the records set aside so far, those the
 * careful path will refuse whatever else happens (refuse.c: bad input, NULL
 * into NOT NULL), into *certain: a COPY of them into csvstage_probe, the
 * refusal, then emptied for the next. Rows the server cannot convert from
 * the source encoding are not counted (the careful path finds them).
 */
int
cs_probe_rejects(plan *p, sql *q, cs_direct *d, long long from, long long to,
                 long long *certain)
{
  static const cs_refusal_tables probe = {
    "csvstage_probe", "csvstage_probe_reject"};
  csvstage_error e;
  long long bad;
  PGresult *r;
  int rc;

  *certain = 0;
  if (!p->probing) {
    sql_add(q, "DROP TABLE IF EXISTS pg_temp.csvstage_probe, pg_temp.csvstage_probe_reject; "
               "CREATE TEMP TABLE csvstage_probe (_line bigint");
    for (int i = 0; i < p->ncsv; i++)
      sql_add(q, ", c%d text", i + 1);
    sql_add(q, ", _ok bigint) ON COMMIT DROP; CREATE TEMP TABLE csvstage_probe_reject (_line bigint, st text, "
               "col text, con text, msg text, det text) ON COMMIT DROP");
    if (sql_run(q, NULL) ||
        (!cs_has_input_is_valid(p->session) && cs_create_validators(p, q)))
      return -1;
    p->probing = 1;
  }
  rc = copy_stage_rows(q, d, 0, "csvstage_probe", from, to, &bad, &e);
  if (rc == 0) {
    if (cs_refuse(p, q, &probe))
      return -1;
    r = cs_exec(q->conn, "SELECT count(*) FROM csvstage_probe_reject", q->err);
    if (!r)
      return -1;
    *certain = atoll(PQgetvalue(r, 0, 0));
    PQclear(r);
  } else if (rc != 1) {
    return -1;
  }
  return cs_run(q->conn, "TRUNCATE csvstage_probe, csvstage_probe_reject", q->err);
}

/* Whether the careful path refused a record for a key conflict that may
 * be out of file order (order_plan): 1, 0, or -1 with q's err filled. */
static int
out_of_order(plan *p, sql *q)
{
  sql_add(q, "SELECT EXISTS (SELECT 1 FROM csvstage_reject WHERE st IN ('23505', '23P01') "
             "AND con <> ALL (ARRAY[");
  for (int i = 0; i < p->nexact; i++) {
    sql_add(q, i ? ", " : "");
    sql_literal(q, p->exact[i]);
  }
  sql_add(q, "]::text[]))");
  return sql_bool(q);
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
int
cs_settle(plan *p, sql *q, cs_direct *d, csvstage_result *res, long long *bulk, long long *one)
{
  PGconn *conn = q->conn;
  csvstage_error *err = q->err;
  const char *reject_table = "CREATE TEMP TABLE csvstage_reject (_line bigint, st text, "
                             "col text, con text, msg text, det text) ON COMMIT DROP";
  int target_empty, found;

  p->suspects_kept = 0;
  if (!cs_has_input_is_valid(p->session) && cs_create_validators(p, q))
    return -1;
  if (p->strict) {
    res->row_by_row = 1;
    return cs_run(conn, ANALYZE_STAGE, err) || cs_run(conn, reject_table, err) ||
           cs_refuse(p, q, NULL) ||
           insert_one_by_one(p, q, 1, one) ? -1 : 0;
  }
  if (p->conflict_index && !p->deferrable_keys && cs_direct_doubtful(d) == 0) {
    int in = insert_all_at_once(p, q, bulk);
    if (in < 0)
      return -1;
    if (in == 1)
      return cs_run(conn, reject_table, err);   /* (empty: cs_settle_rejects reads it) */
  }
  if (cs_run(conn, ANALYZE_STAGE, err))
    return -1;
  sql_add(q, "SELECT NOT EXISTS (SELECT 1 FROM %s)", p->table->sql_name);
  target_empty = sql_bool(q);
  if (target_empty < 0)
    return -1;
  if (cs_run(conn, reject_table, err) || cs_refuse(p, q, NULL))
    return -1;
  found = 0;
  if (p->conflict_index && !p->order_sensitive && !p->deferrable_keys) {
    found = insert_sure(p, q, target_empty, bulk);
    if (found < 0)
      return -1;
  }
  if (found == 0 && (cs_predict(p, q, target_empty) ||
                     cs_run(conn, "SAVEPOINT csvstage_bulk", err)))
    return -1;
  if (found == 1 || insert_staged(p, q, 0, bulk) == 0) {
    if ((found == 0 && cs_run(conn, "RELEASE SAVEPOINT csvstage_bulk", err)) ||
        insert_one_by_one(p, q, 0, one))
      return -1;
  } else {
    /* What prediction could not foresee: start over, one by one. */
    if (err->code != CSVSTAGE_E_DB || p->session->interrupted)
      return -1;
    csvstage_error_clear(err);
    *bulk = 0;
    p->updated = p->ignored = 0;   /* the bulk's, undone with it */
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
  p->suspects_kept = 0;
  p->inserted = *bulk = *one = 0;
  p->updated = p->ignored = 0;
  if (cs_run(conn, "ROLLBACK TO SAVEPOINT csvstage_data", err) || cs_fill_stage(p, q, d, 1) ||
      cs_run(conn, ANALYZE_STAGE, err) ||
      (!cs_has_input_is_valid(p->session) && cs_create_validators(p, q)) ||
      cs_run(conn, reject_table, err) || cs_refuse(p, q, NULL) ||
      insert_one_by_one(p, q, 1, one))
    return -1;
  return 0;
}

int
cs_settle_rejects(plan *p, sql *q, cs_rejects *rj, tally *ty)
{
  if (write_server_rejects(p, q->conn, rj, ty, q->err))
    return -1;
  return !cs_has_input_is_valid(p->session) ? cs_drop_validators(p, q) : 0;
}
