/* ledger.h: the load ledger (private). */
#ifndef CSVSTAGE_LEDGER_H
#define CSVSTAGE_LEDGER_H

#include "input.h"
#include "plan.h"
#include "sql.h"

/* Creates the ledger when it is not there yet, and looks sha up for this
 * table: res->skipped (and res->loaded_before) when it is there and not
 * force. Returns 0, or -1 with q's err filled. */
int cs_ledger_lookup(plan *p, sql *q, const char *sha, int force, csvstage_result *res);

/* Records this load (the input's SHA-256 and res's counts) in the load's
 * transaction, unless res->skipped comes out set: the content was loaded
 * before (and not force). Returns 0, or -1 with q's err filled. */
int cs_ledger_record(plan *p, sql *q, cs_input *in, int force, csvstage_result *res);

#endif
