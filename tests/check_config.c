/* Tests for lib/config.c: every key, every error, FILE:LINE in messages. */
#include <config.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "settings.h"
#include "tests.h"

static char path[64];

/* Writes text to a temporary config file and reads it into a new settings
 * object; *rc gets the result code. */
static csvstage_settings *
read_conf(const char *text, csvstage_code *rc, csvstage_error *err)
{
  csvstage_settings *s = csvstage_settings_new();
  FILE *f;
  int fd;

  ck_assert_ptr_nonnull(s);
  strcpy(path, "/tmp/csvstage-conf-XXXXXX");
  fd = mkstemp(path);
  ck_assert_int_ge(fd, 0);
  f = fdopen(fd, "w");
  fputs(text, f);
  fclose(f);
  csvstage_error_clear(err);
  *rc = csvstage_settings_read(s, path, err);
  unlink(path);
  return s;
}

/* The config must fail at line `line` with a message holding `want`. */
static void
expect_error(const char *text, int line, const char *want)
{
  csvstage_error err;
  csvstage_code rc;
  csvstage_settings *s = read_conf(text, &rc, &err);
  char prefix[96];

  ck_assert_msg(rc == CSVSTAGE_E_CONFIG, "accepted: %s", text);
  snprintf(prefix, sizeof(prefix), "%s:%d: ", path, line);
  ck_assert_msg(strncmp(err.message, prefix, strlen(prefix)) == 0,
                "want prefix '%s', got '%s'", prefix, err.message);
  ck_assert_msg(strstr(err.message, want), "want '%s' in '%s'", want, err.message);
  ck_assert_int_eq(err.line, line);
  csvstage_settings_free(s);
}

START_TEST(defaults)
{
  csvstage_settings *s = csvstage_settings_new();

  ck_assert_int_eq(s->delimiter, ',');
  ck_assert_int_eq(s->quote, '"');
  ck_assert_int_eq(s->header, 1);
  ck_assert_str_eq(s->encoding, "UTF8");
  ck_assert_str_eq(s->null_marker, "");
  ck_assert_ptr_null(s->table);
  ck_assert_int_eq(s->max_rejects, -1);
  ck_assert(s->max_rejects_pct < 0);
  ck_assert(s->lock_wait < 0);
  ck_assert_int_eq(s->nrules, 0);
  csvstage_settings_free(s);
}
END_TEST

