/* mode.h: what a load does around its records ([target] mode, before and
 * after) (private). */
#ifndef CSVSTAGE_MODE_H
#define CSVSTAGE_MODE_H

#include "plan.h"
#include "sql.h"

/*
 * Before the first record, in the load's transaction: the mode's preflight
 * (truncate takes tables only; truncate and replace refuse a table other
 * tables' foreign keys refer to, naming them), the table emptied (TRUNCATE
 * or DELETE) unless emptied is set (an earlier file of the same run's
 * transaction did it), then [target] before. Returns 0, or -1 with q's err
 * filled, saying which statement failed.
 */
int cs_mode_begin(plan *p, sql *q, int emptied);

/* After the last record: [target] after. Returns 0, or -1 as above. */
int cs_mode_end(plan *p, sql *q);

/* Whether the mode replaces the table's rows (truncate, replace); whether
 * it matches records to rows by a key (upsert, insert-new). */
int cs_mode_replaces(const csvstage_settings *s);
int cs_mode_keyed(const csvstage_settings *s);

/*
 * Preflight for the modes with a key, once the plan is built: the key
 * (settings' key, else the primary key) as a unique index ON CONFLICT can
 * use, every key column fed by the file, the update's columns (settings'
 * update, else every fed column outside the key); p->conflict, ->update,
 * ->row_triggers. [target] key and update given to a mode without a key
 * are errors. Returns 0, or -1 with q's err filled (CSVSTAGE_E_PREFLIGHT,
 * _CONFIG).
 */
int cs_mode_plan(plan *p, sql *q);

/* " ON CONFLICT (key) DO UPDATE SET c = EXCLUDED.c, ..." (upsert) or
 * " ON CONFLICT (key) DO NOTHING" (insert-new); nothing for other modes. */
void cs_add_on_conflict(sql *q, const plan *p);

#endif
