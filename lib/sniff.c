/* sniff.c: csvstage init FILE without a table or a server: the file's
 * dialect (delimiter, header, encoding) and, per column, the narrowest type
 * every sampled value is valid for, written as a commented config. The
 * client's own validators (validate.c) are the proof for each type, so
 * that what the config says loads does load. */
#include <config.h>

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "datefmt.h"
#include "error.h"
#include "pg.h"
#include "session.h"
#include "settings.h"
#include "fixes.h"
#include "input.h"
#include "reader.h"
#include "utf8.h"
#include "validate.h"

#define HEAD_BYTES (1 << 20)   /* read to tell the dialect */
#define MAX_COLUMNS 256

/* The types tried, narrowest first (each one's values are the next's).
 * No smallint or integer: a sample cannot prove that a later value fits
 * (a 1,001st id of 40000 would be rejected); bigint costs little. */
enum { T_BOOLEAN, T_BIGINT, T_NUMERIC, T_DATE, T_TIMESTAMP, T_TIMESTAMPTZ, T_UUID, NTYPES };
static const char *const TYPES[NTYPES] = {"boolean", "bigint", "numeric", "date",
                                          "timestamp without time zone",
                                          "timestamp with time zone", "uuid"};

typedef struct column {
  char name[256];
  long long values, blanks, markers;
  long long eu, us, eu_int, us_int;   /* values read as 1.234,5 or 1,234.5 (or
                                         plain), and as integers so */
  long long eu_only, us_only;         /* values only one of them reads */
  long long words;                    /* values that are words for true or
                                         false (PostgreSQL's, or others') */
  long long zeros;                    /* numbers written with leading zeros
                                         (00501: a code, not a number) */
  long long offsets;                  /* times with a UTC offset (-08:00, Z) */
  int truths;                         /* 1: a word for false seen, 2: for true */
  char yes[4][16], no[4][16];         /* the other words seen */
  int nyes, nno;
  int holds[NTYPES];         /* every value so far valid for TYPES[k] */
  cs_df_guess dates;         /* the date layouts every value is written in */
  char markers_seen[4][8];   /* the NULL markers seen (N/A, -) */
  int nmarkers;
  char first[64];            /* a value, for the comment */
} column;

typedef struct out_buf {
  char *s;
  size_t len, cap;
  int failed;
} out_buf;

static void
put(out_buf *b, const char *fmt, ...)
{
  va_list ap;
  int n;

  if (b->failed)
    return;
  for (;;) {
    va_start(ap, fmt);
    n = vsnprintf(b->s + b->len, b->cap - b->len, fmt, ap);
    va_end(ap);
    if (n < 0) {
      b->failed = 1;
      return;
    }
    if ((size_t)n < b->cap - b->len) {
      b->len += (size_t)n;
      return;
    }
    char *g = realloc(b->s, b->cap * 2 + (size_t)n + 1);
    if (!g) {
      b->failed = 1;
      return;
    }
    b->s = g;
    b->cap = b->cap * 2 + (size_t)n + 1;
  }
}

/* ---- the dialect ----------------------------------------------------------- */

#define SCAN_RECORDS 200

/* The first records of the head as one dialect splits them. */
typedef struct scan {
  int n;                       /* records (blank lines aside) */
  int width[SCAN_RECORDS];     /* fields */
  int filled[SCAN_RECORDS];    /* fields up to the last one not empty */
  int hash[SCAN_RECORDS];      /* the record starts with # */
  long line[SCAN_RECORDS];     /* its first physical line */
  int strays;                  /* quotes CSV quoting cannot read */
  int needed;                  /* quoted fields that hold the delimiter, a
                                  line end or a doubled quote, closed well */
  long stray_line;             /* the first stray's line */
  int mode, often;             /* the most common width (not # records) */
} scan;

/*
 * Splits the head s[0..n) into records with delimiter d and quote q ('\0':
 * none), as a strict CSV reader would, but never stopping: a stray quote is
 * counted and read on as data. When the head is cut (more follows), its
 * last record is left out.
 */
static void
scan_records(const char *s, size_t n, int cut, char d, char q, scan *sc)
{
  enum { START, UNQUOTED, QUOTED, AFTER_QUOTE } st = START;
  long line = 1;
  int width = 0, filled = 0, field_len = 0, holds = 0, at_record = 1;

  memset(sc, 0, sizeof(*sc));
  for (size_t i = 0; i <= n && sc->n < SCAN_RECORDS; i++) {
    int end = i == n;
    char c = end ? '\n' : s[i];
    int eol = c == '\n' || c == '\r';
    if (end && (cut || at_record))
      break;
    if (st == QUOTED) {
      if (c == q)
        st = AFTER_QUOTE;
      else if (eol) {
        holds = 1;
        if (c == '\n' || i + 1 >= n || s[i + 1] != '\n')
          line++;
      } else if (c == d)
        holds = 1;
      field_len++;
      continue;
    }
    if (st == AFTER_QUOTE) {
      if (c == q && !end) {
        st = QUOTED, holds = 1, field_len++;
        continue;
      }
      if (c != d && !eol) {   /* "ab"c: read on as data */
        if (!sc->strays++)
          sc->stray_line = line;
        st = UNQUOTED, field_len++;
        continue;
      }
      sc->needed += holds;
    }
    if (eol) {
      if (at_record) {        /* a blank line */
        if (c == '\n' || i + 1 >= n || s[i + 1] != '\n')
          line++;
        continue;
      }
      width++;
      filled = field_len ? width : filled;
      sc->width[sc->n] = width, sc->filled[sc->n] = filled;
      sc->n++;
      width = filled = field_len = holds = 0;
      at_record = 1, st = START;
      if (c == '\n' || i + 1 >= n || s[i + 1] != '\n')
        line++;
      continue;
    }
    if (at_record) {
      at_record = 0;
      sc->line[sc->n] = line;
      sc->hash[sc->n] = c == '#';
    }
    if (c == d) {
      width++;
      filled = field_len ? width : filled;
      field_len = holds = 0, st = START;
    } else if (q && c == q && st == START) {
      st = QUOTED, field_len++;
    } else {
      if (q && c == q && !sc->strays++)
        sc->stray_line = line;
      st = UNQUOTED, field_len++;
    }
  }
  for (int a = 0; a < sc->n; a++) {
    int k = 0;
    if (sc->hash[a])
      continue;
    for (int b = 0; b < sc->n; b++)
      k += !sc->hash[b] && sc->width[b] == sc->width[a];
    if (k > sc->often || (k == sc->often && sc->width[a] > sc->mode))
      sc->mode = sc->width[a], sc->often = k;
  }
}

