/* rejects.h: the reject file: CSV, rows in line order, written to a
 * temporary file beside its path and renamed into place before COMMIT
 * (private). */
#ifndef CSVSTAGE_REJECTS_H
#define CSVSTAGE_REJECTS_H

#include <stddef.h>

#include "csvstage.h"

/* The columns csvstage puts before and after a record's own fields. */
#define CS_REJECT_META_BEFORE 6   /* _line _sqlstate _column _constraint _message _detail */
extern const char *const cs_reject_meta[7];   /* ... and _raw last */

typedef struct cs_rejects cs_rejects;

/*
 * The reject file's path for input (NULL or "-": standard input) into
 * out[0..n): [rejects] file with its strftime patterns and %f, or
 * NAME.rejects.csv beside the input. several: one of several files in a
 * run. Returns 0, or -1 with err filled (CSVSTAGE_E_CONFIG).
 */
int cs_rejects_path(const csvstage_settings *s, const char *input, int several, char *out,
                    size_t n, csvstage_error *err);

/* One reject. fields[i] NULL is SQL NULL; lens NULL means NUL-terminated. */
typedef struct cs_reject_row {
  long long line;
  const char *sqlstate, *column, *constraint, *message, *detail;
  const char *const *fields;
  const size_t *lens;
  int nfields;
  const char *raw;       /* malformed records only */
  size_t raw_len;
} cs_reject_row;

/*
 * Creates the temporary file (mode 0600) in path's directory, so that a
 * directory that does not exist or cannot be written fails now, before any
 * loading. The file is CSV with the input's delimiter, quote and NULL
 * marker, so that it loads again with the same config. Writes the header:
 * the meta columns, then names[0..n).
 */
cs_rejects *cs_rejects_open(const char *path, char delimiter, char quote,
                            const char *null_marker, const char *const *names,
                            int n, csvstage_error *err);

/*
 * Adds a reject found while reading (malformed records): kept aside and
 * merged into line order by cs_rejects_add and cs_rejects_finish.
 */
int cs_rejects_add_early(cs_rejects *r, const cs_reject_row *row, csvstage_error *err);

/* Adds a reject; calls must come in line order. */
int cs_rejects_add(cs_rejects *r, const cs_reject_row *row, csvstage_error *err);

/* Writes what is left of the early rejects and flushes to disk. */
int cs_rejects_finish(cs_rejects *r, csvstage_error *err);

/*
 * Puts the file in place at path (after cs_rejects_finish, before COMMIT):
 * named beside it, then renamed over it, the directory synced; what path
 * held is kept under another name until cs_rejects_keep or
 * cs_rejects_discard. No rows: nothing is done. Returns 0, or -1 with err
 * filled (naming path): the load must not commit.
 */
int cs_rejects_place(cs_rejects *r, csvstage_error *err);

/*
 * The load's outcome is known and its rejects stay: the file placed (or,
 * with no rows, no file: an earlier run's file at path is removed). What
 * path held before is removed, or with keep_previous kept and its name
 * written to note. Frees r (may be NULL). Returns 0, or -1 when an old
 * file could not be removed (note says so; the load's outcome stands).
 */
int cs_rejects_keep(cs_rejects *r, int keep_previous, char *note, size_t n);

/* Nothing of the load stays: a file placed is taken back (path holds what
 * it held before), the temporary one removed; frees r. r may be NULL. */
void cs_rejects_discard(cs_rejects *r);

long long cs_rejects_count(const cs_rejects *r);

#endif
