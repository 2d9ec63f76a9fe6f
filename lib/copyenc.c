/* copyenc.c: records to COPY text-format rows.
 *
 * Text format rather than binary: the staging table is all text, so binary
 * would send the same bytes plus a 4-byte length per field and gain nothing
 * on the server, while text format is one escape scan on the client. */
#include <config.h>

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "copyenc.h"

int
cs_buf_reserve(cs_buf *b, size_t n)
{
  size_t cap;
  char *d;

  if (b->cap - b->len >= n)
    return 0;
  cap = b->cap ? b->cap : 64 * 1024;
  while (cap - b->len < n) {
    if (cap > SIZE_MAX / 2)
      return -1;
    cap *= 2;
  }
  d = realloc(b->data, cap);
  if (!d)
    return -1;
  b->data = d;
  b->cap = cap;
  return 0;
}

int
cs_buf_vprintf(cs_buf *b, const char *fmt, va_list ap)
{
  va_list again;
  int n;

  va_copy(again, ap);
  n = vsnprintf(NULL, 0, fmt, ap);
  if (n < 0 || cs_buf_reserve(b, (size_t)n + 1) != 0) {
    va_end(again);
    return -1;
  }
  vsnprintf(b->data + b->len, (size_t)n + 1, fmt, again);
  va_end(again);
  b->len += (size_t)n;
  return 0;
}

int
cs_buf_printf(cs_buf *b, const char *fmt, ...)
{
  va_list ap;
  int rc;

  va_start(ap, fmt);
  rc = cs_buf_vprintf(b, fmt, ap);
  va_end(ap);
  return rc;
}

/* What each byte becomes after a backslash, or 0 when it is copied as is. */
static const char escape_as[256] = {
  ['\\'] = '\\', ['\t'] = 't', ['\n'] = 'n', ['\r'] = 'r',
};

char *
cs_copy_escape(char *p, const char *s, size_t n)
{
  size_t i = 0, run = 0;

  while (i < n) {
    unsigned char c = (unsigned char)s[i];
    if (escape_as[c]) {
      memcpy(p, s + run, i - run);
      p += i - run;
      *p++ = '\\';
      *p++ = escape_as[c];
      run = i + 1;
    }
    i++;
  }
  memcpy(p, s + run, n - run);
  return p + (n - run);
}

/* Writes v in decimal at p; returns the end. */
static char *
put_number(char *p, unsigned long long v)
{
  char digits[24];
  int nd = 0;

  do
    digits[nd++] = (char)('0' + v % 10);
  while ((v /= 10) > 0);
  while (nd > 0)
    *p++ = digits[--nd];
  return p;
}

int
cs_copy_encode(cs_buf *out, const cs_record *rec, long long tail)
{
  size_t need = 48;   /* the line number, the tail, tabs, the final newline */
  char *p;
  int i;

  for (i = 0; i < rec->nfields; i++)
    need += 2 * rec->len[i] + 3;   /* every byte escaped, at worst */
  if (cs_buf_reserve(out, need) != 0)
    return -1;
  p = put_number(out->data + out->len, (unsigned long long)rec->line);
  for (i = 0; i < rec->nfields; i++) {
    *p++ = '\t';
    if (!rec->field[i]) {
      *p++ = '\\';
      *p++ = 'N';
    } else {
      p = cs_copy_escape(p, rec->field[i], rec->len[i]);
    }
  }
  if (tail >= 0) {
    *p++ = '\t';
    p = put_number(p, (unsigned long long)tail);
  }
  *p++ = '\n';
  out->len = (size_t)(p - out->data);
  return 0;
}

int
cs_buf_append(cs_buf *b, const char *s, size_t n)
{
  if (cs_buf_reserve(b, n + 1) != 0)
    return -1;
  memcpy(b->data + b->len, s, n);
  b->len += n;
  return 0;
}

int
cs_copy_split_row(char *row, size_t n, char **fields, size_t *lens, int max)
{
  char *in = row, *end = row + n, *out;
  int nf = 0;

  if (n > 0 && end[-1] == '\n')
    end--;
  for (;;) {
    char *start = in;
    int null = 0;
    out = in;
    if (end - in >= 2 && in[0] == '\\' && in[1] == 'N' && (end - in == 2 || in[2] == '\t')) {
      null = 1;
      in += 2;
    }
    while (!null && in < end && *in != '\t') {
      if (*in == '\\') {
        if (++in == end)
          return -1;
        switch (*in) {
        case 't': *out++ = '\t'; break;
        case 'n': *out++ = '\n'; break;
        case 'r': *out++ = '\r'; break;
        case 'b': *out++ = '\b'; break;   /* (the server's COPY TO writes these too) */
        case 'f': *out++ = '\f'; break;
        case 'v': *out++ = '\v'; break;
        case '\\': *out++ = '\\'; break;
        default: return -1;
        }
        in++;
      } else {
        *out++ = *in++;
      }
    }
    if (nf < max) {
      fields[nf] = null ? NULL : start;
      lens[nf] = null ? 0 : (size_t)(out - start);
    }
    nf++;
    if (in >= end)
      break;
    in++;   /* the tab */
  }
  return nf < max ? nf : max;
}
