/*
 * datefmt.c: date and time formats, read strictly.
 *
 * PostgreSQL's to_date and to_timestamp take 31-12-2024 for DD.MM.YYYY,
 * 1.2.2024 for DD.MM, 31.12.2024x, and 00.01.2024 as 1 January: a vendor's
 * changed export would load shifted or guessed dates. Here the value must
 * be the pattern, character for character (white space around it aside),
 * and its fields are turned into ISO text that the column type's own input
 * function reads: a date that does not exist is refused by it, in its
 * words, at the record's line. The client (cs_datefmt_read) and the server
 * (the regular expressions and cs_datefmt_add_iso) read the same language.
 */
#include <config.h>

#include <ctype.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "datefmt.h"
#include "validate.h"

static const char *const months[12] = {"january", "february", "march", "april", "may", "june",
                                       "july", "august", "september", "october", "november",
                                       "december"};

/* The keywords, longest first where one starts another; NULL field: one
 * PostgreSQL has that is not read here. */
static const struct {
  const char *word;
  int field;            /* cs_df_field, or -1: not supported */
} keywords[] = {
  {"MONTH", CS_DF_MONTH}, {"MON", CS_DF_MON}, {"MM", CS_DF_MM}, {"MI", CS_DF_MI},
  {"MS", CS_DF_MS},       {"YYYY", CS_DF_YYYY}, {"Y,YYY", -1}, {"YYY", -1},
  {"YY", CS_DF_YY},       {"Y", -1},           {"DDD", -1},    {"DAY", -1},
  {"DY", -1},             {"DD", CS_DF_DD},    {"D", -1},      {"HH24", CS_DF_HH24},
  {"HH12", CS_DF_HH12},   {"HH", CS_DF_HH12},  {"SSSSS", -1},  {"SSSS", -1},
  {"SS", CS_DF_SS},       {"US", CS_DF_US},    {"A.M.", CS_DF_AMPM_DOTS},
  {"P.M.", CS_DF_AMPM_DOTS}, {"AM", CS_DF_AMPM}, {"PM", CS_DF_AMPM}, {"TZH", CS_DF_TZH},
  {"TZM", CS_DF_TZM},     {"TZ", -1},          {"OF", -1},     {"FF", -1},
  {"IYYY", -1},           {"IW", -1},          {"WW", -1},     {"W", -1},
  {"Q", -1},              {"CC", -1},          {"J", -1},      {"RM", -1},
  {"BC", -1},             {"AD", -1},          {"B.C.", -1},   {"A.D.", -1},
};

static const char supported[] = "YYYY YY MM Mon Month DD HH24 HH12 MI SS MS US AM TZH TZM, "
                                "FM before a number or Month, text in double quotes";

static int
is_digit_field(cs_df_field k)
{
  return k != CS_DF_LITERAL && k != CS_DF_MON && k != CS_DF_MONTH && k != CS_DF_AMPM &&
         k != CS_DF_AMPM_DOTS && k != CS_DF_TZH;
}

static int
push(cs_datefmt *f, cs_df_field field, int fm, char lit)
{
  cs_df_token *t = realloc(f->tok, (size_t)(f->ntok + 1) * sizeof(*t));

  if (!t)
    return -1;
  f->tok = t;
  t[f->ntok].field = field;
  t[f->ntok].fm = fm;
  t[f->ntok++].lit = lit;
  return 0;
}

static int
bad(char *why, size_t n, const char *pattern, const char *what)
{
  snprintf(why, n, "format '%s': %s", pattern, what);
  return -1;
}