/* How many records split into the most common width, when that is two
 * fields or more: the evidence for a delimiter. */
static int
consistency(const scan *sc)
{
  return sc->mode >= 2 ? sc->often : 0;
}

/* The dialect of the head: delimiter, quote, comment lines, preamble. */
typedef struct dialect {
  char delimiter, quote;       /* quote '\0': none */
  int fields;                  /* on most records */
  int strays;                  /* with quote ", stray quotes seen */
  long stray_line;
  int comments;                /* # lines taken for comments */
  long skip;                   /* preamble lines */
  int preamble;                /* records in them */
  int widest;                  /* the most fields two records or more have */
} dialect;

/*
 * The delimiter among , ; tab | that splits the first records into the
 * same number of fields most often. The quote " unless the file does not
 * use it: quotes it cannot read (a" or "a"b) and no quoted field that needs
 * them, or the file splits more evenly without. Lines starting with # are
 * comments when none of them splits like the records do (a "#CHROM" header
 * after ## lines does: those lines are a preamble then). Records before the
 * first one of the common width with at most half its fields filled (a
 * title, a "Source:" line) are a preamble: skip.
 */
static void
find_dialect(const char *s, size_t n, int cut, dialect *dl)
{
  static const char candidates[] = ",;\t| ";
  scan sc, best, none;
  int best_score = -1;

  memset(&best, 0, sizeof(best));
  memset(dl, 0, sizeof(*dl));
  dl->delimiter = ',';
  dl->quote = '"';
  dl->fields = 1;
  for (int c = 0; candidates[c]; c++) {
    scan_records(s, n, cut, candidates[c], '"', &sc);
    int score = consistency(&sc), records = 0;
    for (int i = 0; i < sc.n; i++)
      records += !sc.hash[i];
    /* A space splits any text: only when nearly every record splits so
     * (5 162 60, one space between numbers) is it the delimiter. */
    if (candidates[c] == ' ' && score * 10 < records * 9)
      continue;
    if (score > best_score) {
      best_score = score, best = sc;
      dl->delimiter = candidates[c];
    }
  }
  scan_records(s, n, cut, dl->delimiter, '\0', &none);
  if (best.strays && (consistency(&none) > consistency(&best) ||
                      (!best.needed && consistency(&none) >= consistency(&best)))) {
    dl->quote = '\0';
    dl->strays = best.strays, dl->stray_line = best.stray_line;
    best = none;
  }
  if (best.mode >= 2)
    dl->fields = best.mode;
  else if (best.n)
    dl->fields = best.width[0];

  int fit = 0, misfit = 0, leading = 0;
  for (int i = 0; i < best.n; i++) {
    if (!best.hash[i])
      continue;
    if (best.width[i] == best.mode)
      fit++;
    else
      misfit++;
    leading += leading == i;
  }
  if (fit == 1 && leading == fit + misfit && best.width[leading - 1] == best.mode) {
    dl->skip = best.line[leading - 1] - 1;   /* ## lines, then a #NAME header */
    dl->preamble = leading - 1;
    return;
  }
  if (misfit > fit)   /* "#codes<TAB>coordinates<TAB>TZ" among them is a comment too */
    dl->comments = misfit + fit;
  /* The widest records, when more than one is so wide: a file without a
   * header has as many columns (zone.tab's last column is often left out). */
  for (int i = 0; i < best.n; i++) {
    int k = 0;
    for (int j = 0; j < best.n && k < 2; j++)
      k += !best.hash[j] && best.width[j] == best.width[i];
    if (!best.hash[i] && k >= 2 && best.width[i] > dl->widest)
      dl->widest = best.width[i];
  }
  if (best.mode < 2)
    return;
  /* Widths up to the last filled field: "1,2,3," under "a,b,c" is as wide. */
  int filled = 0, often = 0;
  for (int a = 0; a < best.n; a++) {
    int k = 0;
    for (int b = 0; b < best.n; b++)
      k += !best.hash[b] && best.filled[b] == best.filled[a];
    if (!best.hash[a] && (k > often || (k == often && best.filled[a] > filled)))
      filled = best.filled[a], often = k;
  }
  int first = 0;
  while (first < best.n && first < 10 &&
         (best.hash[first] ? dl->comments : best.filled[first] * 2 <= filled))
    first++;
  int pre = 0;
  for (int i = 0; i < first; i++)
    pre += !best.hash[i];
  if (pre && first < best.n && best.filled[first] == filled) {
    dl->skip = best.line[first] - 1;
    dl->preamble = pre;
  }
}

/* UTF8 when every byte read is valid UTF-8 (a sequence cut by the end of
 * what was read aside); else WIN1252 when bytes 0x80-0x9F occur (printable
 * there, control characters in LATIN1), else LATIN1. *sure: UTF-8 only. */
static const char *
find_encoding(const char *s, size_t n, int *sure)
{
  size_t i = 0;
  int c1 = 0, bad = 0;

  while (i < n) {
    unsigned char c = (unsigned char)s[i];
    if (c < 0x80) {
      i++;
      continue;
    }
    size_t k = cs_utf8_seq((const unsigned char *)s + i, n - i);
    if (k == 0) {
      if (n - i < 4)
        break;   /* cut by the end of what was read */
      bad = 1;
      c1 |= c >= 0x80 && c <= 0x9f;
      i++;
    } else {
      i += k;
    }
  }
  if (!bad) {
    *sure = 1;
    return "UTF8";
  }
  for (i = 0; i < n && !c1; i++)
    c1 = (unsigned char)s[i] >= 0x80 && (unsigned char)s[i] <= 0x9f;
  *sure = 0;
  return c1 ? "WIN1252" : "LATIN1";
}

