/* check_rejects.c: the reject file's life: written where nothing can see a
 * part of it, put in place before COMMIT, taken back on roll back with the
 * file it replaced restored, and no temporary file left either way. */
#include <config.h>

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "rejects.h"
#include "tests.h"

static char dir[64];
static char path[128];

static void
setup(void)
{
  snprintf(dir, sizeof(dir), "/tmp/check_rejects.XXXXXX");
  ck_assert_ptr_nonnull(mkdtemp(dir));
  snprintf(path, sizeof(path), "%s/r.csv", dir);
}

static void
teardown(void)
{
  char cmd[128];
  snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
  ck_assert_int_eq(system(cmd), 0);
}

/* The directory's entries, sorted, space-separated ("" when empty). */
static const char *
entries(void)
{
  static char out[1024];
  struct dirent **list;
  int n = scandir(dir, &list, NULL, alphasort);

  out[0] = '\0';
  for (int i = 0; i < n; i++) {
    if (list[i]->d_name[0] != '.') {
      strncat(out, out[0] ? " " : "", sizeof(out) - strlen(out) - 1);
      strncat(out, list[i]->d_name, sizeof(out) - strlen(out) - 1);
    }
    free(list[i]);
  }
  free(list);
  return out;
}

/* The file's content (up to 4 kB). */
static const char *
content(const char *p)
{
  static char buf[4096];
  FILE *f = fopen(p, "r");
  size_t n;

  ck_assert_ptr_nonnull(f);
  n = fread(buf, 1, sizeof(buf) - 1, f);
  buf[n] = '\0';
  fclose(f);
  return buf;
}

static void
write_old(void)
{
  FILE *f = fopen(path, "w");
  ck_assert_ptr_nonnull(f);
  fputs("old\n", f);
  fclose(f);
}

/* A reject file with one row, finished (flushed), not yet placed. */
static cs_rejects *
one_reject(void)
{
  const char *names[] = {"a"};
  const char *fields[] = {"x"};
  cs_reject_row row = {.line = 7, .sqlstate = "23502", .column = "a", .constraint = "",
                       .message = "null value", .detail = "", .fields = fields, .nfields = 1};
  csvstage_error err;
  cs_rejects *r;

  csvstage_error_clear(&err);
  r = cs_rejects_open(path, ',', '"', "", names, 1, &err);
  ck_assert_msg(r != NULL, "%s", err.message);
  ck_assert_int_eq(cs_rejects_add(r, &row, &err), 0);
  ck_assert_int_eq(cs_rejects_finish(r, &err), 0);
  return r;
}

START_TEST(nothing_is_seen_before_it_is_placed)
{
  cs_rejects *r = one_reject();
  csvstage_error err;

  /* Written, flushed, and still no name in the directory (or, where the
   * system has no nameless files, only the temporary one). */
  ck_assert(strcmp(entries(), "") == 0 || strncmp(entries(), "r.csv.tmp-", 10) == 0);
  csvstage_error_clear(&err);
  ck_assert_int_eq(cs_rejects_place(r, &err), 0);
  ck_assert_str_eq(entries(), "r.csv");
  ck_assert_ptr_nonnull(strstr(content(path), "7,23502,a,,null value,,x,"));
  ck_assert_int_eq(cs_rejects_keep(r, 0, NULL, 0), 0);
  ck_assert_str_eq(entries(), "r.csv");
}
END_TEST

START_TEST(a_roll_back_puts_the_old_file_back)
{
  cs_rejects *r;
  csvstage_error err;

  write_old();
  r = one_reject();
  csvstage_error_clear(&err);
  ck_assert_int_eq(cs_rejects_place(r, &err), 0);
  ck_assert_ptr_nonnull(strstr(content(path), "23502"));
  cs_rejects_discard(r);   /* the load did not commit */
  ck_assert_str_eq(entries(), "r.csv");
  ck_assert_str_eq(content(path), "old\n");
}
END_TEST

START_TEST(a_roll_back_with_no_old_file_leaves_none)
{
  cs_rejects *r = one_reject();
  csvstage_error err;

  csvstage_error_clear(&err);
  ck_assert_int_eq(cs_rejects_place(r, &err), 0);
  cs_rejects_discard(r);
  ck_assert_str_eq(entries(), "");
}
END_TEST

START_TEST(a_commit_drops_the_old_file_or_keeps_it_aside)
{
  cs_rejects *r;
  csvstage_error err;
  char note[256];

  write_old();
  r = one_reject();
  csvstage_error_clear(&err);
  ck_assert_int_eq(cs_rejects_place(r, &err), 0);
  ck_assert_int_eq(cs_rejects_keep(r, 0, note, sizeof(note)), 0);
  ck_assert_str_eq(note, "");
  ck_assert_str_eq(entries(), "r.csv");
  ck_assert_ptr_nonnull(strstr(content(path), "23502"));
  /* An unknown outcome keeps both: the new one at path, the old aside. */
  r = one_reject();
  ck_assert_int_eq(cs_rejects_place(r, &err), 0);
  ck_assert_int_eq(cs_rejects_keep(r, 1, note, sizeof(note)), 0);
  ck_assert_msg(strncmp(note, path, strlen(path)) == 0 && strstr(note, ".previous-"), "%s", note);
  ck_assert_ptr_nonnull(strstr(content(note), "23502"));
  unlink(note);
}
END_TEST

START_TEST(no_rejects_removes_an_old_file_only_once_kept)
{
  const char *names[] = {"a"};
  csvstage_error err;
  cs_rejects *r;

  write_old();
  csvstage_error_clear(&err);
  r = cs_rejects_open(path, ',', '"', "", names, 1, &err);
  ck_assert_ptr_nonnull(r);
  ck_assert_int_eq(cs_rejects_finish(r, &err), 0);
  ck_assert_int_eq(cs_rejects_place(r, &err), 0);
  ck_assert_str_eq(content(path), "old\n");   /* nothing placed before COMMIT */
  ck_assert_int_eq(cs_rejects_keep(r, 0, NULL, 0), 0);
  ck_assert_str_eq(entries(), "");
}
END_TEST

START_TEST(a_directory_gone_fails_the_placing_with_its_path)
{
  cs_rejects *r = one_reject();
  csvstage_error err;
  char cmd[128];

  snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
  ck_assert_int_eq(system(cmd), 0);
  csvstage_error_clear(&err);
  ck_assert_int_eq(cs_rejects_place(r, &err), -1);
  ck_assert_int_eq(err.code, CSVSTAGE_E_IO);
  ck_assert_msg(strstr(err.message, path) && strstr(err.message, "No such file or directory"),
                "%s", err.message);
  cs_rejects_discard(r);
  ck_assert_int_eq(mkdir(dir, 0700), 0);   /* for the teardown */
}
END_TEST

Suite *
make_rejects_suite(void)
{
  Suite *s = suite_create("rejects");
  TCase *tc = tcase_create("placing");

  tcase_add_checked_fixture(tc, setup, teardown);
  tcase_add_test(tc, nothing_is_seen_before_it_is_placed);
  tcase_add_test(tc, a_roll_back_puts_the_old_file_back);
  tcase_add_test(tc, a_roll_back_with_no_old_file_leaves_none);
  tcase_add_test(tc, a_commit_drops_the_old_file_or_keeps_it_aside);
  tcase_add_test(tc, no_rejects_removes_an_old_file_only_once_kept);
  tcase_add_test(tc, a_directory_gone_fails_the_placing_with_its_path);
  suite_add_tcase(s, tc);
  return s;
}