START_TEST(every_key)
{
  csvstage_error err;
  csvstage_code rc;
  csvstage_settings *s = read_conf(
    "[source]\n"
    "delimiter = \";\"\n"
    "quote = '\n"
    "header = false\n"
    "encoding = LATIN1   ; any client encoding\n"
    "null = \"\\N\"\n"
    "columns = id, \"E-mail Address\", status\n"
    "ignore = status\n"
    "trim = yes\n"
    "[target]\n"
    "table = \"Odd \"\"Name\"\"\"\n"
    "max_rejects = 1.5%\n"
    "[rejects]\n"
    "file = rejects/users-%Y%m%d.csv\n"
    "[column \"email\"]\n"
    "from = E-mail Address\n"
    "trim = false\n"
    "nullif = \"\", \"N/A\", \"-\"\n"
    "coalesce = 'unknown@example.com', 'it''s', 42, alt, \"Other, Col\", DEFAULT\n"
    "[column \"status\"]\n"
    "coalesce = DEFAULT\n", &rc, &err);
  ck_assert_msg(rc == CSVSTAGE_OK, "%s", err.message);
  ck_assert_int_eq(s->delimiter, ';');
  ck_assert_int_eq(s->quote, '\'');
  ck_assert_int_eq(s->header, 0);
  ck_assert_str_eq(s->encoding, "LATIN1");
  ck_assert_str_eq(s->null_marker, "\\N");
  ck_assert_int_eq(s->ncolumns, 3);
  ck_assert_str_eq(s->columns[1], "E-mail Address");
  ck_assert_int_eq(s->nignore, 1);
  ck_assert_str_eq(s->ignore[0], "status");
  ck_assert_int_eq(s->trim, 1);
  ck_assert_str_eq(s->table, "\"Odd \"\"Name\"\"\"");
  ck_assert(s->max_rejects_pct > 1.49 && s->max_rejects_pct < 1.51);
  ck_assert_int_eq(s->max_rejects, -1);
  ck_assert_str_eq(s->rejects_file, "rejects/users-%Y%m%d.csv");
  ck_assert_int_eq(s->nrules, 2);
  const cs_rule *r = cs_settings_rule(s, "email");
  ck_assert_ptr_nonnull(r);
  ck_assert_str_eq(r->from, "E-mail Address");
  ck_assert_int_eq(r->trim, 0);
  ck_assert_int_eq(r->line, 16);
  ck_assert_int_eq(r->nnullif, 3);
  ck_assert_str_eq(r->nullif[0], "");
  ck_assert_str_eq(r->nullif[1], "N/A");
  ck_assert_str_eq(r->nullif[2], "-");
  ck_assert_int_eq(r->ncoalesce, 6);
  ck_assert_int_eq(r->coalesce[0].kind, CS_FALLBACK_LITERAL);
  ck_assert_str_eq(r->coalesce[0].text, "unknown@example.com");
  ck_assert_str_eq(r->coalesce[1].text, "it's");
  ck_assert_int_eq(r->coalesce[2].kind, CS_FALLBACK_LITERAL);
  ck_assert_str_eq(r->coalesce[2].text, "42");
  ck_assert_int_eq(r->coalesce[3].kind, CS_FALLBACK_COLUMN);
  ck_assert_str_eq(r->coalesce[3].text, "alt");
  ck_assert_int_eq(r->coalesce[4].kind, CS_FALLBACK_COLUMN);
  ck_assert_str_eq(r->coalesce[4].text, "Other, Col");
  ck_assert_int_eq(r->coalesce[5].kind, CS_FALLBACK_DEFAULT);
  r = cs_settings_rule(s, "status");
  ck_assert_int_eq(r->trim, -1);
  ck_assert_int_eq(r->ncoalesce, 1);
  ck_assert_int_eq(r->coalesce[0].kind, CS_FALLBACK_DEFAULT);
  ck_assert_ptr_null(cs_settings_rule(s, "id"));
  csvstage_settings_free(s);
}
END_TEST

