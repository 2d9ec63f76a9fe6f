/* Tests for lib/copyenc.c: exact COPY text rows, and a round-trip property
 * test through a real COPY into PostgreSQL. */
#include <config.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "copyenc.h"
#include "error.h"
#include "input.h"
#include "pg.h"
#include "reader.h"
#include "tests.h"

static char *
encode(long long line, int n, const char **fields)
{
  size_t len[8];
  cs_record rec;
  cs_buf b = {0};
  int i;

  for (i = 0; i < n; i++)
    len[i] = fields[i] ? strlen(fields[i]) : 0;
  memset(&rec, 0, sizeof(rec));
  rec.line = line;
  rec.nfields = n;
  rec.field = fields;
  rec.len = len;
  ck_assert_int_eq(cs_copy_encode(&b, &rec, -1), 0);
  ck_assert_int_eq(cs_buf_reserve(&b, 1), 0);
  b.data[b.len] = '\0';
  return b.data;
}

START_TEST(line_number_comes_first)
{
  const char *f[] = {"a", "b"};
  char *row = encode(1234567890123LL, 2, f);

  ck_assert_str_eq(row, "1234567890123\ta\tb\n");
  free(row);
}
END_TEST

START_TEST(null_and_empty_differ)
{
  const char *f[] = {NULL, "", "\\N"};
  char *row = encode(2, 3, f);

  ck_assert_str_eq(row, "2\t\\N\t\t\\\\N\n");
  free(row);
}
END_TEST

START_TEST(specials_are_escaped)
{
  const char *f[] = {"tab\there", "lf\nand\rcr", "back\\slash", "\\.", "é,\"q\""};
  char *row = encode(7, 5, f);

  ck_assert_str_eq(row, "7\ttab\\there\tlf\\nand\\rcr\tback\\\\slash\t\\\\.\té,\"q\"\n");
  free(row);
}
END_TEST

/* cs_copy_split_row undoes cs_copy_encode: a staging row back into the
 * record (the reject file of a record the server could not convert). */
START_TEST(split_undoes_encode)
{
  const char *f[] = {"tab\there", NULL, "", "\\N", "lf\nand\rcr\\", "\xe9\x81"};
  char *row = encode(42, 6, f), *out[8];
  size_t len[8];

  ck_assert_int_eq(cs_copy_split_row(row, strlen(row), out, len, 8), 7);
  ck_assert_uint_eq(len[0], 2);
  ck_assert_int_eq(memcmp(out[0], "42", 2), 0);
  for (int i = 0; i < 6; i++) {
    if (!f[i]) {
      ck_assert_ptr_null(out[i + 1]);
      continue;
    }
    ck_assert_ptr_nonnull(out[i + 1]);
    ck_assert_uint_eq(len[i + 1], strlen(f[i]));
    ck_assert_int_eq(memcmp(out[i + 1], f[i], len[i + 1]), 0);
  }
  free(row);
  /* Fewer slots than fields: the first ones; a bad escape: not COPY text. */
  row = encode(1, 3, f);
  ck_assert_int_eq(cs_copy_split_row(row, strlen(row), out, len, 2), 2);
  free(row);
  char bad[] = "1\tx\\q\n";
  ck_assert_int_eq(cs_copy_split_row(bad, strlen(bad), out, len, 8), -1);
  /* The escapes the server's COPY TO writes that csvstage's own do not. */
  char server[] = "7\ta\\bb\\fc\\vd\n";
  ck_assert_int_eq(cs_copy_split_row(server, strlen(server), out, len, 8), 2);
  ck_assert_uint_eq(len[1], 7);
  ck_assert_int_eq(memcmp(out[1], "a\bb\fc\vd", 7), 0);
}
END_TEST

