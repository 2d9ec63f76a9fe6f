/* tally.h: the rejects of one load, counted for the summary (private). */
#ifndef CSVSTAGE_TALLY_H
#define CSVSTAGE_TALLY_H

#include "csvstage.h"

typedef struct tally {
  csvstage_result *res;
  int ngroups;
  csvstage_reject_group groups[64];   /* the first 64 kinds; the rest: other */
  long long other;
  int nfirst_early;
  csvstage_reject_line first_early[CSVSTAGE_FIRST_REJECTS];
  int nfirst_late;
  csvstage_reject_line first_late[CSVSTAGE_FIRST_REJECTS];
} tally;

/* Counts one reject. early: found while reading (malformed records), whose
 * first lines are kept apart from the server's, both in line order. */
void cs_tally_add(tally *t, int early, long long line, const char *sqlstate,
                  const char *column, const char *constraint, const char *message);

/* Moves the tally into t->res: kinds by frequency, first rejects by line. */
void cs_tally_finish(tally *t);

#endif