int
cs_datefmt_parse(cs_datefmt *f, const char *pattern, char *why, size_t n)
{
  const char *p = pattern;
  int seen[CS_DF_NFIELDS] = {0};
  char msg[256];

  memset(f, 0, sizeof(*f));
  if (!*p)
    return bad(why, n, pattern, "empty");
  if (cs_is_space(p[0]) || cs_is_space(p[strlen(p) - 1]))
    return bad(why, n, pattern, "white space around a value is skipped; leave it out of the "
                                "format");
  while (*p) {
    int fm = 0, k;
    size_t len = 0;

    if ((unsigned char)*p >= 0x80)
      return bad(why, n, pattern, "only ASCII characters (write other text in the data's own "
                                  "column, or ask for it)");
    if (*p == '"') {
      for (p++; *p && *p != '"'; p++) {
        if (*p == '\\' && p[1])
          p++;
        if ((unsigned char)*p >= 0x80)
          return bad(why, n, pattern, "only ASCII characters");
        if (push(f, CS_DF_LITERAL, 0, *p))
          return bad(why, n, pattern, "out of memory");
      }
      if (!*p)
        return bad(why, n, pattern, "a double quote is not closed");
      p++;
      continue;
    }
    if (*p == '\\' && p[1]) {
      if (push(f, CS_DF_LITERAL, 0, p[1]))
        return bad(why, n, pattern, "out of memory");
      p += 2;
      continue;
    }
    if (strncasecmp(p, "FM", 2) == 0) {
      fm = 1;
      p += 2;
    }
    for (k = 0; k < (int)(sizeof(keywords) / sizeof(keywords[0])); k++) {
      len = strlen(keywords[k].word);
      if (strncasecmp(p, keywords[k].word, len) == 0)
        break;
    }
    if (k == (int)(sizeof(keywords) / sizeof(keywords[0]))) {
      if (fm)
        return bad(why, n, pattern, "FM must come before a field (FMDD, FMMonth)");
      if (isalpha((unsigned char)*p)) {
        snprintf(msg, sizeof(msg), "'%c' is no field here (known: %s)", *p, supported);
        return bad(why, n, pattern, msg);
      }
      if (push(f, CS_DF_LITERAL, 0, *p))
        return bad(why, n, pattern, "out of memory");
      p++;
      continue;
    }
    if (keywords[k].field < 0) {
      snprintf(msg, sizeof(msg), "%.*s is not read by csvstage (known: %s)", (int)len, p,
               supported);
      return bad(why, n, pattern, msg);
    }
    cs_df_field field = (cs_df_field)keywords[k].field;
    if (fm && !(is_digit_field(field) && field != CS_DF_YYYY && field != CS_DF_YY &&
                field != CS_DF_MS && field != CS_DF_US) &&
        field != CS_DF_MONTH && field != CS_DF_MON)
      return bad(why, n, pattern, "FM goes with DD, MM, HH24, HH12, MI, SS or Month");
    int slot = field == CS_DF_AMPM_DOTS ? CS_DF_AMPM : field;
    if (seen[slot]++ || (field == CS_DF_YY && seen[CS_DF_YYYY]) ||
        (field == CS_DF_YYYY && seen[CS_DF_YY]))
      return bad(why, n, pattern, "a field is given twice");
    if (push(f, field, fm, 0))
      return bad(why, n, pattern, "out of memory");
    p += len;
  }
  /* One or two digits must not meet a digit: 1112 could be 1/112 or 11/12. */
  for (int i = 0; i + 1 < f->ntok; i++) {
    const cs_df_token *t = &f->tok[i], *next = &f->tok[i + 1];
    if (t->fm && is_digit_field(t->field) &&
        ((next->field == CS_DF_LITERAL && isdigit((unsigned char)next->lit)) ||
         is_digit_field(next->field)))
      return bad(why, n, pattern, "an FM field must be followed by a separator");
  }
  int month = seen[CS_DF_MM] + seen[CS_DF_MON] + seen[CS_DF_MONTH];
  int year = seen[CS_DF_YYYY] + seen[CS_DF_YY];
  if (month > 1)
    return bad(why, n, pattern, "a field is given twice");
  if (month || year || seen[CS_DF_DD]) {
    if (!month || !year || !seen[CS_DF_DD])
      return bad(why, n, pattern, "a date needs a year (YYYY), a month (MM) and a day (DD)");
    f->kind |= CS_DF_DATE;
  }
  if (seen[CS_DF_HH12] && !seen[CS_DF_AMPM])
    return bad(why, n, pattern, "HH12 needs AM (or PM) to say which half of the day");
  if (seen[CS_DF_AMPM] && !seen[CS_DF_HH12])
    return bad(why, n, pattern, "AM and PM go with HH12");
  if (seen[CS_DF_HH24] && seen[CS_DF_HH12])
    return bad(why, n, pattern, "a field is given twice");
  if (seen[CS_DF_MS] && seen[CS_DF_US])
    return bad(why, n, pattern, "give MS or US, not both");
  if ((seen[CS_DF_MS] || seen[CS_DF_US]) && !seen[CS_DF_SS])
    return bad(why, n, pattern, "MS and US go after SS");
  if (seen[CS_DF_HH24] || seen[CS_DF_HH12]) {
    f->kind |= CS_DF_TIME;
  } else if (seen[CS_DF_MI] || seen[CS_DF_SS] || seen[CS_DF_MS] || seen[CS_DF_US]) {
    return bad(why, n, pattern, "a time needs an hour (HH24, or HH12 and AM)");
  }
  if (seen[CS_DF_TZM] && !seen[CS_DF_TZH])
    return bad(why, n, pattern, "TZM goes with TZH");
  if (seen[CS_DF_TZH]) {
    if (!(f->kind & CS_DF_TIME))
      return bad(why, n, pattern, "an offset (TZH) needs a time");
    f->kind |= CS_DF_ZONE;
  }
  if (!f->kind)
    return bad(why, n, pattern, "no field: a date needs YYYY, MM and DD; a time HH24 or HH12");
  int group = 0;
  for (int i = 0; i < f->ntok; i++)
    if (f->tok[i].field != CS_DF_LITERAL)
      f->group[f->tok[i].field == CS_DF_AMPM_DOTS ? CS_DF_AMPM : f->tok[i].field] = ++group;
  return 0;
}

