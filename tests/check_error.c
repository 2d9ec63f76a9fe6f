/* Tests for lib/error.c: codes, descriptions, first error wins. */
#include <config.h>

#include <string.h>

#include "error.h"
#include "tests.h"

START_TEST(clear_resets_everything)
{
  csvstage_error err;

  memset(&err, 'x', sizeof(err));
  csvstage_error_clear(&err);
  ck_assert_int_eq(err.code, CSVSTAGE_OK);
  ck_assert_str_eq(err.message, "");
  ck_assert_str_eq(err.sqlstate, "");
  ck_assert_int_eq(err.line, 0);
  ck_assert_int_eq(err.offset, -1);
  ck_assert(!cs_failed(&err));
  csvstage_error_clear(NULL);   /* accepted, no crash */
}
END_TEST

START_TEST(first_error_wins)
{
  csvstage_error err;

  csvstage_error_clear(&err);
  ck_assert_int_eq(cs_fail(&err, CSVSTAGE_E_IO, "cannot read %s", "a.csv"),
                   CSVSTAGE_E_IO);
  ck_assert_int_eq(cs_fail(&err, CSVSTAGE_E_DB, "later trouble"), CSVSTAGE_E_DB);
  ck_assert_int_eq(err.code, CSVSTAGE_E_IO);
  ck_assert_str_eq(err.message, "cannot read a.csv");
  ck_assert(cs_failed(&err));
}
END_TEST

START_TEST(null_error_struct_is_accepted)
{
  ck_assert_int_eq(cs_fail(NULL, CSVSTAGE_E_NOMEM, "x"), CSVSTAGE_E_NOMEM);
  ck_assert(!cs_failed(NULL));
}
END_TEST

START_TEST(every_code_has_its_own_description)
{
  int i, j;

  for (i = 0; i < CSVSTAGE_E_LAST; i++) {
    const char *d = csvstage_strerror((csvstage_code)i);
    ck_assert_ptr_nonnull(d);
    ck_assert_str_ne(d, "unknown error");
    for (j = 0; j < i; j++)
      ck_assert_str_ne(d, csvstage_strerror((csvstage_code)j));
  }
  ck_assert_str_eq(csvstage_strerror(CSVSTAGE_E_LAST), "unknown error");
  ck_assert_str_eq(csvstage_strerror((csvstage_code)-1), "unknown error");
}
END_TEST

START_TEST(long_message_is_cut_on_a_character_boundary)
{
  csvstage_error err;
  char text[3000];
  size_t i, n;

  /* "é" is two bytes: an odd buffer size would cut one in half. */
  for (i = 0; i + 2 < sizeof(text); i += 2)
    memcpy(text + i, "\xc3\xa9", 2);
  text[i] = '\0';
  csvstage_error_clear(&err);
  cs_fail(&err, CSVSTAGE_E_INVALID, "%s", text);
  n = strlen(err.message);
  ck_assert_uint_lt(n, sizeof(err.message));
  ck_assert_uint_gt(n, sizeof(err.message) - 4);
  ck_assert_uint_eq(n % 2, 0);
  ck_assert_int_eq((unsigned char)err.message[n - 1], 0xa9);
}
END_TEST

START_TEST(strlcpy_utf8_cuts_three_byte_characters_whole)
{
  char dst[6];

  /* "€" is three bytes: 5 bytes of room hold one, not one and two thirds. */
  cs_strlcpy_utf8(dst, "\xe2\x82\xac\xe2\x82\xac", sizeof(dst));
  ck_assert_str_eq(dst, "\xe2\x82\xac");
  cs_strlcpy_utf8(dst, NULL, sizeof(dst));
  ck_assert_str_eq(dst, "");
  cs_strlcpy_utf8(dst, "abc", sizeof(dst));
  ck_assert_str_eq(dst, "abc");
}
END_TEST

START_TEST(version_is_the_package_version)
{
  ck_assert_str_eq(csvstage_version(), PACKAGE_VERSION);
}
END_TEST

Suite *
make_error_suite(void)
{
  Suite *s = suite_create("error");
  TCase *tc = tcase_create("core");

  tcase_add_test(tc, clear_resets_everything);
  tcase_add_test(tc, first_error_wins);
  tcase_add_test(tc, null_error_struct_is_accepted);
  tcase_add_test(tc, every_code_has_its_own_description);
  tcase_add_test(tc, long_message_is_cut_on_a_character_boundary);
  tcase_add_test(tc, strlcpy_utf8_cuts_three_byte_characters_whole);
  tcase_add_test(tc, version_is_the_package_version);
  suite_add_tcase(s, tc);
  return s;
}