/* A valid PostgreSQL boolean's value (true, yes, on, 1 and their
 * prefixes: 1; the others 0). */
static int
pg_truth(const char *t)
{
  while (*t == ' ' || *t == '\t')
    t++;
  switch (*t | 0x20) {
  case 't': case 'y': case '1' | 0x20:
    return 1;
  case 'o':
    return (t[1] | 0x20) == 'n';
  default:
    return 0;
  }
}

/* Whether t (n bytes) is a number written with a leading zero: 00501,
 * -007, 01.5 (not 0, 0.5 or 0,5). */
static int
leading_zero(const char *t, size_t n)
{
  size_t i = t[0] == '-' || t[0] == '+';

  if (i + 1 >= n || t[i] != '0' || t[i + 1] < '0' || t[i + 1] > '9')
    return 0;
  while (i < n && t[i] >= '0' && t[i] <= '9')
    i++;
  if (i < n && (t[i] == '.' || t[i] == ',')) {
    i++;
    if (i == n)
      return 0;
    while (i < n && t[i] >= '0' && t[i] <= '9')
      i++;
  }
  return i == n;
}

/* Whether t (n bytes), a time of day after a date, ends with a UTC offset:
 * Z, +01, -08:00, +0530. The server's timestamp without time zone drops
 * it silently. */
static int
has_offset(const char *t, size_t n)
{
  size_t d = 0;

  if (!memchr(t, ':', n))
    return 0;   /* no time: 2024-01-01's -01 is the day */
  if (n > 1 && (t[n - 1] == 'Z' || t[n - 1] == 'z') && t[n - 2] >= '0' && t[n - 2] <= '9')
    return 1;
  while (d < n && d < 5 && ((t[n - 1 - d] >= '0' && t[n - 1 - d] <= '9') || t[n - 1 - d] == ':'))
    d++;
  return d >= 2 && d < n && (t[n - 1 - d] == '+' || t[n - 1 - d] == '-') &&
         strchr(t, ':') < t + n - 1 - d;
}

/* Counts one value of column c. */
static void
sniff_value(column *c, const cs_type *types, const char *v, size_t n)
{
  char t[256];
  size_t was = n;

  while (n > 0 && (*v == ' ' || *v == '\t'))
    v++, n--;
  while (n > 0 && (v[n - 1] == ' ' || v[n - 1] == '\t'))
    n--;
  if (n == 0) {
    c->blanks++;
    /* A quoted "" is an empty string, not NULL: a typed column refuses
     * it unless nullif says "" (an empty unquoted field is NULL already). */
    int seen = 0;
    for (int i = 0; i < c->nmarkers; i++)
      seen |= c->markers_seen[i][0] == '\0';
    if (was == 0 && !seen && c->nmarkers < 4)
      c->markers_seen[c->nmarkers++][0] = '\0';
    c->markers += was == 0;
    return;
  }
  if (n >= sizeof(t))
    n = sizeof(t) - 1;
  memcpy(t, v, n);
  t[n] = '\0';
  c->values++;
  if (!c->first[0])
    snprintf(c->first, sizeof(c->first), "%.40s", t);
  if (cs_is_null_marker(t)) {
    int seen = 0;
    for (int i = 0; i < c->nmarkers; i++)
      seen |= strcmp(c->markers_seen[i], t) == 0;
    if (!seen && c->nmarkers < 4 && n < sizeof(c->markers_seen[0]))
      snprintf(c->markers_seen[c->nmarkers++], sizeof(c->markers_seen[0]), "%s", t);
    c->markers++;
    c->values--;
    return;
  }
  cs_df_guess_add(&c->dates, t, n);
  for (int k = 0; k < NTYPES; k++) {
    int64_t ival;
    if (c->holds[k] && cs_value_check(&types[k], t, n, &ival) != CS_VALID)
      c->holds[k] = 0;
  }
  c->zeros += leading_zero(t, n);
  c->offsets += c->holds[T_TIMESTAMPTZ] && has_offset(t, n);
  {
    int plain = strspn(t, "0123456789") == n ||
                ((t[0] == '-' || t[0] == '+') && n > 1 && strspn(t + 1, "0123456789") == n - 1);
    /* 0 and 1 are numbers: a boolean column is one of words only */
    if (plain)
      c->holds[T_BOOLEAN] = 0;
    int eu = cs_number_fits(t, ',', '.', 0), us = cs_number_fits(t, '.', ',', 0);
    c->eu += eu || plain;
    c->us += us || plain;
    c->eu_int += cs_number_fits(t, ',', '.', 1) || plain;
    c->us_int += cs_number_fits(t, '.', ',', 1) || plain;
    c->eu_only += eu && !us;
    c->us_only += us && !eu;
  }
  {
    int64_t ival;
    int w = cs_bool_word(t), pg = cs_value_check(&types[0], t, n, &ival) == CS_VALID;
    c->words += w >= 0 || pg;
    if (w >= 0)
      c->truths |= 1 << w;
    else if (pg)
      c->truths |= 1 << pg_truth(t);
    if (w >= 0 && strlen(t) < 16) {
      char (*list)[16] = w ? c->yes : c->no;
      int *nl = w ? &c->nyes : &c->nno, seen = 0;
      for (int i = 0; i < *nl; i++)
        seen |= strcasecmp(list[i], t) == 0;
      if (!seen && *nl < 4)
        snprintf(list[(*nl)++], 16, "%s", t);
    }
  }
}

