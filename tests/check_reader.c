/* Tests for lib/reader.c and lib/input.c: records, lines and rejects, from
 * the CSV rules and PostgreSQL's behaviour. */
#include <config.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#include "input.h"
#include "reader.h"
#include "tests.h"

/* Writes n bytes to a new temporary file; returns its path (static). */
static const char *
temp_file(const char *data, size_t n)
{
  static char path[64];
  int fd;

  strcpy(path, "/tmp/csvstage-reader-XXXXXX");
  fd = mkstemp(path);
  ck_assert_int_ge(fd, 0);
  ck_assert_int_eq(write(fd, data, n), (ssize_t)n);
  close(fd);
  return path;
}

/* The capacity put() gives a dump of n bytes: a power of two, at least 64. */
static size_t
dump_cap(size_t n)
{
  size_t cap = 64;

  while (cap < n)
    cap *= 2;
  return cap;
}

/* Appends to a growing dump string, doubling its capacity as needed. */
static void
put(char **out, size_t *len, const char *s, size_t n)
{
  if (!*out || dump_cap(*len + n + 1) > dump_cap(*len + 1))
    *out = realloc(*out, dump_cap(*len + n + 1));
  memcpy(*out + *len, s, n);
  *len += n;
  (*out)[*len] = '\0';
}

/* Shows control bytes visibly so expectations stay readable. */
static void
put_visible(char **out, size_t *len, const char *s, size_t n)
{
  size_t i;

  for (i = 0; i < n; i++) {
    char esc[8];
    unsigned char c = (unsigned char)s[i];
    if (c == '\n')
      put(out, len, "\\n", 2);
    else if (c == '\r')
      put(out, len, "\\r", 2);
    else if (c < 0x20 || c >= 0x7f) {
      snprintf(esc, sizeof(esc), "\\x%02x", c);
      put(out, len, esc, 4);
    } else
      put(out, len, s + i, 1);
  }
}

/*
 * Reads a file whole and describes it, one line per record:
 *   "L-M: f1|f2|<NULL>"                     a data record on lines L..M
 *   "L-M: !SQLSTATE message [raw]"          a reject, with its raw text
 * The header (when read) comes first as "H: c1|c2".
 */
static char *
dump_path(const char *path, const cs_reader_opts *opts, csvstage_error *errp)
{
  csvstage_error err;
  cs_input *in;
  cs_reader *r;
  cs_record rec;
  char *out = NULL, buf[64];
  size_t len = 0;
  int i, got;

  csvstage_error_clear(&err);
  put(&out, &len, "", 0);
  in = cs_input_open(path, &err);
  ck_assert_msg(in != NULL, "%s", err.message);
  r = cs_reader_open(in, opts, &err);
  if (!r) {
    put(&out, &len, "ERROR: ", 7);
    put(&out, &len, err.message, strlen(err.message));
    goto done;
  }
  if (cs_reader_ncolumns(r) > 0 && (!opts || opts->header)) {
    put(&out, &len, "H: ", 3);
    for (i = 0; i < cs_reader_ncolumns(r); i++) {
      if (i)
        put(&out, &len, "|", 1);
      put(&out, &len, cs_reader_column(r, i), strlen(cs_reader_column(r, i)));
    }
    put(&out, &len, "\n", 1);
  }
  while ((got = cs_reader_next(r, &rec, &err)) == 1) {
    snprintf(buf, sizeof(buf), "%lld-%lld: ", rec.line, rec.last_line);
    put(&out, &len, buf, strlen(buf));
    if (rec.kind == CS_RECORD_REJECT) {
      put(&out, &len, "!", 1);
      put(&out, &len, rec.sqlstate, strlen(rec.sqlstate));
      put(&out, &len, " ", 1);
      put(&out, &len, rec.message, strlen(rec.message));
      if (rec.detail[0]) {
        put(&out, &len, " (", 2);
        put(&out, &len, rec.detail, strlen(rec.detail));
        put(&out, &len, ")", 1);
      }
      put(&out, &len, " [", 2);
      put_visible(&out, &len, rec.raw, rec.raw_len);
      put(&out, &len, rec.raw_truncated ? "...]" : "]", rec.raw_truncated ? 4 : 1);
    } else {
      for (i = 0; i < rec.nfields; i++) {
        if (i)
          put(&out, &len, "|", 1);
        if (rec.field[i])
          put_visible(&out, &len, rec.field[i], rec.len[i]);
        else
          put(&out, &len, "<NULL>", 6);
      }
    }
    put(&out, &len, "\n", 1);
  }
  if (got < 0) {
    put(&out, &len, "ERROR: ", 7);
    put(&out, &len, err.message, strlen(err.message));
  }
done:
  if (errp)
    *errp = err;
  cs_reader_free(r);
  cs_input_close(in);
  return out;
}

