/* validate.c: client-side proofs that a value is valid input for its type.
 * Each check accepts a strict subset of what the server's input function
 * accepts (the common spellings, read in one pass); everything else is
 * left to the server. */
#include <config.h>

#include <stdio.h>
#include <string.h>

#include "validate.h"

void
cs_type_parse(cs_type *t, const char *ft, int utf8)
{
  int a, b, end = 0;

  memset(t, 0, sizeof(*t));
  t->kind = CS_KIND_OTHER;
  t->utf8 = utf8;
  if (strcmp(ft, "text") == 0 || strcmp(ft, "character varying") == 0)
    t->kind = CS_KIND_TEXT;
  else if (sscanf(ft, "character varying(%d)%n", &a, &end) == 1 && ft[end] == '\0')
    t->kind = CS_KIND_VARCHAR, t->precision = a;
  else if (sscanf(ft, "character(%d)%n", &a, &end) == 1 && ft[end] == '\0')
    t->kind = CS_KIND_BPCHAR, t->precision = a;
  else if (strcmp(ft, "smallint") == 0)
    t->kind = CS_KIND_INT2;
  else if (strcmp(ft, "integer") == 0)
    t->kind = CS_KIND_INT4;
  else if (strcmp(ft, "bigint") == 0)
    t->kind = CS_KIND_INT8;
  else if (strcmp(ft, "numeric") == 0)
    t->kind = CS_KIND_NUMERIC, t->precision = 0;
  else if (sscanf(ft, "numeric(%d,%d)%n", &a, &b, &end) == 2 && ft[end] == '\0' &&
           a > 0 && b >= 0 && b <= a)
    t->kind = CS_KIND_NUMERIC, t->precision = a, t->scale = b;
  else if (strcmp(ft, "boolean") == 0)
    t->kind = CS_KIND_BOOL;
  else if (strcmp(ft, "date") == 0)
    t->kind = CS_KIND_DATE;
  else if (strncmp(ft, "timestamp", 9) == 0 &&
           (strstr(ft, " with time zone") || strstr(ft, " without time zone")))
    t->kind = CS_KIND_TIMESTAMP;
  else if (strcmp(ft, "uuid") == 0)
    t->kind = CS_KIND_UUID;
}

static int
is_digit(char c)
{
  return c >= '0' && c <= '9';
}

/* Characters in s: UTF-8 sequences, or bytes. */
static size_t
chars(const cs_type *t, const char *s, size_t n)
{
  size_t count = 0;

  if (!t->utf8)
    return n;
  for (size_t i = 0; i < n; i++)
    count += ((unsigned char)s[i] & 0xC0) != 0x80;
  return count;
}

/* Strips the spaces PostgreSQL's number and boolean input allows around a
 * value (it allows any isspace(); plain spaces are enough to prove). */
static void
strip_spaces(const char **s, size_t *n)
{
  while (*n > 0 && (*s)[0] == ' ')
    (*s)++, (*n)--;
  while (*n > 0 && (*s)[*n - 1] == ' ')
    (*n)--;
}

static cs_verdict
check_int(const cs_type *t, const char *s, size_t n, int64_t *ival)
{
  int neg = 0;
  uint64_t v = 0, limit;
  size_t i = 0, digits = 0;

  strip_spaces(&s, &n);
  if (n > 0 && (s[0] == '-' || s[0] == '+'))
    neg = s[0] == '-', i++;
  for (; i < n; i++, digits++) {
    if (!is_digit(s[i]) || digits >= 19)
      return CS_DOUBTFUL;   /* 0x1F, 1_000 (16+), or too long to prove */
    v = v * 10 + (uint64_t)(s[i] - '0');
  }
  if (digits == 0)
    return CS_DOUBTFUL;
  limit = t->kind == CS_KIND_INT2 ? 32767 : t->kind == CS_KIND_INT4 ? 2147483647
                                                                     : INT64_MAX;
  if (v > limit + (uint64_t)neg)
    return CS_DOUBTFUL;
  if (ival)
    *ival = neg ? (int64_t)(0 - v) : (int64_t)v;
  return CS_VALID;
}

static cs_verdict
check_numeric(const cs_type *t, const char *s, size_t n)
{
  size_t i = 0, intdigits = 0, fracdigits = 0;
  int seen_nonzero = 0, any = 0;

  strip_spaces(&s, &n);
  if (n > 0 && (s[0] == '-' || s[0] == '+'))
    i++;
  for (; i < n && is_digit(s[i]); i++) {
    any = 1;
    if (s[i] != '0')
      seen_nonzero = 1;
    if (seen_nonzero)
      intdigits++;   /* leading zeros do not count */
  }
  if (i < n && s[i] == '.')
    for (i++; i < n && is_digit(s[i]); i++)
      any = 1, fracdigits++;
  if (i != n || !any || intdigits > 1000 || fracdigits > 1000)
    return CS_DOUBTFUL;   /* 1e5, NaN, Infinity, 1_000: the server decides */
  if (t->precision == 0)
    return CS_VALID;
  /* Fewer integer digits than allowed: rounding cannot overflow. At the
   * limit, only when nothing is rounded (99.995 into (4,2) carries). */
  if ((int)intdigits < t->precision - t->scale ||
      ((int)intdigits == t->precision - t->scale && (int)fracdigits <= t->scale))
    return CS_VALID;
  return CS_DOUBTFUL;
}

/* boolin: after white space, a prefix of true/false/yes/no, or on, off,
 * of, 1, 0, in any case. */
