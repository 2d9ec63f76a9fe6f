/* tests.h: what csvstage's Check suites share. */
#ifndef CSVSTAGE_TESTS_H
#define CSVSTAGE_TESTS_H

#include <check.h>
#include <libpq-fe.h>

/* Suites that need nothing but the library. */
Suite *make_error_suite(void);
Suite *make_options_suite(void);
Suite *make_reader_suite(void);
Suite *make_copyenc_suite(void);
Suite *make_config_suite(void);
Suite *make_validate_suite(void);
Suite *make_datefmt_suite(void);
Suite *make_rejects_suite(void);

/* Suites that need the PostgreSQL started by tests/pg-harness. */
Suite *make_pg_suite(void);
Suite *make_roundtrip_suite(void);
Suite *make_load_suite(void);
Suite *make_validate_db_suite(void);
Suite *make_datefmt_db_suite(void);

/*
 * The harness's connection string. A test that needs the server fails (it
 * never skips) when the harness did not provide one.
 */
const char *test_dsn(void);

/* A new connection to the harness's server; fails the test if none. Call it
 * in the test or in a checked fixture (the forked child), never before fork. */
PGconn *test_connect(void);

/* Runs sql and fails the test if it does not succeed. */
void test_exec(PGconn *conn, const char *sql);

#endif
