/* Tests for lib/pg.c against the harness's PostgreSQL. */
#include <config.h>

#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "pg.h"
#include "tests.h"

static PGconn *conn;

/* Checked fixture: runs in the forked child, so no connection crosses fork. */
static void
setup(void)
{
  csvstage_error err;

  csvstage_error_clear(&err);
  conn = cs_connect(test_dsn(), &err);
  ck_assert_msg(conn != NULL, "cs_connect: %s", err.message);
}

static void
teardown(void)
{
  PQfinish(conn);
  conn = NULL;
}

/* The single value of a one-row, one-column query. */
static char *
scalar(const char *sql)
{
  csvstage_error err;
  PGresult *res;
  char *v;

  csvstage_error_clear(&err);
  res = cs_exec(conn, sql, &err);
  ck_assert_msg(res != NULL, "%s: %s", sql, err.message);
  ck_assert_int_eq(PQntuples(res), 1);
  v = strdup(PQgetisnull(res, 0, 0) ? "(null)" : PQgetvalue(res, 0, 0));
  PQclear(res);
  return v;
}

START_TEST(harness_server_is_on_a_unix_socket)
{
  char *v = scalar("SELECT coalesce(inet_server_addr()::text, 'unix socket')");

  ck_assert_str_eq(v, "unix socket");
  free(v);
  ck_assert_int_ge(PQserverVersion(conn), 150000);
}
END_TEST

START_TEST(harness_server_runs_unprivileged)
{
  /* The server refuses root; the harness must have started it as a plain
   * user, and the database is UTF8, which the tests rely on. */
  char *v = scalar("SELECT current_setting('server_encoding')");

  ck_assert_str_eq(v, "UTF8");
  free(v);
  v = scalar("SELECT current_setting('listen_addresses')");
  ck_assert_str_eq(v, "");
  free(v);
}
END_TEST

START_TEST(application_name_is_csvstage)
{
  char *v = scalar("SELECT current_setting('application_name')");

  ck_assert_str_eq(v, "csvstage");
  free(v);
}
END_TEST

START_TEST(application_name_from_conninfo_wins)
{
  csvstage_error err;
  char dsn[1024];
  PGconn *c;
  PGresult *res;

  snprintf(dsn, sizeof(dsn), "%s application_name=nightly", test_dsn());
  csvstage_error_clear(&err);
  c = cs_connect(dsn, &err);
  ck_assert_msg(c != NULL, "%s", err.message);
  res = cs_exec(c, "SELECT current_setting('application_name')", &err);
  ck_assert_ptr_nonnull(res);
  ck_assert_str_eq(PQgetvalue(res, 0, 0), "nightly");
  PQclear(res);
  PQfinish(c);
}
END_TEST

START_TEST(connect_failure_is_reported)
{
  csvstage_error err;
  PGconn *c;

  csvstage_error_clear(&err);
  c = cs_connect("host=/nonexistent/csvstage port=1 connect_timeout=2", &err);
  ck_assert_ptr_null(c);
  ck_assert_int_eq(err.code, CSVSTAGE_E_CONNECT);
  ck_assert_ptr_nonnull(strstr(err.message, "/nonexistent/csvstage"));
  ck_assert_ptr_null(strchr(err.message, '\n'));
}
END_TEST

START_TEST(connect_failure_never_shows_the_password)
{
  csvstage_error err;
  PGconn *c;

  csvstage_error_clear(&err);
  c = cs_connect("host=/nonexistent/csvstage port=1 password=Sw0rdfish", &err);
  ck_assert_ptr_null(c);
  ck_assert_ptr_null(strstr(err.message, "Sw0rdfish"));
  ck_assert_ptr_null(strstr(err.detail, "Sw0rdfish"));
}
END_TEST

START_TEST(syntax_error_carries_sqlstate)
{
  csvstage_error err;

  csvstage_error_clear(&err);
  ck_assert_ptr_null(cs_exec(conn, "SELEC 1", &err));
  ck_assert_int_eq(err.code, CSVSTAGE_E_DB);
  ck_assert_str_eq(err.sqlstate, "42601");
  ck_assert_str_eq(err.message, "syntax error at or near \"SELEC\"");
}
END_TEST

START_TEST(not_null_violation_names_table_and_column)
{
  csvstage_error err;

  test_exec(conn, "CREATE TEMP TABLE t (id int PRIMARY KEY, email text NOT NULL)");
  csvstage_error_clear(&err);
  ck_assert_ptr_null(cs_exec(conn, "INSERT INTO t VALUES (1, NULL)", &err));
  ck_assert_str_eq(err.sqlstate, "23502");
  ck_assert_str_eq(err.table, "t");
  ck_assert_str_eq(err.column, "email");
  ck_assert_str_eq(err.message,
                   "null value in column \"email\" of relation \"t\" violates not-null constraint");
  ck_assert_str_eq(err.detail, "Failing row contains (1, null).");
}
END_TEST

