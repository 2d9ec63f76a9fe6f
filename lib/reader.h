/* reader.h: bytes to records, each with the physical lines it spans;
 * malformed records become rejects (private). */
#ifndef CSVSTAGE_READER_H
#define CSVSTAGE_READER_H

#include <stddef.h>

#include "csvstage.h"
#include "input.h"

#define CS_DEFAULT_MAX_FIELD ((size_t)64 * 1024 * 1024)

typedef struct cs_reader_opts {
  char delimiter;           /* default ',' */
  char quote;               /* default '"'; '\0': none (quote = none), every
                               byte is data and a record is one line */
  int header;               /* first record names the columns (default 1) */
  int ncolumns;             /* without a header: fields per record; 0 = as
                               many as the first record has */
  const char *null_marker;  /* unquoted text meaning NULL; NULL or "" = an
                               empty unquoted field */
  const char *encoding;     /* source encoding name; "UTF8" (default) turns
                               on UTF-8 validation */
  size_t max_field;         /* bytes; 0 = CS_DEFAULT_MAX_FIELD */
  int ragged;               /* records shorter than the columns get NULL for
                               the fields they lack, and empty fields past
                               the last column are dropped (ragged = pad);
                               0: such records are malformed (22P04) */
  const char *comment;      /* a line starting with this (outside a quoted
                               field) is a comment, skipped and counted;
                               NULL or "": none */
  long long skip;           /* physical lines skipped before anything else
                               (a preamble): counted, never read */
} cs_reader_opts;

/* Fills o with the defaults above. */
void cs_reader_opts_init(cs_reader_opts *o);

typedef enum cs_record_kind { CS_RECORD_DATA, CS_RECORD_REJECT } cs_record_kind;

/*
 * One record. Everything it points to belongs to the reader and stays valid
 * until the next cs_reader_next or cs_reader_free.
 */
typedef struct cs_record {
  cs_record_kind kind;
  long long line;           /* physical line on which the record starts */
  long long last_line;      /* physical line on which it ends */
  int nfields;
  const char *const *field; /* field[i] is NULL for SQL NULL; not
                               NUL-terminated: use len[i] */
  const size_t *len;
  /* For CS_RECORD_REJECT (fields may then be missing or partial): */
  const char *sqlstate;     /* "22P04", "22021", "54000" */
  const char *message;      /* PostgreSQL's words where it has some */
  const char *detail;       /* where in the record, or "" */
  const char *raw;          /* the record's bytes exactly as in the file */
  size_t raw_len;
  int raw_truncated;        /* raw holds only the start of a huge record */
} cs_record;

typedef struct cs_reader cs_reader;

/*
 * Starts reading from in (which the reader does not own: close it after
 * cs_reader_free). With a header, the first record is read now: see
 * cs_reader_columns. Returns NULL with err filled on failure, including a
 * header that cannot be read (malformed).
 *
 * A csvstage reject file (its first line starts _line,_sqlstate with the
 * delimiter) is read as csvstage wrote it, whatever the options say of a
 * preamble or of quoting: skip is not applied, and with no quote it is
 * read with " (its messages and raw records may hold the delimiter).
 */
cs_reader *cs_reader_open(cs_input *in, const cs_reader_opts *opts,
                          csvstage_error *err);

/*
 * The column names (from the header, or "1", "2", ... without one) and
 * their count; 0 for an empty input.
 */
int cs_reader_ncolumns(const cs_reader *r);
const char *cs_reader_column(const cs_reader *r, int i);

/*
 * The next record: 1 with rec filled (data or reject), 0 at the end of the
 * input, -1 on a fatal error (unreadable input, corrupt gzip) with err
 * filled. After a reject, reading resumes at the next record.
 */
int cs_reader_next(cs_reader *r, cs_record *rec, csvstage_error *err);

/* Counts so far: records returned (data + rejects), rejects, blank lines
 * skipped, physical lines read (including the header). */
typedef struct cs_reader_stats {
  long long records;
  long long rejects;
  long long blank_lines;
  long long lines;
  long long buffered;       /* bytes taken from the input, not yet read */
  long long short_records;  /* ragged = pad: records that lacked fields */
  long long long_records;   /* ... and that had empty fields past the last */
  int renamed_columns;      /* header names made up (empty) or suffixed
                               (repeated): cs_header_rename */
  long long comment_lines;  /* lines skipped as comments */
  long long skipped_lines;  /* preamble lines skipped (skip = N) */
  int reject_file;          /* the input is a csvstage reject file: read
                               as csvstage writes them (no skip, and quoted
                               with " when the source has no quote) */
} cs_reader_stats;
void cs_reader_get_stats(const cs_reader *r, cs_reader_stats *st);

/*
 * Names header columns as DuckDB's sniffer does: an empty name becomes
 * columnN (N its position from 1), a name an earlier column has gets _1,
 * _2, ... (the first suffix no column has). names[i] are malloc'd and may
 * be replaced. Returns how many were renamed, -1 when out of memory, -2
 * when the names need renaming and there are too many of them.
 */
int cs_header_rename(char **names, int n);

/*
 * Shortens names too long for a PostgreSQL identifier (63 bytes, in the
 * server's UTF-8) to unique ones: cut at a character, then _1, _2, ...
 * when an earlier name has the cut. utf8: the names are UTF-8; else each
 * byte past ASCII is counted as 3 (what any encoding's character can grow
 * to). The same names give the same result, so that init --create-table
 * and init -t agree. Returns how many were shortened, -1 when out of
 * memory.
 */
int cs_header_shorten(char **names, int n, int utf8);
#define CS_NAME_MAX 63

void cs_reader_free(cs_reader *r);

#endif