START_TEST(char_forms)
{
  csvstage_error err;
  csvstage_code rc;
  csvstage_settings *s = read_conf("[source]\ndelimiter = tab\nquote = \"\"\"\"\n", &rc, &err);

  ck_assert_msg(rc == CSVSTAGE_OK, "%s", err.message);
  ck_assert_int_eq(s->delimiter, '\t');
  ck_assert_int_eq(s->quote, '"');
  csvstage_settings_free(s);
  s = read_conf("[source]\ndelimiter = \\t\nquote = \"|\"\n[target]\nmax_rejects = 250\n",
                &rc, &err);
  ck_assert_msg(rc == CSVSTAGE_OK, "%s", err.message);
  ck_assert_int_eq(s->delimiter, '\t');
  ck_assert_int_eq(s->quote, '|');
  ck_assert_int_eq(s->max_rejects, 250);
  ck_assert(s->max_rejects_pct < 0);
  csvstage_settings_free(s);
  s = read_conf("[source]\ndelimiter = tab\nquote = none\ncomment = \"#\"\nskip = 3\n", &rc, &err);
  ck_assert_msg(rc == CSVSTAGE_OK, "%s", err.message);
  ck_assert_int_eq(s->quote, '\0');
  ck_assert_str_eq(s->comment, "#");
  ck_assert_int_eq(s->skip, 3);
  csvstage_settings_free(s);
  /* [column] with name = first: names longer than a section line holds. */
  s = read_conf("[column]\nname = \"a name of more than forty-nine bytes, \"\"quoted\"\" too\"\n"
                "from = x\n[column]\nname = b\nfrom = y\n[column \"c\"]\nfrom = z\n", &rc, &err);
  ck_assert_msg(rc == CSVSTAGE_OK, "%s", err.message);
  ck_assert_int_eq(s->nrules, 3);
  ck_assert_str_eq(s->rules[0].column, "a name of more than forty-nine bytes, \"quoted\" too");
  ck_assert_str_eq(s->rules[0].from, "x");
  ck_assert_str_eq(s->rules[1].column, "b");
  ck_assert_str_eq(s->rules[1].from, "y");
  ck_assert_str_eq(s->rules[2].from, "z");
  csvstage_settings_free(s);
  s = read_conf("[source]\ncomment = //\n", &rc, &err);
  ck_assert_msg(rc == CSVSTAGE_OK, "%s", err.message);
  ck_assert_str_eq(s->comment, "//");
  csvstage_settings_free(s);
  s = read_conf("[target]\nwait = 2.5\n", &rc, &err);
  ck_assert_msg(rc == CSVSTAGE_OK, "%s", err.message);
  ck_assert(s->lock_wait > 2.49 && s->lock_wait < 2.51);
  csvstage_settings_free(s);
  s = read_conf("[target]\nwait = forever\n", &rc, &err);
  ck_assert_msg(rc == CSVSTAGE_OK, "%s", err.message);
  ck_assert(s->lock_wait == 0);
  csvstage_settings_free(s);
}
END_TEST

START_TEST(errors)
{
  expect_error("[sauce]\ndelimiter = ,\n", 2, "unknown section [sauce]");
  expect_error("[target]\nwait = soon\n", 2,
               "wait must be no, forever or seconds (at most 86400), not 'soon'");
  expect_error("delimiter = ,\n", 1, "outside any section");
  expect_error("[source]\ndelimitr = ,\n", 2, "unknown key 'delimitr' in [source]");
  expect_error("[target]\n\ntabel = x\n", 3, "unknown key 'tabel' in [target]");
  expect_error("[rejects]\npath = x\n", 2, "unknown key 'path' in [rejects]");
  expect_error("[column \"a\"]\nform = b\n", 2, "unknown key 'form'");
  expect_error("[source]\nheader = maybe\n", 2, "header must be true or false");
  expect_error("[source]\ntrim = 2\n", 2, "trim must be true or false");
  expect_error("[column \"a\"]\ntrim = sure\n", 2, "trim must be true or false");
  expect_error("[source]\ndelimiter = ab\n", 2, "delimiter must be one character");
  /* A lone ';' after '=' starts a comment: the value is empty, not ';'. */
  expect_error("[source]\nheader = true\ndelimiter = ;\n", 3, "delimiter must be one character");
  expect_error("[source]\nquote = ab\n", 2, "quote must be one character");
  expect_error("[source]\ndelimiter = \"|\"\nquote = |\n", 3, "delimiter and quote must differ");
  expect_error("[source]\nencoding = UTF 8\n", 2, "not an encoding name");
  expect_error("[column]\nfrom = x\n", 2, "a [column] section starts with name = NAME");
  expect_error("[column]\nname = a\nname = b\n", 3, "'name' is set twice");
  expect_error("[source]\nskip = -1\n", 2, "skip must be a number of lines (0 or more), not '-1'");
  expect_error("[source]\nskip = two\n", 2, "skip must be a number of lines");
  expect_error("[source]\ncomment = \"#########\"\n", 2, "comment must be the prefix");
  expect_error("[source]\ndelimiter = \"#\"\ncomment = \"#\"\n", 3,
               "comment cannot start with the delimiter or the quote");
  expect_error("[source]\ncolumns = a,,b\n", 2, "comma-separated list");
  expect_error("[target]\nmax_rejects = lots\n", 2, "max_rejects must be a count");
  expect_error("[target]\nmax_rejects = 101%\n", 2, "max_rejects must be a count");
  expect_error("[target]\nmax_rejects = -1\n", 2, "max_rejects must be a count");
  expect_error("[target]\ntable = a\ntable = b\n", 3, "'table' is set twice");
  expect_error("[column \"a\"]\nfrom = x\n[column \"b\"]\nfrom = y\n[column \"a\"]\nfrom = z\n",
               6, "'from' is set twice");
  expect_error("[column a]\nfrom = x\n", 2, "[column \"NAME\"]");
  expect_error("[column \"a\"]\ncoalesce = DEFAULT, 'x'\n", 2, "DEFAULT must come last");
  expect_error("[column \"a\"]\ncoalesce = 'x\n", 2, "coalesce");
  expect_error("[column \"a\"]\nnullif = \"N/A\n", 2, "nullif");
  expect_error("[source]\nheader = true\nthis line has no equals sign\n", 3, "syntax error");
  expect_error("[source\n", 1, "syntax error");
  expect_error("[source]\nformat = 'DD.MM'\n", 2, "format 'DD.MM': a date needs a year");
  expect_error("[column \"d\"]\nformat = DD.MM.YYYY\nformat = DD.MM.YYYY\n", 3,
               "'format' is set twice");
  expect_error("[column \"d\"]\n\nformat = \"HH12:MI\"\n", 3, "HH12 needs AM");
  expect_error("[source]\ntimezone =\n", 2, "timezone must name a time zone");
  expect_error("[source]\nheader = true\n  indented = continuation\n", 3, "");
}
END_TEST