static char *
dump_opts(const char *csv, size_t n, const cs_reader_opts *opts)
{
  const char *path = temp_file(csv, n);
  char *out = dump_path(path, opts, NULL);

  unlink(path);
  return out;
}

#define DUMP(csv) dump_opts((csv), sizeof(csv) - 1, NULL)
#define DUMPO(csv, o) dump_opts((csv), sizeof(csv) - 1, (o))
#define EXPECT(got, want)                                                    \
  do {                                                                       \
    char *g_ = (got);                                                        \
    ck_assert_str_eq(g_, (want));                                            \
    free(g_);                                                                \
  } while (0)

/* Reads path whole with o and returns its stats. */
static cs_reader_stats
stats_of(const char *path, const cs_reader_opts *o)
{
  csvstage_error err;
  cs_input *in;
  cs_reader *r;
  cs_record rec;
  cs_reader_stats st;

  csvstage_error_clear(&err);
  ck_assert_ptr_nonnull(in = cs_input_open(path, &err));
  ck_assert_ptr_nonnull(r = cs_reader_open(in, o, &err));
  while (cs_reader_next(r, &rec, &err) == 1)
    ;
  cs_reader_get_stats(r, &st);
  cs_reader_free(r);
  cs_input_close(in);
  return st;
}

START_TEST(plain_records_with_header)
{
  EXPECT(DUMP("id,name\n1,Ann\n2,Bob\n"),
         "H: id|name\n2-2: 1|Ann\n3-3: 2|Bob\n");
}
END_TEST

START_TEST(quoted_delimiters_and_escaped_quotes)
{
  EXPECT(DUMP("a,b\n\"x,y\",\"say \"\"hi\"\"\"\n"),
         "H: a|b\n2-2: x,y|say \"hi\"\n");
}
END_TEST

START_TEST(newlines_inside_quotes_count_as_lines)
{
  EXPECT(DUMP("a,b\n1,\"two\nlines\"\n2,\"three\r\nline\r\nnote\"\n3,x\n"),
         "H: a|b\n2-3: 1|two\\nlines\n4-6: 2|three\\r\\nline\\r\\nnote\n7-7: 3|x\n");
}
END_TEST

START_TEST(empty_unquoted_is_null_quoted_empty_is_empty)
{
  EXPECT(DUMP("a,b,c\n,\"\",x\n"), "H: a|b|c\n2-2: <NULL>||x\n");
}
END_TEST

START_TEST(configurable_null_marker)
{
  cs_reader_opts o;

  cs_reader_opts_init(&o);
  o.null_marker = "\\N";
  EXPECT(DUMPO("a,b,c\n\\N,,N\n", &o), "H: a|b|c\n2-2: <NULL>||N\n");
}
END_TEST

START_TEST(spaces_are_kept)
{
  EXPECT(DUMP("a,b\n\"x\" ,y\n"),
         "H: a|b\n2-2: !22P04 unexpected character after closing quote (a quote "
         "inside a quoted field must be doubled) [\"x\" ,y\\n]\n");
  EXPECT(DUMP("a,b\n  x ,\t\" y \"\n"),
         "H: a|b\n2-2: !22P04 quote character inside an unquoted field (quote the "
         "whole field and double the quote) [  x ,\\x09\" y \"\\n]\n");
  EXPECT(DUMP("a,b\n  x ,\" y \"\n"), "H: a|b\n2-2:   x | y \n");
}
END_TEST

START_TEST(bom_is_dropped)
{
  EXPECT(DUMP("\xEF\xBB\xBFid,name\n1,Ann\n"), "H: id|name\n2-2: 1|Ann\n");
}
END_TEST

START_TEST(crlf_and_cr_only_line_ends)
{
  EXPECT(DUMP("a,b\r\n1,x\r\n2,y\r\n"), "H: a|b\n2-2: 1|x\n3-3: 2|y\n");
  EXPECT(DUMP("a,b\r1,x\r2,y\r"), "H: a|b\n2-2: 1|x\n3-3: 2|y\n");
  EXPECT(DUMP("a,b\r1,x\n2,y\r\n3,z"), "H: a|b\n2-2: 1|x\n3-3: 2|y\n4-4: 3|z\n");
}
END_TEST

START_TEST(blank_lines_are_skipped_and_counted)
{
  csvstage_error err;
  const char *path = temp_file("a,b\n\n1,x\n\r\n\n2,y\n\n", 17);
  cs_input *in = cs_input_open(path, &err);
  cs_reader *r = cs_reader_open(in, NULL, &err);
  cs_record rec;
  cs_reader_stats st;

  ck_assert_int_eq(cs_reader_next(r, &rec, &err), 1);
  ck_assert_int_eq(rec.line, 3);
  ck_assert_int_eq(cs_reader_next(r, &rec, &err), 1);
  ck_assert_int_eq(rec.line, 6);
  ck_assert_int_eq(cs_reader_next(r, &rec, &err), 0);
  cs_reader_get_stats(r, &st);
  ck_assert_int_eq(st.records, 2);
  ck_assert_int_eq(st.rejects, 0);
  ck_assert_int_eq(st.blank_lines, 4);
  ck_assert_int_eq(st.lines, 7);
  cs_reader_free(r);
  cs_input_close(in);
  unlink(path);
}
END_TEST

