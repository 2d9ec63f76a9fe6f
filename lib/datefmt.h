/* datefmt.h: date and time formats (format = 'DD.MM.YYYY'), a subset of
 * PostgreSQL's to_date/to_timestamp template patterns read strictly: the
 * whole value must fit the pattern, and the fields must make a real date
 * and time (private). */
#ifndef CSVSTAGE_DATEFMT_H
#define CSVSTAGE_DATEFMT_H

#include <stddef.h>

#include "sql.h"

typedef enum cs_df_field {
  CS_DF_LITERAL,
  CS_DF_YYYY, CS_DF_YY, CS_DF_MM, CS_DF_MON, CS_DF_MONTH, CS_DF_DD,
  CS_DF_HH24, CS_DF_HH12, CS_DF_MI, CS_DF_SS, CS_DF_MS, CS_DF_US,
  CS_DF_AMPM, CS_DF_AMPM_DOTS, CS_DF_TZH, CS_DF_TZM,
  CS_DF_NFIELDS
} cs_df_field;

typedef struct cs_df_token {
  cs_df_field field;
  int fm;               /* FM: one or two digits, not exactly two */
  char lit;             /* CS_DF_LITERAL: the byte */
} cs_df_token;

/* What a pattern's fields make: a date, a time of day, both; with an
 * offset from UTC or not. */
enum { CS_DF_DATE = 1, CS_DF_TIME = 2, CS_DF_ZONE = 4 };

typedef struct cs_datefmt {
  cs_df_token *tok;
  int ntok;
  unsigned kind;        /* CS_DF_DATE | CS_DF_TIME | CS_DF_ZONE */
  int group[CS_DF_NFIELDS]; /* the field's capture in cs_datefmt_regex, or 0 */
} cs_datefmt;

/* Parses pattern into f. Returns 0, or -1 with why (n bytes) saying what
 * is wrong with it. */
int cs_datefmt_parse(cs_datefmt *f, const char *pattern, char *why, size_t n);

void cs_datefmt_free(cs_datefmt *f);

/* Whether f suits a column of base type basetype (pg_catalog.date, ...):
 * a date's pattern has only date fields, a time's only time fields, a
 * timestamp's date fields and maybe time fields, and only timestamptz
 * takes an offset. */
int cs_datefmt_suits(const cs_datefmt *f, const char *basetype);

/* Whether f makes exactly a value of basetype's kind: a date-only pattern
 * a date, not the midnight of a timestamp ([source] format's columns). */
int cs_datefmt_suits_exactly(const cs_datefmt *f, const char *basetype);

/* The type's name as its input function's messages give it ("invalid
 * input syntax for type timestamp"). */
const char *cs_datefmt_type_name(const char *basetype);

/* Whether basetype is one a format may feed. */
int cs_datefmt_type(const char *basetype);

typedef enum cs_df_verdict {
  CS_DF_FITS,           /* out holds the value as ISO text */
  CS_DF_MISFIT,         /* not the pattern: 22007, invalid input syntax */
  CS_DF_RANGE           /* the pattern, but a time field out of range
                           (25:00, 10:60): 22008 */
} cs_df_verdict;

/* Reads s (n bytes, white space around it skipped) with f. out: at least
 * CS_DF_ISO_MAX bytes; *outlen its length. A date that does not exist
 * (31.02.2024) fits: its ISO text is what the type's input refuses. */
#define CS_DF_ISO_MAX 48
cs_df_verdict cs_datefmt_read(const cs_datefmt *f, const char *s, size_t n, char *out,
                              size_t *outlen);

/* The regular expression (PostgreSQL's ARE) a value fits: strict 0, the
 * pattern's shape (cs_datefmt_read's MISFIT when not); strict 1, with the
 * time fields in range too (RANGE when only the first fits). One capture
 * per field, numbered in f->group. */
void cs_datefmt_regex(const cs_datefmt *f, int strict, char *buf, size_t n);

/* The ISO text from m, the text[] of regexp_match(value, the strict
 * regex): NULL when m is NULL. */
void cs_datefmt_add_iso(sql *q, const cs_datefmt *f, const char *m);

/*
 * The layouts people write dates and times in (31.12.2024, 12/31/2024
 * 11:15 PM, 05-Jan-2024, ...), as patterns, for csvstage init and the
 * reject review to find the one a column's values are written in. A
 * pattern holds while every value added fits it and makes a real date
 * (and time), proved by the client's validators.
 */
#define CS_DF_CANDIDATES 96
typedef struct cs_df_guess {
  unsigned char holds[CS_DF_CANDIDATES];
  long long values, fits[CS_DF_CANDIDATES];
} cs_df_guess;

void cs_df_guess_init(cs_df_guess *g);
void cs_df_guess_add(cs_df_guess *g, const char *v, size_t n);

/* The first pattern (in the order above: padded before FM, day-first
 * before month-first) that held for every value, or NULL (no value, or
 * none held). *timed: it has a time; *ambiguous: a month-first (or
 * day-first) pattern held too. */
const char *cs_df_guess_best(const cs_df_guess *g, int *timed, int *ambiguous);

/* The pattern that the most values fit (at least one; without a time when
 * untimed), for values that are not all of one layout (the rejects of a
 * column): *fits how many. */
const char *cs_df_guess_most(const cs_df_guess *g, int untimed, long long *fits);

#endif
