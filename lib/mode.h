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

/* Whether the mode replaces the table's rows (truncate, replace). */
int cs_mode_replaces(const csvstage_settings *s);

#endif