START_TEST(unreadable_file)
{
  csvstage_settings *s = csvstage_settings_new();
  csvstage_error err;

  csvstage_error_clear(&err);
  ck_assert_int_eq(csvstage_settings_read(s, "/nonexistent/csvstage.conf", &err),
                   CSVSTAGE_E_IO);
  ck_assert_str_eq(err.message, "/nonexistent/csvstage.conf: No such file or directory");
  csvstage_settings_free(s);
}
END_TEST

START_TEST(set_overrides_the_file)
{
  csvstage_error err;
  csvstage_code rc;
  csvstage_settings *s = read_conf("[target]\ntable = a\nmax_rejects = 5\n", &rc, &err);

  ck_assert_int_eq(rc, CSVSTAGE_OK);
  /* The command line comes after the file and wins. */
  ck_assert_int_eq(csvstage_settings_set(s, "target", "table", "b", &err), CSVSTAGE_OK);
  ck_assert_str_eq(s->table, "b");
  ck_assert_int_eq(csvstage_settings_set(s, "target", "max_rejects", "2%", &err), CSVSTAGE_OK);
  ck_assert_int_eq(s->max_rejects, -1);
  ck_assert(s->max_rejects_pct > 1.9 && s->max_rejects_pct < 2.1);
  ck_assert_int_eq(csvstage_settings_set(s, "rejects", "file", "r.csv", &err), CSVSTAGE_OK);
  ck_assert_str_eq(s->rejects_file, "r.csv");
  ck_assert_int_eq(csvstage_settings_set(s, "column \"x\"", "from", "y", &err), CSVSTAGE_OK);
  ck_assert_str_eq(cs_settings_rule(s, "x")->from, "y");
  csvstage_error_clear(&err);
  ck_assert_int_eq(csvstage_settings_set(s, "target", "nope", "1", &err), CSVSTAGE_E_CONFIG);
  ck_assert_str_eq(err.message, "unknown key 'nope' in [target] (known: table, mode, key, update, before, after, max_rejects, wait, ledger)");
  csvstage_settings_free(s);
}
END_TEST

