/* settings.h: import settings, from an INI file (libinih) or one key at a
 * time (private). */
#ifndef CSVSTAGE_SETTINGS_H
#define CSVSTAGE_SETTINGS_H

#include "csvstage.h"
#include "reader.h"

/* One fallback in a column's coalesce list. */
typedef enum cs_fallback_kind {
  CS_FALLBACK_LITERAL,  /* a constant, cast to the column's type */
  CS_FALLBACK_COLUMN,   /* another CSV column's value */
  CS_FALLBACK_DEFAULT   /* the table column's DEFAULT (always last) */
} cs_fallback_kind;

typedef struct cs_fallback {
  cs_fallback_kind kind;
  char *text;           /* the literal's value or the CSV column's name */
} cs_fallback;

/* What a load does with the table's rows ([target] mode). */
typedef enum cs_mode {
  CS_MODE_APPEND,       /* the records are added (the default) */
  CS_MODE_TRUNCATE,     /* TRUNCATE first: the table holds the file alone */
  CS_MODE_REPLACE,      /* DELETE first: the same, readers never blocked */
  CS_MODE_UPSERT,       /* a record whose key exists updates that row */
  CS_MODE_INSERT_NEW    /* a record whose key exists is left out (ignored) */
} cs_mode;

/* The mode's name as the config spells it. */
const char *cs_mode_name(cs_mode mode);

/* The words that mean true and false for a boolean column, beyond
 * PostgreSQL's own (true = yes, Y, ja). */
typedef struct cs_words {
  char **yes;
  int nyes;
  char **no;
  int nno;
} cs_words;

/* How numbers are written: decimal = , and thousands = . for 1.234,50.
 * 0: not set (decimal: '.', thousands: none, unless the other level sets
 * it). */
typedef struct cs_number_format {
  char decimal;
  char thousands;
} cs_number_format;

/* A [column "NAME"] section: how one table column is fed. */
typedef struct cs_rule {
  char *column;         /* the table column */
  char *from;           /* the CSV column feeding it; NULL: same name */
  int trim;             /* -1: as [source] trim says */
  char **nullif;        /* values that become NULL */
  int nnullif;
  cs_fallback *coalesce;
  int ncoalesce;
  cs_words words;       /* boolean columns: its own words (else [source]'s) */
  cs_number_format number; /* number columns: its own (else [source]'s) */
  char *format;         /* date and time columns: its pattern (datefmt.h) */
  int line;             /* config line of the section's first key, or 0 */
  unsigned seen;        /* keys already set (duplicates are errors) */
} cs_rule;

struct csvstage_settings {
  /* [source] */
  char delimiter;
  char quote;           /* '\0': quote = none */
  int header;
  char *encoding;       /* PostgreSQL client encoding name */
  char *null_marker;    /* unquoted text meaning NULL; "" by default */
  char **columns;       /* names for the CSV's columns, when given */
  int ncolumns;
  char **ignore;        /* CSV columns that feed nothing */
  int nignore;
  int trim;             /* strip white space around every value */
  int ragged;           /* ragged = pad: cs_reader_opts.ragged */
  char *comment;        /* comment line prefix, or NULL */
  long long skip;       /* preamble lines before the header */
  char *member;         /* the zip archive's file to read; NULL: its only one */
  cs_words words;       /* every boolean column's words, unless its own */
  cs_number_format number; /* every number column's, unless its own */
  const char *datestyle; /* "DMY", "MDY" or "YMD": the order of ambiguous
                           dates (the load's DateStyle); NULL: the server's */
  char *format;         /* the pattern of every date and time column whose
                           kind it makes (datefmt.h), unless its own */
  char *timezone;       /* the load's TimeZone: the zone of timestamptz
                           values without an offset; NULL: the server's */
  /* [target] */
  char *table;
  long long max_rejects;      /* -1: no limit */
  double max_rejects_pct;     /* -1: no limit */
  int ledger;                 /* record each load in csvstage.loads, skip
                                 content already loaded */
  double lock_wait;           /* seconds to wait for another run on the
                                 table: -1 none (the default), 0 forever */
  cs_mode mode;
  char *before;               /* SQL run before the first record, or NULL */
  char *after;                /* SQL run after the last record, or NULL */
  char **key;                 /* upsert, insert-new: the key's columns (none:
                                 the primary key) */
  int nkey;
  char **update;              /* upsert: the columns an update sets (none:
                                 every fed column outside the key) */
  int nupdate;
  /* [rejects] */
  char *rejects_file;   /* may hold strftime patterns; NULL: FILE.rejects.csv */
  /* [column "..."] */
  cs_rule *rules;
  int nrules;
  unsigned seen;        /* [source]/[target]/[rejects] keys already set */
  char *path;           /* the config file read last, for messages */
};

/* Reader options for the settings' CSV dialect (delimiter, quote, NULL
 * marker, encoding); the rest as cs_reader_opts_init leaves them (a
 * header). */
void cs_settings_reader_opts(const csvstage_settings *s, cs_reader_opts *o);

/* The rule for a table column, or NULL. */
const cs_rule *cs_settings_rule(const csvstage_settings *s, const char *column);

/*
 * Parses "N" or "P%" into *count or *pct (the other becomes -1). Returns 0,
 * or -1 when the text is neither.
 */
int cs_parse_max_rejects(const char *text, long long *count, double *pct);

/*
 * text in double quotes, a quote doubled, as the config reads a value or
 * a [column "NAME"] section's name, into buf (n bytes); returns buf.
 */
const char *cs_config_quote(const char *text, char *buf, size_t n);

/*
 * The line that opens column's section: [column "NAME"], or, for a name
 * longer than libinih keeps in a section line (49 bytes), [column] and a
 * line name = "NAME".
 */
const char *cs_config_section(const char *column, char *buf, size_t n);

#endif