START_TEST(unique_violation_names_the_constraint)
{
  csvstage_error err;

  test_exec(conn, "CREATE TEMP TABLE t (id int PRIMARY KEY)");
  test_exec(conn, "INSERT INTO t VALUES (1)");
  csvstage_error_clear(&err);
  ck_assert_ptr_null(cs_exec(conn, "INSERT INTO t VALUES (1)", &err));
  ck_assert_str_eq(err.sqlstate, "23505");
  ck_assert_str_eq(err.constraint, "t_pkey");
  ck_assert_str_eq(err.detail, "Key (id)=(1) already exists.");
}
END_TEST

/* The server's passing trouble is told apart from a record's fault: the
 * classes csvstage never turns into a reject, from the server itself. */
START_TEST(transient_errors_are_told_apart)
{
  static const char *const yes[] = {"40001", "40P01", "53100", "53200", "57014", "57P01",
                                    "08006", "55P03"};
  static const char *const no[] = {"23505", "23502", "22P02", "55006", "42501", "P0001", ""};
  csvstage_error err;

  for (size_t i = 0; i < sizeof(yes) / sizeof(*yes); i++)
    ck_assert_msg(cs_transient(yes[i]), "%s", yes[i]);
  for (size_t i = 0; i < sizeof(no) / sizeof(*no); i++)
    ck_assert_msg(!cs_transient(no[i]), "%s", no[i]);
  ck_assert(!cs_transient(NULL));
  csvstage_error_clear(&err);
  ck_assert_ptr_null(cs_exec(conn, "SET statement_timeout = 10; SELECT pg_sleep(1)", &err));
  ck_assert_int_eq(err.code, CSVSTAGE_E_TRANSIENT);
  ck_assert_str_eq(err.sqlstate, "57014");
  csvstage_error_clear(&err);
  ck_assert_ptr_null(cs_exec(conn, "RESET statement_timeout; SELECT 1/0", &err));
  ck_assert_int_eq(err.code, CSVSTAGE_E_DB);
}
END_TEST

START_TEST(lost_connection_is_told_apart)
{
  csvstage_error err;

  csvstage_error_clear(&err);
  ck_assert_ptr_null(cs_exec(conn, "SELECT pg_terminate_backend(pg_backend_pid())", &err));
  ck_assert_int_eq(err.code, CSVSTAGE_E_CONNLOST);
  ck_assert_int_eq(PQstatus(conn), CONNECTION_BAD);
}
END_TEST

/* After a connection lost during COMMIT, the server is asked about the
 * transaction: committed, rolled back, still in progress (then, as for no
 * server at all, unknown when time is up). */
START_TEST(commit_recheck_asks_the_server)
{
  char committed[32], aborted[32], running[32];
  PGconn *other, *nowhere;
  csvstage_error err;
  PGresult *r;
  char *v;

  csvstage_error_clear(&err);
  ck_assert_int_eq(cs_run(conn, "BEGIN", &err), 0);
  v = scalar("SELECT txid_current()");
  snprintf(committed, sizeof(committed), "%s", v);
  free(v);
  ck_assert_int_eq(cs_run(conn, "COMMIT", &err), 0);
  ck_assert_int_eq(cs_run(conn, "BEGIN", &err), 0);
  v = scalar("SELECT txid_current()");
  snprintf(aborted, sizeof(aborted), "%s", v);
  free(v);
  ck_assert_int_eq(cs_run(conn, "ROLLBACK", &err), 0);
  ck_assert_int_eq(cs_commit_recheck(conn, committed, 5, NULL), CS_COMMITTED_AFTER_LOSS);
  ck_assert_int_eq(cs_commit_recheck(conn, aborted, 5, NULL), CS_ROLLED_BACK_AFTER_LOSS);

  other = PQconnectdb(test_dsn());
  ck_assert_int_eq(cs_run(other, "BEGIN", &err), 0);
  r = cs_exec(other, "SELECT txid_current()", &err);
  ck_assert_ptr_nonnull(r);
  snprintf(running, sizeof(running), "%s", PQgetvalue(r, 0, 0));
  PQclear(r);
  ck_assert_int_eq(cs_commit_recheck(conn, running, 1, NULL), CS_COMMIT_UNKNOWN);
  PQfinish(other);   /* ends it: rolled back */
  ck_assert_int_eq(cs_commit_recheck(conn, running, 5, NULL), CS_ROLLED_BACK_AFTER_LOSS);

  nowhere = PQconnectdb("host=/nonexistent/csvstage port=1");
  ck_assert_int_eq(cs_commit_recheck(nowhere, committed, 1, NULL), CS_COMMIT_UNKNOWN);
  PQfinish(nowhere);
}
END_TEST

