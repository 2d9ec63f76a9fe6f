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
#include <stdio.h>

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
  CSVSTAGE_E_REJECTS = 10,    /* more rejects than max_rejects: rolled back */
  CSVSTAGE_E_BUSY = 11,       /* another run is loading the same table */
  CSVSTAGE_E_INTERRUPTED = 12, /* csvstage_interrupt: rolled back */
  CSVSTAGE_E_UNKNOWN = 13,    /* the connection was lost during COMMIT and no
                                 server could say whether it committed */
  CSVSTAGE_E_TRANSIENT = 14,  /* the server's trouble, no record's fault (a
                                 lock or statement timeout, a deadlock or
                                 serialization failure, a shortage of
                                 resources, a shutdown): rolled back */
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

/*
 * Import settings: what a config file holds (see README, "Config file").
 * Built empty (CSV with a header, comma, double quote, UTF8, empty unquoted
 * field = NULL), then filled from a file and from single settings, in the
 * order the caller chooses: a later setting replaces an earlier one, so a
 * command line applied after the file overrides it.
 */
typedef struct csvstage_settings csvstage_settings;

/* A new, default settings object, or NULL when out of memory. */
csvstage_settings *csvstage_settings_new(void);
void csvstage_settings_free(csvstage_settings *s);

/*
 * Reads an INI config file into s. Unknown sections and keys, bad values
 * and duplicate rules are errors, reported as "FILE:LINE: message" with
 * err->line set (code CSVSTAGE_E_CONFIG; CSVSTAGE_E_IO when unreadable).
 */
csvstage_code csvstage_settings_read(csvstage_settings *s, const char *path,
                                     csvstage_error *err);

/*
 * Sets one key as the config file would: section "source", "target",
 * "rejects" or "column \"NAME\"". E.g. ("target", "table", "public.users").
 */
csvstage_code csvstage_settings_set(csvstage_settings *s, const char *section,
                                    const char *key, const char *value,
                                    csvstage_error *err);

/* [target] table as set (the config's, or the command line's), or NULL. */
/* The settings' [target] mode, as the config spells it ("append"). */
const char *csvstage_settings_mode(const csvstage_settings *s);

/* Whether files loaded with these settings give the same outcome in any
 * order (append: a key in two files aside, whose first loader wins): what
 * --jobs needs. Truncate, replace, upsert and insert-new do not. */
int csvstage_settings_order_free(const csvstage_settings *s);

const char *csvstage_settings_table(const csvstage_settings *s);

/* A connection to the server, reused by the loads made through it. */
typedef struct csvstage_session csvstage_session;

/*
 * Connects with a libpq connection string or URI (NULL: the PG* environment,
 * ~/.pgpass, service files). application_name is "csvstage". Returns NULL
 * with err filled (the message never holds the password).
 */
csvstage_session *csvstage_connect(const char *conninfo, csvstage_error *err);

/*
 * Stops the load under way on session as soon as it can: the server is
 * asked to cancel the running statement, and csvstage_load then rolls back
 * and fails with CSVSTAGE_E_INTERRUPTED (nothing of the file committed, no
 * reject file left). Safe to call from a signal handler (it only sets a
 * flag and calls PQcancel).
 */
void csvstage_interrupt(csvstage_session *session);

/*
 * One transaction for several loads (--single-transaction): after
 * csvstage_begin, each csvstage_load runs in a savepoint of it (a failed
 * one is rolled back to it) and commits nothing (result.pending); then
 * csvstage_commit commits them all, or csvstage_rollback none. Each
 * returns CSVSTAGE_OK or an error with err filled.
 */
csvstage_code csvstage_begin(csvstage_session *session, csvstage_error *err);
csvstage_code csvstage_commit(csvstage_session *session, csvstage_error *err);
csvstage_code csvstage_rollback(csvstage_session *session, csvstage_error *err);