void
cs_datefmt_free(cs_datefmt *f)
{
  free(f->tok);
  f->tok = NULL;
  f->ntok = 0;
}

int
cs_datefmt_type(const char *basetype)
{
  return strcmp(basetype, "pg_catalog.date") == 0 || strcmp(basetype, "pg_catalog.\"time\"") == 0 ||
         strcmp(basetype, "pg_catalog.\"timestamp\"") == 0 ||
         strcmp(basetype, "pg_catalog.timestamptz") == 0;
}

const char *
cs_datefmt_type_name(const char *basetype)
{
  if (strcmp(basetype, "pg_catalog.date") == 0)
    return "date";
  if (strcmp(basetype, "pg_catalog.\"time\"") == 0)
    return "time";
  if (strcmp(basetype, "pg_catalog.\"timestamp\"") == 0)
    return "timestamp";
  return "timestamp with time zone";
}

int
cs_datefmt_suits(const cs_datefmt *f, const char *basetype)
{
  if (strcmp(basetype, "pg_catalog.date") == 0)
    return f->kind == CS_DF_DATE;
  if (strcmp(basetype, "pg_catalog.\"time\"") == 0)
    return f->kind == CS_DF_TIME;
  if (strcmp(basetype, "pg_catalog.\"timestamp\"") == 0)
    return (f->kind & CS_DF_DATE) && !(f->kind & CS_DF_ZONE);
  if (strcmp(basetype, "pg_catalog.timestamptz") == 0)
    return (f->kind & CS_DF_DATE) != 0;
  return 0;
}

int
cs_datefmt_suits_exactly(const cs_datefmt *f, const char *basetype)
{
  if (strcmp(basetype, "pg_catalog.\"timestamp\"") == 0)
    return f->kind == (CS_DF_DATE | CS_DF_TIME);
  if (strcmp(basetype, "pg_catalog.timestamptz") == 0)
    return (f->kind & (CS_DF_DATE | CS_DF_TIME)) == (CS_DF_DATE | CS_DF_TIME);
  return cs_datefmt_suits(f, basetype);
}

