/* pg.h: libpq helpers shared by the library's modules (private). */
#ifndef CSVSTAGE_PG_H
#define CSVSTAGE_PG_H

#include <signal.h>

#include <libpq-fe.h>

#include "csvstage.h"

/*
 * Opens a connection from a libpq connection string or URI; NULL or "" means
 * the PG* environment, ~/.pgpass and service files, as psql does. The
 * application_name is "csvstage" unless the connection string or PGAPPNAME
 * sets another. Returns NULL and fills err on failure; the message never
 * contains the password. The caller owns the connection (PQfinish).
 */
PGconn *cs_connect(const char *conninfo, csvstage_error *err);

/*
 * Runs one SQL command. Returns the result, owned by the caller (PQclear),
 * when it is PGRES_COMMAND_OK or PGRES_TUPLES_OK; otherwise NULL, with err
 * filled from the server's error fields (CSVSTAGE_E_CONNLOST when the
 * connection is gone, CSVSTAGE_E_DB otherwise).
 */
PGresult *cs_exec(PGconn *conn, const char *sql, csvstage_error *err);

/* cs_exec for statements whose result is not needed: 0, or -1 with err
 * filled. */
int cs_run(PGconn *conn, const char *sql, csvstage_error *err);

/*
 * COMMIT, knowing what became of it. The transaction's id is read first;
 * when the connection is lost during COMMIT, a new connection with the same
 * parameters asks the server (txid_status, made for this) for up to
 * CS_RECHECK_SECONDS while the server restarts or the old backend ends (a
 * signal does not cut the question short: the exit status must say what
 * the server did). err is filled for every end but CS_COMMITTED and
 * CS_COMMITTED_AFTER_LOSS: the server's error (a deferred constraint), or
 * the loss. xid gets the transaction's id ("" if it could not be read), for
 * a later txid_status when the end is CS_COMMIT_UNKNOWN.
 */
#define CS_RECHECK_SECONDS 10
typedef enum cs_commit_end {
  CS_COMMITTED,
  CS_COMMITTED_AFTER_LOSS,     /* the answer was lost, the commit was not */
  CS_ROLLED_BACK,              /* refused, or lost before COMMIT */
  CS_ROLLED_BACK_AFTER_LOSS,   /* lost during COMMIT; the server undid it */
  CS_COMMIT_UNKNOWN            /* lost during COMMIT; no server to ask */
} cs_commit_end;
cs_commit_end cs_commit(PGconn *conn, char *xid, size_t xidsize, csvstage_error *err);

/* cs_commit's question after a loss: a new connection made like `lost`
 * asks what became of transaction xid, for up to `seconds`. Returns
 * CS_COMMITTED_AFTER_LOSS, CS_ROLLED_BACK_AFTER_LOSS, or CS_COMMIT_UNKNOWN
 * when no answer came in time. stop may be NULL. */
cs_commit_end cs_commit_recheck(PGconn *lost, const char *xid, int seconds,
                                const volatile sig_atomic_t *stop);

/*
 * Whether an error of this SQLSTATE is the server's passing trouble, never
 * a record's fault: classes 40 (deadlock, serialization failure), 53
 * (insufficient resources), 57 (a cancel, a statement timeout, a
 * shutdown), 08 (connection), and 55P03 (a lock timeout). Such an error
 * ends the attempt (the file rolls back; --retry may try again); it never
 * becomes a reject. CS_TRANSIENT_SQL(st) is the same test in SQL, for the
 * handlers that catch a record's errors on the server (they re-raise it).
 */
int cs_transient(const char *sqlstate);
#define CS_TRANSIENT_SQL(st) \
  "(left(" st ", 2) IN ('40', '53', '57', '08') OR " st " = '55P03')"

/*
 * Records the error carried by res (may be NULL: then the connection's
 * error message) into err, with SQLSTATE, DETAIL, HINT, table, column and
 * constraint. Returns the code recorded: CSVSTAGE_E_CONNLOST when the
 * connection is gone, CSVSTAGE_E_TRANSIENT for cs_transient's SQLSTATEs,
 * else CSVSTAGE_E_DB.
 */
csvstage_code cs_fail_result(csvstage_error *err, PGconn *conn,
                             const PGresult *res);

/*
 * Quotes an identifier or a literal with libpq's escaping, the only way any
 * input text reaches SQL in csvstage. Returns a string to free with
 * PQfreemem, or NULL with err filled (e.g. invalid encoding).
 */
char *cs_quote_ident(PGconn *conn, const char *name, csvstage_error *err);
char *cs_quote_literal(PGconn *conn, const char *text, csvstage_error *err);

/*
 * A libpq connection object that never connects, for SQL printed and not
 * run (init --create-table): libpq's escaping needs one. Its client
 * encoding is SQL_ASCII: names are quoted byte for byte, as a UTF8
 * connection quotes valid UTF-8 and as any ASCII-based encoding needs
 * (no character of one holds the byte "). PQfinish it. NULL when out of
 * memory.
 */
PGconn *cs_offline_conn(void);

/*
 * Splits a qualified name (schema.table, "Odd.Name", public."T") into its
 * parts as PostgreSQL's parse_ident() does: unquoted parts folded to lower
 * case, "" in quotes a quote. At most max parts, each malloc'd into
 * parts[]. Returns the count, or -1 with why filled (parse_ident's words)
 * and nothing left to free.
 */
int cs_parse_ident(const char *text, char **parts, int max, char *why, size_t whylen);

/*
 * COPY ... FROM STDIN, done as psql's copy.c does it, so that the connection
 * is usable afterwards whatever failed. cs_copy_begin runs the COPY command;
 * cs_copy_put sends data (any split: rows may straddle calls); cs_copy_end
 * finishes (or, with abort_reason, aborts) and collects the server's
 * verdict. Each returns 0, or -1 with err filled from the server. After a
 * failed put, still call cs_copy_end to bring the connection back.
 */
int cs_copy_begin(PGconn *conn, const char *sql, csvstage_error *err);
int cs_copy_put(PGconn *conn, const char *data, size_t len, csvstage_error *err);
/* The line COPY names in an error's CONTEXT ("COPY users, line 5, column
 * x: ..."), found after relname so that translated messages do too; 0 when
 * there is none. */
long long cs_context_line(const char *ctx, const char *relname);

/* cs_copy_end_ctx: the same, and the failing result's CONTEXT into context
 * (size bytes; "" when none), which says on which line COPY stopped. */
int cs_copy_end_ctx(PGconn *conn, const char *abort_reason, long long *rows,
                    csvstage_error *err, char *context, size_t context_size);
int cs_copy_end(PGconn *conn, const char *abort_reason, long long *rows,
                csvstage_error *err);

#endif