/* The column's type: with the file's way of writing numbers (style: 'e'
 * 1.234,5, 'u' 1,234.5, 0 none), a number column whose every value it
 * reads; else the narrowest type that holds every value; a date or
 * timestamp in a layout that fits every value (*format: its pattern);
 * else text. */
static const char *
column_type(const column *c, char style, const char **why, const char **format)
{
  int timed, ambiguous;

  *why = "";
  *format = NULL;
  if (c->values == 0)
    return *why = "no value in the sample", "text";
  if (c->zeros > 0 && (c->holds[T_BIGINT] || c->holds[T_NUMERIC] ||
                       (style && (style == 'e' ? c->eu : c->us) == c->values)))
    return *why = "leading zeros: a code, kept as written", "text";
  /* 10.97 reads the same in the style 1,234.5: no evidence of it, and no
   * thousands separator to propose; in a file written 1.234,5 the same
   * 1.000 is a thousand. */
  if (style && !c->holds[T_BOOLEAN] && !c->holds[T_BIGINT] &&
      (style == 'e' || !c->holds[T_NUMERIC]) &&
      (style == 'e' ? c->eu : c->us) == c->values) {
    *why = style == 'e' ? "written 1.234,5" : "written 1,234.5";
    return (style == 'e' ? c->eu_int : c->us_int) == c->values ? "bigint" : "numeric";
  }
  if (c->holds[T_TIMESTAMP] && c->offsets > 0)
    return *why = "with UTC offsets", "timestamp with time zone";
  /* A boolean needs both of its words in the sample: a column of x or of
   * yes alone may hold anything else later. */
  for (int k = 0; k < NTYPES; k++)
    if (c->holds[k] && (k != T_BOOLEAN || c->truths == 3))
      return TYPES[k];
  if (c->words == c->values && c->nyes + c->nno > 0 && c->truths == 3)
    return *why = "words for true and false", "boolean";
  if ((*format = cs_df_guess_best(&c->dates, &timed, &ambiguous))) {
    *why = ambiguous ? "a guess: day and month swapped fit every value too" : "its format";
    return timed ? "timestamp without time zone" : "date";
  }
  return "text";
}

/* Adds the first record's counts to the column's (the first is data). */
static void
merge_first(column *c, const column *first)
{
  c->values += first->values, c->blanks += first->blanks;
  c->markers += first->markers;
  c->eu += first->eu, c->us += first->us, c->eu_int += first->eu_int;
  c->us_int += first->us_int, c->eu_only += first->eu_only;
  c->us_only += first->us_only, c->words += first->words;
  c->truths |= first->truths;
  c->zeros += first->zeros, c->offsets += first->offsets;
  for (int k = 0; k < NTYPES; k++)
    c->holds[k] &= first->holds[k] || first->values == 0;
  c->dates.values += first->dates.values;
  for (int k = 0; k < CS_DF_CANDIDATES; k++) {
    c->dates.fits[k] += first->dates.fits[k];
    c->dates.holds[k] &= first->dates.holds[k];
  }
  for (int i = 0; i < first->nmarkers; i++) {
    int seen = 0;
    for (int j = 0; j < c->nmarkers; j++)
      seen |= strcmp(c->markers_seen[j], first->markers_seen[i]) == 0;
    if (!seen && c->nmarkers < 4)
      memcpy(c->markers_seen[c->nmarkers++], first->markers_seen[i], sizeof(c->markers_seen[0]));
  }
}

/* What sniff() found. */
typedef struct sniffed {
  dialect dl;                /* delimiter, quote, comments, preamble */
  const char *encoding;
  int sure;                  /* the encoding is valid UTF-8 */
  int header, typed_cols;
  int year_names;            /* the header names years (country,1960,1961) */
  int renamed;               /* header names made up or suffixed */
  long records;              /* sampled, the header aside */
  int whole;                 /* the sample is the whole file */
  long long short_records;   /* records that lack fields (ragged = pad) */
  long long long_records;    /* ... that end with empty fields past the header */
  char style;                /* numbers: 'e' 1.234,5, 'u' 1,234.5, 0 */
  int ncols;
  column *cols;              /* per column: its values' counts */
  column *first;             /* the first record's (its names) */
} sniffed;

static void
sniffed_free(sniffed *sn)
{
  free(sn->cols);
  free(sn->first);
}

/* The column's name: the header's, or column1, column2, ... */
static const char *
column_name(const sniffed *sn, int i, char *buf, size_t n)
{
  if (sn->header)
    return sn->first[i].name;
  snprintf(buf, n, "column%d", i + 1);
  return buf;
}

/* The year a name or value is (1800-2100, four digits), else 0. */
static int
year(const char *t)
{
  if (strlen(t) != 4 || strspn(t, "0123456789") != 4)
    return 0;
  int y = atoi(t);
  return y >= 1800 && y <= 2100 ? y : 0;
}

