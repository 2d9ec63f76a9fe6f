/* fixes.c: rejects that explain their own fix. When many of a column's
 * rejects are values written in a way a config line would read (decimal
 * commas, dates in a layout of their own, a NULL marker, words for
 * booleans), csvstage rejects proposes that line, tried first on those very
 * values: how many of them it would read. */
#include <config.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "datefmt.h"
#include "fixes.h"
#include "settings.h"
#include "validate.h"

/* The candidates, each tried on every rejected value of the column. */
enum {
  FIX_DECIMAL_COMMA,       /* decimal = "," thousands = . */
  FIX_DECIMAL_COMMA_ONLY,  /* decimal = "," */
  FIX_THOUSANDS_COMMA,     /* thousands = "," */
  FIX_FORMAT,              /* format = the layout most values fit */
  FIX_NULL,                /* nullif = the markers found */
  FIX_WORDS,               /* true = / false = the words found */
  NFIX
};

#define MARKERS 4

typedef struct column_fixes {
  char column[128];
  char type[64];           /* from the message: "numeric", "date", ... */
  long long values;
  long long takes[NFIX];
  char markers[MARKERS][16];
  int nmarkers;
  char yes[MARKERS][16], no[MARKERS][16];
  int nyes, nno;
  cs_df_guess dates;       /* the date layouts the values fit */
} column_fixes;

struct cs_fixes {
  column_fixes cols[CS_FIXES_COLUMNS];
  int ncols;
};

/* Letters and digits of s, in lower case: "First Name" and first_name
 * match, as a header's names match the table's. */