/* Hostile names: each must reach SQL as one identifier, unchanged. */
START_TEST(quoted_identifiers_round_trip)
{
  static const char *const names[] = {
    "users", "Odd \"Name\"", "name); DROP TABLE users; --", "with space",
    "Ünïcødé 名前", "semi;colon'quote",
  };
  csvstage_error err;
  size_t i;

  for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
    char *q, *lit, sql[512];
    PGresult *res;

    csvstage_error_clear(&err);
    q = cs_quote_ident(conn, names[i], &err);
    lit = cs_quote_literal(conn, names[i], &err);
    ck_assert_ptr_nonnull(q);
    ck_assert_ptr_nonnull(lit);
    snprintf(sql, sizeof(sql), "CREATE TEMP TABLE %s (%s int)", q, q);
    test_exec(conn, sql);
    snprintf(sql, sizeof(sql),
             "SELECT c.relname, a.attname FROM pg_class c JOIN pg_attribute a"
             " ON a.attrelid = c.oid AND a.attnum = 1"
             " WHERE c.relname = %s AND c.relpersistence = 't'", lit);
    res = cs_exec(conn, sql, &err);
    ck_assert_msg(res != NULL, "%s", err.message);
    ck_assert_int_eq(PQntuples(res), 1);
    ck_assert_str_eq(PQgetvalue(res, 0, 0), names[i]);
    ck_assert_str_eq(PQgetvalue(res, 0, 1), names[i]);
    PQclear(res);
    PQfreemem(q);
    PQfreemem(lit);
  }
}
END_TEST

START_TEST(quoting_invalid_utf8_fails_cleanly)
{
  csvstage_error err;

  csvstage_error_clear(&err);
  ck_assert_ptr_null(cs_quote_ident(conn, "bad\xff", &err));
  ck_assert_int_eq(err.code, CSVSTAGE_E_INVALID);
  ck_assert_ptr_nonnull(strstr(err.message, "cannot quote identifier"));
}
END_TEST

START_TEST(redact_hides_passwords)
{
  char buf[512];

  csvstage_conninfo_redact("host=db user=u password=Sw0rdfish dbname=x", buf, sizeof(buf));
  ck_assert_ptr_null(strstr(buf, "Sw0rdfish"));
  ck_assert_ptr_nonnull(strstr(buf, "password='********'"));
  ck_assert_ptr_nonnull(strstr(buf, "host='db'"));
  csvstage_conninfo_redact("postgresql://u:Sw0rdfish@db/x", buf, sizeof(buf));
  ck_assert_ptr_null(strstr(buf, "Sw0rdfish"));
  ck_assert_ptr_nonnull(strstr(buf, "user='u'"));
  csvstage_conninfo_redact("host=db dbname=x", buf, sizeof(buf));
  ck_assert_str_eq(buf, "host=db dbname=x");
  csvstage_conninfo_redact("password='unterminated", buf, sizeof(buf));
  ck_assert_ptr_null(strstr(buf, "unterminated"));
}
END_TEST

Suite *
make_pg_suite(void)
{
  Suite *s = suite_create("pg");
  TCase *tc = tcase_create("server");
  TCase *tq = tcase_create("no server");

  tcase_add_checked_fixture(tc, setup, teardown);
  tcase_add_test(tc, harness_server_is_on_a_unix_socket);
  tcase_add_test(tc, harness_server_runs_unprivileged);
  tcase_add_test(tc, application_name_is_csvstage);
  tcase_add_test(tc, transient_errors_are_told_apart);
  tcase_add_test(tc, application_name_from_conninfo_wins);
  tcase_add_test(tc, syntax_error_carries_sqlstate);
  tcase_add_test(tc, not_null_violation_names_table_and_column);
  tcase_add_test(tc, unique_violation_names_the_constraint);
  tcase_add_test(tc, lost_connection_is_told_apart);
  tcase_add_test(tc, commit_recheck_asks_the_server);
  tcase_add_test(tc, quoted_identifiers_round_trip);
  tcase_add_test(tc, quoting_invalid_utf8_fails_cleanly);
  suite_add_tcase(s, tc);
  tcase_add_test(tq, connect_failure_is_reported);
  tcase_add_test(tq, connect_failure_never_shows_the_password);
  tcase_add_test(tq, redact_hides_passwords);
  suite_add_tcase(s, tq);
  return s;
}