/* Where a load is, for a progress display. */
typedef struct csvstage_progress {
  const char *file;           /* as given ("-": standard input) */
  long long bytes;            /* read so far (compressed, for gzip) */
  long long size;             /* the file's size, or -1 (a pipe) */
  long long records;          /* read so far */
  long long rejects;          /* found so far (malformed, or set aside and
                                 then refused: known for certain only at
                                 the end) */
  double elapsed_s;
  int done;                   /* the last call for this file: all read */
} csvstage_progress;

/*
 * Calls fn(progress, arg) while csvstage_load reads a file, at most about
 * every 100 ms, and once more when all of it is read (done = 1). fn must
 * not call back into the library. NULL fn: no calls (the default).
 */
void csvstage_set_progress(csvstage_session *session,
                           void (*fn)(const csvstage_progress *progress, void *arg), void *arg);
void csvstage_disconnect(csvstage_session *session);

/* The counts of one (SQLSTATE, column) kind of reject. */
typedef struct csvstage_reject_group {
  char sqlstate[6];
  char column[128];           /* "" when the error names no column */
  char constraint[128];       /* "" when it names none */
  long long count;
} csvstage_reject_group;

/* One reject, for showing the first few as FILE:LINE: message. */
typedef struct csvstage_reject_line {
  long long line;
  char sqlstate[6];
  char message[512];
} csvstage_reject_line;

#define CSVSTAGE_MAX_GROUPS 16
#define CSVSTAGE_FIRST_REJECTS 10

/*
 * What a load did. records == loaded + rejected + ignored + dropped, always; committed says
 * whether the loaded records are in. When csvstage_load fails with
 * anything but CSVSTAGE_E_REJECTS, the counts are 0: nothing was committed.
 */
typedef struct csvstage_result {
  char file[1024];            /* the input's name ("-" for stdin) */
  char table[512];            /* the target, schema-qualified, quoted where
                                 SQL needs it */
  long long records;          /* records read (data and malformed) */
  long long loaded;           /* went in (or would have: on a dry run, or
                                 over max_rejects, when nothing committed) */
  long long rejected;         /* in the reject file */
  long long dropped;          /* neither: a BEFORE or INSTEAD OF trigger
                                 returned NULL for them, so the server
                                 inserted no row (as it would for the
                                 record alone) */
  long long inserted;         /* of loaded: new rows */
  long long updated;          /* of loaded: rows a record's key found, and
                                 updated (mode upsert) */
  long long ignored;          /* records whose key found a row, left out
                                 (mode insert-new) */
  long long comment_lines;    /* lines that are no record: comments ([source]
                                 comment) */
  long long skipped_lines;    /* ... and a preamble ([source] skip) */
  char mode[16];              /* [target] mode: append, truncate, replace,
                                 upsert, insert-new */
  long long bytes;            /* input bytes read (compressed, for gzip) */
  int committed;              /* 1 when the transaction committed */
  int dry_run;
  int row_by_row;             /* an unforeseen error made the insert go
                                 record by record (slower, same result) */
  int reordered;              /* a key the client cannot compare exactly
                                 came out of file order: the file was
                                 settled again, record by record, in order */
  long long staged;           /* records that took the staging path (the
                                 others went straight into the table) */
  long long stopped_at;       /* over max_rejects, known before the end: the
                                 line reading stopped at (the counts are
                                 of the records read), or 0 */
  long long one_by_one;       /* of them: records tried one by one, each
                                 INSERT in a subtransaction (the others
                                 went in, or were refused, set-based) */
  long long copy_refusals;    /* COPYs into the table the server refused
                                 (each sends part of its chunk again) */
  int outcome_unknown;        /* the connection was lost during COMMIT and
                                 no server could say whether the file is in
                                 (a loss before COMMIT: nothing is in) */
  int commit_rechecked;       /* committed: the connection was lost during
                                 COMMIT, and a new one found it in */
  int pending;                /* loaded inside csvstage_begin's transaction:
                                 in at csvstage_commit, not before */
  int skipped;                /* the ledger has this content for this table
                                 already: nothing loaded (the counts are 0) */
  char loaded_before[64];     /* when skipped: when it was loaded */
  char sha256[65];            /* with the ledger: the file's SHA-256 */
  double elapsed_s;
  char reject_file[4096];     /* written, or "" when there were no rejects */
  int ngroups;                /* reject kinds, most frequent first; */
  csvstage_reject_group groups[CSVSTAGE_MAX_GROUPS];
  long long other_rejects;    /* rejects in kinds beyond the table */
  int nfirst;                 /* the first rejects, in line order */
  csvstage_reject_line first[CSVSTAGE_FIRST_REJECTS];
  char note[512];             /* what preflight found worth saying about
                                 the target (rows on other servers), or "" */
} csvstage_result;