static csvstage_code
sniff(const char *path, long long sample, sniffed *sn, csvstage_error *err)
{
  cs_input *in = NULL;
  cs_reader *rd = NULL;
  cs_reader_opts o;
  cs_record rec;
  char *head = NULL;
  long n = 0, records = 0;
  int more, ncols = 0;
  column *cols, *first;
  cs_type types[NTYPES];
  csvstage_code rc = CSVSTAGE_OK;

  memset(sn, 0, sizeof(*sn));
  if (sample <= 0)
    sample = 20000;
  if (!(head = malloc(HEAD_BYTES)) || !(sn->cols = calloc(MAX_COLUMNS, sizeof(column))) ||
      !(sn->first = calloc(MAX_COLUMNS, sizeof(column))))
    goto nomem;
  cols = sn->cols, first = sn->first;
  if (!(in = cs_input_open(path, err)))
    goto fail;
  for (long r; n < HEAD_BYTES && (r = cs_input_read(in, head + n, HEAD_BYTES - (size_t)n, err)) != 0;
       n += r)
    if (r < 0)
      goto fail;
  cs_input_close(in);
  in = NULL;
  find_dialect(head, (size_t)n, n == HEAD_BYTES, &sn->dl);
  sn->encoding = find_encoding(head, (size_t)n, &sn->sure);

  for (int k = 0; k < NTYPES; k++)
    cs_type_parse(&types[k], TYPES[k], strcmp(sn->encoding, "UTF8") == 0);
  if (!(in = cs_input_open(path, err)))
    goto fail;
  cs_reader_opts_init(&o);
  o.delimiter = sn->dl.delimiter;
  o.quote = sn->dl.quote;
  o.comment = sn->dl.comments ? "#" : NULL;
  o.skip = sn->dl.skip;
  o.encoding = sn->encoding;
  o.header = 0;
  o.ncolumns = sn->dl.widest < MAX_COLUMNS ? sn->dl.widest : MAX_COLUMNS;
  o.ragged = 1;   /* short records are data too; counted, then proposed */
  if (!(rd = cs_reader_open(in, &o, err)))
    goto fail;
  /* The first record apart: names, or the first data. */
  while (records <= sample && (more = cs_reader_next(rd, &rec, err)) == 1) {
    if (rec.kind != CS_RECORD_DATA)
      continue;
    if (records == 0) {   /* the first record says how many columns */
      ncols = rec.nfields < MAX_COLUMNS ? rec.nfields : MAX_COLUMNS;
      for (int i = 0; i < ncols; i++) {
        for (int k = 0; k < NTYPES; k++)
          cols[i].holds[k] = first[i].holds[k] = 1;
        cs_df_guess_init(&cols[i].dates);
        cs_df_guess_init(&first[i].dates);
      }
    }
    for (int i = 0; i < ncols && i < rec.nfields; i++) {
      column *c = records == 0 ? &first[i] : &cols[i];
      if (records == 0)
        snprintf(c->name, sizeof(c->name), "%.*s", rec.field[i] ? (int)rec.len[i] : 0,
                 rec.field[i] ? rec.field[i] : "");
      if (rec.field[i])
        sniff_value(c, types, rec.field[i], rec.len[i]);
      else
        c->blanks++;
    }
    records++;
  }
  if (more < 0 && records == 0)
    goto fail;
  sn->whole = more == 0;
  {
    cs_reader_stats st;
    cs_reader_get_stats(rd, &st);
    sn->short_records = st.short_records;
    sn->long_records = st.long_records;
  }
  csvstage_error_clear(err);
  sn->ncols = ncols;
  /* How the file writes numbers: the style only it reads, most often. */
  long long eu_only = 0, us_only = 0;
  for (int i = 0; i < ncols; i++)
    eu_only += cols[i].eu_only, us_only += cols[i].us_only;
  sn->style = eu_only > us_only ? 'e' : us_only > eu_only ? 'u' : 0;
  /* A header, as DuckDB decides it: the first record does not fit the
   * types of the records below. Here: every typed column whose first value
   * is not blank would change its type with it, and at least one does (a
   * data record's one odd value among values that fit is data); blank or
   * repeated names are then named (cs_header_rename). The wide tables of
   * statistics name columns by year (country,1960,1961 over 4.82,4.65):
   * every typed column's first value a year, rising, over values that are
   * not years, is a header too. With text columns only, distinct values
   * are taken for names (said as a guess). */
  int named = 1, distinct = 1, misses = 0, fits = 0;
  int years = 0, rising = 1, year_like_below = 0, last_year = 0;
  for (int i = 0; i < ncols; i++) {
    const char *why, *fmt, *fmt2, *t = column_type(&cols[i], sn->style, &why, &fmt);
    named &= first[i].values == 1;
    for (int j = 0; j < i; j++)
      distinct &= strcmp(first[i].name, first[j].name) != 0;
    if (strcmp(t, "text") == 0)
      continue;
    sn->typed_cols++;
    if (first[i].values == 0)
      continue;   /* blank: neither a name nor a value of the type */
    column both = cols[i];
    merge_first(&both, &first[i]);
    const char *t2 = column_type(&both, sn->style, &why, &fmt2);
    if (strcmp(t, t2) != 0 || (fmt != fmt2 && (!fmt || !fmt2 || strcmp(fmt, fmt2) != 0)))
      misses++;
    else
      fits++;
    int y = year(first[i].name);
    years += y != 0;
    rising &= y > last_year;
    last_year = y;
    year_like_below += year(cols[i].first) != 0;
  }
  sn->header = sn->typed_cols ? misses > fits
                              : (named && distinct);
  if (!sn->header && sn->typed_cols >= 2 && years == sn->typed_cols && fits == years && rising &&
      year_like_below * 2 < years)
    sn->header = sn->year_names = 1;
  if (sn->header) {   /* the names the reader will give: blank and repeated ones named */
    char *names[MAX_COLUMNS];
    int k = 0, renamed;
    for (; k < ncols; k++)
      if (!(names[k] = strdup(first[k].name)))
        break;
    renamed = k == ncols ? cs_header_rename(names, ncols) : -1;
    for (int i = 0; i < k; i++) {
      if (renamed >= 0)
        snprintf(first[i].name, sizeof(first[i].name), "%s", names[i]);
      free(names[i]);
    }
    if (renamed == -1)
      goto nomem;
    sn->renamed = renamed;
  }
  if (!sn->header)   /* the first record is data too */
    for (int i = 0; i < ncols; i++)
      merge_first(&cols[i], &first[i]);
  sn->records = records - (sn->header ? 1 : 0);
  goto out;

nomem:
  rc = cs_fail(err, CSVSTAGE_E_NOMEM, "out of memory");
  goto out;
fail:
  rc = err->code ? err->code : CSVSTAGE_E_IO;
out:
  if (rc != CSVSTAGE_OK) {
    sniffed_free(sn);
    memset(sn, 0, sizeof(*sn));
  }
  free(head);
  cs_reader_free(rd);
  cs_input_close(in);
  return rc;
}

