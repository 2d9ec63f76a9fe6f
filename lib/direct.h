/* direct.h: the fast path: records the client can vouch for go by COPY
 * straight into the target table, in chunks, each in a savepoint; the rest
 * are set aside for the staging table (private). */
#ifndef CSVSTAGE_DIRECT_H
#define CSVSTAGE_DIRECT_H

#include <libpq-fe.h>

#include "copyenc.h"
#include "csvstage.h"
#include "plan.h"
#include "reader.h"

typedef struct cs_direct cs_direct;

/* COPY's DEFAULT marker (16+): the encoder writes a backslash in a value as
 * \\, so no value can read \D. */
#define CS_DEFAULT_MARKER "\\D"

/*
 * Starts the fast path for p on conn, inside the load's transaction.
 * copy_sql: "SAVEPOINT csvstage_chunk; COPY table (the fed columns, in
 * order) FROM STDIN", WITH (DEFAULT CS_DEFAULT_MARKER) on 16+. enabled 0:
 * every record is set aside (the table takes no COPY). Returns NULL with
 * err filled when out of memory or no temporary file can be made.
 */
cs_direct *cs_direct_open(const plan *p, PGconn *conn, const char *copy_sql, int enabled,
                          csvstage_error *err);

/*
 * Takes one data record: it goes into the table, or is set aside when the
 * client finds it doubtful (bad input for its type, NULL into NOT NULL, a
 * key seen before in the file) or the server refuses it. Returns 0, or -1
 * with err filled when the load cannot go on (connection lost, out of
 * memory, temporary file full).
 */
int cs_direct_add(cs_direct *d, const cs_record *rec, csvstage_error *err);

/* Sends what is still pending; after it, every record is in the table or
 * set aside. Returns 0 or -1 as cs_direct_add. */
int cs_direct_finish(cs_direct *d, csvstage_error *err);

/*
 * With every record set aside (a key: upsert, insert-new), they can also
 * go into the staging table as they are read, so that the server works
 * while the client reads: copy_sql starts that COPY (nothing else may use
 * the connection until it ends). cs_direct_stream_end ends it (or aborts
 * it, with abort_reason): 0 when the server took every row, -1 with err
 * filled and context (context_size bytes) holding the failure's CONTEXT.
 * Either way the records stay set aside, for cs_fill_stage to send again.
 */
int cs_direct_stream(cs_direct *d, const char *copy_sql, csvstage_error *err);
int cs_direct_stream_end(cs_direct *d, const char *abort_reason, char *context,
                         size_t context_size, csvstage_error *err);
/* Whether that COPY is under way. */
int cs_direct_streaming(const cs_direct *d);

/* Records set aside so far; of all records read, those whose values the
 * client could not vouch for (input its type refuses, NULL into NOT NULL),
 * whether or not the fast path was on. */
long long cs_direct_set_aside(const cs_direct *d);
long long cs_direct_doubtful(const cs_direct *d);

/* Sends the records set aside, as COPY text rows of csvstage_stage (line,
 * then the CSV's fields), into a COPY the caller has begun. all (only with
 * p->order_sensitive): every record of the file, those refused by the
 * server twice (the caller keeps one of each line). */
int cs_direct_send_set_aside(cs_direct *d, int all, csvstage_error *err);

/* Rows the table took from the COPYs that went through. */
long long cs_direct_inserted(const cs_direct *d);

/* The same rows as cs_direct_send_set_aside, [from, to) of them (to < 0:
 * to the end), for a COPY that must start again after a row it refused. */
int cs_direct_send_rows(cs_direct *d, int all, long long from, long long to,
                        csvstage_error *err);

/* Row k of them, its COPY text with the newline, into out. */
int cs_direct_row(cs_direct *d, int all, long long k, cs_buf *out, csvstage_error *err);

/* Chunks whose COPY the server refused, for -v. */
long long cs_direct_refusals(const cs_direct *d);

void cs_direct_free(cs_direct *d);

#endif