/* A reject file read back for an operator: what kinds of rejects it holds,
 * and its most common messages with the first lines that carry each. */
#define CSVSTAGE_REVIEW_MESSAGES 10
#define CSVSTAGE_REVIEW_LINES 3

typedef struct csvstage_review_message {
  char message[512];
  long long count;
  int nlines;
  long long lines[CSVSTAGE_REVIEW_LINES];   /* input lines (the _line column) */
} csvstage_review_message;

/* A config that would have read many of a column's rejected values: its
 * section, its keys (one per line), and how many of them it reads. */
#define CSVSTAGE_REVIEW_FIXES 8

typedef struct csvstage_review_fix {
  char column[128];
  char section[160];          /* "[column \"amount\"]" or "[source]" */
  char keys[256];             /* "decimal = \",\"\nthousands = ." */
  long long takes, of;        /* values it reads, of the column's rejects */
} csvstage_review_fix;

typedef struct csvstage_review {
  long long records;          /* rejects in the file */
  int ngroups;                /* by SQLSTATE and column or constraint, most
                                 frequent first */
  csvstage_reject_group groups[CSVSTAGE_MAX_GROUPS];
  long long other_rejects;
  int nmessages;              /* the most common messages, most frequent first */
  csvstage_review_message messages[CSVSTAGE_REVIEW_MESSAGES];
  long long other_messages;   /* rejects whose message is not among them */
  int nfixes;                 /* input errors a config line would have read */
  csvstage_review_fix fixes[CSVSTAGE_REVIEW_FIXES];
} csvstage_review;

/*
 * Reads the reject file at path (written by csvstage_load with the same
 * settings: delimiter, quote, NULL marker, encoding) and sums it up into
 * out. Returns CSVSTAGE_OK, or CSVSTAGE_E_IO when it cannot be read,
 * CSVSTAGE_E_FORMAT when it is not a csvstage reject file.
 */
csvstage_code csvstage_review_rejects(const csvstage_settings *settings, const char *path,
                                      csvstage_review *out, csvstage_error *err);

/*
 * The reject files at paths as one self-contained HTML page, written to
 * out: the counts, each file's kinds of rejects as a bar chart, and the
 * rejected records (the first 20,000 of each file) with the offending
 * field marked and a malformed record's raw text, to filter by kind and
 * search. Every value is escaped. Returns as csvstage_review_rejects, or
 * CSVSTAGE_E_IO when out cannot be written.
 */
csvstage_code csvstage_rejects_html(const csvstage_settings *settings, const char *const *paths,
                                    int npaths, FILE *out, csvstage_error *err);

/*
 * A config sniffed from the CSV file at path alone (no table, no server):
 * its delimiter, encoding and header, and per column the narrowest type
 * every one of the first `sample` records' values is valid for (the
 * client's validators are the proof), as commented config text in *text
 * (free it). Returns CSVSTAGE_OK, or an error from reading the file.
 */
csvstage_code csvstage_sniff_config(const char *path, long long sample, char **text,
                                    csvstage_error *err);

/*
 * Sets in s what csvstage_sniff_config finds: [source]'s dialect and ways
 * of writing values, and per column (by the file's names, or column1, ...)
 * the format of its dates and its NULL markers. For csvstage init -t.
 */
