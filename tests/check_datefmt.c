/*
 * Tests for lib/datefmt.c: patterns it refuses and why, values it reads
 * (and how), and (db suite) the promise the two load paths stand on: the
 * server's regular expressions and ISO text read every value as the
 * client does.
 */
#include <config.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "datefmt.h"
#include "tests.h"

START_TEST(bad_patterns)
{
  static const struct {
    const char *pattern, *why;
  } cases[] = {
    {"", "empty"},
    {" DD.MM.YYYY", "white space"},
    {"DD.MM", "a date needs a year"},
    {"MM/YYYY", "a date needs a year"},
    {"HH12:MI", "HH12 needs AM"},
    {"HH24:MI AM", "AM and PM go with HH12"},
    {"DD.MM.YYYY DY", "DY is not read"},
    {"DDD.YYYY", "DDD is not read"},
    {"FMDDFMMM.YYYY", "followed by a separator"},
    {"FMDD1MM.YYYY", "followed by a separator"},
    {"DD.MM.YYYY.DD", "twice"},
    {"DD.MM.YY.YYYY", "twice"},
    {"DD.Mon.MM.YYYY", "twice"},
    {"DD.MM.YYYY TZH", "needs a time"},
    {"HH24:MI TZM", "TZM goes with TZH"},
    {"HH24:MI.MS", "MS and US go after SS"},
    {"YYYY-MM-DD\"T", "not closed"},
    {"YYYY-MM-DDTHH24", "'T' is no field"},
    {"DD.MM.YYYY \xc3\xa0", "only ASCII"},
    {"FMYYYY-MM-DD", "FM goes with"},
    {"MI:SS", "a time needs an hour"},
  };
  char why[512];

  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    cs_datefmt f;
    why[0] = 0;
    ck_assert_msg(cs_datefmt_parse(&f, cases[i].pattern, why, sizeof(why)) == -1,
                  "'%s' was taken", cases[i].pattern);
    ck_assert_msg(strstr(why, cases[i].why), "'%s': %s", cases[i].pattern, why);
    cs_datefmt_free(&f);
  }
}
END_TEST

