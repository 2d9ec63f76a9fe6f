/* sql.h: building SQL statements, every name and value quoted by libpq
 * (private). */
#ifndef CSVSTAGE_SQL_H
#define CSVSTAGE_SQL_H

#include <libpq-fe.h>

#include "copyenc.h"
#include "csvstage.h"

/* A growing SQL statement; after a failure every append is a no-op and
 * `failed` says why (err is filled). */
typedef struct sql {
  cs_buf b;
  PGconn *conn;
  csvstage_error *err;
  int failed;
} sql;

/* Appends printf text. */
void sql_add(sql *q, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Appends text quoted by quote (cs_quote_ident or cs_quote_literal). */
void sql_quoted(sql *q, const char *text, char *(*quote)(PGconn *, const char *, csvstage_error *));

/* Appends a name as an identifier, a text as a literal. */
void sql_ident(sql *q, const char *name);
void sql_literal(sql *q, const char *text);

/* The statement so far (NUL-terminated), or NULL after a failure. */
const char *sql_text(sql *q);

/* Empties it for the next statement (the buffer stays). */
void sql_reset(sql *q);

/* Runs q and resets it. Returns the result (PQclear it), or NULL with err
 * filled. */
PGresult *sql_query(sql *q);

/* Runs q and resets it; *rows (may be NULL): the rows it touched. Returns
 * 0, or -1 with err filled. */
int sql_run(sql *q, long long *rows);

/* Runs q, a query of one boolean, and resets it. Returns 1 (true), 0, or
 * -1 with err filled. */
int sql_bool(sql *q);

#endif