csvstage_code csvstage_sniff_settings(const char *path, long long sample, csvstage_settings *s,
                                      csvstage_error *err);

/*
 * A CREATE TABLE statement for the CSV file at path, in *text (free it):
 * the table's name (schema-qualified or not) and every column's name
 * quoted by libpq, the types csvstage_sniff_config finds, NOT NULL where
 * the whole file was read and no value is blank, and a primary key on
 * key's columns (a comma-separated list of the file's names) when key is
 * not NULL. No server is needed: the table's name is split as parse_ident()
 * splits it, names longer than PostgreSQL keeps are shortened
 * (cs_header_shorten), and a file not in UTF-8 gets a SET client_encoding
 * before the statement (its names are the file's bytes).
 */
csvstage_code csvstage_sniff_create_table(const char *path, long long sample, const char *table,
                                          const char *key, char **text, csvstage_error *err);

/*
 * A starter config for loading the CSV file at path into the settings'
 * table: its header's columns matched to the table's (same name, else with
 * case, spaces and underscores ignored), coalesce = DEFAULT where a column
 * has one, CSV columns that match nothing under ignore, and an ERROR line
 * for each NOT NULL column that nothing feeds. *text: malloc'd, for the
 * caller to free().
 */
csvstage_code csvstage_init_config(csvstage_session *session, const csvstage_settings *settings,
                                   const char *path, char **text, csvstage_error *err);

enum {
  CSVSTAGE_DRY_RUN = 1 << 0,        /* do everything, then roll back */
  CSVSTAGE_SEVERAL_FILES = 1 << 1,  /* one of several files: a configured
                                       reject path without %f gets the
                                       input's name before its extension */
  CSVSTAGE_FORCE = 1 << 2,          /* with the ledger: load content that is
                                       in it already */
  CSVSTAGE_LOCKED = 1 << 3          /* the caller holds the table's run lock
                                       in another session (csvstage_lock):
                                       take none */
};

/*
 * Takes the run's lock on the settings' table (the one each load takes)
 * in a transaction of session's own, begun here and held until
 * csvstage_rollback; another run is kept out (CSVSTAGE_E_BUSY, or it waits
 * as the settings say). For several files at once (--jobs): while it is
 * held, each session that is to load with CSVSTAGE_LOCKED takes its share
 * (csvstage_lock_share); then the lock's own session may let go
 * (csvstage_rollback): the table stays locked while any sharing session
 * lives, whatever ends the others.
 */
csvstage_code csvstage_lock(csvstage_session *session, const csvstage_settings *settings,
                            csvstage_error *err);

/*
 * Takes session's share of a run's lock on the settings' table, held until
 * the session ends. Only while csvstage_lock holds it in another session,
 * or to join again after a lost connection: CSVSTAGE_E_BUSY (at once, no
 * waiting) when another run has the table meanwhile.
 */
csvstage_code csvstage_lock_share(csvstage_session *session, const csvstage_settings *settings,
                                  csvstage_error *err);

/*
 * Loads one file ("-" or NULL: standard input) into the target the settings
 * name, in one transaction: preflight, staging, insert, reject file, commit.
 * Returns CSVSTAGE_OK when the load committed (or, on a dry run, would have),
 * rejects or not; otherwise nothing from the file was committed, and:
 * CSVSTAGE_E_CONFIG or CSVSTAGE_E_PREFLIGHT (the settings, the header and
 * the table do not fit: nothing was read past the header), CSVSTAGE_E_REJECTS
 * (over max_rejects; the reject file is written), or an I/O, format or
 * database error. res is always filled as far as the load got.
 */
csvstage_code csvstage_load(csvstage_session *session,
                            const csvstage_settings *settings,
                            const char *path, int flags,
                            csvstage_result *res, csvstage_error *err);

#ifdef __cplusplus
}
#endif

#endif /* CSVSTAGE_H */