START_TEST(last_line_without_newline)
{
  EXPECT(DUMP("a,b\n1,x\n2,y"), "H: a|b\n2-2: 1|x\n3-3: 2|y\n");
  EXPECT(DUMP("a,b\n1,\"x\ny\""), "H: a|b\n2-3: 1|x\\ny\n");
}
END_TEST

START_TEST(short_and_long_records_are_rejected)
{
  EXPECT(DUMP("a,b,c\n1,2\n1,2,3,4\n1,2,3\n"),
         "H: a|b|c\n"
         "2-2: !22P04 missing data for column \"c\" [1,2\\n]\n"
         "3-3: !22P04 extra data after last expected column [1,2,3,4\\n]\n"
         "4-4: 1|2|3\n");
}
END_TEST

/* ragged = pad: what a short record lacks is NULL, empty fields past the
 * last column (a delimiter ending every line) go, a field with text past
 * the last column is still extra data: nothing with a value is dropped. */
START_TEST(ragged_pad_fills_short_records_and_keeps_extra_data)
{
  static const char csv[] = "a,b,c\n1,2\n1,2,3,\n1,2,3,4\n1,2,3,,\n1\n1,\"\",\n";
  const char *path = temp_file(csv, sizeof(csv) - 1);
  cs_reader_opts o;
  cs_reader_stats st;

  cs_reader_opts_init(&o);
  o.ragged = 1;
  EXPECT(dump_path(path, &o, NULL),
         "H: a|b|c\n"
         "2-2: 1|2|<NULL>\n"
         "3-3: 1|2|3\n"
         "4-4: !22P04 extra data after last expected column [1,2,3,4\\n]\n"
         "5-5: 1|2|3\n"
         "6-6: 1|<NULL>|<NULL>\n"
         "7-7: 1||<NULL>\n");
  st = stats_of(path, &o);
  ck_assert_int_eq(st.short_records, 2);
  ck_assert_int_eq(st.long_records, 2);
  ck_assert_int_eq(st.rejects, 1);
  unlink(path);
  /* Without it, the same records are malformed. */
  o.ragged = 0;
  EXPECT(DUMPO("a,b,c\n1,2\n1,2,3,\n", &o),
         "H: a|b|c\n"
         "2-2: !22P04 missing data for column \"c\" [1,2\\n]\n"
         "3-3: !22P04 extra data after last expected column [1,2,3,\\n]\n");
}
END_TEST

START_TEST(comments_and_a_preamble_are_skipped_and_counted)
{
  /* A # inside a quoted field is data; lines keep their numbers. */
  static const char csv[] = "Title line\nSource: x\n# c1\na,b\n1,\"x\n# not a comment\"\n"
                            "# c2\r\n2,y\n#last";
  const char *path = temp_file(csv, sizeof(csv) - 1);
  cs_reader_opts o;
  cs_reader_stats st;

  cs_reader_opts_init(&o);
  o.skip = 2;
  o.comment = "#";
  EXPECT(dump_path(path, &o, NULL),
         "H: a|b\n"
         "5-6: 1|x\\n# not a comment\n"
         "8-8: 2|y\n");
  st = stats_of(path, &o);
  ck_assert_int_eq(st.records, 2);
  ck_assert_int_eq(st.comment_lines, 3);
  ck_assert_int_eq(st.skipped_lines, 2);
  ck_assert_int_eq(st.lines, 9);
  unlink(path);
  /* Without them, the title is the header and the rest is malformed. */
  o.skip = 0;
  o.comment = NULL;
  EXPECT(DUMPO("Title\n# c\na,b\n", &o),
         "H: Title\n2-2: # c\n3-3: !22P04 extra data after last expected column [a,b\\n]\n");
  /* The prefix may not be the delimiter. */
  o.comment = ",";
  EXPECT(DUMPO("a,b\n", &o), "ERROR: the comment prefix cannot hold a line end or start "
                             "with the delimiter or the quote");
}
END_TEST

START_TEST(a_comment_line_longer_than_the_buffer_is_skipped)
{
  size_t big = 700 * 1000;
  char *csv = malloc(big + 100), *got;
  size_t n = 0;
  cs_reader_opts o;

  n += (size_t)sprintf(csv + n, "a,b\n#");
  memset(csv + n, 'x', big);
  n += big;
  n += (size_t)sprintf(csv + n, "\n2,ok\n");
  cs_reader_opts_init(&o);
  o.comment = "#";
  o.max_field = 1000;   /* the buffer stays at its smallest */
  got = dump_opts(csv, n, &o);
  ck_assert_str_eq(got, "H: a|b\n3-3: 2|ok\n");
  free(got);
  free(csv);
}
END_TEST

