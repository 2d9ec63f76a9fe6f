/* summary.h: the machine-readable summary of a run (--summary-json), one
 * JSON document per run, written with json-c. */
#ifndef CSVSTAGE_SUMMARY_H
#define CSVSTAGE_SUMMARY_H

#include <stddef.h>
#include <time.h>

#include "csvstage.h"

typedef struct summary summary;

/* A new, empty summary; NULL when out of memory. */
summary *summary_new(void);

/* Adds one file's load: its result, the library's code and error, the exit
 * status it alone would give, and when it started and finished. */
void summary_add(summary *s, const csvstage_result *res, csvstage_code rc,
                 const csvstage_error *err, int exit_code, const struct timespec *started,
                 const struct timespec *finished);

/* Sets every loaded file's "committed" and "outcome_unknown" (after
 * --single-transaction's end). */
void summary_set_committed(summary *s, int committed, int unknown);

/* Writes the document ({"exit_code": N, "files": [...]}) to path, "-" for
 * standard output. Returns 0, or -1 with a reason in why. */
int summary_write(summary *s, const char *path, int exit_code, char *why, size_t whysize);

void summary_free(summary *s);

#endif
