/* lock.h: one run per table at a time (private). */
#ifndef CSVSTAGE_LOCK_H
#define CSVSTAGE_LOCK_H

#include "plan.h"
#include "sql.h"

/* csvstage's advisory lock key space: 0x63737467, "cstg", in the high 32
 * bits (the ledger's creation takes (LOCK_SPACE, 0)); lock.c says which
 * keys a table has. */
#define LOCK_SPACE 1668510823u

/* Takes the table's lock for the loading transaction, waiting as p's
 * settings say. Returns 0, or -1 with q's err filled: CSVSTAGE_E_BUSY,
 * naming the other run's backends, when another run holds it. */
int cs_take_lock(plan *p, sql *q);

#endif