START_TEST(quote_none_reads_every_byte_as_data)
{
  cs_reader_opts o;

  cs_reader_opts_init(&o);
  o.delimiter = '\t';
  o.quote = '\0';
  /* A quote opens nothing: no line is swallowed by one. */
  EXPECT(DUMPO("a\tb\n\"x\t\"y\"z\n\"open\tq\nnext\t1\n\"\"\t\n", &o),
         "H: a|b\n"
         "2-2: \"x|\"y\"z\n"
         "3-3: \"open|q\n"
         "4-4: next|1\n"
         "5-5: \"\"|<NULL>\n");
  /* A NUL is a bad byte like any other, never a quote: the next line is read. */
  o.delimiter = ',';
  EXPECT(dump_opts("a,b\n1,\0\"x\n2,ok\n", 15, &o),
         "H: a|b\n"
         "2-2: !22021 invalid byte sequence for encoding \"UTF8\": 0x00 (at byte 3 of line 2) "
         "[1,\\x00\"x\\n]\n"
         "3-3: 2|ok\n");
}
END_TEST

START_TEST(a_reject_file_is_read_as_csvstage_wrote_it)
{
  static const char csv[] = "_line,_sqlstate,x\n7,22P04,\"a,\"\"b\"\n";
  const char *path = temp_file(csv, sizeof(csv) - 1);
  cs_reader_opts o;

  cs_reader_opts_init(&o);
  o.quote = '\0';
  o.skip = 3;
  EXPECT(dump_path(path, &o, NULL), "H: _line|_sqlstate|x\n2-2: 7|22P04|a,\"b\n");
  ck_assert_int_eq(stats_of(path, &o).reject_file, 1);
  unlink(path);
}
END_TEST

START_TEST(unterminated_quote_is_reported_where_it_opened)
{
  EXPECT(DUMP("a,b\n1,x\n2,\"open\n3,y\n4,z\n"),
         "H: a|b\n2-2: 1|x\n3-5: !22P04 unterminated CSV quoted field "
         "[2,\"open\\n3,y\\n4,z\\n]\n");
}
END_TEST

START_TEST(reading_resumes_after_a_bad_quote)
{
  EXPECT(DUMP("a,b\n1,\"x\"y,\"q\nr\"\n2,ok\n3,in\"side\n4,ok\n"),
         "H: a|b\n"
         "2-3: !22P04 unexpected character after closing quote (a quote inside a "
         "quoted field must be doubled) [1,\"x\"y,\"q\\nr\"\\n]\n"
         "4-4: 2|ok\n"
         "5-5: !22P04 quote character inside an unquoted field (quote the whole "
         "field and double the quote) [3,in\"side\\n]\n"
         "6-6: 4|ok\n");
}
END_TEST

START_TEST(invalid_utf8_is_22021_with_its_offset)
{
  EXPECT(DUMP("a,b\n1,ok\n2,caf\xc3\x28\n3,\xff\n4,\xc3\xa9t\xc3\xa9\n"),
         "H: a|b\n2-2: 1|ok\n"
         "3-3: !22021 invalid byte sequence for encoding \"UTF8\": 0xc3 0x28 "
         "(at byte 6 of line 3) [2,caf\\xc3(\\n]\n"
         "4-4: !22021 invalid byte sequence for encoding \"UTF8\": 0xff "
         "(at byte 3 of line 4) [3,\\xff\\n]\n"
         "5-5: 4|\\xc3\\xa9t\\xc3\\xa9\n");
}
END_TEST

START_TEST(overlong_and_surrogate_utf8_are_invalid)
{
  EXPECT(DUMP("a\n\xc0\xaf\n\xed\xa0\x80\nok\n"),
         "H: a\n"
         "2-2: !22021 invalid byte sequence for encoding \"UTF8\": 0xc0 0xaf "
         "(at byte 1 of line 2) [\\xc0\\xaf\\n]\n"
         "3-3: !22021 invalid byte sequence for encoding \"UTF8\": 0xed 0xa0 0x80 "
         "(at byte 1 of line 3) [\\xed\\xa0\\x80\\n]\n"
         "4-4: ok\n");
}
END_TEST

START_TEST(other_encodings_are_not_checked_but_nul_is)
{
  cs_reader_opts o;

  cs_reader_opts_init(&o);
  o.encoding = "LATIN1";
  EXPECT(DUMPO("a\ncaf\xe9\nx\0y\n", &o),
         "H: a\n2-2: caf\\xe9\n"
         "3-3: !22021 invalid byte sequence for encoding \"LATIN1\": 0x00 "
         "(at byte 2 of line 3) [x\\x00y\\n]\n");
}
END_TEST

