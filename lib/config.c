/* config.c: the INI config file (libinih) and single settings, into
 * csvstage_settings, with FILE:LINE errors. */
#include <config.h>

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <ini.h>

#include "settings.h"
#include "datefmt.h"
#include "error.h"

/* Bits of csvstage_settings.seen and cs_rule.seen. */
enum {
  SEEN_DELIMITER = 1 << 0, SEEN_QUOTE = 1 << 1, SEEN_HEADER = 1 << 2,
  SEEN_ENCODING = 1 << 3, SEEN_NULL = 1 << 4, SEEN_COLUMNS = 1 << 5,
  SEEN_IGNORE = 1 << 6, SEEN_TRIM = 1 << 7, SEEN_TABLE = 1 << 8,
  SEEN_MAX_REJECTS = 1 << 9, SEEN_FILE = 1 << 10, SEEN_WAIT = 1 << 11, SEEN_LEDGER = 1 << 12,
  SEEN_MODE = 1 << 13, SEEN_BEFORE = 1 << 14, SEEN_AFTER = 1 << 15, SEEN_KEY = 1 << 16,
  SEEN_UPDATE = 1 << 17, SEEN_DATESTYLE = 1 << 18, SEEN_MEMBER = 1 << 19,
  SEEN_FROM = 1 << 0, SEEN_RTRIM = 1 << 1, SEEN_NULLIF = 1 << 2,
  SEEN_COALESCE = 1 << 3, SEEN_TRUE = 1 << 4, SEEN_FALSE = 1 << 5,
  SEEN_DECIMAL = 1 << 6, SEEN_THOUSANDS = 1 << 7,
  SEEN_SOURCE_TRUE = 1 << 20, SEEN_SOURCE_FALSE = 1 << 21,
  SEEN_SOURCE_DECIMAL = 1 << 22, SEEN_SOURCE_THOUSANDS = 1 << 23,
  SEEN_SOURCE_FORMAT = 1 << 24, SEEN_TIMEZONE = 1 << 25, SEEN_FORMAT = 1 << 8,
  SEEN_RAGGED = 1 << 26, SEEN_COMMENT = 1 << 27, SEEN_SKIP = 1 << 28,
};

csvstage_settings *
csvstage_settings_new(void)
{
  csvstage_settings *s = calloc(1, sizeof(*s));

  if (!s)
    return NULL;
  s->delimiter = ',';
  s->quote = '"';
  s->header = 1;
  s->max_rejects = -1;
  s->max_rejects_pct = -1;
  s->lock_wait = -1;
  s->encoding = strdup("UTF8");
  s->null_marker = strdup("");
  if (!s->encoding || !s->null_marker) {
    csvstage_settings_free(s);
    return NULL;
  }
  return s;
}

const char *
cs_mode_name(cs_mode mode)
{
  static const char *const names[] = {"append", "truncate", "replace", "upsert", "insert-new"};

  return names[mode];
}

static void
free_list(char **list, int n)
{
  for (int i = 0; i < n; i++)
    free(list[i]);
  free(list);
}

static void
free_words(cs_words *w)
{
  free_list(w->yes, w->nyes);
  free_list(w->no, w->nno);
}

static void
free_rule(cs_rule *r)
{
  free(r->column);
  free(r->from);
  free(r->format);
  free_words(&r->words);
  free_list(r->nullif, r->nnullif);
  for (int i = 0; i < r->ncoalesce; i++)
    free(r->coalesce[i].text);
  free(r->coalesce);
}

const char *
csvstage_settings_mode(const csvstage_settings *s)
{
  return cs_mode_name(s ? s->mode : CS_MODE_APPEND);
}

int
csvstage_settings_order_free(const csvstage_settings *s)
{
  return !s || s->mode == CS_MODE_APPEND;
}

const char *
csvstage_settings_table(const csvstage_settings *s)
{
  return s && s->table && *s->table ? s->table : NULL;
}

void
csvstage_settings_free(csvstage_settings *s)
{
  if (!s)
    return;
  free(s->encoding);
  free(s->null_marker);
  free(s->member);
  free(s->comment);
  free(s->format);
  free(s->timezone);
  free_words(&s->words);
  free_list(s->columns, s->ncolumns);
  free_list(s->ignore, s->nignore);
  free(s->table);
  free(s->before);
  free(s->after);
  free_list(s->key, s->nkey);
  free_list(s->update, s->nupdate);
  free(s->rejects_file);
  free(s->path);
  for (int i = 0; i < s->nrules; i++)
    free_rule(&s->rules[i]);
  free(s->rules);
  free(s);
}