/* The words of every boolean column, file-wide: yes and no (n bytes
 * each), comma-separated. */
static void
file_words(const sniffed *sn, char *yes, char *no, size_t n)
{
  yes[0] = no[0] = '\0';
  for (int i = 0; i < sn->ncols; i++) {
    const column *c = &sn->cols[i];
    const char *why, *fmt;
    if (strcmp(column_type(c, sn->style, &why, &fmt), "boolean") || !c->nyes + !c->nno == 2)
      continue;
    for (int k = 0; k < c->nyes; k++)
      if (!strstr(yes, c->yes[k]) && strlen(yes) + strlen(c->yes[k]) + 3 < n)
        snprintf(yes + strlen(yes), n - strlen(yes), "%s%s", yes[0] ? ", " : "", c->yes[k]);
    for (int k = 0; k < c->nno; k++)
      if (!strstr(no, c->no[k]) && strlen(no) + strlen(c->no[k]) + 3 < n)
        snprintf(no + strlen(no), n - strlen(no), "%s%s", no[0] ? ", " : "", c->no[k]);
  }
}

/* Whether a number column is written with the file's separators. */
static int
written_grouped(const sniffed *sn)
{
  for (int i = 0; i < sn->ncols; i++) {
    const char *why, *fmt;
    column_type(&sn->cols[i], sn->style, &why, &fmt);
    if (strncmp(why, "written", 7) == 0)
      return 1;
  }
  return 0;
}

/* A typed column's NULL markers as a nullif list ("N/A", "-"), or "". */
static void
markers_list(const column *c, char *buf, size_t n)
{
  buf[0] = '\0';
  for (int k = 0; k < c->nmarkers; k++)
    snprintf(buf + strlen(buf), n - strlen(buf), "%s\"%s\"", k ? ", " : "", c->markers_seen[k]);
}

csvstage_code
csvstage_sniff_config(const char *path, long long sample, char **text, csvstage_error *err)
{
  sniffed sn;
  out_buf b = {0};
  csvstage_code rc;
  char name[160], yes[160], no[160], list[64];

  *text = NULL;
  if ((rc = sniff(path, sample, &sn, err)) != CSVSTAGE_OK)
    return rc;
  b.cap = 4096;
  if (!(b.s = malloc(b.cap))) {
    sniffed_free(&sn);
    return cs_fail(err, CSVSTAGE_E_NOMEM, "out of memory");
  }
  b.s[0] = '\0';
  put(&b, "; csvstage config sniffed from %s (%ld records sampled): check it, name the\n"
          "; table, then load with: csvstage -c THIS.conf %s\n\n[source]\n", path,
      sn.records, path);
  if (sn.dl.delimiter == '\t')
    put(&b, "delimiter = tab           ; %d fields on most of the first lines\n", sn.dl.fields);
  else
    put(&b, "delimiter = \"%c\"           ; %d fields on most of the first lines\n", sn.dl.delimiter,
        sn.dl.fields);
  if (!sn.dl.quote)
    put(&b, "quote = none              ; %d quotes CSV quoting cannot read (the first on "
            "line %ld), none it needs: every byte is data\n", sn.dl.strays, sn.dl.stray_line);
  if (sn.dl.comments)
    put(&b, "comment = \"#\"             ; %d of the first lines start with # and split "
            "unlike the records\n", sn.dl.comments);
  if (sn.dl.skip)
    put(&b, "skip = %-18ld ; the lines before the %s are a preamble (%d of them text)\n",
        sn.dl.skip, sn.header ? "header" : "records", sn.dl.preamble);
  put(&b, "encoding = %s%*s; %s\n", sn.encoding, (int)(15 - strlen(sn.encoding)), "",
      sn.sure ? "every byte read is valid UTF-8"
              : "a guess: not valid UTF-8; bytes 0x80-0x9F decide between WIN1252 and LATIN1");
  put(&b, "header = %s%*s; %s\n", sn.header ? "true" : "false", sn.header ? 13 : 12, "",
      sn.header ? (sn.year_names ? "the first line names years, over values that are not"
                   : sn.typed_cols ? "the first line's values are not of their columns' types"
                                 : "a guess: every column is text; the first line's values differ")
                : "the first line is data like the rest");
  if (sn.renamed)
    put(&b, "; the header has %d blank or repeated names: named as DuckDB names them "
            "(column2, name_1)\n", sn.renamed);
  if (sn.short_records || sn.long_records)
    put(&b, "ragged = pad              ; of the records sampled, %lld lack fields at the end, "
            "%lld end with empty fields past the last column\n", sn.short_records,
        sn.long_records);
  if (!sn.header) {
    put(&b, "columns = ");
    for (int i = 0; i < sn.ncols; i++)
      put(&b, "%scolumn%d", i ? ", " : "", i + 1);
    put(&b, "   ; name them as the table's columns\n");
  }
  if (written_grouped(&sn) && sn.style == 'e')
    put(&b, "decimal = \",\"             ; numbers are written 1.234,50\nthousands = .\n");
  else if (written_grouped(&sn))
    put(&b, "thousands = \",\"           ; numbers are written 1,234.50\n");
  file_words(&sn, yes, no, sizeof(yes));
  if (yes[0])
    put(&b, "true = %s%*s; words for true in boolean columns\n", yes,
        (int)(strlen(yes) < 18 ? 19 - strlen(yes) : 1), "");
  if (no[0])
    put(&b, "false = %s%*s; words for false\n", no, (int)(strlen(no) < 17 ? 18 - strlen(no) : 1), "");
  put(&b, "\n[target]\ntable = ?                 ; the table to load\n\n"
          "; The columns: the narrowest type every sampled value is valid for\n");
  for (int i = 0; i < sn.ncols; i++) {
    const char *why, *fmt, *t = column_type(&sn.cols[i], sn.style, &why, &fmt);
    char quoted[160];
    snprintf(quoted, sizeof(quoted), sn.header ? "\"%.120s\"" : "%.120s",
             column_name(&sn, i, name, sizeof(name)));
    put(&b, ";   %-24s %s%s%s%s%s%s%s", quoted, t, why[0] ? " (" : "", why,
        fmt ? " " : "", fmt ? fmt : "", why[0] ? ")" : "",
        sn.cols[i].blanks ? ", blanks occur" : ", no blanks");
    if (sn.cols[i].markers)
      put(&b, ", NULL markers such as N/A (nullif)");
    put(&b, "%s%s\n", sn.cols[i].first[0] ? ", e.g. " : "", sn.cols[i].first);
  }
  /* The rules the types above need: a date's format; a typed column's
   * NULL markers (text keeps them as text). */
  for (int i = 0; i < sn.ncols; i++) {
    const char *why, *fmt, *t = column_type(&sn.cols[i], sn.style, &why, &fmt);
    int nullif = sn.cols[i].nmarkers && strcmp(t, "text") != 0;
    if (!fmt && !nullif)
      continue;
    char sec[1200];
    put(&b, "\n%s\n", cs_config_section(column_name(&sn, i, name, sizeof(name)), sec, sizeof(sec)));
    if (fmt)
      put(&b, "format = '%s'%s\n", fmt, strncmp(why, "a guess", 7) == 0 ? "   ; a guess: day "
                                        "and month swapped fit every sampled value too" : "");
    if (nullif) {
      markers_list(&sn.cols[i], list, sizeof(list));
      put(&b, "nullif = %s   ; NULL markers\n", list);
    }
  }
  if (b.failed) {
    free(b.s);
    sniffed_free(&sn);
    return cs_fail(err, CSVSTAGE_E_NOMEM, "out of memory");
  }
  *text = b.s;
  sniffed_free(&sn);
  return CSVSTAGE_OK;
}

