/* predict.h: which staged records may fail (private). */
#ifndef CSVSTAGE_PREDICT_H
#define CSVSTAGE_PREDICT_H

#include "plan.h"
#include "sql.h"

/*
 * Fills csvstage_suspect with the lines of the records that may fail:
 * invalid input, NULL into NOT NULL, CHECK, unique keys, foreign keys.
 * target_empty: the table has no rows (no key can exist already). Returns
 * 0, or -1 with q's err filled.
 */
int cs_predict(plan *p, sql *q, int target_empty);

/* PostgreSQL 15 has no pg_input_is_valid nor pg_input_error_info: two
 * PL/pgSQL casts per type (refuse.c's is the second), made in the load's
 * transaction, and dropped in it again. */
int cs_create_validators(plan *p, sql *q);
int cs_drop_validators(plan *p, sql *q);

#endif