const cs_rule *
cs_settings_rule(const csvstage_settings *s, const char *column)
{
  for (int i = 0; i < s->nrules; i++)
    if (strcmp(s->rules[i].column, column) == 0)
      return &s->rules[i];
  return NULL;
}

void
cs_settings_reader_opts(const csvstage_settings *s, cs_reader_opts *o)
{
  cs_reader_opts_init(o);
  o->delimiter = s->delimiter;
  o->quote = s->quote;
  o->null_marker = s->null_marker;
  o->encoding = s->encoding;
  o->ragged = s->ragged;
  o->comment = s->comment;
  o->skip = s->skip;
}

int
cs_parse_max_rejects(const char *text, long long *count, double *pct)
{
  size_t n = strlen(text);
  char *end;

  *count = -1;
  *pct = -1;
  if (n == 0 || !isdigit((unsigned char)text[0]))
    return -1;
  errno = 0;
  if (text[n - 1] == '%') {
    double v = strtod(text, &end);
    if (end != text + n - 1 || errno || v < 0 || v > 100)
      return -1;
    *pct = v;
    return 0;
  }
  long long v = strtoll(text, &end, 10);
  if (*end || errno || v < 0)
    return -1;
  *count = v;
  return 0;
}

/* ---- values ---- */

const char *
cs_config_quote(const char *text, char *buf, size_t n)
{
  size_t o = 0;

  buf[o++] = '"';
  for (size_t i = 0; text[i] && o + 3 < n; i++) {
    if (text[i] == '"')
      buf[o++] = '"';
    buf[o++] = text[i];
  }
  buf[o++] = '"';
  buf[o] = '\0';
  return buf;
}

/* The longest section name libinih keeps (its MAX_SECTION, 50, less the NUL). */
#define INI_SECTION_MAX 49

const char *
cs_config_section(const char *column, char *buf, size_t n)
{
  char q[1100];

  cs_config_quote(column, q, sizeof(q));
  if (strlen("column ") + strlen(q) <= INI_SECTION_MAX)
    snprintf(buf, n, "[column %s]", q);
  else
    snprintf(buf, n, "[column]\nname = %s", q);
  return buf;
}

/*
 * A value as written, minus one pair of surrounding double quotes (inside
 * which "" stands for "), so that values with leading spaces, an inline
 * comment character or nothing at all can be written: null = "".
 */
static char *
unquote(const char *v, size_t n)
{
  char *out = malloc(n + 1), *o = out;

  if (!out)
    return NULL;
  if (n >= 2 && v[0] == '"' && v[n - 1] == '"') {
    for (size_t i = 1; i < n - 1; i++) {
      *o++ = v[i];
      if (v[i] == '"' && i + 1 < n - 1 && v[i + 1] == '"')
        i++;
    }
  } else {
    memcpy(out, v, n);
    o += n;
  }
  *o = '\0';
  return out;
}

/*
 * Splits "a, "b, c", 'd'" at the commas outside quotes (double or single),
 * trimming white space around each item. Items keep their quotes. Returns
 * the count, or -1 on an unterminated quote or an empty item.
 */
static int
split_list(const char *v, size_t **lens_out, const char ***starts_out)
{
  int n = 0, cap = 0;
  const char **starts = NULL;
  size_t *lens = NULL;
  const char *p = v;

  for (;;) {
    while (*p == ' ' || *p == '\t')
      p++;
    const char *start = p;
    char q = 0;
    for (; *p; p++) {
      if (q) {
        if (*p == q) {
          if (p[1] == q)
            p++;
          else
            q = 0;
        }
      } else if (*p == '"' || *p == '\'') {
        q = *p;
      } else if (*p == ',') {
        break;
      }
    }
    if (q)
      goto bad;
    const char *end = p;
    while (end > start && (end[-1] == ' ' || end[-1] == '\t'))
      end--;
    if (end == start)
      goto bad;
    if (n == cap) {
      cap = cap ? cap * 2 : 8;
      const char **ns = realloc(starts, cap * sizeof(*ns));
      if (!ns)
        goto bad;
      starts = ns;
      size_t *nl = realloc(lens, cap * sizeof(*nl));
      if (!nl)
        goto bad;
      lens = nl;
    }
    starts[n] = start;
    lens[n] = (size_t)(end - start);
    n++;
    if (!*p)
      break;
    p++;
  }
  *starts_out = starts;
  *lens_out = lens;
  return n;
bad:
  free(starts);
  free(lens);
  return -1;
}