/* Sets one key, quoting the value as the config parser reads it. */
static csvstage_code
set(csvstage_settings *s, const char *section, const char *key, const char *value,
    csvstage_error *err)
{
  return csvstage_settings_set(s, section, key, value, err);
}

csvstage_code
csvstage_sniff_settings(const char *path, long long sample, csvstage_settings *s,
                        csvstage_error *err)
{
  sniffed sn;
  csvstage_code rc;
  char buf[1024], name[160], section[1200], yes[160], no[160];

  if ((rc = sniff(path, sample, &sn, err)) != CSVSTAGE_OK)
    return rc;
  if (sn.dl.delimiter == '\t')
    snprintf(buf, sizeof(buf), "tab");
  else
    snprintf(buf, sizeof(buf), "\"%c\"", sn.dl.delimiter);
  char lines[32];
  snprintf(lines, sizeof(lines), "%ld", sn.dl.skip);
  if ((rc = set(s, "source", "delimiter", buf, err)) ||
      (!sn.dl.quote && (rc = set(s, "source", "quote", "none", err))) ||
      (sn.dl.comments && (rc = set(s, "source", "comment", "\"#\"", err))) ||
      (sn.dl.skip && (rc = set(s, "source", "skip", lines, err))) ||
      (rc = set(s, "source", "encoding", sn.encoding, err)) ||
      (rc = set(s, "source", "header", sn.header ? "true" : "false", err)) ||
      ((sn.short_records || sn.long_records) && (rc = set(s, "source", "ragged", "pad", err))))
    goto out;
  if (!sn.header) {
    buf[0] = '\0';
    for (int i = 0; i < sn.ncols && strlen(buf) + 16 < sizeof(buf); i++)
      snprintf(buf + strlen(buf), sizeof(buf) - strlen(buf), "%scolumn%d", i ? ", " : "", i + 1);
    if ((rc = set(s, "source", "columns", buf, err)))
      goto out;
  }
  if (written_grouped(&sn) &&
      ((rc = set(s, "source", "decimal", sn.style == 'e' ? "\",\"" : ".", err)) ||
       (rc = set(s, "source", "thousands", sn.style == 'e' ? "." : "\",\"", err))))
    goto out;
  file_words(&sn, yes, no, sizeof(yes));
  if ((yes[0] && (rc = set(s, "source", "true", yes, err))) ||
      (no[0] && (rc = set(s, "source", "false", no, err))))
    goto out;
  for (int i = 0; i < sn.ncols; i++) {
    const char *why, *fmt, *t = column_type(&sn.cols[i], sn.style, &why, &fmt);
    char q[1100];
    snprintf(section, sizeof(section), "column %s",
             cs_config_quote(column_name(&sn, i, name, sizeof(name)), q, sizeof(q)));
    if (fmt && (rc = set(s, section, "format", fmt, err)))
      goto out;
    if (sn.cols[i].nmarkers && strcmp(t, "text") != 0) {
      markers_list(&sn.cols[i], buf, sizeof(buf));
      if ((rc = set(s, section, "nullif", buf, err)))
        goto out;
    }
  }
out:
  sniffed_free(&sn);
  return rc;
}

/* Text for an SQL comment: a line end or other control byte in a path or
 * a name would end the comment and start SQL. */
static void
comment_text(cs_buf *b, int *failed, const char *t)
{
  for (; *t; t++)
    *failed |= cs_buf_printf(b, "%c", (unsigned char)*t < 0x20 ? '?' : *t) != 0;
}

