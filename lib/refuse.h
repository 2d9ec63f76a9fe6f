/* refuse.h: the staged records whose refusal is known without inserting
 * them (private). */
#ifndef CSVSTAGE_REFUSE_H
#define CSVSTAGE_REFUSE_H

#include "plan.h"
#include "sql.h"

/* The temporary tables of a refusal: the staged records (csvstage_stage's
 * shape) and their rejects (csvstage_reject's). */
typedef struct cs_refusal_tables {
  const char *stage, *reject;
} cs_refusal_tables;

/*
 * Rejects, set-based, every staged record whose INSERT would fail whatever
 * the other records do, with the error it would give, into rt->reject: a
 * value that is not valid input for its column's type; on a plain table, a
 * NULL into NOT NULL or a CHECK constraint false. rt NULL: from
 * csvstage_stage into csvstage_reject, and then csvstage_stage holds the
 * other records only (p->split says where the refused ones are).
 * Returns 0, or -1 with q's err filled.
 */
int cs_refuse(plan *p, sql *q, const cs_refusal_tables *rt);

/* PostgreSQL 15 has no pg_input_error_info: the body of a PL/pgSQL
 * function of column c's (v text) that returns NULL, or the error of its
 * input as {column, SQLSTATE, message, detail}. */
void cs_add_error_fn(sql *q, const cs_column *c);

#endif
