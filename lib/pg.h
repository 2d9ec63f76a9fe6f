/* pg.h: libpq helpers shared by the library's modules (private). */
#ifndef CSVSTAGE_PG_H
#define CSVSTAGE_PG_H

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
 * Records the error carried by res (may be NULL: then the connection's
 * error message) into err, with SQLSTATE, DETAIL, HINT, table, column and
 * constraint. Returns the code recorded.
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
 * COPY ... FROM STDIN, done as psql's copy.c does it, so that the connection
 * is usable afterwards whatever failed. cs_copy_begin runs the COPY command;
 * cs_copy_put sends data (any split: rows may straddle calls); cs_copy_end
 * finishes (or, with abort_reason, aborts) and collects the server's
 * verdict. Each returns 0, or -1 with err filled from the server. After a
 * failed put, still call cs_copy_end to bring the connection back.
 */
int cs_copy_begin(PGconn *conn, const char *sql, csvstage_error *err);
int cs_copy_put(PGconn *conn, const char *data, size_t len, csvstage_error *err);
/* cs_copy_end_ctx: the same, and the failing result's CONTEXT into context
 * (size bytes; "" when none), which says on which line COPY stopped. */
int cs_copy_end_ctx(PGconn *conn, const char *abort_reason, long long *rows,
                    csvstage_error *err, char *context, size_t context_size);
int cs_copy_end(PGconn *conn, const char *abort_reason, long long *rows,
                csvstage_error *err);

#endif