csvstage_code
csvstage_sniff_create_table(const char *path, long long sample, const char *table,
                            const char *key, char **text, csvstage_error *err)
{
  sniffed sn;
  cs_buf b = {0};
  csvstage_code rc;
  char name[300], bad[600];
  char *parts[3], **names = NULL, *q = NULL;
  int nparts = 0, failed = 0, *in_key = NULL, utf8;
  PGconn *conn = NULL;

  *text = NULL;
  if ((rc = sniff(path, sample, &sn, err)) != CSVSTAGE_OK)
    return rc;
  utf8 = strcmp(sn.encoding, "UTF8") == 0;
  if (!(in_key = calloc((size_t)sn.ncols + 1, sizeof(int))) ||
      !(names = calloc((size_t)sn.ncols + 1, sizeof(char *))) || !(conn = cs_offline_conn())) {
    rc = cs_fail(err, CSVSTAGE_E_NOMEM, "out of memory");
    goto out;
  }
  /* The key's columns, by the names the file gives them. */
  for (const char *k = key; k && *k;) {
    size_t n = strcspn(k, ",");
    const char *e = k + n;
    while (n && k[0] == ' ')
      k++, n--;
    while (n && k[n - 1] == ' ')
      n--;
    int found = -1;
    for (int i = 0; i < sn.ncols && found < 0; i++) {
      const char *cn = column_name(&sn, i, name, sizeof(name));
      if (strlen(cn) == n && strncmp(cn, k, n) == 0)
        found = i;
    }
    if (found < 0) {
      rc = cs_fail(err, CSVSTAGE_E_CONFIG, "--key: %s has no column \"%.*s\"", path, (int)n, k);
      goto out;
    }
    if (sn.cols[found].blanks || sn.cols[found].markers) {
      rc = cs_fail(err, CSVSTAGE_E_CONFIG, "--key: column \"%.*s\" has blank values in %s: a "
                   "primary key cannot hold them", (int)n, k, path);
      goto out;
    }
    in_key[found] = 1;
    k = *e ? e + 1 : e;
  }
  /* The table's name as the server splits it (schema.name, "Odd.Name"). */
  if ((nparts = cs_parse_ident(table, parts, 3, bad, sizeof(bad))) < 0) {
    nparts = 0;
    rc = cs_fail(err, CSVSTAGE_E_CONFIG, "--create-table: '%s' is not a table name: %s", table,
                 bad);
    goto out;
  }
  /* The columns' names, each short enough for the server to keep whole
   * (init -t shortens the header's the same way, to match them). */
  for (int i = 0; i < sn.ncols; i++)
    if (!(names[i] = strdup(column_name(&sn, i, name, sizeof(name)))))
      break;
  int shortened = !sn.ncols || names[sn.ncols - 1] ? cs_header_shorten(names, sn.ncols, utf8) : -1;
  if (shortened < 0) {
    rc = cs_fail(err, CSVSTAGE_E_NOMEM, "out of memory");
    goto out;
  }
  failed |= cs_buf_printf(&b, "-- csvstage init --create-table: ") != 0;
  comment_text(&b, &failed, table);
  failed |= cs_buf_printf(&b, ", from ") != 0;
  comment_text(&b, &failed, path);
  failed |= cs_buf_printf(&b, " (%ld records %s)\n", sn.records,
                          sn.whole ? "read, the whole file" : "sampled: no NOT NULL") != 0;
  if (!utf8) {
    /* The names are the file's bytes: the statement says their encoding,
     * and the server converts them. */
    if (!(q = cs_quote_literal(conn, sn.encoding, err))) {
      rc = err->code;
      goto out;
    }
    failed |= cs_buf_printf(&b, "SET client_encoding = %s;\n", q) != 0;
    PQfreemem(q);
    q = NULL;
  }
  failed |= cs_buf_printf(&b, "CREATE TABLE ") != 0;
  for (int i = 0; i < nparts; i++) {
    if (!(q = cs_quote_ident(conn, parts[i], err))) {
      rc = err->code;
      goto out;
    }
    failed |= cs_buf_printf(&b, "%s%s", i ? "." : "", q) != 0;
    PQfreemem(q);
    q = NULL;
  }
  failed |= cs_buf_printf(&b, " (\n") != 0;
  for (int i = 0; i < sn.ncols; i++) {
    const char *why, *fmt, *t = column_type(&sn.cols[i], sn.style, &why, &fmt);
    int cut = strcmp(names[i], column_name(&sn, i, name, sizeof(name))) != 0;
    if (!(q = cs_quote_ident(conn, names[i], err))) {
      rc = err->code;
      goto out;
    }
    /* NOT NULL only from the whole file: a sample cannot prove that no
     * later value is blank. */
    failed |= cs_buf_printf(&b, "  %s %s%s%s", q, t,
                            !sn.whole || sn.cols[i].blanks || sn.cols[i].markers ||
                                sn.cols[i].values == 0
                              ? "" : " NOT NULL",
                            i + 1 < sn.ncols || key ? "," : "") != 0;
    PQfreemem(q);
    q = NULL;
    if (why[0] || cut)
      failed |= cs_buf_printf(&b, "   -- %s%s%s%s%s", why, fmt ? " " : "", fmt ? fmt : "",
                              why[0] && cut ? "; " : "",
                              cut ? "the file's name is longer than PostgreSQL keeps "
                                    "(63 bytes): shortened" : "") != 0;
    failed |= cs_buf_printf(&b, "\n") != 0;
  }
  if (key) {
    failed |= cs_buf_printf(&b, "  PRIMARY KEY (") != 0;
    for (int i = 0, any = 0; i < sn.ncols; i++) {
      if (!in_key[i])
        continue;
      if (!(q = cs_quote_ident(conn, names[i], err))) {
        rc = err->code;
        goto out;
      }
      failed |= cs_buf_printf(&b, "%s%s", any++ ? ", " : "", q) != 0;
      PQfreemem(q);
      q = NULL;
    }
    failed |= cs_buf_printf(&b, ")\n") != 0;
  }
  failed |= cs_buf_printf(&b, ");\n%s", utf8 ? "" : "RESET client_encoding;\n") != 0;
  if (failed) {
    rc = cs_fail(err, CSVSTAGE_E_NOMEM, "out of memory");
    goto out;
  }
  *text = b.data;
  b.data = NULL;
out:
  for (int i = 0; i < nparts; i++)
    free(parts[i]);
  for (int i = 0; names && i < sn.ncols; i++)
    free(names[i]);
  free(names);
  if (conn)
    PQfinish(conn);
  free(b.data);
  free(in_key);
  sniffed_free(&sn);
  return rc;
}
