/* report.h: the only writer to the terminal: summaries and errors. */
#ifndef CSVSTAGE_REPORT_H
#define CSVSTAGE_REPORT_H

#include <stdio.h>

#include "csvstage.h"

/*
 * On a terminal, messages are for people: a summary with its details
 * below it. Elsewhere (cron, a log file) every event is one line that
 * starts with an ISO 8601 time (UTC).
 */

/* One line: a message of csvstage's own (printf format, no newline). */
void report_line(FILE *out, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* The summary of one load, and its first rejects as FILE:LINE: message. */
void report_result(FILE *out, const csvstage_result *res, int verbosity);

/* A reject file's review (csvstage rejects): counts by kind, the most
 * common messages with example lines, and the command that reloads it
 * (config and table as given, or placeholders). */
void report_review(FILE *out, const char *path, const csvstage_review *rv,
                   const char *config, const char *table);

/* The progress line on a terminal (a csvstage_set_progress function; arg
 * is the FILE *): redrawn in place, cleared when the file is read. Prints
 * nothing where the stream is not a terminal. */
void report_progress(const csvstage_progress *progress, void *arg);

/* An error, with the server's DETAIL and HINT when it sent them. */
void report_error(FILE *out, const csvstage_error *err);

#endif
