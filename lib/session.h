/* session.h: what the session offers a load (private; the session's API
 * is csvstage.h, its struct plan.h's csvstage_session). */
#ifndef CSVSTAGE_SESSION_H
#define CSVSTAGE_SESSION_H

#include "csvstage.h"
#include "pg.h"

/*
 * Rewords err, the loss of the connection during COMMIT, for what cs_commit
 * learned afterwards (CS_ROLLED_BACK_AFTER_LOSS or CS_COMMIT_UNKNOWN) about
 * the load of `what`; `more` ends the unknown case's message.
 */
csvstage_code cs_lost_commit(csvstage_error *err, cs_commit_end how, const char *what,
                             const char *xid, const char *more);

/* The SQL that ends a file's work without keeping any of it: ROLLBACK, or
 * back to the file's savepoint inside csvstage_begin's transaction. */
const char *cs_rollback_sql(const csvstage_session *s);

#endif