/* Values and what they read as: the ISO text, or NULL with the verdict. */
static const struct {
  const char *pattern, *value;
  cs_df_verdict verdict;
  const char *iso;
} reads[] = {
  {"DD.MM.YYYY", "31.12.2024", CS_DF_FITS, "2024-12-31"},
  {"DD.MM.YYYY", " 31.12.2024\t", CS_DF_FITS, "2024-12-31"},
  {"DD.MM.YYYY", "31.02.2024", CS_DF_FITS, "2024-02-31"},   /* the type's input refuses it */
  {"DD.MM.YYYY", "00.01.2024", CS_DF_FITS, "2024-01-00"},   /* (to_date takes it as the 1st) */
  {"DD.MM.YYYY", "1.2.2024", CS_DF_MISFIT, NULL},
  {"DD.MM.YYYY", "31-12-2024", CS_DF_MISFIT, NULL},
  {"DD.MM.YYYY", "31.12.2024x", CS_DF_MISFIT, NULL},
  {"DD.MM.YYYY", "31.12.24", CS_DF_MISFIT, NULL},
  {"DD.MM.YYYY", "2024-12-31", CS_DF_MISFIT, NULL},
  {"DD.MM.YYYY", "", CS_DF_MISFIT, NULL},
  {"FMDD.FMMM.YYYY", "1.2.2024", CS_DF_FITS, "2024-02-01"},
  {"FMDD.FMMM.YYYY", "01.12.2024", CS_DF_FITS, "2024-12-01"},
  {"FMDD.FMMM.YYYY", "123.1.2024", CS_DF_MISFIT, NULL},
  {"DD.MM.YY", "31.12.69", CS_DF_FITS, "2069-12-31"},
  {"DD.MM.YY", "01.01.70", CS_DF_FITS, "1970-01-01"},
  {"YYYYMMDD", "20240105", CS_DF_FITS, "2024-01-05"},
  {"YYYYMMDD", "2024015", CS_DF_MISFIT, NULL},
  {"DD-Mon-YYYY", "05-jan-2024", CS_DF_FITS, "2024-01-05"},
  {"DD-Mon-YYYY", "05-JUN-2024", CS_DF_FITS, "2024-06-05"},
  {"DD-Mon-YYYY", "05-Foo-2024", CS_DF_MISFIT, NULL},
  {"DD-Mon-YYYY", "05-June-2024", CS_DF_MISFIT, NULL},
  {"FMMonth DD, YYYY", "September 05, 2024", CS_DF_FITS, "2024-09-05"},
  {"FMMonth DD, YYYY", "may 31, 2024", CS_DF_FITS, "2024-05-31"},
  {"MM/DD/YYYY HH12:MI AM", "12/31/2024 11:15 PM", CS_DF_FITS, "2024-12-31 23:15:00"},
  {"MM/DD/YYYY HH12:MI AM", "12/31/2024 12:05 am", CS_DF_FITS, "2024-12-31 00:05:00"},
  {"MM/DD/YYYY HH12:MI AM", "12/31/2024 12:05 pm", CS_DF_FITS, "2024-12-31 12:05:00"},
  {"MM/DD/YYYY HH12:MI AM", "12/31/2024 13:15 PM", CS_DF_MISFIT, NULL},
  {"MM/DD/YYYY HH12:MI AM", "12/31/2024 00:15 AM", CS_DF_MISFIT, NULL},
  {"MM/DD/YYYY HH12:MI AM", "12/31/2024 11:15", CS_DF_MISFIT, NULL},
  {"FMHH12:MI A.M.", "9:05 p.m.", CS_DF_FITS, "21:05:00"},
  {"HH24:MI", "23:59", CS_DF_FITS, "23:59:00"},
  {"HH24:MI", "24:00", CS_DF_RANGE, NULL},
  {"HH24:MI", "23:60", CS_DF_RANGE, NULL},
  {"HH24:MI", "7:05", CS_DF_MISFIT, NULL},
  {"HH24:MI:SS", "10:00:60", CS_DF_RANGE, NULL},
  {"YYYY-MM-DD\"T\"HH24:MI", "2024-01-05T10:00", CS_DF_FITS, "2024-01-05 10:00:00"},
  {"YYYY-MM-DD\"T\"HH24:MI", "2024-01-05t10:00", CS_DF_MISFIT, NULL},
  {"DD.MM.YYYY HH24:MI:SS.MS", "05.01.2024 10:00:00.123", CS_DF_FITS, "2024-01-05 10:00:00.123"},
  {"YYYY-MM-DD HH24:MI:SS.US TZH:TZM", "2024-01-05 10:00:00.000001 -05:30", CS_DF_FITS,
   "2024-01-05 10:00:00.000001 -05:30"},
  {"YYYY-MM-DD HH24:MI:SS.US TZH:TZM", "2024-01-05 10:00:00.000001 -00:30", CS_DF_FITS,
   "2024-01-05 10:00:00.000001 -00:30"},
  {"YYYY-MM-DD HH24:MI TZH", "2024-01-05 10:00 +16", CS_DF_RANGE, NULL},
  {"YYYY-MM-DD HH24:MI TZH", "2024-01-05 10:00 02", CS_DF_MISFIT, NULL},
  {"YYYY-MM-DD HH24:MI TZH", "2024-01-05 10:00 +02", CS_DF_FITS, "2024-01-05 10:00:00 +02:00"},
};

START_TEST(values)
{
  for (size_t i = 0; i < sizeof(reads) / sizeof(reads[0]); i++) {
    cs_datefmt f;
    char why[512], out[CS_DF_ISO_MAX];
    size_t n = 0;
    ck_assert_msg(cs_datefmt_parse(&f, reads[i].pattern, why, sizeof(why)) == 0, "%s", why);
    cs_df_verdict v = cs_datefmt_read(&f, reads[i].value, strlen(reads[i].value), out, &n);
    ck_assert_msg(v == reads[i].verdict, "'%s' with '%s': verdict %d, not %d", reads[i].value,
                  reads[i].pattern, v, reads[i].verdict);
    if (v == CS_DF_FITS)
      ck_assert_msg(n == strlen(reads[i].iso) && memcmp(out, reads[i].iso, n) == 0,
                    "'%s' with '%s' read as '%.*s', not '%s'", reads[i].value,
                    reads[i].pattern, (int)n, out, reads[i].iso);
    cs_datefmt_free(&f);
  }
}
END_TEST

/* The server's reading of value with f (its regular expressions, then its
 * ISO text as the type reads it), as the client's verdict would be. */
