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

/*
 * With a key (upsert, insert-new), the suspects from the client's word on
 * each record's keys (CS_STAGE_SURE), for a plan that is not
 * order-sensitive. Returns 1 when csvstage_suspect holds them, 0 when
 * cs_predict must (nothing made), -1 with q's err filled.
 */
int cs_predict_sure(plan *p, sql *q, int target_empty);

/*
 * After the bulk INSERT of the others met a unique value already in the
 * table: adds the records whose value of a unique key (not the upsert's)
 * a row holds, other than the one their key finds, and those they meet
 * through rows; csvstage_suspect anew. Returns as cs_predict_sure (0 too
 * when no record gives such a value).
 */
int cs_predict_sure_held(plan *p, sql *q, int target_empty);

/* PostgreSQL 15 has no pg_input_is_valid nor pg_input_error_info: two
 * PL/pgSQL casts per type (refuse.c's is the second), made in the load's
 * transaction, and dropped in it again. */
int cs_create_validators(plan *p, sql *q);
int cs_drop_validators(plan *p, sql *q);

#endif