static int
parse_bool(const char *v, int *out)
{
  static const char *const yes[] = {"true", "yes", "on", "1"};
  static const char *const no[] = {"false", "no", "off", "0"};

  for (size_t i = 0; i < 4; i++) {
    if (strcasecmp(v, yes[i]) == 0)
      return *out = 1, 0;
    if (strcasecmp(v, no[i]) == 0)
      return *out = 0, 0;
  }
  return -1;
}

/* One character: itself, "x" quoted, or tab / \t. */
static int
parse_char(const char *v, char *out)
{
  size_t n = strlen(v);

  if (strcasecmp(v, "tab") == 0 || strcmp(v, "\\t") == 0)
    return *out = '\t', 0;
  if (n == 3 && v[0] == '"' && v[2] == '"')
    return *out = v[1], 0;
  if (n == 4 && strcmp(v, "\"\"\"\"") == 0)
    return *out = '"', 0;
  if (n != 1)
    return -1;
  *out = v[0];
  return 0;
}

/* ---- keys ---- */

typedef struct parse_ctx {
  csvstage_settings *s;
  csvstage_error *err;
  char why[768];        /* the handler's reason for failing */
  int line;             /* the line being parsed; 0 for API settings */
  int at_line_start;    /* the next chunk read starts a line */
  FILE *f;
  char *column;         /* a [column] section's name = NAME, or NULL */
} parse_ctx;