START_TEST(nul_byte_is_22021)
{
  EXPECT(DUMP("a,b\n1,x\0y\n2,z\n"),
         "H: a|b\n"
         "2-2: !22021 invalid byte sequence for encoding \"UTF8\": 0x00 "
         "(at byte 4 of line 2) [1,x\\x00y\\n]\n3-3: 2|z\n");
}
END_TEST

START_TEST(huge_field_is_rejected_in_bounded_memory)
{
  cs_reader_opts o;
  size_t big = 300 * 1000, i;
  char *csv = malloc(big + 100), *got;
  size_t n = 0;

  n += (size_t)sprintf(csv + n, "a,b\n1,\"");
  for (i = 0; i < big; i++)
    csv[n++] = (i % 1000 == 999) ? '\n' : 'x';
  n += (size_t)sprintf(csv + n, "\"\n2,ok\n");
  cs_reader_opts_init(&o);
  o.max_field = 100 * 1000;
  got = dump_opts(csv, n, &o);
  /* One reject for the whole multi-line record, at the line it started on,
   * then the next record on the line after its end. */
  ck_assert_msg(strncmp(got, "H: a|b\n2-302: !54000 field longer than the limit of 100000 bytes [1,\"xxx", 72) == 0,
                "%.200s", got);
  /* 300 kB is more than the reader keeps of one record: the start is shown */
  ck_assert_ptr_nonnull(strstr(got, "xxx...]\n303-303: 2|ok\n"));
  ck_assert_uint_lt(strlen(got), 100 * 1000);
  free(got);
  free(csv);
}
END_TEST

START_TEST(field_at_the_limit_is_accepted)
{
  cs_reader_opts o;

  cs_reader_opts_init(&o);
  o.max_field = 5;
  EXPECT(DUMPO("a\n12345\n123456\n\"12345\"\n", &o),
         "H: a\n2-2: 12345\n"
         "3-3: !54000 field longer than the limit of 5 bytes [123456\\n]\n"
         "4-4: 12345\n");
}
END_TEST

START_TEST(delimiter_and_quote_are_configurable)
{
  cs_reader_opts o;

  cs_reader_opts_init(&o);
  o.delimiter = ';';
  o.quote = '\'';
  EXPECT(DUMPO("a;b\n'x;y';\"z\"\n", &o), "H: a|b\n2-2: x;y|\"z\"\n");
  o.delimiter = '\t';
  o.quote = '"';
  EXPECT(DUMPO("a\tb\nx y\t\"1\t2\"\n", &o), "H: a|b\n2-2: x y|1\\x092\n");
}
END_TEST

START_TEST(same_delimiter_and_quote_is_refused)
{
  cs_reader_opts o;

  cs_reader_opts_init(&o);
  o.quote = ',';
  EXPECT(DUMPO("a\n", &o),
         "ERROR: the delimiter and the quote must differ and be neither CR nor LF");
}
END_TEST

START_TEST(no_header_columns_from_first_record)
{
  cs_reader_opts o;

  cs_reader_opts_init(&o);
  o.header = 0;
  EXPECT(DUMPO("1,x\n2,y\n3\n", &o),
         "1-1: 1|x\n2-2: 2|y\n3-3: !22P04 missing data for column \"2\" [3\\n]\n");
  o.ncolumns = 3;
  EXPECT(DUMPO("1,x,z\n", &o), "1-1: 1|x|z\n");
}
END_TEST

/* Fails unless got ends with ":1: " followed by want (the path comes first). */
static void
expect_header_error(char *got, const char *want)
{
  const char *p = strstr(got, ":1: ");

  ck_assert_msg(strncmp(got, "ERROR: /tmp/csvstage-reader-", 28) == 0 && p, "%s", got);
  ck_assert_str_eq(p + 4, want);
  free(got);
}

/* Empty and repeated header names are named as DuckDB names them (R's
 * write.csv leaves the row names' column unnamed), and counted. */
START_TEST(header_names_are_made_unique)
{
  static const char csv[] = "\"\",cond,age,cond\n1,a,3,b\n";
  const char *path;
  csvstage_error err;
  cs_input *in;
  cs_reader *r;
  cs_reader_stats st;

  EXPECT(DUMP("id,name,id\n1,a,b\n"), "H: id|name|id_1\n2-2: 1|a|b\n");
  EXPECT(DUMP("id,,x\n1,,3\n"), "H: id|column2|x\n2-2: 1|<NULL>|3\n");
  EXPECT(DUMP("a,a,a_1,\n1,2,3,4\n"), "H: a|a_2|a_1|column4\n2-2: 1|2|3|4\n");
  EXPECT(DUMP("column2,\n1,2\n"), "H: column2|column2_1\n2-2: 1|2\n");
  EXPECT(DUMP(csv), "H: column1|cond|age|cond_1\n2-2: 1|a|3|b\n");
  path = temp_file(csv, sizeof(csv) - 1);   /* temp_file's path is static */
  csvstage_error_clear(&err);
  ck_assert_ptr_nonnull(in = cs_input_open(path, &err));
  ck_assert_ptr_nonnull(r = cs_reader_open(in, NULL, &err));
  cs_reader_get_stats(r, &st);
  ck_assert_int_eq(st.renamed_columns, 2);
  cs_reader_free(r);
  cs_input_close(in);
  unlink(path);
}
END_TEST

