/* session.h: the session a load runs in, and what it offers a load
 * (private; the session's API is csvstage.h). */
#ifndef CSVSTAGE_SESSION_H
#define CSVSTAGE_SESSION_H

#include <signal.h>

#include <libpq-fe.h>

#include "csvstage.h"
#include "pg.h"

struct csvstage_session {
  PGconn *conn;
  int server_version;
  void (*progress)(const csvstage_progress *progress, void *arg);
  void *progress_arg;
  int outer;                      /* csvstage_begin: one transaction for all
                                     files, a savepoint each */
  PGcancel *cancel;               /* made at connect: PQcancel is signal-safe */
  volatile sig_atomic_t interrupted;
  volatile sig_atomic_t committing; /* COMMIT is (about to be) sent: a signal
                                     no longer cancels (cs_session_commit) */
  unsigned int *emptied;          /* tables a file of the outer transaction
                                     emptied (mode truncate or replace): the
                                     run's later files add to them */
  int nemptied;
};

/* What the server can do, by version: COPY's DEFAULT option and
 * pg_input_is_valid both came in PostgreSQL 16. */
static inline int
cs_copy_has_default(const csvstage_session *s)
{
  return s->server_version >= 160000;
}

static inline int
cs_has_input_is_valid(const csvstage_session *s)
{
  return s->server_version >= 160000;
}

/*
 * Rewords err, the loss of the connection during COMMIT, for what cs_commit
 * learned afterwards (CS_ROLLED_BACK_AFTER_LOSS or CS_COMMIT_UNKNOWN) about
 * the load of `what`; `more` ends the unknown case's message.
 */
csvstage_code cs_lost_commit(csvstage_error *err, cs_commit_end how, const char *what,
                             const char *xid, const char *more);

/*
 * COMMIT of the session's transaction, its outcome found out whatever
 * arrives meanwhile: from here on a signal (csvstage_interrupt) is noted,
 * not acted on, so that the reply (or, the connection lost, txid_status)
 * says what the server did; only a second signal cancels (a COMMIT that
 * waits on a synchronous standby then ends, committed here). Interrupted
 * before: nothing is sent, CS_ROLLED_BACK with err CSVSTAGE_E_INTERRUPTED.
 * Returns as cs_commit.
 */
cs_commit_end cs_session_commit(csvstage_session *s, char *xid, size_t xidsize,
                                csvstage_error *err);

/* The SQL that ends a file's work without keeping any of it: ROLLBACK, or
 * back to the file's savepoint inside csvstage_begin's transaction. */
const char *cs_rollback_sql(const csvstage_session *s);

/* Whether a file of csvstage_begin's transaction emptied the table oid;
 * notes that one did (returns -1 when out of memory). */
int cs_session_emptied(const csvstage_session *s, unsigned int oid);
int cs_session_note_emptied(csvstage_session *s, unsigned int oid);

#endif