static void
squash(const char *s, char *buf, size_t n)
{
  size_t o = 0;

  for (; *s && o + 1 < n; s++)
    if ((*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') || (unsigned char)*s >= 0x80)
      buf[o++] = *s;
    else if (*s >= 'A' && *s <= 'Z')
      buf[o++] = (char)(*s - 'A' + 'a');
  buf[o] = '\0';
}

/* Whether the CSV column named header fed table column `column`: the
 * rule's `from`, else the same name (or the same letters). */
int
cs_header_feeds(const csvstage_settings *settings, const char *header, const char *column)
{
  const cs_rule *r = cs_settings_rule(settings, column);
  char a[256], b[256];

  if (r && r->from)
    return strcmp(header, r->from) == 0;
  if (strcmp(header, column) == 0)
    return 1;
  squash(header, a, sizeof(a));
  squash(column, b, sizeof(b));
  return a[0] && strcmp(a, b) == 0;
}

cs_fixes *
cs_fixes_new(void)
{
  return calloc(1, sizeof(cs_fixes));
}

void
cs_fixes_free(cs_fixes *f)
{
  free(f);
}

/* s without white space around it, as a C string (cut to size). */
static void
trimmed(const char *s, size_t n, char *buf, size_t size)
{
  while (n > 0 && cs_is_space(*s))
    s++, n--;
  while (n > 0 && cs_is_space(s[n - 1]))
    n--;
  if (n >= size)
    n = size - 1;
  memcpy(buf, s, n);
  buf[n] = '\0';
}

/* Whether v is a number written with these separators, and one the type
 * takes (an integer type: no fraction). */
int
cs_number_fits(const char *v, char decimal, char thousands, int integer)
{
  const char *p = v;
  int lead = 0, groups = 0, frac = -1;

  if (*p == '+' || *p == '-')
    p++;
  while (*p >= '0' && *p <= '9')
    p++, lead++;
  while (thousands && lead >= 1 && lead <= 3 && *p == thousands) {
    int k = 0;
    while (p[1 + k] >= '0' && p[1 + k] <= '9')
      k++;
    if (k != 3)
      return 0;
    p += 4;
    groups++;
  }
  if (*p == decimal) {
    p++;
    frac = 0;
    while (*p >= '0' && *p <= '9')
      p++, frac++;
  }
  if (*p || (lead == 0 && frac <= 0))
    return 0;
  if (integer && frac > 0)
    return 0;
  /* a plain number needs no rule: it was rejected for something else */
  return groups > 0 || frac >= 0;
}

int
cs_is_null_marker(const char *v)
{
  static const char *const markers[] = {"N/A", "n/a", "NA", "-", "--", "NULL", "null", "None",
                                        "none", "?", "#N/A", "nil"};

  for (size_t i = 0; i < sizeof(markers) / sizeof(markers[0]); i++)
    if (strcmp(v, markers[i]) == 0)
      return 1;
  return 0;
}

/* Words for true and false beyond PostgreSQL's own: 1 true, 0 false, -1
 * none. */
int
cs_bool_word(const char *v)
{
  static const char *const yes[] = {"ja", "j", "oui", "si", "s\xc3\xad", "vrai", "wahr", "x"};
  static const char *const no[] = {"nein", "non", "faux", "falsch"};

  for (size_t i = 0; i < sizeof(yes) / sizeof(yes[0]); i++)
    if (strcasecmp(v, yes[i]) == 0)
      return 1;
  for (size_t i = 0; i < sizeof(no) / sizeof(no[0]); i++)
    if (strcasecmp(v, no[i]) == 0)
      return 0;
  return -1;
}

static void
remember(char list[][16], int *n, const char *v)
{
  for (int i = 0; i < *n; i++)
    if (strcmp(list[i], v) == 0)
      return;
  if (*n < MARKERS && strlen(v) < 16)
    snprintf(list[(*n)++], 16, "%s", v);
}

/* The type an input error names: `... for type numeric: "x"`, or the
 * date/time messages (22007, 22008), which name none. */
static void
message_type(const char *sqlstate, const char *message, char *buf, size_t n)
{
  const char *t = strstr(message, "for type ");
  const char *end = t ? strstr(t, ": \"") : NULL;

  buf[0] = '\0';
  if (t && end && (size_t)(end - t - 9) < n) {
    memcpy(buf, t + 9, (size_t)(end - t - 9));
    buf[end - t - 9] = '\0';
  } else if (strncmp(sqlstate, "2200", 4) == 0) {
    snprintf(buf, n, "date/time");
  }
}

void
cs_fixes_add(cs_fixes *f, const char *sqlstate, const char *column, const char *message,
             const char *value, size_t len)
{
  column_fixes *c = NULL;
  char v[256], type[64];
  int integer, numeric, datetime;

  if (!column[0] || !value || strncmp(sqlstate, "22", 2) != 0)
    return;
  message_type(sqlstate, message, type, sizeof(type));
  for (int i = 0; i < f->ncols && !c; i++)
    if (strcmp(f->cols[i].column, column) == 0)
      c = &f->cols[i];
  if (!c) {
    if (f->ncols == CS_FIXES_COLUMNS)
      return;
    c = &f->cols[f->ncols++];
    snprintf(c->column, sizeof(c->column), "%s", column);
    snprintf(c->type, sizeof(c->type), "%s", type);
    cs_df_guess_init(&c->dates);
  }
  trimmed(value, len, v, sizeof(v));
  c->values++;
  integer = strcmp(c->type, "smallint") == 0 || strcmp(c->type, "integer") == 0 ||
            strcmp(c->type, "bigint") == 0;
  numeric = integer || strcmp(c->type, "numeric") == 0 || strcmp(c->type, "real") == 0 ||
            strcmp(c->type, "double precision") == 0;
  datetime = strcmp(c->type, "date/time") == 0 || strcmp(c->type, "date") == 0 ||
             strncmp(c->type, "timestamp", 9) == 0;
  if (cs_is_null_marker(v)) {
    c->takes[FIX_NULL]++;
    remember(c->markers, &c->nmarkers, v);
    return;
  }
  if (numeric) {
    c->takes[FIX_DECIMAL_COMMA] += cs_number_fits(v, ',', '.', integer);
    c->takes[FIX_DECIMAL_COMMA_ONLY] += cs_number_fits(v, ',', 0, integer);
    c->takes[FIX_THOUSANDS_COMMA] += cs_number_fits(v, '.', ',', integer);
  }
  if (datetime)
    cs_df_guess_add(&c->dates, v, strlen(v));
  if (strcmp(c->type, "boolean") == 0) {
    int w = cs_bool_word(v);
    if (w >= 0) {
      c->takes[FIX_WORDS]++;
      if (w)
        remember(c->yes, &c->nyes, v);
      else
        remember(c->no, &c->nno, v);
    }
  }
}

static void
put_list(char *buf, size_t n, const char list[][16], int count)
{
  size_t len = strlen(buf);

  for (int i = 0; i < count; i++) {
    snprintf(buf + len, n - len, "%s\"%s\"", i ? ", " : "", list[i]);
    len = strlen(buf);
  }
}

int
cs_fixes_found(cs_fixes *f, csvstage_review_fix *out, int max)
{
  int n = 0;

  for (int i = 0; i < f->ncols && n < max; i++) {
    column_fixes *c = &f->cols[i];
    int best = -1;
    /* The date layout most rejected values are written in (a date
     * column's without a time: its format may not have one). */
    const char *layout = cs_df_guess_most(&c->dates, strcmp(c->type, "date") == 0,
                                          &c->takes[FIX_FORMAT]);
    for (int k = 0; k < NFIX; k++) {
      /* None that reads fewer than half the column's rejects. */
      if (c->takes[k] * 2 >= c->values && c->takes[k] > 0 &&
          (best < 0 || c->takes[k] > c->takes[best]))
        best = k;
    }
    if (best < 0)
      continue;
    csvstage_review_fix *x = &out[n++];
    snprintf(x->column, sizeof(x->column), "%s", c->column);
    x->takes = c->takes[best];
    x->of = c->values;
    snprintf(x->section, sizeof(x->section), "[column \"%s\"]", c->column);
    /* the fixes whose keys are always the same, then the ones that list
     * what the values held */
    static const char *const fixed[NFIX] = {
      [FIX_DECIMAL_COMMA] = "decimal = \",\"\nthousands = .",
      [FIX_DECIMAL_COMMA_ONLY] = "decimal = \",\"",
      [FIX_THOUSANDS_COMMA] = "thousands = \",\"",
    };
    snprintf(x->keys, sizeof(x->keys), "%s", fixed[best] ? fixed[best] : "");
    switch (best) {
    case FIX_FORMAT:
      snprintf(x->keys, sizeof(x->keys), "format = '%s'", layout);
      break;
    case FIX_NULL:
      snprintf(x->keys, sizeof(x->keys), "nullif = ");
      put_list(x->keys, sizeof(x->keys), c->markers, c->nmarkers);
      break;
    case FIX_WORDS:
      if (c->nyes) {
        snprintf(x->keys, sizeof(x->keys), "true = ");
        put_list(x->keys, sizeof(x->keys), c->yes, c->nyes);
      }
      if (c->nno) {
        strncat(x->keys, c->nyes ? "\nfalse = " : "false = ", sizeof(x->keys) - strlen(x->keys) - 1);
        put_list(x->keys, sizeof(x->keys), c->no, c->nno);
      }
      break;
    }
  }
  return n;
}
