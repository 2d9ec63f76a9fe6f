/* Tests for cmd/options.c: the command line into an options struct. */
#include <config.h>

#include <stdarg.h>
#include <string.h>

#include "options.h"
#include "tests.h"

/* argv from a NULL-terminated list; getopt may permute it, so it is a copy. */
static int
parse(options *o, char *why, const char *first, ...)
{
  static char *argv[32];
  va_list ap;
  int argc = 0;
  const char *a;

  argv[argc++] = "csvstage";
  va_start(ap, first);
  for (a = first; a; a = va_arg(ap, const char *))
    argv[argc++] = (char *)a;
  va_end(ap);
  argv[argc] = NULL;
  why[0] = '\0';
  return options_parse(o, argc, argv, why, 256);
}

/* [source] keys, in the order given, the flags with their values. */
START_TEST(source_options)
{
  options o;
  char why[256];

  ck_assert_int_eq(parse(&o, why, "--delimiter", ";", "--no-header", "--columns", "a,b",
                         "--null", "NA", "--trim", "--header", "--quote", "'",
                         "--encoding", "LATIN1", "--ignore", "b", "f.csv", NULL), 0);
  ck_assert_int_eq(o.nsource, 9);
  const char *want[][2] = {{"delimiter", ";"}, {"header", "false"}, {"columns", "a,b"},
                           {"null", "NA"}, {"trim", "true"}, {"header", "true"},
                           {"quote", "'"}, {"encoding", "LATIN1"}, {"ignore", "b"}};
  for (int i = 0; i < 9; i++) {
    ck_assert_str_eq(o.source[i].key, want[i][0]);
    ck_assert_str_eq(o.source[i].value, want[i][1]);
  }
  ck_assert_int_eq(o.nfiles, 1);
  ck_assert_int_eq(parse(&o, why, "--delimiter", NULL), -1);
  ck_assert_str_eq(why, "option '--delimiter' needs a value");
}
END_TEST

START_TEST(all_load_options)
{
  options o;
  char why[256];

  ck_assert_int_eq(parse(&o, why, "-c", "u.conf", "-d", "dbname=x", "-t",
                         "public.users", "-r", "rej.csv", "-n",
                         "--max-rejects", "1%", "-v", "a.csv", "b.csv.gz", NULL),
                   0);
  ck_assert_int_eq(o.action, ACTION_LOAD);
  ck_assert_str_eq(o.config, "u.conf");
  ck_assert_str_eq(o.dbname, "dbname=x");
  ck_assert_str_eq(o.table, "public.users");
  ck_assert_str_eq(o.rejects, "rej.csv");
  ck_assert_int_eq(o.dry_run, 1);
  ck_assert_str_eq(o.max_rejects, "1%");
  ck_assert_int_eq(o.verbosity, 1);
  ck_assert_int_eq(o.nfiles, 2);
  ck_assert_str_eq(o.files[0], "a.csv");
  ck_assert_str_eq(o.files[1], "b.csv.gz");
}
END_TEST

START_TEST(long_forms_and_stdin)
{
  options o;
  char why[256];

  ck_assert_int_eq(parse(&o, why, "--config=u.conf", "--table", "t", "--quiet",
                         "--dry-run", NULL), 0);
  ck_assert_str_eq(o.config, "u.conf");
  ck_assert_str_eq(o.table, "t");
  ck_assert_int_eq(o.verbosity, -1);
  ck_assert_int_eq(o.dry_run, 1);
  ck_assert_int_eq(o.nfiles, 0);
}
END_TEST

START_TEST(help_and_version)
{
  options o;
  char why[256];

  ck_assert_int_eq(parse(&o, why, "--help", NULL), 0);
  ck_assert_int_eq(o.action, ACTION_HELP);
  ck_assert_int_eq(parse(&o, why, "-V", NULL), 0);
  ck_assert_int_eq(o.action, ACTION_VERSION);
  ck_assert_ptr_nonnull(strstr(options_usage, "--max-rejects"));
}
END_TEST

START_TEST(unknown_option_is_named)
{
  options o;
  char why[256];

  ck_assert_int_eq(parse(&o, why, "--tabel", "t", NULL), -1);
  ck_assert_str_eq(why, "unknown option '--tabel'");
  ck_assert_int_eq(parse(&o, why, "-x", NULL), -1);
  ck_assert_str_eq(why, "unknown option '-x'");
}
END_TEST

START_TEST(missing_value_is_named)
{
  options o;
  char why[256];

  ck_assert_int_eq(parse(&o, why, "-t", NULL), -1);
  ck_assert_str_eq(why, "option '-t' needs a value");
}
END_TEST

START_TEST(max_rejects_forms)
{
  options o;
  char why[256];

  ck_assert_int_eq(parse(&o, why, "--max-rejects", "100", NULL), 0);
  ck_assert_str_eq(o.max_rejects, "100");
  ck_assert_int_eq(parse(&o, why, "--max-rejects", "0.5%", NULL), 0);
  ck_assert_int_eq(parse(&o, why, "--max-rejects", "0", NULL), 0);
  ck_assert_int_eq(parse(&o, why, "--max-rejects", "-1", NULL), -1);
  ck_assert_ptr_nonnull(strstr(why, "invalid --max-rejects '-1'"));
  ck_assert_int_eq(parse(&o, why, "--max-rejects", "101%", NULL), -1);
  ck_assert_int_eq(parse(&o, why, "--max-rejects", "ten", NULL), -1);
  ck_assert_int_eq(parse(&o, why, "--max-rejects", "", NULL), -1);
}
END_TEST

Suite *
make_options_suite(void)
{
  Suite *s = suite_create("options");
  TCase *tc = tcase_create("core");

  tcase_add_test(tc, all_load_options);
  tcase_add_test(tc, source_options);
  tcase_add_test(tc, long_forms_and_stdin);
  tcase_add_test(tc, help_and_version);
  tcase_add_test(tc, unknown_option_is_named);
  tcase_add_test(tc, missing_value_is_named);
  tcase_add_test(tc, max_rejects_forms);
  suite_add_tcase(s, tc);
  return s;
}
