/*
 * csvstage.h: the whole public API of libcsvstage.
 *
 * libcsvstage loads CSV files into PostgreSQL through a relaxed staging table,
 * rejecting the records that cannot go in, one by one, with their source line.
 * The library never prints and never exits: every function reports through its
 * return code and, where one is given, a caller-owned csvstage_error.
 */
#ifndef CSVSTAGE_H
#define CSVSTAGE_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/*
 * Status codes. 0 is success. The numbers are part of the API: never
 * renumber one, and keep a retired slot retired.
 */
typedef enum csvstage_code {
  CSVSTAGE_OK = 0,
  CSVSTAGE_E_NOMEM = 1,       /* out of memory */
  CSVSTAGE_E_INVALID = 2,     /* a bad argument from the caller */
  CSVSTAGE_E_IO = 3,          /* reading input or writing a file failed */
  CSVSTAGE_E_CONNECT = 4,     /* could not connect to the server */
  CSVSTAGE_E_DB = 5,          /* the server reported an error */
  CSVSTAGE_E_CONNLOST = 6,    /* the connection broke mid-work */
  CSVSTAGE_E_CONFIG = 7,      /* the configuration is wrong */
  CSVSTAGE_E_PREFLIGHT = 8,   /* the target cannot take this input */
  CSVSTAGE_E_FORMAT = 9,      /* the input stream is corrupt (e.g. gzip) */
  CSVSTAGE_E_LAST             /* not a code: one past the last */
} csvstage_code;

/*
 * What went wrong, with the facts a user needs to act on it. The caller owns
 * the struct (usually on its stack); functions fill it on failure and accept
 * NULL when the caller does not care. The first error wins: a later failure,
 * e.g. while cleaning up, never overwrites it. Clear it before reuse.
 *
 * Fields from the server (sqlstate, detail, ...) are empty strings when the
 * error did not come from the server or the server did not send them. Text
 * longer than a field is cut at a UTF-8 character boundary.
 */
typedef struct csvstage_error {
  csvstage_code code;         /* CSVSTAGE_OK while no error is recorded */
  char message[1024];         /* one line, no trailing newline */
  char sqlstate[6];           /* five characters, e.g. "23505" */
  char detail[1024];
  char hint[512];
  char table[128];
  char column[128];
  char constraint[128];
  long long line;             /* input line the error is about, 0 if none */
  long long offset;           /* byte offset in the input, -1 if none */
} csvstage_error;

/* The library's version, e.g. "0.1.0". */
const char *csvstage_version(void);

/* A short, static description of a status code; never NULL. */
const char *csvstage_strerror(csvstage_code code);

/* Resets err to "no error". err may be NULL. */
void csvstage_error_clear(csvstage_error *err);

/*
 * Copies conninfo (a libpq key=value string or URI) into buf with every
 * password replaced by "********", so that it can be shown or logged.
 * Returns buf. Text that libpq cannot parse is replaced whole, since it may
 * hold a password in a place we cannot find.
 */
char *csvstage_conninfo_redact(const char *conninfo, char *buf, size_t bufsize);

#ifdef __cplusplus
}
#endif

#endif /* CSVSTAGE_H */
