/* settle.h: the careful path (private). */
#ifndef CSVSTAGE_SETTLE_H
#define CSVSTAGE_SETTLE_H

#include "direct.h"
#include "plan.h"
#include "rejects.h"
#include "sql.h"
#include "tally.h"

/*
 * Creates csvstage_stage and fills it with the records d set aside (all:
 * every record of the file, one row a line). Returns 0, or -1 with q's err
 * filled.
 */
int cs_fill_stage(plan *p, sql *q, cs_direct *d, int all);

/*
 * Creates csvstage_stage (empty) and the tables beside it, for a COPY of
 * the records as they are read (cs_direct_stream) in a savepoint named
 * csvstage_fill; cs_stage_streamed ends that COPY: the stage is ready, or,
 * should a record's bytes not convert from the source encoding, it is
 * filled again by cs_fill_stage. Each returns 0, or -1 with q's err filled.
 */
int cs_stage_create(plan *p, sql *q);
int cs_stage_streamed(plan *p, sql *q, cs_direct *d);

/*
 * Settles the records in csvstage_stage: the rows each way put in go to
 * *bulk and *one (p->inserted is zeroed when the fast path's rows are
 * undone to settle the file again in order); res->row_by_row and
 * res->reordered say how. The refusals wait in csvstage_reject for
 * cs_settle_rejects. Returns 0, or -1 with q's err filled.
 */
int cs_settle(plan *p, sql *q, cs_direct *d, csvstage_result *res, long long *bulk,
              long long *one);

/*
 * Counts, among rows [from, to) of the records d has set aside so far,
 * those the careful path will refuse whatever else happens (bad input, NULL
 * into NOT NULL) into *certain: so that a load over max_rejects can stop
 * early. Returns 0, or -1 with q's err filled.
 */
int cs_probe_rejects(plan *p, sql *q, cs_direct *d, long long from, long long to,
                     long long *certain);

/* Writes the careful path's rejects into rj in line order, counted in ty,
 * and drops what cs_settle made for the load. Returns 0 or -1. */
int cs_settle_rejects(plan *p, sql *q, cs_rejects *rj, tally *ty);

#endif
