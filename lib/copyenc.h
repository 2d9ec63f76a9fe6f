/* copyenc.h: records to COPY ... FROM STDIN data (private). */
#ifndef CSVSTAGE_COPYENC_H
#define CSVSTAGE_COPYENC_H

#include <stdarg.h>
#include <stddef.h>

#include "reader.h"

/* A growable byte buffer. Zero-initialise it; free data with free(). */
typedef struct cs_buf {
  char *data;
  size_t len;
  size_t cap;
} cs_buf;

/* Writes s (n bytes) at p escaped for COPY's text format: backslash, tab,
 * newline and carriage return as \\, \t, \n, \r. p must have room for
 * 2 * n bytes. Returns the end of what it wrote. */
char *cs_copy_escape(char *p, const char *s, size_t n);

/* Appends printf text to b (NUL-terminated after it, not counted in len).
 * Returns 0, or -1 when out of memory. */
int cs_buf_printf(cs_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int cs_buf_vprintf(cs_buf *b, const char *fmt, va_list ap);

/* Makes room for n more bytes. Returns 0, or -1 when out of memory. */
int cs_buf_reserve(cs_buf *b, size_t n);

/* Appends n bytes of s. Returns 0, or -1 when out of memory. */
int cs_buf_append(cs_buf *b, const char *s, size_t n);

/*
 * Splits one row of COPY text (as cs_copy_encode or the server's COPY TO
 * writes it, n bytes, the newline optional) into fields, in place: escapes
 * undone, \N a NULL (fields[i] NULL). Returns the number of fields (at most max; the rest
 * are left out), or -1 when the row is not COPY text.
 */
int cs_copy_split_row(char *row, size_t n, char **fields, size_t *lens, int max);

/*
 * Appends the record as one row of COPY's text format: the record's first
 * line number, then its fields, tab-separated, NULL as \N, and backslash,
 * tab, LF and CR escaped, so that any byte sequence (a lone "\." included)
 * reaches the server unchanged. Text format, not CSV: no quoting to get
 * wrong, and no end-of-data marker that a field could imitate. tail >= 0:
 * one more field after them, that number.
 * Returns 0, or -1 when out of memory.
 */
int cs_copy_encode(cs_buf *out, const cs_record *rec, long long tail);

#endif