START_TEST(header_problems_stop_the_read)
{
  expect_header_error(DUMP("id,\"open\n"),
                      "cannot read the header: unterminated CSV quoted field");
}
END_TEST

START_TEST(empty_and_header_only_inputs)
{
  EXPECT(DUMP(""), "");
  EXPECT(DUMP("\n\n"), "");
  EXPECT(DUMP("a,b\n"), "H: a|b\n");
  EXPECT(DUMP("a,b"), "H: a|b\n");
}
END_TEST

/* gzip helpers */
static size_t
gzip_bytes(const char *data, size_t n, unsigned char *out, size_t cap)
{
  z_stream zs;

  memset(&zs, 0, sizeof(zs));
  ck_assert_int_eq(deflateInit2(&zs, 6, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY), Z_OK);
  zs.next_in = (unsigned char *)data;
  zs.avail_in = (uInt)n;
  zs.next_out = out;
  zs.avail_out = (uInt)cap;
  ck_assert_int_eq(deflate(&zs, Z_FINISH), Z_STREAM_END);
  deflateEnd(&zs);
  return zs.total_out;
}

START_TEST(gzip_is_detected_by_content)
{
  unsigned char gz[256];
  size_t n = gzip_bytes("a,b\n1,x\n2,y\n", 12, gz, sizeof(gz));

  EXPECT(dump_opts((char *)gz, n, NULL), "H: a|b\n2-2: 1|x\n3-3: 2|y\n");
}
END_TEST

/* Only a whole magic number makes a file compressed: text that begins as
 * one would (bzip2's "BZh", zip's "PK") is a CSV like any other. */
START_TEST(text_that_looks_like_a_magic_number_is_plain)
{
  EXPECT(dump_opts("BZh9,b\n1,x\n", 11, NULL), "H: BZh9|b\n2-2: 1|x\n");
  EXPECT(dump_opts("PK,b\n1,x\n", 9, NULL), "H: PK|b\n2-2: 1|x\n");
  EXPECT(dump_opts("B\n", 2, NULL), "H: B\n");
}
END_TEST

/* zstd, as zstd(1) writes it (one frame of "a,b\n1,x\n", with its
 * checksum): known by its magic number, whatever the name; one byte of
 * the content changed is an error, not other data. */
START_TEST(zstd_is_detected_by_content)
{
  static const unsigned char zst[] = {
    0x28, 0xb5, 0x2f, 0xfd, 0x04, 0x58, 0x41, 0x00, 0x00, 0x61, 0x2c, 0x62,
    0x0a, 0x31, 0x2c, 0x78, 0x0a, 0x66, 0x03, 0x30, 0x1f};
  size_t n = sizeof(zst);

  unsigned char bad[sizeof(zst)];

  EXPECT(dump_opts((const char *)zst, n, NULL), "H: a|b\n2-2: 1|x\n");
  const char *path;
  csvstage_error e;
  cs_input *in;
  char buf[64];

  memcpy(bad, zst, n);
  bad[13] = '2';
  path = temp_file((const char *)bad, n);
  csvstage_error_clear(&e);
  /* small enough to be decoded, and found wrong, as it is opened */
  in = cs_input_open(path, &e);
  if (in) {
    while (cs_input_read(in, buf, sizeof(buf), &e) > 0)
      ;
    cs_input_close(in);
  }
  unlink(path);
  ck_assert_int_eq(e.code, CSVSTAGE_E_FORMAT);
  ck_assert_msg(strstr(e.message, "corrupt zstd data near byte 21") != NULL, "%s", e.message);
}
END_TEST

START_TEST(gzip_concatenated_members)
{
  unsigned char gz[512];
  size_t n = gzip_bytes("a,b\n1,x\n", 8, gz, sizeof(gz));

  n += gzip_bytes("2,y\n", 4, gz + n, sizeof(gz) - n);
  EXPECT(dump_opts((char *)gz, n, NULL), "H: a|b\n2-2: 1|x\n3-3: 2|y\n");
}
END_TEST