START_TEST(buffer_grows_across_rows)
{
  static char big[200000];
  const char *f[] = {big};
  size_t len[] = {sizeof(big)};
  cs_record rec;
  cs_buf b = {0};
  int i;

  memset(big, '\t', sizeof(big));
  memset(&rec, 0, sizeof(rec));
  rec.nfields = 1;
  rec.field = f;
  rec.len = len;
  for (i = 0; i < 3; i++) {
    rec.line = i + 1;
    ck_assert_int_eq(cs_copy_encode(&b, &rec, -1), 0);
  }
  ck_assert_uint_eq(b.len, 3 * (2 + 2 * sizeof(big) + 1));
  ck_assert_int_eq(memcmp(b.data + b.len - 5, "\\t\\t\n", 5), 0);
  free(b.data);
}
END_TEST

Suite *
make_copyenc_suite(void)
{
  Suite *s = suite_create("copyenc");
  TCase *tc = tcase_create("core");

  tcase_add_test(tc, line_number_comes_first);
  tcase_add_test(tc, null_and_empty_differ);
  tcase_add_test(tc, specials_are_escaped);
  tcase_add_test(tc, split_undoes_encode);
  tcase_add_test(tc, buffer_grows_across_rows);
  suite_add_tcase(s, tc);
  return s;
}

/* ---- round trip through PostgreSQL ----------------------------------------- */

enum { NCOLS = 3, NRECS = 300 };

/* Pieces that stress quoting, escaping, line counting and encoding. */
static const char *const pieces[] = {
  "a", "Zoë", "名前", ",", "\"", "\n", "\r\n", "\r", "\t", "\\", "\\.", " ",
  "\\N", "NULL", "x y", "''", ";", "\xF0\x9F\x98\x80",
};

typedef struct expect_row {
  long long line;
  char *v[NCOLS];   /* NULL for SQL NULL */
} expect_row;

static int
needs_quotes(const char *v)
{
  return *v == '\0' || strpbrk(v, ",\"\r\n") != NULL;
}

/* Appends v to csv as a CSV field, quoted when it must be (or by chance). */
static void
put_csv_field(cs_buf *csv, const char *v, unsigned *seed)
{
  size_t i;

  ck_assert_int_eq(cs_buf_reserve(csv, 2 * strlen(v) + 3), 0);
  if (needs_quotes(v) || rand_r(seed) % 4 == 0) {
    csv->data[csv->len++] = '"';
    for (i = 0; v[i]; i++) {
      if (v[i] == '"')
        csv->data[csv->len++] = '"';
      csv->data[csv->len++] = v[i];
    }
    csv->data[csv->len++] = '"';
  } else {
    memcpy(csv->data + csv->len, v, strlen(v));
    csv->len += strlen(v);
  }
}

/* Physical lines in v: LF, CR and CRLF each end one. */
static int
count_lines(const char *v)
{
  int n = 0;

  for (; *v; v++)
    if (*v == '\n' || (*v == '\r' && v[1] != '\n'))
      n++;
  return n;
}

