/* fixes.h: rejects that explain their own fix (private; for review.c). */
#ifndef CSVSTAGE_FIXES_H
#define CSVSTAGE_FIXES_H

#include <stddef.h>

#include "csvstage.h"

/* Columns followed per reject file. */
#define CS_FIXES_COLUMNS 16

typedef struct cs_fixes cs_fixes;

/* Whether v is a number written with these separators that needs them
 * (grouped, or with a decimal part), and one the type takes (integer: no
 * fraction). */
int cs_number_fits(const char *v, char decimal, char thousands, int integer);

/* Whether v is a common word for true (1) or false (0) beyond PostgreSQL's
 * own (ja, nein, oui, non, ...), or -1. */
int cs_bool_word(const char *v);

/* Whether v is a common NULL marker: N/A, -, NULL, None, ... */
int cs_is_null_marker(const char *v);

/* Whether the reject file's (the CSV's) column named header fed table
 * column `column`: the rule's `from`, else the same name or the same
 * letters ("First Name", first_name), as a header is matched. */
int cs_header_feeds(const csvstage_settings *settings, const char *header, const char *column);

cs_fixes *cs_fixes_new(void);
void cs_fixes_free(cs_fixes *f);

/* One reject: its SQLSTATE, column, message and the column's value as the
 * file has it (input errors only count). */
void cs_fixes_add(cs_fixes *f, const char *sqlstate, const char *column, const char *message,
                  const char *value, size_t len);

/* The fixes found (a config section and its keys that read at least half
 * of a column's rejected values), at most max; datestyle: the config's. */
int cs_fixes_found(cs_fixes *f, csvstage_review_fix *out, int max);

#endif