START_TEST(gzip_truncated_is_an_error_with_offset)
{
  static char csv[200000];
  unsigned char *gz = malloc(sizeof(csv));
  size_t i, n;
  csvstage_error err;
  const char *path;
  char *got;

  for (i = 0; i < sizeof(csv); i++)
    csv[i] = (i % 20 == 19) ? '\n' : (char)('a' + (i * 7919) % 26);
  memcpy(csv, "a\n", 2);
  n = gzip_bytes(csv, sizeof(csv), gz, sizeof(csv));
  path = temp_file((char *)gz, n / 2);
  got = dump_path(path, NULL, &err);
  unlink(path);
  ck_assert_int_eq(err.code, CSVSTAGE_E_FORMAT);
  ck_assert_int_eq(err.offset, (long long)(n / 2));
  ck_assert_ptr_nonnull(strstr(got, "truncated gzip data"));
  ck_assert_ptr_nonnull(strstr(got, path));
  {
    /* Every whole line before the cut was read, and the error names the
     * line the cut falls in: zlib itself says how far the half goes. */
    z_stream zs;
    long long whole = 0;
    char want[64];

    memset(&zs, 0, sizeof(zs));
    ck_assert_int_eq(inflateInit2(&zs, 16 + MAX_WBITS), Z_OK);
    zs.next_in = gz;
    zs.avail_in = (uInt)(n / 2);
    zs.next_out = (unsigned char *)csv;
    zs.avail_out = sizeof(csv);
    inflate(&zs, Z_SYNC_FLUSH);
    for (i = 0; i < sizeof(csv) - zs.avail_out; i++)
      whole += csv[i] == '\n';
    inflateEnd(&zs);
    ck_assert_int_gt(whole, 1000);
    ck_assert_int_eq(err.line, whole + 1);
    snprintf(want, sizeof(want), ":%lld: truncated gzip data", whole + 1);
    ck_assert_msg(strstr(err.message, want), "%s", err.message);
    snprintf(want, sizeof(want), "\n%lld-%lld: ", whole, whole);
    ck_assert_msg(strstr(got, want), "line %lld missing", whole);
  }
  free(got);
  /* Cut inside the 8-byte trailer: all data is there, the check is not. */
  path = temp_file((char *)gz, n - 3);
  got = dump_path(path, NULL, &err);
  unlink(path);
  ck_assert_int_eq(err.code, CSVSTAGE_E_FORMAT);
  ck_assert_ptr_nonnull(strstr(got, "truncated gzip data"));
  free(got);
  free(gz);
}
END_TEST

START_TEST(gzip_corrupt_is_an_error)
{
  unsigned char gz[512];
  size_t n = gzip_bytes("a,b\n1,x\n2,y\n3,z\n", 16, gz, sizeof(gz));
  csvstage_error err;
  char *got;

  gz[n - 6] ^= 0xff;   /* the CRC32 of the content */
  got = dump_opts((char *)gz, n, NULL);
  ck_assert_ptr_nonnull(strstr(got, "corrupt gzip data"));
  free(got);
  n = gzip_bytes("a\n1\n", 4, gz, sizeof(gz));
  memcpy(gz + n, "junk", 4);
  got = dump_opts((char *)gz, n + 4, NULL);
  ck_assert_ptr_nonnull(strstr(got, "trailing garbage at byte"));
  free(got);
  (void)err;
}
END_TEST

START_TEST(stdin_is_read_when_path_is_dash)
{
  int fds[2];
  pid_t pid;
  char *got;
  int saved;

  ck_assert_int_eq(pipe(fds), 0);
  pid = fork();
  if (pid == 0) {
    close(fds[0]);
    /* one byte at a time: the gzip sniffing must cope with short reads */
    const char *s = "a,b\n1,x\n";
    for (; *s; s++)
      if (write(fds[1], s, 1) != 1)
        _exit(1);
    _exit(0);
  }
  close(fds[1]);
  saved = dup(0);
  dup2(fds[0], 0);
  got = dump_path("-", NULL, NULL);
  dup2(saved, 0);
  close(saved);
  close(fds[0]);
  ck_assert_str_eq(got, "H: a|b\n2-2: 1|x\n");
  free(got);
}
END_TEST

START_TEST(missing_file_is_an_io_error)
{
  csvstage_error err;

  csvstage_error_clear(&err);
  ck_assert_ptr_null(cs_input_open("/nonexistent/x.csv", &err));
  ck_assert_int_eq(err.code, CSVSTAGE_E_IO);
  ck_assert_str_eq(err.message, "/nonexistent/x.csv: No such file or directory");
}
END_TEST

