/*
 * Tests for lib/validate.c: the verdicts on known inputs, and (db suite)
 * the promise that matters: whatever the client calls valid, the server's
 * own input function accepts, for every type and every tricky input below.
 */
#include <config.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests.h"
#include "validate.h"

static cs_verdict
verdict(const char *type, const char *s)
{
  cs_type t;

  cs_type_parse(&t, type, 1);
  return cs_value_check(&t, s, strlen(s), NULL);
}

START_TEST(type_names)
{
  cs_type t;

  cs_type_parse(&t, "numeric(12,2)", 1);
  ck_assert_int_eq(t.kind, CS_KIND_NUMERIC);
  ck_assert_int_eq(t.precision, 12);
  ck_assert_int_eq(t.scale, 2);
  cs_type_parse(&t, "character varying(5)", 1);
  ck_assert_int_eq(t.kind, CS_KIND_VARCHAR);
  ck_assert_int_eq(t.precision, 5);
  cs_type_parse(&t, "timestamp(3) with time zone", 1);
  ck_assert_int_eq(t.kind, CS_KIND_TIMESTAMP);
  cs_type_parse(&t, "jsonb", 1);
  ck_assert_int_eq(t.kind, CS_KIND_OTHER);
  ck_assert_int_eq(verdict("jsonb", "{"), CS_UNKNOWN);
  cs_type_parse(&t, "numeric(3,-1)", 1);   /* negative scale: not proved here */
  ck_assert_int_eq(t.kind, CS_KIND_OTHER);
}
END_TEST

START_TEST(verdicts)
{
  ck_assert_int_eq(verdict("integer", "42"), CS_VALID);
  ck_assert_int_eq(verdict("integer", " -42 "), CS_VALID);
  ck_assert_int_eq(verdict("integer", "2147483647"), CS_VALID);
  ck_assert_int_eq(verdict("integer", "-2147483648"), CS_VALID);
  ck_assert_int_eq(verdict("integer", "2147483648"), CS_DOUBTFUL);
  ck_assert_int_eq(verdict("smallint", "32768"), CS_DOUBTFUL);
  ck_assert_int_eq(verdict("bigint", "9223372036854775807"), CS_VALID);
  ck_assert_int_eq(verdict("bigint", "9223372036854775808"), CS_DOUBTFUL);
  ck_assert_int_eq(verdict("bigint", "-9223372036854775808"), CS_VALID);
  ck_assert_int_eq(verdict("integer", "12O"), CS_DOUBTFUL);
  ck_assert_int_eq(verdict("integer", ""), CS_DOUBTFUL);
  ck_assert_int_eq(verdict("integer", "0x1F"), CS_DOUBTFUL);
  ck_assert_int_eq(verdict("numeric(12,2)", "1234567890.12"), CS_VALID);
  ck_assert_int_eq(verdict("numeric(12,2)", "12345678901.1"), CS_DOUBTFUL);
  ck_assert_int_eq(verdict("numeric(4,2)", "99.99"), CS_VALID);
  ck_assert_int_eq(verdict("numeric(4,2)", "99.995"), CS_DOUBTFUL);   /* rounds to 100.00 */
  ck_assert_int_eq(verdict("numeric(4,2)", "0099.9"), CS_VALID);
  ck_assert_int_eq(verdict("numeric(12,2)", "1.2.3"), CS_DOUBTFUL);
  ck_assert_int_eq(verdict("numeric", "1e5"), CS_DOUBTFUL);
  ck_assert_int_eq(verdict("boolean", "TRUE"), CS_VALID);
  ck_assert_int_eq(verdict("boolean", "of"), CS_VALID);
  ck_assert_int_eq(verdict("boolean", "o"), CS_DOUBTFUL);
  ck_assert_int_eq(verdict("boolean", "maybe"), CS_DOUBTFUL);
  ck_assert_int_eq(verdict("date", "2024-02-29"), CS_VALID);
  ck_assert_int_eq(verdict("date", "2023-02-29"), CS_DOUBTFUL);
  ck_assert_int_eq(verdict("date", "1900-02-29"), CS_DOUBTFUL);
  ck_assert_int_eq(verdict("date", "2021-02-30"), CS_DOUBTFUL);
  ck_assert_int_eq(verdict("timestamp with time zone", "2013-08-02 23:25:16+00"), CS_VALID);
  ck_assert_int_eq(verdict("timestamp with time zone", "2013-08-02T23:25:16.123456Z"), CS_VALID);
  ck_assert_int_eq(verdict("timestamp without time zone", "2013-08-02 24:00:00"), CS_DOUBTFUL);
  ck_assert_int_eq(verdict("timestamp with time zone", "2013-08-02 23:25:16 UTC"), CS_DOUBTFUL);
  ck_assert_int_eq(verdict("character varying(3)", "abc"), CS_VALID);
  ck_assert_int_eq(verdict("character varying(3)", "äöü"), CS_VALID);   /* characters */
  ck_assert_int_eq(verdict("character varying(3)", "abcd"), CS_DOUBTFUL);
  ck_assert_int_eq(verdict("uuid", "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"), CS_VALID);
  ck_assert_int_eq(verdict("uuid", "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a1"), CS_DOUBTFUL);
}
END_TEST