static void
round_trip(unsigned seed)
{
  expect_row rows[NRECS];
  cs_buf csv = {0}, copy = {0};
  csvstage_error err;
  cs_input *in;
  cs_reader *r;
  cs_record rec;
  PGconn *conn;
  PGresult *res;
  char path[] = "/tmp/csvstage-roundtrip-XXXXXX";
  long long line = 2, loaded = -1;
  int i, c, fd;

  ck_assert_int_eq(cs_buf_reserve(&csv, 64), 0);
  memcpy(csv.data, "c1,c2,c3\n", 9);
  csv.len = 9;
  for (i = 0; i < NRECS; i++) {
    rows[i].line = line;
    for (c = 0; c < NCOLS; c++) {
      int k, n = (int)(rand_r(&seed) % 6);
      char v[256] = "";
      if (rand_r(&seed) % 8 == 0) {
        rows[i].v[c] = NULL;
      } else {
        for (k = 0; k < n; k++)
          strcat(v, pieces[rand_r(&seed) % (sizeof(pieces) / sizeof(pieces[0]))]);
        rows[i].v[c] = strdup(v);
        put_csv_field(&csv, v, &seed);
        line += count_lines(v);
      }
      ck_assert_int_eq(cs_buf_reserve(&csv, 2), 0);
      csv.data[csv.len++] = c + 1 < NCOLS ? ',' : '\n';
    }
    line++;
  }
  fd = mkstemp(path);
  ck_assert_int_ge(fd, 0);
  ck_assert_int_eq(write(fd, csv.data, csv.len), (ssize_t)csv.len);
  close(fd);

  csvstage_error_clear(&err);
  in = cs_input_open(path, &err);
  r = cs_reader_open(in, NULL, &err);
  ck_assert_msg(r != NULL, "%s", err.message);
  while (cs_reader_next(r, &rec, &err) == 1) {
    ck_assert_msg(rec.kind == CS_RECORD_DATA, "seed %u line %lld: %s", seed, rec.line,
                  rec.message);
    ck_assert_int_eq(cs_copy_encode(&copy, &rec, -1), 0);
  }
  ck_assert_int_eq(err.code, CSVSTAGE_OK);
  cs_reader_free(r);
  cs_input_close(in);
  unlink(path);

  conn = cs_connect(test_dsn(), &err);
  ck_assert_ptr_nonnull(conn);
  test_exec(conn, "CREATE TEMP TABLE rt (line bigint, c1 text, c2 text, c3 text)");
  ck_assert_int_eq(cs_copy_begin(conn, "COPY rt FROM STDIN", &err), 0);
  ck_assert_int_eq(cs_copy_put(conn, copy.data, copy.len, &err), 0);
  ck_assert_msg(cs_copy_end(conn, NULL, &loaded, &err) == 0, "seed %u: %s", seed, err.message);
  ck_assert_int_eq(loaded, NRECS);
  res = cs_exec(conn, "SELECT line, c1, c2, c3 FROM rt ORDER BY line", &err);
  ck_assert_ptr_nonnull(res);
  ck_assert_int_eq(PQntuples(res), NRECS);
  for (i = 0; i < NRECS; i++) {
    ck_assert_int_eq(strtoll(PQgetvalue(res, i, 0), NULL, 10), rows[i].line);
    for (c = 0; c < NCOLS; c++) {
      if (!rows[i].v[c]) {
        ck_assert_msg(PQgetisnull(res, i, c + 1), "seed %u row %d col %d: want NULL",
                      seed, i, c);
      } else {
        ck_assert_msg(!PQgetisnull(res, i, c + 1), "seed %u row %d col %d: got NULL",
                      seed, i, c);
        ck_assert_str_eq(PQgetvalue(res, i, c + 1), rows[i].v[c]);
        free(rows[i].v[c]);
      }
    }
  }
  PQclear(res);
  PQfinish(conn);
  free(csv.data);
  free(copy.data);
}

START_TEST(random_records_survive_csv_and_copy)
{
  round_trip((unsigned)_i * 7919u + 1u);
}
END_TEST

START_TEST(copy_error_leaves_the_connection_usable)
{
  csvstage_error err;
  PGconn *conn;
  PGresult *res;

  csvstage_error_clear(&err);
  conn = cs_connect(test_dsn(), &err);
  ck_assert_ptr_nonnull(conn);
  test_exec(conn, "CREATE TEMP TABLE t (line bigint, n int)");
  ck_assert_int_eq(cs_copy_begin(conn, "COPY t FROM STDIN", &err), 0);
  ck_assert_int_eq(cs_copy_put(conn, "1\t1\n2\tx\n", 8, &err), 0);
  ck_assert_int_eq(cs_copy_end(conn, NULL, NULL, &err), -1);
  ck_assert_str_eq(err.sqlstate, "22P02");
  res = cs_exec(conn, "SELECT 1", NULL);   /* usable again */
  ck_assert_ptr_nonnull(res);
  PQclear(res);
  PQfinish(conn);
}
END_TEST

Suite *
make_roundtrip_suite(void)
{
  Suite *s = suite_create("roundtrip");
  TCase *tc = tcase_create("copy");

  tcase_add_loop_test(tc, random_records_survive_csv_and_copy, 0, 20);
  tcase_add_test(tc, copy_error_leaves_the_connection_usable);
  suite_add_tcase(s, tc);
  return s;
}
