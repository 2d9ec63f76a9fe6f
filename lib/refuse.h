/* refuse.h: the staged records whose refusal is known without inserting
 * them (private). */
#ifndef CSVSTAGE_REFUSE_H
#define CSVSTAGE_REFUSE_H

#include "plan.h"
#include "sql.h"

/*
 * Rejects, set-based, every staged record whose INSERT would fail whatever
 * the other records do, with the error it would give, into
 * csvstage_reject: a value that is not valid input for its column's type;
 * on a plain table, a NULL into NOT NULL. Moves those records from
 * csvstage_stage to csvstage_refused. Returns 0, or -1 with q's err
 * filled.
 */
int cs_refuse(plan *p, sql *q);

/* PostgreSQL 15 has no pg_input_error_info: the body of a PL/pgSQL
 * function of column c's (v text) that returns NULL, or the error of its
 * input as {column, SQLSTATE, message, detail}. */
void cs_add_error_fn(sql *q, const cs_column *c);

#endif