START_TEST(modes_and_statements)
{
  csvstage_error err;
  csvstage_code rc;
  csvstage_settings *s = read_conf("[target]\nmode = replace\n"
                                   "before = DELETE FROM log WHERE at < now() - '1 day'::interval\n"
                                   "after = REFRESH MATERIALIZED VIEW totals\n", &rc, &err);

  ck_assert_int_eq(rc, CSVSTAGE_OK);
  ck_assert_int_eq(s->mode, CS_MODE_REPLACE);
  ck_assert_str_eq(cs_mode_name(s->mode), "replace");
  ck_assert_str_eq(s->before, "DELETE FROM log WHERE at < now() - '1 day'::interval");
  ck_assert_str_eq(s->after, "REFRESH MATERIALIZED VIEW totals");
  /* --mode on the command line wins over the file. */
  ck_assert_int_eq(csvstage_settings_set(s, "target", "mode", "truncate", &err), CSVSTAGE_OK);
  ck_assert_int_eq(s->mode, CS_MODE_TRUNCATE);
  ck_assert_int_eq(csvstage_settings_set(s, "target", "mode", "merge", &err), CSVSTAGE_E_CONFIG);
  ck_assert_str_eq(err.message, "mode must be append, truncate, replace, upsert or insert-new, "
                   "not 'merge'");
  csvstage_error_clear(&err);
  ck_assert_int_eq(csvstage_settings_set(s, "target", "mode", "insert-new", &err), CSVSTAGE_OK);
  ck_assert_int_eq(s->mode, CS_MODE_INSERT_NEW);
  ck_assert_int_eq(csvstage_settings_set(s, "target", "key", "tenant, \"Id\"", &err),
                   CSVSTAGE_OK);
  ck_assert_int_eq(s->nkey, 2);
  ck_assert_str_eq(s->key[1], "Id");
  ck_assert_int_eq(csvstage_settings_set(s, "target", "update", "a", &err), CSVSTAGE_OK);
  ck_assert_int_eq(s->nupdate, 1);
  csvstage_settings_free(s);
  s = csvstage_settings_new();
  ck_assert_int_eq(s->mode, CS_MODE_APPEND);
  ck_assert_ptr_null(s->before);
  csvstage_settings_free(s);
  expect_error("[target]\nmode = Append\n", 2, "mode must be append, truncate, replace");
  expect_error("[target]\nkey = a,\n", 2, "key: expected a comma-separated list");
  expect_error("[target]\nmode = append\nmode = replace\n", 3, "'mode' is set twice");
  expect_error("[target]\nbefore =\n", 2, "before is empty");
  expect_error("[target]\nafter = SELECT 1\nafter = SELECT 2\n", 3, "'after' is set twice");
}
END_TEST

START_TEST(long_line)
{
  /* libinih's default line limit is 200 bytes; a long nullif list is not rare. */
  char *text = malloc(20000), *p;
  csvstage_error err;
  csvstage_code rc;
  csvstage_settings *s;

  p = text + sprintf(text, "[column \"a\"]\nnullif = ");
  for (int i = 0; i < 1000; i++)
    p += sprintf(p, "%s\"v%d\"", i ? ", " : "", i);
  strcpy(p, "\n");
  s = read_conf(text, &rc, &err);
  ck_assert_msg(rc == CSVSTAGE_OK, "%s", err.message);
  ck_assert_int_eq(cs_settings_rule(s, "a")->nnullif, 1000);
  ck_assert_str_eq(cs_settings_rule(s, "a")->nullif[999], "v999");
  csvstage_settings_free(s);
  free(text);
}
END_TEST

Suite *
make_config_suite(void)
{
  Suite *s = suite_create("config");
  TCase *tc = tcase_create("config");

  tcase_add_test(tc, defaults);
  tcase_add_test(tc, every_key);
  tcase_add_test(tc, char_forms);
  tcase_add_test(tc, errors);
  tcase_add_test(tc, unreadable_file);
  tcase_add_test(tc, set_overrides_the_file);
  tcase_add_test(tc, modes_and_statements);
  tcase_add_test(tc, long_line);
  suite_add_tcase(s, tc);
  return s;
}