static void
server_reads(PGconn *conn, const cs_datefmt *f, const char *value, const char *type,
             const char *client_iso, cs_df_verdict client)
{
  char shape[2048], strict[2048];
  csvstage_error err;
  sql q = {.conn = conn, .err = &err};
  PGresult *r;

  cs_datefmt_regex(f, 0, shape, sizeof(shape));
  cs_datefmt_regex(f, 1, strict, sizeof(strict));
  sql_add(&q, "SELECT CASE WHEN $1 !~ $2 THEN 'misfit' WHEN $1 !~ $3 THEN 'range' ELSE "
              "pg_temp.typed((SELECT ");
  cs_datefmt_add_iso(&q, f, "(x.m)");
  sql_add(&q, " FROM pg_catalog.regexp_match($1, $3) AS x(m)), $4) END, "
              "pg_temp.typed($5, $4)");
  const char *params[5] = {value, shape, strict, type, client_iso ? client_iso : ""};
  r = PQexecParams(conn, sql_text(&q), 5, NULL, params, NULL, NULL, 0);
  ck_assert_msg(PQresultStatus(r) == PGRES_TUPLES_OK, "%s", PQresultErrorMessage(r));
  const char *got = PQgetvalue(r, 0, 0);
  if (client == CS_DF_MISFIT)
    ck_assert_msg(strcmp(got, "misfit") == 0, "'%s': the client says misfit, the server %s",
                  value, got);
  else if (client == CS_DF_RANGE)
    ck_assert_msg(strcmp(got, "range") == 0, "'%s': the client says out of range, the server %s",
                  value, got);
  else
    ck_assert_msg(strcmp(got, PQgetvalue(r, 0, 1)) == 0,
                  "'%s': the client reads %s as %s, the server as %s", value, client_iso,
                  PQgetvalue(r, 0, 1), got);
  PQclear(r);
  free(q.b.data);
}

START_TEST(server_reads_as_client)
{
  static const char *const extra[] = {
    "", " ", "x", "31.12.2024 ", "12/31/2024 1:15 PM", "2024-01-05 10:00:00 +15:59",
    "05-Dec-2024", "05-dec-2024 ", "29.02.2023", "29.02.2024", "23:59", "0:00", "12:00 AM",
    "2024-01-05 10:00:00.5 +02:00", "September 5, 2024", "31.12.2024\n",
  };
  PGconn *conn = test_connect();
  int checked = 0;

  /* The value as the type reads it (text), or 'invalid'. */
  test_exec(conn, "CREATE FUNCTION pg_temp.typed(v text, t text) RETURNS text LANGUAGE plpgsql AS"
                  " $$ DECLARE o text; BEGIN EXECUTE format('SELECT %L::%s::text', v, t) INTO o;"
                  " RETURN o; EXCEPTION WHEN others THEN RETURN 'invalid'; END $$");
  test_exec(conn, "SET TimeZone = 'UTC'");
  for (size_t i = 0; i < sizeof(reads) / sizeof(reads[0]); i++) {
    cs_datefmt f;
    char why[512];
    ck_assert_int_eq(cs_datefmt_parse(&f, reads[i].pattern, why, sizeof(why)), 0);
    const char *type = f.kind & CS_DF_ZONE ? "timestamptz"
                       : f.kind == CS_DF_DATE ? "date"
                       : f.kind == CS_DF_TIME ? "time" : "timestamp";
    /* Each pattern with every value of the table: misfits too. */
    for (size_t j = 0; j < sizeof(reads) / sizeof(reads[0]) + sizeof(extra) / sizeof(extra[0]);
         j++) {
      const char *value = j < sizeof(reads) / sizeof(reads[0])
                        ? reads[j].value : extra[j - sizeof(reads) / sizeof(reads[0])];
      char out[CS_DF_ISO_MAX + 1];
      size_t n = 0;
      cs_df_verdict v = cs_datefmt_read(&f, value, strlen(value), out, &n);
      out[n] = 0;
      server_reads(conn, &f, value, type, v == CS_DF_FITS ? out : NULL, v);
      checked++;
    }
    cs_datefmt_free(&f);
  }
  ck_assert_int_gt(checked, 1000);
  PQfinish(conn);
}
END_TEST

Suite *
make_datefmt_suite(void)
{
  Suite *s = suite_create("datefmt");
  TCase *tc = tcase_create("datefmt");

  tcase_add_test(tc, bad_patterns);
  tcase_add_test(tc, values);
  suite_add_tcase(s, tc);
  return s;
}

Suite *
make_datefmt_db_suite(void)
{
  Suite *s = suite_create("datefmt-db");
  TCase *tc = tcase_create("datefmt-db");

  tcase_set_timeout(tc, 60);
  tcase_add_test(tc, server_reads_as_client);
  suite_add_tcase(s, tc);
  return s;
}