START_TEST(integer_canonical)
{
  cs_type t;
  int64_t a = 0, b = 1;

  cs_type_parse(&t, "integer", 1);
  ck_assert_int_eq(cs_value_check(&t, "007", 3, &a), CS_VALID);
  ck_assert_int_eq(cs_value_check(&t, " +7", 3, &b), CS_VALID);
  ck_assert(a == 7 && b == 7);
}
END_TEST

/* Types and inputs for the server cross-check: the boundaries of each
 * check, and what people put in CSV files. */
static const char *const types[] = {
  "smallint", "integer", "bigint", "numeric", "numeric(12,2)", "numeric(4,2)",
  "numeric(2,2)", "boolean", "date", "timestamp with time zone",
  "timestamp without time zone", "timestamp(0) without time zone",
  "character varying(3)", "character(3)", "uuid",
};
static const char *const inputs[] = {
  "0", "-0", "+1", " 42 ", "007", "32767", "32768", "-32768", "-32769",
  "2147483647", "2147483648", "-2147483648", "999999999999999999",
  "-999999999999999999", "9223372036854775807", "-9223372036854775808", "1.", ".5", "0.995", "99.99", "99.995", "99.994",
  "0099.9", "100", "1234567890.12", "9999999999.999", "12345678901.1", "-0.00",
  "t", "tr", "true", "TRUE", "f", "fals", "y", "ye", "yes", "n", "no", "on", "of",
  "off", "1", "0", " true ", "2024-02-29", "2000-02-29", "1900-02-28", "0001-01-01",
  "9999-12-31", "2013-08-02 23:25:16+00", "2013-08-02T23:25:16Z",
  "2013-08-02 23:25:16.123456-05:30", "2013-08-02 23:25+0530", "2013-08-02 00:00:59 +15",
  "2013-08-02 23:59:59.999999", "2013-08-02 23:25:16+15:59", "abc", "äöü", "ab ",
  "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11", "A0EEBC999C0B4EF8BB6D6BB9BD380A11",
};

START_TEST(server_accepts_every_valid)
{
  PGconn *conn = test_connect();
  int checked = 0;

  /* A cast inside an exception block: the server's verdict on any
   * version (pg_input_is_valid is 16+). */
  test_exec(conn, "CREATE FUNCTION pg_temp.ok(v text, t text) RETURNS boolean LANGUAGE plpgsql AS"
                  " $$ BEGIN EXECUTE format('SELECT %L::%s', v, t); RETURN true;"
                  " EXCEPTION WHEN others THEN RETURN false; END $$");
  for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
    for (size_t j = 0; j < sizeof(inputs) / sizeof(inputs[0]); j++) {
      const char *params[2] = {inputs[j], types[i]};
      PGresult *r;
      if (verdict(types[i], inputs[j]) != CS_VALID)
        continue;
      r = PQexecParams(conn, "SELECT pg_temp.ok($1, $2)", 2, NULL, params, NULL, NULL, 0);
      ck_assert_msg(PQresultStatus(r) == PGRES_TUPLES_OK, "%s", PQresultErrorMessage(r));
      ck_assert_msg(PQgetvalue(r, 0, 0)[0] == 't',
                    "the client calls '%s' valid for %s, the server refuses it",
                    inputs[j], types[i]);
      PQclear(r);
      checked++;
    }
  }
  ck_assert_int_gt(checked, 100);
  PQfinish(conn);
}
END_TEST

Suite *
make_validate_suite(void)
{
  Suite *s = suite_create("validate");
  TCase *tc = tcase_create("validate");

  tcase_add_test(tc, type_names);
  tcase_add_test(tc, verdicts);
  tcase_add_test(tc, integer_canonical);
  suite_add_tcase(s, tc);
  return s;
}

Suite *
make_validate_db_suite(void)
{
  Suite *s = suite_create("validate-db");
  TCase *tc = tcase_create("validate-db");

  tcase_add_test(tc, server_accepts_every_valid);
  suite_add_tcase(s, tc);
  return s;
}