START_TEST(records_spanning_buffer_refills_keep_raw_text)
{
  /* Records far past the first 256 KiB buffer, a bad one among them. */
  size_t n = 0, i;
  char *csv = malloc(1 << 21), *got;

  n += (size_t)sprintf(csv + n, "id,v\n");
  for (i = 0; i < 40000; i++)
    n += (size_t)sprintf(csv + n, i == 30000 ? "%zu,\"bad\"x\n" : "%zu,\"v\n%zu\"\n", i, i);
  got = dump_opts(csv, n, NULL);
  ck_assert_ptr_nonnull(strstr(got, "\n60002-60002: !22P04 unexpected character after closing quote"));
  ck_assert_ptr_nonnull(strstr(got, "[30000,\"bad\"x\\n]\n60003-60004: 30001|v\\n30001\n"));
  ck_assert_ptr_nonnull(strstr(got, "\n79999-80000: 39999|v\\n39999\n"));
  free(got);
  free(csv);
}
END_TEST

START_TEST(wide_records_keep_every_field)
{
  /* More fields than the reader's first allocation (16), over many records:
   * the field arrays must grow, once, and hold every value. */
  size_t n = 0;
  char *csv = malloc(1 << 20), *got;
  int rec, c;

  for (c = 0; c < 40; c++)
    n += (size_t)sprintf(csv + n, c ? ",c%d" : "c%d", c);
  csv[n++] = '\n';
  for (rec = 0; rec < 100; rec++) {
    for (c = 0; c < 40; c++)
      n += (size_t)sprintf(csv + n, c ? ",%d.%d" : "%d.%d", rec, c);
    csv[n++] = '\n';
  }
  got = dump_opts(csv, n, NULL);
  ck_assert_ptr_nonnull(strstr(got, "\n2-2: 0.0|0.1|0.2|"));
  ck_assert_ptr_nonnull(strstr(got, "|99.38|99.39\n"));
  ck_assert_ptr_null(strstr(got, "!"));
  free(got);
  free(csv);
}
END_TEST

Suite *
make_reader_suite(void)
{
  Suite *s = suite_create("reader");
  TCase *tc = tcase_create("csv");
  TCase *tz = tcase_create("input");

  tcase_add_test(tc, plain_records_with_header);
  tcase_add_test(tc, quoted_delimiters_and_escaped_quotes);
  tcase_add_test(tc, newlines_inside_quotes_count_as_lines);
  tcase_add_test(tc, empty_unquoted_is_null_quoted_empty_is_empty);
  tcase_add_test(tc, configurable_null_marker);
  tcase_add_test(tc, spaces_are_kept);
  tcase_add_test(tc, bom_is_dropped);
  tcase_add_test(tc, crlf_and_cr_only_line_ends);
  tcase_add_test(tc, blank_lines_are_skipped_and_counted);
  tcase_add_test(tc, last_line_without_newline);
  tcase_add_test(tc, short_and_long_records_are_rejected);
  tcase_add_test(tc, ragged_pad_fills_short_records_and_keeps_extra_data);
  tcase_add_test(tc, comments_and_a_preamble_are_skipped_and_counted);
  tcase_add_test(tc, a_comment_line_longer_than_the_buffer_is_skipped);
  tcase_add_test(tc, quote_none_reads_every_byte_as_data);
  tcase_add_test(tc, a_reject_file_is_read_as_csvstage_wrote_it);
  tcase_add_test(tc, unterminated_quote_is_reported_where_it_opened);
  tcase_add_test(tc, reading_resumes_after_a_bad_quote);
  tcase_add_test(tc, invalid_utf8_is_22021_with_its_offset);
  tcase_add_test(tc, overlong_and_surrogate_utf8_are_invalid);
  tcase_add_test(tc, other_encodings_are_not_checked_but_nul_is);
  tcase_add_test(tc, nul_byte_is_22021);
  tcase_add_test(tc, huge_field_is_rejected_in_bounded_memory);
  tcase_add_test(tc, field_at_the_limit_is_accepted);
  tcase_add_test(tc, delimiter_and_quote_are_configurable);
  tcase_add_test(tc, same_delimiter_and_quote_is_refused);
  tcase_add_test(tc, no_header_columns_from_first_record);
  tcase_add_test(tc, header_problems_stop_the_read);
  tcase_add_test(tc, header_names_are_made_unique);
  tcase_add_test(tc, empty_and_header_only_inputs);
  tcase_add_test(tc, records_spanning_buffer_refills_keep_raw_text);
  tcase_add_test(tc, wide_records_keep_every_field);
  suite_add_tcase(s, tc);
  tcase_add_test(tz, gzip_is_detected_by_content);
  tcase_add_test(tz, text_that_looks_like_a_magic_number_is_plain);
  tcase_add_test(tz, zstd_is_detected_by_content);
  tcase_add_test(tz, gzip_concatenated_members);
  tcase_add_test(tz, gzip_truncated_is_an_error_with_offset);
  tcase_add_test(tz, gzip_corrupt_is_an_error);
  tcase_add_test(tz, stdin_is_read_when_path_is_dash);
  tcase_add_test(tz, missing_file_is_an_io_error);
  suite_add_tcase(s, tz);
  return s;
}
