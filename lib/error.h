/* error.h: recording errors into a csvstage_error (private to the library). */
#ifndef CSVSTAGE_ERROR_H
#define CSVSTAGE_ERROR_H

#include "csvstage.h"

/*
 * Records an error with a printf-style message and returns code, so that a
 * caller can write `return cs_fail(err, CSVSTAGE_E_IO, "...", ...);`.
 * Keeps the first error: if err already holds one, nothing changes (the code
 * is still returned). err may be NULL.
 */
csvstage_code cs_fail(csvstage_error *err, csvstage_code code,
                      const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Puts printf text and ": " before the message of the error err holds,
 * leaving its code and fields as they are (a server error said in the
 * words of what csvstage was doing). No-op when err holds none. */
void cs_prefix(csvstage_error *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Appends name to the list in buf (n bytes) for a message: "a", "b" (quoted)
 * or a, b; past what fits, ", ..." once. buf starts as "". */
void cs_list_name(char *buf, size_t n, const char *name, int quoted);

/* True when err holds an error. err may be NULL (then false). */
int cs_failed(const csvstage_error *err);

/*
 * Copies src into dst (of dstsize bytes) and always terminates it; a cut
 * falls on a UTF-8 character boundary. src may be NULL (dst becomes "").
 */
void cs_strlcpy_utf8(char *dst, const char *src, size_t dstsize);

#endif
