/*
 * check_csvstage: runs csvstage's Check suites.
 *
 *   check_csvstage unit   the suites that need only the library
 *   check_csvstage db     the suites that need PostgreSQL (run them through
 *                         tests/pg-harness, which starts a server)
 *
 * Prints Check's summary line and exits non-zero when any check failed.
 * CK_VERBOSITY, CK_RUN_SUITE and CK_RUN_CASE narrow or widen the run.
 */
#include <config.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests.h"

const char *
test_dsn(void)
{
  const char *dsn = getenv("CSVSTAGE_TEST_DSN");

  ck_assert_msg(dsn && *dsn,
                "CSVSTAGE_TEST_DSN is not set: run the database tests through "
                "tests/pg-harness (make check does)");
  return dsn;
}

PGconn *
test_connect(void)
{
  PGconn *conn = PQconnectdb(test_dsn());

  ck_assert_msg(PQstatus(conn) == CONNECTION_OK, "cannot connect to the test server: %s",
                PQerrorMessage(conn));
  return conn;
}

void
test_exec(PGconn *conn, const char *sql)
{
  PGresult *res = PQexec(conn, sql);
  ExecStatusType st = PQresultStatus(res);

  ck_assert_msg(st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK, "%s: %s", sql,
                PQresultErrorMessage(res));
  PQclear(res);
}

int
main(int argc, char **argv)
{
  const char *which = argc > 1 ? argv[1] : "unit";
  SRunner *sr;
  int failed;

  if (strcmp(which, "unit") == 0) {
    sr = srunner_create(make_error_suite());
    srunner_add_suite(sr, make_options_suite());
    srunner_add_suite(sr, make_reader_suite());
    srunner_add_suite(sr, make_copyenc_suite());
    srunner_add_suite(sr, make_config_suite());
    srunner_add_suite(sr, make_validate_suite());
    srunner_add_suite(sr, make_datefmt_suite());
    srunner_add_suite(sr, make_rejects_suite());
  } else if (strcmp(which, "db") == 0) {
    if (!getenv("CSVSTAGE_TEST_DSN")) {
      fprintf(stderr, "check_csvstage: CSVSTAGE_TEST_DSN is not set: run "
                      "'tests/pg-harness run %s db' (make check does)\n", argv[0]);
      return EXIT_FAILURE;
    }
    sr = srunner_create(make_pg_suite());
    srunner_add_suite(sr, make_roundtrip_suite());
    srunner_add_suite(sr, make_load_suite());
    srunner_add_suite(sr, make_validate_db_suite());
    srunner_add_suite(sr, make_datefmt_db_suite());
  } else {
    fprintf(stderr, "usage: %s unit|db\n", argv[0]);
    return EXIT_FAILURE;
  }
  srunner_run_all(sr, CK_ENV);
  failed = srunner_ntests_failed(sr);
  srunner_free(sr);
  return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