/* Up to max digits (at least min) at s[*i]: their value, or -1. */
static int
read_digits(const char *s, size_t n, size_t *i, int min, int max)
{
  int v = 0, k = 0;

  while (k < max && *i < n && s[*i] >= '0' && s[*i] <= '9') {
    v = v * 10 + (s[*i] - '0');
    ++*i, ++k;
  }
  return k >= min ? v : -1;
}

static int
lower(int c)
{
  return c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c;
}

/* The month whose name (or its first three letters) is at s[*i]: 1..12,
 * or -1. */
static int
read_month(const char *s, size_t n, size_t *i, int abbrev)
{
  for (int m = 0; m < 12; m++) {
    size_t len = abbrev ? 3 : strlen(months[m]), k;
    if (*i + len > n)
      continue;
    for (k = 0; k < len && lower((unsigned char)s[*i + k]) == months[m][k]; k++)
      ;
    if (k == len) {
      *i += len;
      return m + 1;
    }
  }
  return -1;
}

cs_df_verdict
cs_datefmt_read(const cs_datefmt *f, const char *s, size_t n, char *out, size_t *outlen)
{
  int v[CS_DF_NFIELDS];
  int range = 0;
  size_t i = 0;

  for (int k = 0; k < CS_DF_NFIELDS; k++)
    v[k] = -1;
  while (n > 0 && cs_is_space(s[n - 1]))
    n--;
  while (i < n && cs_is_space(s[i]))
    i++;
  for (int t = 0; t < f->ntok; t++) {
    const cs_df_token *tok = &f->tok[t];
    int x = -1;
    switch (tok->field) {
    case CS_DF_LITERAL:
      if (i >= n || s[i] != tok->lit)
        return CS_DF_MISFIT;
      i++;
      continue;
    case CS_DF_YYYY: x = read_digits(s, n, &i, 4, 4); break;
    case CS_DF_MS: x = read_digits(s, n, &i, 3, 3); break;
    case CS_DF_US: x = read_digits(s, n, &i, 6, 6); break;
    case CS_DF_MON: x = read_month(s, n, &i, 1); break;
    case CS_DF_MONTH: x = read_month(s, n, &i, 0); break;
    case CS_DF_AMPM:
    case CS_DF_AMPM_DOTS: {
      int dots = tok->field == CS_DF_AMPM_DOTS;
      size_t len = dots ? 4 : 2;
      if (i + len > n)
        return CS_DF_MISFIT;
      int c0 = lower((unsigned char)s[i]);
      int c1 = lower((unsigned char)s[i + (dots ? 2 : 1)]);
      if ((c0 != 'a' && c0 != 'p') || c1 != 'm' ||
          (dots && (s[i + 1] != '.' || s[i + 3] != '.')))
        return CS_DF_MISFIT;
      x = c0 == 'p';
      i += len;
      v[CS_DF_AMPM] = x;
      continue;
    }
    case CS_DF_TZH:
      if (i >= n || (s[i] != '+' && s[i] != '-'))
        return CS_DF_MISFIT;
      i++;
      x = read_digits(s, n, &i, 2, 2);
      if (x < 0)
        return CS_DF_MISFIT;
      range |= x > 15;
      v[CS_DF_TZH] = s[i - 3] == '-' ? -x - 1 : x;   /* -1 - x: -00 stays negative */
      continue;
    default:
      x = read_digits(s, n, &i, tok->fm ? 1 : 2, 2);
      break;
    }
    if (x < 0)
      return CS_DF_MISFIT;
    v[tok->field] = x;
  }
  if (i != n)
    return CS_DF_MISFIT;
  if (v[CS_DF_HH12] >= 0 && (v[CS_DF_HH12] < 1 || v[CS_DF_HH12] > 12))
    return CS_DF_MISFIT;
  range |= v[CS_DF_HH24] > 23 || v[CS_DF_MI] > 59 || v[CS_DF_SS] > 59 || v[CS_DF_TZM] > 59;
  if (range)
    return CS_DF_RANGE;

  int o = 0;
  if (f->kind & CS_DF_DATE) {
    int year = v[CS_DF_YYYY];
    int month = v[CS_DF_MM] >= 0 ? v[CS_DF_MM] : v[CS_DF_MON] >= 0 ? v[CS_DF_MON] : v[CS_DF_MONTH];
    if (year < 0)   /* YY: the nearest year to 2020, as to_date takes it */
      year = v[CS_DF_YY] + (v[CS_DF_YY] < 70 ? 2000 : 1900);
    o += snprintf(out + o, CS_DF_ISO_MAX - (size_t)o, "%04d-%02d-%02d", year, month, v[CS_DF_DD]);
  }
  if (f->kind & CS_DF_TIME) {
    int hour = v[CS_DF_HH24] >= 0 ? v[CS_DF_HH24] : v[CS_DF_HH12] % 12 + 12 * v[CS_DF_AMPM];
    o += snprintf(out + o, CS_DF_ISO_MAX - (size_t)o, "%s%02d:%02d:%02d", o ? " " : "", hour,
                  v[CS_DF_MI] < 0 ? 0 : v[CS_DF_MI], v[CS_DF_SS] < 0 ? 0 : v[CS_DF_SS]);
    if (v[CS_DF_MS] >= 0)
      o += snprintf(out + o, CS_DF_ISO_MAX - (size_t)o, ".%03d", v[CS_DF_MS]);
    if (v[CS_DF_US] >= 0)
      o += snprintf(out + o, CS_DF_ISO_MAX - (size_t)o, ".%06d", v[CS_DF_US]);
  }
  if (f->kind & CS_DF_ZONE) {
    int h = v[CS_DF_TZH];
    o += snprintf(out + o, CS_DF_ISO_MAX - (size_t)o, " %c%02d:%02d", h < 0 ? '-' : '+',
                  h < 0 ? -h - 1 : h, v[CS_DF_TZM] < 0 ? 0 : v[CS_DF_TZM]);
  }
  *outlen = (size_t)o;
  return CS_DF_FITS;
}

