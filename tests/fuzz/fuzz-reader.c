/*
 * fuzz-reader: libFuzzer target for the reader (lib/input.c, lib/reader.c,
 * lib/copyenc.c): bytes in, records and rejects out.
 *
 * The first two bytes choose the options (delimiter, quote, header, NULL
 * marker, encoding, a small field limit); the rest is the file, read from a
 * memfd through the same path a real file takes (gzip included). Beyond the
 * sanitizers' checks it asserts what the loader relies on: every record is
 * data or a reject, lines never go backwards, a reject says why, and the
 * counts add up.
 *
 *   ./configure --enable-fuzz CC=clang && make tests/fuzz/fuzz-reader
 *   tests/fuzz/fuzz-reader -max_total_time=60 CORPUS_DIR tests/fuzz/corpus
 */
#define _GNU_SOURCE 1   /* memfd_create */
#include <config.h>

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "copyenc.h"
#include "error.h"
#include "input.h"
#include "reader.h"

#define CHECK(c)                                                              \
  do {                                                                        \
    if (!(c)) {                                                               \
      fprintf(stderr, "fuzz-reader: %s:%d: %s\n", __FILE__, __LINE__, #c);   \
      abort();                                                                \
    }                                                                         \
  } while (0)

static int fd = -1;
static char path[64];

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  static const char delims[] = {',', ';', '\t', '|'};
  static const char *const nulls[] = {NULL, "\\N", "NULL", ""};
  cs_reader_opts o;
  csvstage_error err;
  cs_input *in;
  cs_reader *rd;
  cs_record rec;
  cs_reader_stats st;
  cs_buf out = {0};
  long long data_n = 0, rejects = 0, last_line = 0;
  int r;

  if (size < 2)
    return 0;
  if (fd < 0) {
    fd = memfd_create("fuzz-reader", 0);
    CHECK(fd >= 0);
    snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
  }
  CHECK(ftruncate(fd, 0) == 0);
  CHECK(pwrite(fd, data + 2, size - 2, 0) == (ssize_t)(size - 2));

  cs_reader_opts_init(&o);
  o.delimiter = delims[data[0] & 3];
  o.quote = (data[0] & 4) ? '\'' : '"';
  o.header = !(data[0] & 8);
  o.ncolumns = o.header ? 0 : (data[0] >> 4) & 3;   /* 0: as the first record */
  o.null_marker = nulls[data[1] & 3];
  o.encoding = (data[1] & 4) ? "LATIN1" : "UTF8";
  o.max_field = (data[1] & 8) ? 16 : 0;

  csvstage_error_clear(&err);
  in = cs_input_open(path, &err);
  if (!in) {
    /* a compressed file broken from its first bytes, or a zip with no
     * file in it, is refused at the open, with a reason */
    CHECK((err.code == CSVSTAGE_E_FORMAT || err.code == CSVSTAGE_E_PREFLIGHT) && err.message[0]);
    return 0;
  }
  rd = cs_reader_open(in, &o, &err);
  if (!rd) {
    CHECK(cs_failed(&err) && err.message[0]);
    cs_input_close(in);
    return 0;
  }
  while ((r = cs_reader_next(rd, &rec, &err)) == 1) {
    CHECK(rec.line >= 1 && rec.line >= last_line && rec.last_line >= rec.line);
    last_line = rec.line;
    if (rec.kind == CS_RECORD_REJECT) {
      rejects++;
      CHECK(rec.sqlstate && strlen(rec.sqlstate) == 5);
      CHECK(rec.message && rec.message[0]);
      CHECK(rec.raw || rec.raw_len == 0);
    } else {
      CHECK(rec.kind == CS_RECORD_DATA);
      CHECK(rec.nfields == cs_reader_ncolumns(rd));
      data_n++;
      out.len = 0;
      CHECK(cs_copy_encode(&out, &rec, -1) == 0);
      CHECK(out.len > 0 && out.data[out.len - 1] == '\n');
      /* One record is one COPY line: no raw newline inside. */
      CHECK(memchr(out.data, '\n', out.len - 1) == NULL);
    }
  }
  CHECK(r == 0 || (r < 0 && cs_failed(&err) && err.message[0]));
  cs_reader_get_stats(rd, &st);
  CHECK(st.records == data_n + rejects);
  CHECK(st.rejects == rejects);
  free(out.data);
  cs_reader_free(rd);
  cs_input_close(in);
  return 0;
}
