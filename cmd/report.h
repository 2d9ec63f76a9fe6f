/* report.h: the only writer to the terminal: summaries and errors. */
#ifndef CSVSTAGE_REPORT_H
#define CSVSTAGE_REPORT_H

#include <stdio.h>

#include "csvstage.h"

/* The summary of one load, and its first rejects as FILE:LINE: message. */
void report_result(FILE *out, const csvstage_result *res, int verbosity);

/* An error, with the server's DETAIL and HINT when it sent them. */
void report_error(FILE *out, const csvstage_error *err);

#endif
