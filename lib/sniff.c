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

#include "error.h"
#include "fixes.h"
#include "input.h"
#include "reader.h"
#include "utf8.h"
#include "validate.h"

#define HEAD_BYTES (1 << 20)   /* read to tell the dialect */
#define MAX_COLUMNS 256

/* The types tried, narrowest first (each one's values are the next's). */
static const char *const TYPES[] = {"boolean", "smallint", "integer", "bigint", "numeric",
                                    "date", "timestamp without time zone",
                                    "timestamp with time zone", "uuid"};
#define NTYPES ((int)(sizeof(TYPES) / sizeof(TYPES[0])))

typedef struct column {
  char name[128];
  long long values, blanks, markers, dmy, mdy, timed;
  long long eu, us, eu_int, us_int;   /* values read as 1.234,5 or 1,234.5 (or
                                         plain), and as integers so */
  long long eu_only, us_only;         /* values only one of them reads */
  long long words;                    /* values that are words for true or
                                         false (PostgreSQL's, or others') */
  char yes[4][16], no[4][16];         /* the other words seen */
  int nyes, nno;
  int holds[NTYPES];         /* every value so far valid for TYPES[k] */
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

/* The delimiter among , ; tab | that splits the first lines into the same
 * number of fields most often (quotes respected, roughly: a quote toggles). */
static char
find_delimiter(const char *s, size_t n, int *fields)
{
  static const char candidates[] = ",;\t|";
  char best = ',';
  int best_score = -1;

  for (int c = 0; candidates[c]; c++) {
    int counts[200], lines = 0, quoted = 0, count = 0;
    for (size_t i = 0; i < n && lines < 200; i++) {
      if (s[i] == '"')
        quoted = !quoted;
      else if (!quoted && s[i] == candidates[c])
        count++;
      else if (!quoted && s[i] == '\n') {
        counts[lines++] = count;
        count = 0;
      }
    }
    /* the most common count, and how many lines have it */
    int mode = 0, often = 0;
    for (int a = 0; a < lines; a++) {
      int k = 0;
      for (int b = 0; b < lines; b++)
        k += counts[b] == counts[a];
      if (k > often || (k == often && counts[a] > mode))
        mode = counts[a], often = k;
    }
    int score = mode > 0 ? often : 0;
    if (score > best_score) {
      best_score = score;
      best = candidates[c];
      *fields = mode + 1;
    }
  }
  return best;
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

/* Counts one value of column c. */
static void
sniff_value(column *c, const cs_type *types, const char *v, size_t n)
{
  char t[256];

  while (n > 0 && (*v == ' ' || *v == '\t'))
    v++, n--;
  while (n > 0 && (v[n - 1] == ' ' || v[n - 1] == '\t'))
    n--;
  if (n == 0) {
    c->blanks++;
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
    c->markers++;
    c->values--;
    return;
  }
  for (int k = 0; k < NTYPES; k++) {
    int64_t ival;
    if (c->holds[k] && cs_value_check(&types[k], t, n, &ival) != CS_VALID)
      c->holds[k] = 0;
  }
  {
    int plain = strspn(t, "0123456789") == n ||
                ((t[0] == '-' || t[0] == '+') && n > 1 && strspn(t + 1, "0123456789") == n - 1);
    int eu = cs_number_fits(t, ',', '.', 0), us = cs_number_fits(t, '.', ',', 0);
    c->eu += eu || plain;
    c->us += us || plain;
    c->eu_int += cs_number_fits(t, ',', '.', 1) || plain;
    c->us_int += cs_number_fits(t, '.', ',', 1) || plain;
    c->eu_only += eu && !us;
    c->us_only += us && !eu;
  }
  c->dmy += cs_date_fits(t, 1);
  c->mdy += cs_date_fits(t, 0);
  c->timed += strchr(t, ':') != NULL;
  {
    int64_t ival;
    int w = cs_bool_word(t);
    c->words += w >= 0 || cs_value_check(&types[0], t, n, &ival) == CS_VALID;
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
 * reads; else the narrowest type that holds every value; a day- or
 * month-first date that fits every value; else text. */
static const char *
column_type(const column *c, char style, const char **why)
{
  *why = "";
  if (c->values == 0)
    return *why = "no value in the sample", "text";
  if (style && !c->holds[0] && !c->holds[3] && (style == 'e' ? c->eu : c->us) == c->values) {
    *why = style == 'e' ? "written 1.234,5" : "written 1,234.5";
    return (style == 'e' ? c->eu_int : c->us_int) == c->values ? "bigint" : "numeric";
  }
  for (int k = 0; k < NTYPES; k++)
    if (c->holds[k])
      return TYPES[k];
  if (c->words == c->values && c->nyes + c->nno > 0)
    return *why = "words for true and false", "boolean";
  if (c->dmy == c->values && c->mdy < c->values)
    return *why = "day-first", c->timed ? "timestamp without time zone" : "date";
  if (c->mdy == c->values && c->dmy < c->values)
    return *why = "month-first", c->timed ? "timestamp without time zone" : "date";
  return "text";
}

csvstage_code
csvstage_sniff_config(const char *path, long long sample, char **text, csvstage_error *err)
{
  cs_input *in = NULL;
  cs_reader *rd = NULL;
  cs_reader_opts o;
  cs_record rec;
  char *head = NULL;
  long n = 0, records = 0;
  int fields = 1, sure = 0, ncols = 0, more, header;
  column *cols = NULL;
  cs_type types[NTYPES];
  out_buf b = {0};
  const char *encoding;
  char delimiter;
  csvstage_code rc = CSVSTAGE_OK;

  *text = NULL;
  if (sample <= 0)
    sample = 1000;
  if (!(head = malloc(HEAD_BYTES)) || !(cols = calloc(MAX_COLUMNS, sizeof(*cols))))
    goto nomem;
  if (!(in = cs_input_open(path, err)))
    goto fail;
  for (long r; n < HEAD_BYTES && (r = cs_input_read(in, head + n, HEAD_BYTES - (size_t)n, err)) != 0;
       n += r)
    if (r < 0)
      goto fail;
  cs_input_close(in);
  in = NULL;
  delimiter = find_delimiter(head, (size_t)n, &fields);
  encoding = find_encoding(head, (size_t)n, &sure);

  for (int k = 0; k < NTYPES; k++)
    cs_type_parse(&types[k], TYPES[k], strcmp(encoding, "UTF8") == 0);
  if (!(in = cs_input_open(path, err)))
    goto fail;
  cs_reader_opts_init(&o);
  o.delimiter = delimiter;
  o.encoding = encoding;
  o.header = 0;
  if (!(rd = cs_reader_open(in, &o, err)))
    goto fail;
  /* The first record apart: names, or the first data. */
  column first[MAX_COLUMNS];
  memset(first, 0, sizeof(first));
  while (records <= sample && (more = cs_reader_next(rd, &rec, err)) == 1) {
    if (rec.kind != CS_RECORD_DATA)
      continue;
    if (records == 0) {   /* the first record says how many columns */
      ncols = rec.nfields < MAX_COLUMNS ? rec.nfields : MAX_COLUMNS;
      for (int i = 0; i < ncols; i++)
        for (int k = 0; k < NTYPES; k++)
          cols[i].holds[k] = 1;
    }
    for (int i = 0; i < ncols && i < rec.nfields; i++) {
      column *c = records == 0 ? &first[i] : &cols[i];
      if (records == 0) {
        snprintf(c->name, sizeof(c->name), "%.*s", rec.field[i] ? (int)rec.len[i] : 0,
                 rec.field[i] ? rec.field[i] : "");
        for (int k = 0; k < NTYPES; k++)
          c->holds[k] = 1;
      }
      if (rec.field[i])
        sniff_value(c, types, rec.field[i], rec.len[i]);
      else
        c->blanks++;
    }
    records++;
  }
  if (more < 0 && records == 0)
    goto fail;
  /* A header: the first record's values are all there, and one of them is
   * not of its column's type (a name over numbers); with text columns
   * only, distinct values are taken for names (said as a guess). */
  /* How the file writes numbers: the style only it reads, most often. */
  long long eu_only = 0, us_only = 0;
  for (int i = 0; i < ncols; i++)
    eu_only += cols[i].eu_only, us_only += cols[i].us_only;
  char style = eu_only > us_only ? 'e' : us_only > eu_only ? 'u' : 0;
  int named = 1, typed_miss = 0, typed_cols = 0, distinct = 1;   /* typed_miss: typed
                                                                     columns whose first
                                                                     value is of a type */
  for (int i = 0; i < ncols; i++) {
    const char *why, *t = column_type(&cols[i], style, &why);
    named &= first[i].values == 1;
    if (strcmp(t, "text") != 0) {
      typed_cols++;
      int k;
      for (k = 0; k < NTYPES && strcmp(TYPES[k], t); k++)
        ;
      /* a name: of no type at all (a value of another type is data) */
      int typeless = first[i].values == 1 &&
                     (first[i].eu + first[i].us + first[i].dmy + first[i].mdy) == 0;
      for (k = 0; k < NTYPES && typeless; k++)
        typeless = !first[i].holds[k];
      typed_miss += !typeless;
    }
    for (int j = 0; j < i; j++)
      distinct &= strcmp(first[i].name, first[j].name) != 0;
  }
  header = named && distinct && typed_miss == 0;
  if (!header)   /* the first record is data too */
    for (int i = 0; i < ncols; i++) {
      cols[i].values += first[i].values, cols[i].blanks += first[i].blanks;
      cols[i].markers += first[i].markers;
      cols[i].eu += first[i].eu, cols[i].us += first[i].us, cols[i].eu_int += first[i].eu_int;
      cols[i].us_int += first[i].us_int, cols[i].eu_only += first[i].eu_only;
      cols[i].us_only += first[i].us_only, cols[i].words += first[i].words;
      cols[i].dmy += first[i].dmy, cols[i].mdy += first[i].mdy, cols[i].timed += first[i].timed;
      for (int k = 0; k < NTYPES; k++)
        cols[i].holds[k] &= first[i].holds[k] || first[i].values == 0;
    }

  b.cap = 4096;
  if (!(b.s = malloc(b.cap)))
    goto nomem;
  b.s[0] = '\0';
  put(&b, "; csvstage config sniffed from %s (%ld records sampled): check it, name the\n"
          "; table, then load with: csvstage -c THIS.conf %s\n\n[source]\n", path,
      records - (header ? 1 : 0), path);
  if (delimiter == '\t')
    put(&b, "delimiter = tab           ; %d fields on most of the first lines\n", fields);
  else
    put(&b, "delimiter = \"%c\"           ; %d fields on most of the first lines\n", delimiter,
        fields);
  put(&b, "encoding = %s%*s; %s\n", encoding, (int)(15 - strlen(encoding)), "",
      sure ? "every byte read is valid UTF-8"
           : "a guess: not valid UTF-8; bytes 0x80-0x9F decide between WIN1252 and LATIN1");
  put(&b, "header = %s%*s; %s\n", header ? "true" : "false", header ? 13 : 12, "",
      header ? (typed_cols ? "the first line's values are not of their columns' types"
                           : "a guess: every column is text; the first line's values differ")
             : "the first line is data like the rest");
  if (!header) {
    put(&b, "columns = ");
    for (int i = 0; i < ncols; i++)
      put(&b, "%scolumn%d", i ? ", " : "", i + 1);
    put(&b, "   ; name them as the table's columns\n");
  }
  int comma = 0, dmy = 0, mdy = 0;
  for (int i = 0; i < ncols; i++) {
    const char *why;
    column_type(&cols[i], style, &why);
    comma |= strncmp(why, "written", 7) == 0;
    dmy |= strcmp(why, "day-first") == 0;
    mdy |= strcmp(why, "month-first") == 0;
  }
  if (comma && style == 'e')
    put(&b, "decimal = \",\"             ; numbers are written 1.234,50\nthousands = .\n");
  else if (comma)
    put(&b, "thousands = \",\"           ; numbers are written 1,234.50\n");
  {
    /* the words of every boolean column, file-wide */
    char yes[160] = "", no[160] = "";
    for (int i = 0; i < ncols; i++) {
      const char *why;
      if (strcmp(column_type(&cols[i], style, &why), "boolean") || !cols[i].nyes + !cols[i].nno == 2)
        continue;
      for (int k = 0; k < cols[i].nyes; k++)
        if (!strstr(yes, cols[i].yes[k]) && strlen(yes) + strlen(cols[i].yes[k]) + 3 < sizeof(yes))
          snprintf(yes + strlen(yes), sizeof(yes) - strlen(yes), "%s%s", yes[0] ? ", " : "",
                   cols[i].yes[k]);
      for (int k = 0; k < cols[i].nno; k++)
        if (!strstr(no, cols[i].no[k]) && strlen(no) + strlen(cols[i].no[k]) + 3 < sizeof(no))
          snprintf(no + strlen(no), sizeof(no) - strlen(no), "%s%s", no[0] ? ", " : "",
                   cols[i].no[k]);
    }
    if (yes[0])
      put(&b, "true = %s%*s; words for true in boolean columns\n", yes,
          (int)(strlen(yes) < 18 ? 19 - strlen(yes) : 1), "");
    if (no[0])
      put(&b, "false = %s%*s; words for false\n", no, (int)(strlen(no) < 17 ? 18 - strlen(no) : 1), "");
  }
  if (dmy && !mdy)
    put(&b, "datestyle = DMY           ; dates are day-first\n");
  else if (mdy && !dmy)
    put(&b, "datestyle = MDY           ; dates are month-first\n");
  put(&b, "\n[target]\ntable = ?                 ; the table to load\n\n"
          "; The columns: the narrowest type every sampled value is valid for\n");
  for (int i = 0; i < ncols; i++) {
    const char *why, *t = column_type(&cols[i], style, &why);
    char name[160];
    if (header)
      snprintf(name, sizeof(name), "\"%.120s\"", first[i].name);
    else
      snprintf(name, sizeof(name), "column%d", i + 1);
    put(&b, ";   %-24s %s%s%s%s%s", name, t, why[0] ? " (" : "", why, why[0] ? ")" : "",
        cols[i].blanks ? ", blanks occur" : ", no blanks");
    if (cols[i].markers)
      put(&b, ", NULL markers such as N/A (nullif)");
    put(&b, "%s%s%s\n", cols[i].first[0] ? ", e.g. " : "", cols[i].first,
        "");
  }
  if (b.failed)
    goto nomem;
  *text = b.s;
  b.s = NULL;
  goto out;

nomem:
  rc = cs_fail(err, CSVSTAGE_E_NOMEM, "out of memory");
  goto out;
fail:
  rc = err->code ? err->code : CSVSTAGE_E_IO;
out:
  free(b.s);
  free(head);
  free(cols);
  cs_reader_free(rd);
  cs_input_close(in);
  return rc;
}
