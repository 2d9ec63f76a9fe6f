/*
 * session.c: the connection csvstage loads over, and the transaction around
 * a run (csvstage_begin/commit/rollback): connecting (no NOTICE printed,
 * a cancel handle ready for signal handlers, room for the staging table),
 * COMMIT with its recheck after a lost connection (pg.c's cs_commit), and
 * interrupting the statement under way.
 */
#include <config.h>

#include <stdio.h>
#include <stdlib.h>

#include <libpq-fe.h>

#include "error.h"
#include "pg.h"
#include "session.h"

/* The library never prints: the server's NOTICEs ("schema csvstage already
 * exists, skipping") would otherwise go to stderr through libpq. */
static void
ignore_notice(void *arg, const char *message)
{
  (void)arg;
  (void)message;
}


csvstage_code
csvstage_begin(csvstage_session *session, csvstage_error *err)
{
  if (!session || session->outer)
    return cs_fail(err, CSVSTAGE_E_INVALID, "no session, or a transaction already begun");
  if (cs_run(session->conn, "BEGIN", err))
    return err && err->code ? err->code : CSVSTAGE_E_DB;
  session->outer = 1;
  session->nemptied = 0;
  return CSVSTAGE_OK;
}

/*
 * Rewords err, the loss of the connection during COMMIT, for what cs_commit
 * learned afterwards (CS_ROLLED_BACK_AFTER_LOSS or CS_COMMIT_UNKNOWN) about
 * the load of `what`; `more` ends the unknown case's message.
 */
csvstage_code
cs_lost_commit(csvstage_error *err, cs_commit_end how, const char *what, const char *xid,
            const char *more)
{
  char msg[sizeof(err->message)];

  cs_strlcpy_utf8(msg, err->message, sizeof(msg));
  csvstage_error_clear(err);
  if (how == CS_ROLLED_BACK_AFTER_LOSS)
    return cs_fail(err, CSVSTAGE_E_CONNLOST, "the connection to the server was lost during "
                   "COMMIT (%s); the server says it rolled the transaction back: nothing of "
                   "%s was committed; load it again", msg, what);
  return cs_fail(err, CSVSTAGE_E_UNKNOWN, "the connection to the server was lost during COMMIT "
                 "(%s) and no server answered for %d s: whether the load of %s committed is "
                 "unknown; ask with SELECT txid_status(%s) ('committed' or 'aborted')%s", msg,
                 CS_RECHECK_SECONDS, what, xid, more);
}

cs_commit_end
cs_session_commit(csvstage_session *s, char *xid, size_t xidsize, csvstage_error *err)
{
  cs_commit_end how;

  /* committing first, then the look at interrupted: a signal between the
   * two is seen by neither as a cancel, and honoured once COMMIT is done. */
  s->committing = 1;
  if (s->interrupted) {
    s->committing = 0;
    xid[0] = '\0';
    cs_fail(err, CSVSTAGE_E_INTERRUPTED, "interrupted before COMMIT");
    return CS_ROLLED_BACK;
  }
  how = cs_commit(s->conn, xid, xidsize, err);
  s->committing = 0;
  return how;
}

csvstage_code
csvstage_commit(csvstage_session *session, csvstage_error *err)
{
  char xid[32];
  csvstage_error local;
  cs_commit_end how;

  if (!err) {
    csvstage_error_clear(&local);
    err = &local;
  }
  if (!session || !session->outer)
    return cs_fail(err, CSVSTAGE_E_INVALID, "no transaction begun");
  session->outer = 0;
  session->nemptied = 0;
  how = cs_session_commit(session, xid, sizeof(xid), err);
  if (how == CS_COMMITTED || how == CS_COMMITTED_AFTER_LOSS)
    return CSVSTAGE_OK;
  if (how == CS_ROLLED_BACK)
    return err->code ? err->code : CSVSTAGE_E_DB;
  return cs_lost_commit(err, how, "the run's files", xid, "");
}

csvstage_code
csvstage_rollback(csvstage_session *session, csvstage_error *err)
{
  if (!session || !session->outer)
    return cs_fail(err, CSVSTAGE_E_INVALID, "no transaction begun");
  session->outer = 0;
  session->nemptied = 0;
  if (cs_run(session->conn, "ROLLBACK", err))
    return err && err->code ? err->code : CSVSTAGE_E_DB;
  return CSVSTAGE_OK;
}

void
csvstage_interrupt(csvstage_session *session)
{
  char buf[256];

  if (!session)
    return;
  /* During COMMIT only a second signal cancels (cs_session_commit). */
  if (session->committing && !session->interrupted) {
    session->interrupted = 1;
    return;
  }
  session->interrupted = 1;
  if (session->cancel)
    PQcancel(session->cancel, buf, sizeof(buf));
}

void
csvstage_set_progress(csvstage_session *session,
                      void (*fn)(const csvstage_progress *progress, void *arg), void *arg)
{
  if (!session)
    return;
  session->progress = fn;
  session->progress_arg = arg;
}

csvstage_session *
csvstage_connect(const char *conninfo, csvstage_error *err)
{
  csvstage_session *s = calloc(1, sizeof(*s));

  if (!s) {
    cs_fail(err, CSVSTAGE_E_NOMEM, "out of memory");
    return NULL;
  }
  s->conn = cs_connect(conninfo, err);
  if (!s->conn) {
    free(s);
    return NULL;
  }
  s->server_version = PQserverVersion(s->conn);
  PQsetNoticeProcessor(s->conn, ignore_notice, NULL);
  s->cancel = PQgetCancel(s->conn);
  /*
   * The staging table lives in local buffers; the default 8 MB makes a
   * large load spill to disk. It can only be set before the session first
   * touches a temporary table.
   * JIT off: the careful path's statements read temporary tables that have
   * no statistics; the planner guesses them a hundred times too large and
   * spent half a second compiling a join of 50,000 rejects (measured on
   * PostgreSQL 15), more than the join itself.
   * work_mem at least 64 MB: the careful path sorts its rejects and staged
   * records by line; at the default 4 MB, 200,000 of them went to disk in
   * three sorts (measured).
   */
  if (cs_run(s->conn, "SET temp_buffers = '256MB'; SET jit = off; "
             "SELECT set_config('work_mem', '64MB', false) "
             "WHERE pg_size_bytes(current_setting('work_mem')) < 64 * 1024 * 1024", err)) {
    csvstage_disconnect(s);
    return NULL;
  }
  return s;
}

void
csvstage_disconnect(csvstage_session *s)
{
  if (!s)
    return;
  PQfreeCancel(s->cancel);
  free(s->emptied);
  PQfinish(s->conn);
  free(s);
}

/* Ends a file's work without keeping any of it. */
const char *
cs_rollback_sql(const csvstage_session *s)
{
  return s->outer ? "ROLLBACK TO SAVEPOINT csvstage_file; RELEASE SAVEPOINT csvstage_file"
                  : "ROLLBACK";
}

int
cs_session_emptied(const csvstage_session *s, unsigned int oid)
{
  for (int i = 0; i < s->nemptied; i++)
    if (s->emptied[i] == oid)
      return 1;
  return 0;
}

int
cs_session_note_emptied(csvstage_session *s, unsigned int oid)
{
  unsigned int *more;

  if (cs_session_emptied(s, oid))
    return 0;
  more = realloc(s->emptied, (size_t)(s->nemptied + 1) * sizeof(*more));
  if (!more)
    return -1;
  s->emptied = more;
  s->emptied[s->nemptied++] = oid;
  return 0;
}