/* A letter in either case, as a bracket: [Jj]. */
static size_t
add_letters(char *buf, size_t at, size_t n, const char *word, size_t len)
{
  for (size_t k = 0; k < len; k++)
    at += (size_t)snprintf(buf + at, at < n ? n - at : 0, "[%c%c]",
                           toupper((unsigned char)word[k]), word[k]);
  return at;
}

void
cs_datefmt_regex(const cs_datefmt *f, int strict, char *buf, size_t n)
{
  static const char ws[] = "[ \t\n\r\v\f]*";
  size_t at = 0;

#define ADD(...) (at += (size_t)snprintf(buf + at, at < n ? n - at : 0, __VA_ARGS__))
  ADD("^%s", ws);
  for (int t = 0; t < f->ntok; t++) {
    const cs_df_token *tok = &f->tok[t];
    switch (tok->field) {
    case CS_DF_LITERAL:
      if (isalnum((unsigned char)tok->lit))
        ADD("%c", tok->lit);
      else if (tok->lit == ' ')
        ADD("[ ]");
      else
        ADD("\\%c", tok->lit);
      break;
    case CS_DF_YYYY: ADD("([0-9]{4})"); break;
    case CS_DF_MS: ADD("([0-9]{3})"); break;
    case CS_DF_US: ADD("([0-9]{6})"); break;
    case CS_DF_MON:
    case CS_DF_MONTH:
      ADD("(");
      for (int m = 0; m < 12; m++) {
        ADD("%s", m ? "|" : "");
        at = add_letters(buf, at, n, months[m],
                         tok->field == CS_DF_MON ? 3 : strlen(months[m]));
      }
      ADD(")");
      break;
    case CS_DF_AMPM: ADD("([AaPp][Mm])"); break;
    case CS_DF_AMPM_DOTS: ADD("([AaPp])\\.[Mm]\\."); break;
    case CS_DF_HH12: ADD(tok->fm ? "(0?[1-9]|1[0-2])" : "(0[1-9]|1[0-2])"); break;
    case CS_DF_HH24:
      if (strict)
        ADD(tok->fm ? "([01]?[0-9]|2[0-3])" : "([01][0-9]|2[0-3])");
      else
        ADD(tok->fm ? "([0-9]{1,2})" : "([0-9]{2})");
      break;
    case CS_DF_MI:
    case CS_DF_SS:
    case CS_DF_TZM:
      if (strict)
        ADD(tok->fm ? "([0-5]?[0-9])" : "([0-5][0-9])");
      else
        ADD(tok->fm ? "([0-9]{1,2})" : "([0-9]{2})");
      break;
    case CS_DF_TZH: ADD(strict ? "([+-]0[0-9]|[+-]1[0-5])" : "([+-][0-9]{2})"); break;
    default:   /* YY, MM, DD */
      ADD(tok->fm ? "([0-9]{1,2})" : "([0-9]{2})");
      break;
    }
  }
  ADD("%s$", ws);
#undef ADD
}