static cs_verdict
check_bool(const char *s, size_t n)
{
  static const char *const words[] = {"true", "false", "yes", "no"};
  char low[8];

  strip_spaces(&s, &n);
  if (n == 0 || n > 5)
    return CS_DOUBTFUL;
  for (size_t i = 0; i < n; i++)
    low[i] = (char)(s[i] >= 'A' && s[i] <= 'Z' ? s[i] + 32 : s[i]);
  low[n] = '\0';
  if (strcmp(low, "1") == 0 || strcmp(low, "0") == 0 || strcmp(low, "on") == 0 ||
      strcmp(low, "of") == 0 || strcmp(low, "off") == 0)
    return CS_VALID;
  for (size_t w = 0; w < sizeof(words) / sizeof(words[0]); w++)
    if (strncmp(words[w], low, n) == 0 && strlen(words[w]) >= n)
      return CS_VALID;
  return CS_DOUBTFUL;
}

/* n digits at s as a number, or -1. */
static int
digits(const char *s, size_t n)
{
  int v = 0;

  for (size_t i = 0; i < n; i++) {
    if (!is_digit(s[i]))
      return -1;
    v = v * 10 + (s[i] - '0');
  }
  return v;
}

/* YYYY-MM-DD with a day the month has; returns the bytes read, or 0. */
static size_t
iso_date(const char *s, size_t n)
{
  static const int mdays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  int y, m, d, leap;

  if (n < 10 || s[4] != '-' || s[7] != '-')
    return 0;
  y = digits(s, 4), m = digits(s + 5, 2), d = digits(s + 8, 2);
  if (y < 1 || m < 1 || m > 12 || d < 1)
    return 0;
  leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
  if (d > mdays[m - 1] + (m == 2 && leap))
    return 0;
  return 10;
}

static cs_verdict
check_date(const char *s, size_t n)
{
  return n == 10 && iso_date(s, n) == 10 ? CS_VALID : CS_DOUBTFUL;
}

/* YYYY-MM-DD[( |T)HH:MM[:SS[.ffffff]]][Z|(+|-)HH[[:]MM]] */
static cs_verdict
check_timestamp(const char *s, size_t n)
{
  size_t i = iso_date(s, n);
  int h, mi, sec;

  if (i == 0)
    return CS_DOUBTFUL;
  if (i == n)
    return CS_VALID;
  if ((s[i] != ' ' && s[i] != 'T') || n - i < 6 || s[i + 3] != ':')
    return CS_DOUBTFUL;
  h = digits(s + i + 1, 2), mi = digits(s + i + 4, 2);
  if (h < 0 || h > 23 || mi < 0 || mi > 59)
    return CS_DOUBTFUL;
  i += 6;
  if (i < n && s[i] == ':') {
    if (n - i < 3 || (sec = digits(s + i + 1, 2)) < 0 || sec > 59)
      return CS_DOUBTFUL;
    i += 3;
    if (i < n && s[i] == '.') {
      size_t f = 0;
      for (i++; i < n && is_digit(s[i]); i++)
        f++;
      if (f == 0 || f > 6)
        return CS_DOUBTFUL;
    }
  }
  if (i == n)
    return CS_VALID;
  if (s[i] == 'Z')
    return i + 1 == n ? CS_VALID : CS_DOUBTFUL;
  if (s[i] == ' ')
    i++;
  if (i >= n || (s[i] != '+' && s[i] != '-'))
    return CS_DOUBTFUL;
  i++;
  if (n - i == 2 || n - i == 4 || (n - i == 5 && s[i + 2] == ':')) {
    h = digits(s + i, 2);
    mi = n - i == 2 ? 0 : digits(s + n - 2, 2);
    if (h >= 0 && h <= 15 && mi >= 0 && mi <= 59)
      return CS_VALID;
  }
  return CS_DOUBTFUL;
}

static int
is_hex(char c)
{
  return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

/* 8-4-4-4-12 hex digits, or 32 in a row. */
static cs_verdict
check_uuid(const char *s, size_t n)
{
  if (n == 36) {
    for (size_t i = 0; i < n; i++)
      if ((i == 8 || i == 13 || i == 18 || i == 23) ? s[i] != '-' : !is_hex(s[i]))
        return CS_DOUBTFUL;
    return CS_VALID;
  }
  if (n == 32) {
    for (size_t i = 0; i < n; i++)
      if (!is_hex(s[i]))
        return CS_DOUBTFUL;
    return CS_VALID;
  }
  return CS_DOUBTFUL;
}

cs_verdict
cs_value_check(const cs_type *t, const char *s, size_t n, int64_t *ival)
{
  switch (t->kind) {
  case CS_KIND_TEXT:
    return CS_VALID;
  case CS_KIND_VARCHAR:
  case CS_KIND_BPCHAR:
    /* Too long is an error unless the excess is spaces: the server says. */
    return chars(t, s, n) <= (size_t)t->precision ? CS_VALID : CS_DOUBTFUL;
  case CS_KIND_INT2:
  case CS_KIND_INT4:
  case CS_KIND_INT8:
    return check_int(t, s, n, ival);
  case CS_KIND_NUMERIC:
    return check_numeric(t, s, n);
  case CS_KIND_BOOL:
    return check_bool(s, n);
  case CS_KIND_DATE:
    return check_date(s, n);
  case CS_KIND_TIMESTAMP:
    return check_timestamp(s, n);
  case CS_KIND_UUID:
    return check_uuid(s, n);
  case CS_KIND_OTHER:
    break;
  }
  return CS_UNKNOWN;
}