static int
fail(parse_ctx *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static int
fail(parse_ctx *c, const char *fmt, ...)
{
  va_list ap;

  va_start(ap, fmt);
  vsnprintf(c->why, sizeof(c->why), fmt, ap);
  va_end(ap);
  return -1;
}

/* Replaces *dst with a copy of the unquoted value. */
static int
set_string(parse_ctx *c, char **dst, const char *v)
{
  char *copy = unquote(v, strlen(v));

  if (!copy)
    return fail(c, "out of memory");
  free(*dst);
  *dst = copy;
  return 0;
}

/*
 * A comma-separated list of values (each may be double-quoted) into *list,
 * replacing what it held; `what` names the key in the error.
 */
static int
set_list(parse_ctx *c, const char *what, char ***list, int *count, const char *v)
{
  const char **starts = NULL;
  size_t *lens = NULL;
  char **items;
  int n = split_list(v, &lens, &starts);

  if (n < 0)
    return fail(c, "%s", what);
  items = calloc((size_t)n, sizeof(*items));
  for (int i = 0; items && i < n; i++) {
    items[i] = unquote(starts[i], lens[i]);
    if (!items[i]) {
      free_list(items, n);
      items = NULL;
    }
  }
  free(starts);
  free(lens);
  if (!items)
    return fail(c, "out of memory");
  free_list(*list, *count);
  *list = items;
  *count = n;
  return 0;
}

/* true = WORDS or false = WORDS: a list of non-empty words, none of them
 * in the other list. */
static int
set_words(parse_ctx *c, cs_words *w, int yes, const char *v)
{
  char ***list = yes ? &w->yes : &w->no;
  int *n = yes ? &w->nyes : &w->nno;
  const char *key = yes ? "true" : "false";

  if (set_list(c, yes ? "true: expected a comma-separated list of words, e.g. yes, Y, ja"
                      : "false: expected a comma-separated list of words, e.g. no, N, nein",
               list, n, v))
    return -1;
  for (int i = 0; i < *n; i++) {
    if (!(*list)[i][0])
      return fail(c, "%s: a word cannot be empty (nullif turns a blank into NULL)", key);
    for (int k = 0; k < (yes ? w->nno : w->nyes); k++)
      if (strcasecmp((*list)[i], (yes ? w->no : w->yes)[k]) == 0)
        return fail(c, "'%s' is both a true and a false word", (*list)[i]);
  }
  return 0;
}

/* decimal = , or . ; thousands = . , ' _ or a space ("" quoted). */
static int
set_number_char(parse_ctx *c, cs_number_format *nf, int decimal, const char *v)
{
  char ch = 0;

  if (parse_char(v, &ch) || !strchr(decimal ? ",." : ".,' _", ch))
    return decimal ? fail(c, "decimal must be , or . (write \",\" or .)")
                   : fail(c, "thousands must be . , ' _ or a space (write \" \" for a space)");
  if (decimal)
    nf->decimal = ch;
  else
    nf->thousands = ch;
  if (nf->decimal && nf->decimal == nf->thousands)
    return fail(c, "decimal and thousands must differ");
  return 0;
}

/* format = 'DD.MM.YYYY' (in single quotes, as to_date's are, or double, or
 * bare): checked here, so that a mistake names its config line. */
static int
set_format(parse_ctx *c, char **dst, const char *v)
{
  size_t n = strlen(v);
  char *pattern = n >= 2 && v[0] == '\'' && v[n - 1] == '\'' ? strndup(v + 1, n - 2)
                                                          : unquote(v, n);
  cs_datefmt f;
  char why[512];

  if (!pattern)
    return fail(c, "out of memory");
  if (cs_datefmt_parse(&f, pattern, why, sizeof(why))) {
    cs_datefmt_free(&f);
    free(pattern);
    return fail(c, "%s", why);
  }
  cs_datefmt_free(&f);
  free(*dst);
  *dst = pattern;
  return 0;
}

static int
once(parse_ctx *c, unsigned *seen, unsigned bit, const char *key)
{
  /* Keys set through the API may be set again: the later one wins. */
  if (c->f && (*seen & bit))
    return fail(c, "'%s' is set twice", key);
  *seen |= bit;
  return 0;
}

static int
source_key(parse_ctx *c, const char *key, const char *v)
{
  csvstage_settings *s = c->s;

  if (strcmp(key, "delimiter") == 0) {
    if (once(c, &s->seen, SEEN_DELIMITER, key) || parse_char(v, &s->delimiter) ||
        s->delimiter == '\n' || s->delimiter == '\r')
      return c->why[0] ? -1 : fail(c, "delimiter must be one character (write \";\" or tab for those)");
  } else if (strcmp(key, "quote") == 0) {
    if (once(c, &s->seen, SEEN_QUOTE, key))
      return -1;
    if (strcasecmp(v, "none") == 0)
      s->quote = '\0';   /* every byte is data; a record is one line */
    else if (parse_char(v, &s->quote) || !s->quote || s->quote == '\n' || s->quote == '\r')
      return fail(c, "quote must be one character, or none (no quoting: every byte is data)");
  } else if (strcmp(key, "comment") == 0) {
    if (once(c, &s->seen, SEEN_COMMENT, key))
      return -1;
    char *prefix = unquote(v, strlen(v));
    if (!prefix)
      return fail(c, "out of memory");
    if (strlen(prefix) > 8 || strpbrk(prefix, "\r\n")) {
      free(prefix);
      return fail(c, "comment must be the prefix of a comment line, up to 8 bytes (e.g. #)");
    }
    free(s->comment);
    s->comment = *prefix ? prefix : (free(prefix), NULL);
  } else if (strcmp(key, "skip") == 0) {
    char *end;
    if (once(c, &s->seen, SEEN_SKIP, key))
      return -1;
    errno = 0;
    s->skip = strtoll(v, &end, 10);
    if (!*v || *end || errno || s->skip < 0 || !isdigit((unsigned char)v[0]))
      return fail(c, "skip must be a number of lines (0 or more), not '%s'", v);
  } else if (strcmp(key, "header") == 0) {
    if (once(c, &s->seen, SEEN_HEADER, key) || parse_bool(v, &s->header))
      return c->why[0] ? -1 : fail(c, "header must be true or false");
  } else if (strcmp(key, "trim") == 0) {
    if (once(c, &s->seen, SEEN_TRIM, key) || parse_bool(v, &s->trim))
      return c->why[0] ? -1 : fail(c, "trim must be true or false");
  } else if (strcmp(key, "ragged") == 0) {
    if (once(c, &s->seen, SEEN_RAGGED, key))
      return -1;
    if (strcmp(v, "pad") == 0)
      s->ragged = 1;
    else if (strcmp(v, "error") == 0)
      s->ragged = 0;
    else
      return fail(c, "ragged must be pad (a record's missing last fields are NULL, empty "
                     "fields past the last column dropped) or error (such records are "
                     "rejected), not '%s'", v);
  } else if (strcmp(key, "encoding") == 0) {
    if (once(c, &s->seen, SEEN_ENCODING, key))
      return -1;
    if (!*v || strspn(v, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-") != strlen(v))
      return fail(c, "encoding '%s' is not an encoding name (e.g. UTF8, LATIN1, WIN1252)", v);
    return set_string(c, &s->encoding, v);
  } else if (strcmp(key, "null") == 0) {
    if (once(c, &s->seen, SEEN_NULL, key))
      return -1;
    return set_string(c, &s->null_marker, v);
  } else if (strcmp(key, "columns") == 0) {
    if (once(c, &s->seen, SEEN_COLUMNS, key))
      return -1;
    return set_list(c, "columns: expected a comma-separated list of column names",
                    &s->columns, &s->ncolumns, v);
  } else if (strcmp(key, "datestyle") == 0) {
    static const char *const orders[] = {"DMY", "MDY", "YMD"};
    if (once(c, &s->seen, SEEN_DATESTYLE, key))
      return -1;
    s->datestyle = NULL;
    for (int i = 0; i < 3; i++)
      if (strcasecmp(v, orders[i]) == 0)
        s->datestyle = orders[i];
    if (!s->datestyle)
      return fail(c, "datestyle must be DMY (31/12/2024), MDY (12/31/2024) or YMD, not '%s'", v);
  } else if (strcmp(key, "true") == 0 || strcmp(key, "false") == 0) {
    int yes = key[0] == 't';
    if (once(c, &s->seen, yes ? SEEN_SOURCE_TRUE : SEEN_SOURCE_FALSE, key))
      return -1;
    return set_words(c, &s->words, yes, v);
  } else if (strcmp(key, "decimal") == 0 || strcmp(key, "thousands") == 0) {
    int decimal = key[0] == 'd';
    if (once(c, &s->seen, decimal ? SEEN_SOURCE_DECIMAL : SEEN_SOURCE_THOUSANDS, key))
      return -1;
    return set_number_char(c, &s->number, decimal, v);
  } else if (strcmp(key, "format") == 0) {
    if (once(c, &s->seen, SEEN_SOURCE_FORMAT, key))
      return -1;
    return set_format(c, &s->format, v);
  } else if (strcmp(key, "timezone") == 0) {
    if (once(c, &s->seen, SEEN_TIMEZONE, key))
      return -1;
    if (!*v)
      return fail(c, "timezone must name a time zone (Europe/Berlin, UTC)");
    return set_string(c, &s->timezone, v);
  } else if (strcmp(key, "member") == 0) {
    if (once(c, &s->seen, SEEN_MEMBER, key))
      return -1;
    if (!*v)
      return fail(c, "member must name a file in the zip archive");
    return set_string(c, &s->member, v);
  } else if (strcmp(key, "ignore") == 0) {
    if (once(c, &s->seen, SEEN_IGNORE, key))
      return -1;
    return set_list(c, "ignore: expected a comma-separated list of column names",
                    &s->ignore, &s->nignore, v);
  } else {
    return fail(c, "unknown key '%s' in [source] (known: delimiter, quote, header, "
                   "encoding, null, columns, ignore, trim, ragged, comment, skip, datestyle, format, "
                   "timezone, member, "
                   "true, false, decimal, thousands)", key);
  }
  if (s->delimiter == s->quote)
    return fail(c, "delimiter and quote must differ");
  if (s->comment && (s->comment[0] == s->delimiter || (s->quote && s->comment[0] == s->quote)))
    return fail(c, "comment cannot start with the delimiter or the quote");
  return 0;
}

static int
target_key(parse_ctx *c, const char *key, const char *v)
{
  csvstage_settings *s = c->s;

  if (strcmp(key, "table") == 0) {
    if (once(c, &s->seen, SEEN_TABLE, key))
      return -1;
    if (!*v)
      return fail(c, "table is empty");
    free(s->table);
    /* Not unquoted: double quotes belong to the SQL name ("Odd ""Name""") */
    s->table = strdup(v);
    return s->table ? 0 : fail(c, "out of memory");
  }
  if (strcmp(key, "max_rejects") == 0) {
    if (once(c, &s->seen, SEEN_MAX_REJECTS, key))
      return -1;
    if (cs_parse_max_rejects(v, &s->max_rejects, &s->max_rejects_pct) != 0)
      return fail(c, "max_rejects must be a count (100) or a percentage (1%%), not '%s'", v);
    return 0;
  }
  if (strcmp(key, "ledger") == 0) {
    if (once(c, &s->seen, SEEN_LEDGER, key) || parse_bool(v, &s->ledger))
      return c->why[0] ? -1 : fail(c, "ledger must be on or off");
    return 0;
  }
  if (strcmp(key, "wait") == 0) {
    char *end;
    if (once(c, &s->seen, SEEN_WAIT, key))
      return -1;
    if (strcmp(v, "no") == 0)
      s->lock_wait = -1;
    else if (strcmp(v, "forever") == 0)
      s->lock_wait = 0;
    else if ((s->lock_wait = strtod(v, &end)) <= 0 || *end || end == v || s->lock_wait > 86400)
      return fail(c, "wait must be no, forever or seconds (at most 86400), not '%s'", v);
    return 0;
  }
  if (strcmp(key, "mode") == 0) {
    if (once(c, &s->seen, SEEN_MODE, key))
      return -1;
    for (cs_mode m = CS_MODE_APPEND; m <= CS_MODE_INSERT_NEW; m++)
      if (strcmp(v, cs_mode_name(m)) == 0)
        return s->mode = m, 0;
    return fail(c, "mode must be append, truncate, replace, upsert or insert-new, not '%s'", v);
  }
  if (strcmp(key, "key") == 0) {
    if (once(c, &s->seen, SEEN_KEY, key))
      return -1;
    return set_list(c, "key: expected a comma-separated list of column names",
                    &s->key, &s->nkey, v);
  }
  if (strcmp(key, "update") == 0) {
    if (once(c, &s->seen, SEEN_UPDATE, key))
      return -1;
    return set_list(c, "update: expected a comma-separated list of column names",
                    &s->update, &s->nupdate, v);
  }
  if (strcmp(key, "before") == 0 || strcmp(key, "after") == 0) {
    int before = key[0] == 'b';
    char **stmt = before ? &s->before : &s->after;
    if (once(c, &s->seen, before ? SEEN_BEFORE : SEEN_AFTER, key))
      return -1;
    if (!*v)
      return fail(c, "%s is empty: give the SQL to run, or leave the key out", key);
    free(*stmt);
    *stmt = strdup(v);
    return *stmt ? 0 : fail(c, "out of memory");
  }
  return fail(c, "unknown key '%s' in [target] (known: table, mode, key, update, before, "
              "after, max_rejects, wait, ledger)", key);
}

static int
rejects_key(parse_ctx *c, const char *key, const char *v)
{
  if (strcmp(key, "file") == 0) {
    if (once(c, &c->s->seen, SEEN_FILE, key))
      return -1;
    if (!*v)
      return fail(c, "file is empty");
    return set_string(c, &c->s->rejects_file, v);
  }
  return fail(c, "unknown key '%s' in [rejects] (known: file)", key);
}

/* The coalesce list: 'SQL literals', numbers, CSV columns, and DEFAULT last. */
static int
set_coalesce(parse_ctx *c, cs_rule *r, const char *v)
{
  const char **starts = NULL;
  size_t *lens = NULL;
  int n = split_list(v, &lens, &starts), rc = 0;
  cs_fallback *fb;

  if (n < 0)
    return fail(c, "coalesce: expected a comma-separated list of 'literals', "
                   "CSV column names and DEFAULT");
  fb = calloc((size_t)n, sizeof(*fb));
  if (!fb) {
    rc = fail(c, "out of memory");
    goto out;
  }
  for (int i = 0; i < n; i++) {
    const char *t = starts[i];
    size_t len = lens[i];

    if (len == 7 && strncasecmp(t, "DEFAULT", 7) == 0) {
      if (i != n - 1) {
        rc = fail(c, "coalesce: DEFAULT must come last");
        break;
      }
      fb[i].kind = CS_FALLBACK_DEFAULT;
      fb[i].text = strdup("DEFAULT");
    } else if (t[0] == '\'') {
      if (len < 2 || t[len - 1] != '\'') {
        rc = fail(c, "coalesce: unterminated literal");
        break;
      }
      fb[i].kind = CS_FALLBACK_LITERAL;
      fb[i].text = malloc(len);
      if (fb[i].text) {
        char *o = fb[i].text;
        for (size_t j = 1; j < len - 1; j++) {
          *o++ = t[j];
          if (t[j] == '\'' && t[j + 1] == '\'')
            j++;
        }
        *o = '\0';
      }
    } else if (strspn(t, "+-0123456789.eE") >= len) {
      fb[i].kind = CS_FALLBACK_LITERAL;
      fb[i].text = strndup(t, len);
    } else {
      fb[i].kind = CS_FALLBACK_COLUMN;
      fb[i].text = unquote(t, len);
    }
    if (!fb[i].text) {
      rc = fail(c, "out of memory");
      break;
    }
  }
  if (rc == 0) {
    for (int i = 0; i < r->ncoalesce; i++)
      free(r->coalesce[i].text);
    free(r->coalesce);
    r->coalesce = fb;
    r->ncoalesce = n;
    fb = NULL;
  }
out:
  if (fb) {
    for (int i = 0; i < n; i++)
      free(fb[i].text);
    free(fb);
  }
  free(starts);
  free(lens);
  return rc;
}

/* The column name in a section header: column "NAME" ("" doubles a quote). */
static char *
section_column(const char *section)
{
  const char *p = section + 6;   /* after "column" */
  size_t n;

  if (!isspace((unsigned char)*p))
    return NULL;
  while (isspace((unsigned char)*p))
    p++;
  n = strlen(p);
  if (n < 3 || p[0] != '"' || p[n - 1] != '"')
    return NULL;
  return unquote(p, n);
}

static int
column_key(parse_ctx *c, const char *section, const char *key, const char *v)
{
  csvstage_settings *s = c->s;
  char *name;
  cs_rule *r = NULL;

  /* [column] with name = NAME first: for names longer than a section
   * line can hold (libinih keeps 49 bytes of it). */
  if (strcmp(section, "column") == 0) {
    if (strcmp(key, "name") == 0) {
      if (c->column)
        return fail(c, "'name' is set twice");
      if (!*v)
        return fail(c, "name is empty");
      if (!(c->column = unquote(v, strlen(v))))
        return fail(c, "out of memory");
    } else if (!c->column) {
      return fail(c, "a [column] section starts with name = NAME (the table column's "
                     "name), or is written [column \"NAME\"]");
    }
    name = strdup(c->column);
    if (!name)
      return fail(c, "out of memory");
  } else if (!(name = section_column(section))) {
    return fail(c, "write the section as [column \"NAME\"], with the table "
                   "column's name in double quotes");
  }
  for (int i = 0; i < s->nrules; i++)
    if (strcmp(s->rules[i].column, name) == 0)
      r = &s->rules[i];
  if (!r) {
    cs_rule *nr = realloc(s->rules, (size_t)(s->nrules + 1) * sizeof(*nr));
    if (!nr) {
      free(name);
      return fail(c, "out of memory");
    }
    s->rules = nr;
    r = &s->rules[s->nrules++];
    memset(r, 0, sizeof(*r));
    r->column = name;
    r->trim = -1;
    r->line = c->line;
  } else {
    free(name);
  }
  if (strcmp(key, "name") == 0 && strcmp(section, "column") == 0)
    return 0;
  if (strcmp(key, "from") == 0) {
    if (once(c, &r->seen, SEEN_FROM, key))
      return -1;
    if (!*v)
      return fail(c, "from is empty");
    return set_string(c, &r->from, v);
  }
  if (strcmp(key, "trim") == 0) {
    if (once(c, &r->seen, SEEN_RTRIM, key))
      return -1;
    return parse_bool(v, &r->trim) ? fail(c, "trim must be true or false") : 0;
  }
  if (strcmp(key, "nullif") == 0) {
    if (once(c, &r->seen, SEEN_NULLIF, key))
      return -1;
    return set_list(c, "nullif: expected a comma-separated list of values, "
                       "e.g. \"\", \"N/A\", \"-\"", &r->nullif, &r->nnullif, v);
  }
  if (strcmp(key, "coalesce") == 0) {
    if (once(c, &r->seen, SEEN_COALESCE, key))
      return -1;
    return set_coalesce(c, r, v);
  }
  if (strcmp(key, "true") == 0 || strcmp(key, "false") == 0) {
    int yes = key[0] == 't';
    if (once(c, &r->seen, yes ? SEEN_TRUE : SEEN_FALSE, key))
      return -1;
    return set_words(c, &r->words, yes, v);
  }
  if (strcmp(key, "decimal") == 0 || strcmp(key, "thousands") == 0) {
    int decimal = key[0] == 'd';
    if (once(c, &r->seen, decimal ? SEEN_DECIMAL : SEEN_THOUSANDS, key))
      return -1;
    return set_number_char(c, &r->number, decimal, v);
  }
  if (strcmp(key, "format") == 0) {
    if (once(c, &r->seen, SEEN_FORMAT, key))
      return -1;
    return set_format(c, &r->format, v);
  }
  return fail(c, "unknown key '%s' in [%s] (known: from, trim, nullif, coalesce, true, false, "
                 "decimal, thousands, format)", key, section);
}

static int
set_key(parse_ctx *c, const char *section, const char *key, const char *v)
{
  if (strcmp(section, "source") == 0)
    return source_key(c, key, v);
  if (strcmp(section, "target") == 0)
    return target_key(c, key, v);
  if (strcmp(section, "rejects") == 0)
    return rejects_key(c, key, v);
  if (strncmp(section, "column", 6) == 0 && column_key(c, section, key, v) == 0)
    return 0;
  if (c->why[0])
    return -1;
  if (!*section)
    return fail(c, "'%s' is outside any section: put it under [source], [target], "
                   "[rejects] or [column \"NAME\"]", key);
  return fail(c, "unknown section [%s] (known: [source], [target], [rejects], "
                 "[column \"NAME\"])", section);
}

/* libinih calls this for each key; returning 0 stops it at this line. */
static int
ini_handler_cb(void *user, const char *section, const char *name, const char *value)
{
  return set_key(user, section, name, value) == 0;
}

/*
 * libinih's line reader, counting lines: Debian's libinih does not pass
 * the line number to the handler, and rules keep theirs for the messages
 * that preflight gives later.
 */
static char *
ini_reader_cb(char *str, int num, void *user)
{
  parse_ctx *c = user;
  char *got = fgets(str, num, c->f);
  size_t n;

  if (!got)
    return NULL;
  if (c->at_line_start) {
    c->line++;
    /* A section line ends the [column] section's name = NAME. */
    if (got[strspn(got, " \t")] == '[') {
      free(c->column);
      c->column = NULL;
    }
  }
  n = strlen(got);
  c->at_line_start = n > 0 && got[n - 1] == '\n';
  return got;
}

csvstage_code
csvstage_settings_read(csvstage_settings *s, const char *path, csvstage_error *err)
{
  parse_ctx c = {.s = s, .err = err, .at_line_start = 1};
  int line;
  char *copy;

  if (!s || !path)
    return cs_fail(err, CSVSTAGE_E_INVALID, "no settings or no config path");
  c.f = fopen(path, "r");
  if (!c.f)
    return cs_fail(err, CSVSTAGE_E_IO, "%s: %s", path, strerror(errno));
  copy = strdup(path);
  if (!copy) {
    fclose(c.f);
    return cs_fail(err, CSVSTAGE_E_NOMEM, "out of memory");
  }
  free(s->path);
  s->path = copy;
  /*
   * libinih's behaviour is set through process globals in the Debian build:
   * stop at the first error (its line is what ini_parse returns), no
   * continuation lines (an indented line would silently extend the previous
   * value), and lines of any length.
   */
  ini_stop_on_first_error = 1;
  ini_allow_multiline = 0;
  ini_use_stack = 0;
  ini_allow_realloc = 1;
  ini_max_line = 1 << 20;
  line = ini_parse_stream(ini_reader_cb, &c, ini_handler_cb, &c);
  fclose(c.f);
  free(c.column);
  if (line == 0)
    return CSVSTAGE_OK;
  if (line < 0)
    return cs_fail(err, CSVSTAGE_E_IO, "%s: cannot read the file", path);
  if (!c.why[0])
    snprintf(c.why, sizeof(c.why), "syntax error: expected [section], key = value, "
                                   "or a comment");
  cs_fail(err, CSVSTAGE_E_CONFIG, "%s:%d: %s", path, line, c.why);
  if (err)
    err->line = line;
  return CSVSTAGE_E_CONFIG;
}

csvstage_code
csvstage_settings_set(csvstage_settings *s, const char *section, const char *key,
                      const char *value, csvstage_error *err)
{
  parse_ctx c = {.s = s, .err = err};

  if (!s || !section || !key || !value)
    return cs_fail(err, CSVSTAGE_E_INVALID, "settings, section, key and value are required");
  if (set_key(&c, section, key, value) != 0)
    return cs_fail(err, CSVSTAGE_E_CONFIG, "%s", c.why);
  return CSVSTAGE_OK;
}