void
cs_datefmt_add_iso(sql *q, const cs_datefmt *f, const char *m)
{
  const int *g = f->group;
  int first = 1;

  /* Every part names a capture of m, so a NULL m makes the whole NULL. */
  sql_add(q, "(");
  if (f->kind & CS_DF_DATE) {
    if (g[CS_DF_YYYY])
      sql_add(q, "%s[%d]", m, g[CS_DF_YYYY]);
    else   /* YY: the nearest year to 2020, as to_date takes it */
      sql_add(q, "((%s[%d])::int4 + CASE WHEN (%s[%d])::int4 < 70 THEN 2000 ELSE 1900 END)::text",
              m, g[CS_DF_YY], m, g[CS_DF_YY]);
    sql_add(q, " || '-' || ");
    if (g[CS_DF_MM])
      sql_add(q, "%s[%d]", m, g[CS_DF_MM]);
    else if (g[CS_DF_MON])
      sql_add(q, "pg_catalog.array_position(ARRAY['jan', 'feb', 'mar', 'apr', 'may', 'jun', "
                 "'jul', 'aug', 'sep', 'oct', 'nov', 'dec'], pg_catalog.lower(%s[%d]))::text",
              m, g[CS_DF_MON]);
    else
      sql_add(q, "pg_catalog.array_position(ARRAY['january', 'february', 'march', 'april', "
                 "'may', 'june', 'july', 'august', 'september', 'october', 'november', "
                 "'december'], pg_catalog.lower(%s[%d]))::text", m, g[CS_DF_MONTH]);
    sql_add(q, " || '-' || %s[%d]", m, g[CS_DF_DD]);
    first = 0;
  }
  if (f->kind & CS_DF_TIME) {
    if (!first)
      sql_add(q, " || ' ' || ");
    if (g[CS_DF_HH24])
      sql_add(q, "%s[%d]", m, g[CS_DF_HH24]);
    else
      sql_add(q, "((%s[%d])::int4 %% 12 + CASE WHEN pg_catalog.lower(%s[%d]) LIKE 'p%%' "
                 "THEN 12 ELSE 0 END)::text", m, g[CS_DF_HH12], m, g[CS_DF_AMPM]);
    if (g[CS_DF_MI])
      sql_add(q, " || ':' || %s[%d]", m, g[CS_DF_MI]);
    else
      sql_add(q, " || ':00'");
    if (g[CS_DF_SS])
      sql_add(q, " || ':' || %s[%d]", m, g[CS_DF_SS]);
    if (g[CS_DF_MS] || g[CS_DF_US])
      sql_add(q, " || '.' || %s[%d]", m, g[CS_DF_MS] ? g[CS_DF_MS] : g[CS_DF_US]);
  }
  if (f->kind & CS_DF_ZONE) {
    sql_add(q, " || ' ' || %s[%d] || ':' || ", m, g[CS_DF_TZH]);
    if (g[CS_DF_TZM])
      sql_add(q, "%s[%d]", m, g[CS_DF_TZM]);
    else
      sql_add(q, "'00'");
  }
  sql_add(q, ")");
}

/* ---- guessing a column's layout ---- */

static const char *const guess_dates[] = {
  "DD.MM.YYYY", "DD/MM/YYYY", "MM/DD/YYYY", "DD-MM-YYYY", "MM-DD-YYYY", "YYYY/MM/DD",
  "DD.MM.YY", "DD/MM/YY", "MM/DD/YY", "DD-Mon-YYYY", "DD Mon YYYY", "Mon DD, YYYY",
  "FMMonth DD, YYYY", "FMDD.FMMM.YYYY", "FMDD/FMMM/YYYY", "FMMM/FMDD/YYYY",
};
static const char *const guess_times[] = {
  "", " HH24:MI", " HH24:MI:SS", " HH12:MI AM", " HH12:MI:SS AM", " FMHH12:MI AM",
};
#define NDATES (sizeof(guess_dates) / sizeof(guess_dates[0]))
#define NTIMES (sizeof(guess_times) / sizeof(guess_times[0]))

static struct {
  char pattern[64];
  cs_datefmt f;
  int ok;
} guess[CS_DF_CANDIDATES];
static cs_type guess_date_type, guess_ts_type;
static pthread_once_t guess_once = PTHREAD_ONCE_INIT;

static void
guess_setup(void)
{
  char why[256];
  size_t k = 0;

  for (size_t t = 0; t < NTIMES; t++)
    for (size_t d = 0; d < NDATES && k < CS_DF_CANDIDATES; d++, k++) {
      snprintf(guess[k].pattern, sizeof(guess[k].pattern), "%s%s", guess_dates[d], guess_times[t]);
      guess[k].ok = cs_datefmt_parse(&guess[k].f, guess[k].pattern, why, sizeof(why)) == 0;
    }
  cs_type_parse(&guess_date_type, "date", 1);
  cs_type_parse(&guess_ts_type, "timestamp without time zone", 1);
}

void
cs_df_guess_init(cs_df_guess *g)
{
  pthread_once(&guess_once, guess_setup);
  memset(g, 0, sizeof(*g));
  for (int k = 0; k < CS_DF_CANDIDATES; k++)
    g->holds[k] = guess[k].ok;
}

void
cs_df_guess_add(cs_df_guess *g, const char *v, size_t n)
{
  char iso[CS_DF_ISO_MAX];
  size_t len;

  g->values++;
  for (int k = 0; k < CS_DF_CANDIDATES; k++) {
    if (!guess[k].ok)
      continue;
    int fits = cs_datefmt_read(&guess[k].f, v, n, iso, &len) == CS_DF_FITS &&
               cs_value_check(guess[k].f.kind & CS_DF_TIME ? &guess_ts_type : &guess_date_type,
                              iso, len, NULL) == CS_VALID;
    g->fits[k] += fits;
    if (!fits)
      g->holds[k] = 0;
  }
}

/* Per layout in guess_dates: the same with day and month swapped, or -1. */
static const int guess_swapped[NDATES] = {-1, 2, 1, 4, 3, -1, -1, 8, 7, -1, -1, -1, -1, -1, 15, 14};

const char *
cs_df_guess_best(const cs_df_guess *g, int *timed, int *ambiguous)
{
  *timed = *ambiguous = 0;
  if (g->values == 0)
    return NULL;
  for (int k = 0; k < CS_DF_CANDIDATES; k++) {
    if (!g->holds[k])
      continue;
    *timed = (guess[k].f.kind & CS_DF_TIME) != 0;
    int other = guess_swapped[k % NDATES];
    *ambiguous = other >= 0 && g->holds[k - k % NDATES + other];
    return guess[k].pattern;
  }
  return NULL;
}

const char *
cs_df_guess_most(const cs_df_guess *g, int untimed, long long *fits)
{
  int best = -1;

  for (int k = 0; k < CS_DF_CANDIDATES; k++)
    if (guess[k].ok && g->fits[k] > 0 && !(untimed && (guess[k].f.kind & CS_DF_TIME)) &&
        (best < 0 || g->fits[k] > g->fits[best]))
      best = k;
  *fits = best < 0 ? 0 : g->fits[best];
  return best < 0 ? NULL : guess[best].pattern;
}
