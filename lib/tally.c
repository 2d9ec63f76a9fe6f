/*
 * tally.c: the rejects of one load, counted for the summary: by kind
 * (SQLSTATE and column, or constraint), and the first few by line.
 */
#include <config.h>

#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "tally.h"

/* Rejects are grouped by SQLSTATE and column, or constraint when the error
 * names no column (a unique key). */
void
cs_tally_add(tally *t, int early, long long line, const char *sqlstate, const char *column,
          const char *constraint, const char *message)
{
  int g;
  csvstage_reject_line *first = early ? t->first_early : t->first_late;
  int *nfirst = early ? &t->nfirst_early : &t->nfirst_late;

  for (g = 0; g < t->ngroups; g++)
    if (strcmp(t->groups[g].sqlstate, sqlstate) == 0 && strcmp(t->groups[g].column, column) == 0 &&
        strcmp(t->groups[g].constraint, *column ? "" : constraint) == 0)
      break;
  if (g == t->ngroups && g < 64) {
    cs_strlcpy_utf8(t->groups[g].sqlstate, sqlstate, sizeof(t->groups[g].sqlstate));
    cs_strlcpy_utf8(t->groups[g].column, column, sizeof(t->groups[g].column));
    cs_strlcpy_utf8(t->groups[g].constraint, *column ? "" : constraint,
                    sizeof(t->groups[g].constraint));
    t->groups[g].count = 0;
    t->ngroups++;
  }
  if (g < 64)
    t->groups[g].count++;
  else
    t->other++;
  if (*nfirst < CSVSTAGE_FIRST_REJECTS) {
    first[*nfirst].line = line;
    cs_strlcpy_utf8(first[*nfirst].sqlstate, sqlstate, sizeof(first[*nfirst].sqlstate));
    cs_strlcpy_utf8(first[*nfirst].message, message, sizeof(first[*nfirst].message));
    (*nfirst)++;
  }
}

static int
group_cmp(const void *a, const void *b)
{
  const csvstage_reject_group *x = a, *y = b;

  if (x->count != y->count)
    return x->count > y->count ? -1 : 1;
  int c = strcmp(x->sqlstate, y->sqlstate);
  return c ? c : strcmp(x->column, y->column);
}

/* Moves the tally into the result: kinds by frequency, first rejects by line. */
void
cs_tally_finish(tally *t)
{
  csvstage_result *res = t->res;
  int i = 0, j = 0;

  qsort(t->groups, (size_t)t->ngroups, sizeof(t->groups[0]), group_cmp);
  res->ngroups = t->ngroups < CSVSTAGE_MAX_GROUPS ? t->ngroups : CSVSTAGE_MAX_GROUPS;
  memcpy(res->groups, t->groups, (size_t)res->ngroups * sizeof(t->groups[0]));
  res->other_rejects = t->other;
  for (int g = res->ngroups; g < t->ngroups; g++)
    res->other_rejects += t->groups[g].count;
  res->nfirst = 0;
  while (res->nfirst < CSVSTAGE_FIRST_REJECTS && (i < t->nfirst_early || j < t->nfirst_late)) {
    if (j >= t->nfirst_late || (i < t->nfirst_early && t->first_early[i].line < t->first_late[j].line))
      res->first[res->nfirst++] = t->first_early[i++];
    else
      res->first[res->nfirst++] = t->first_late[j++];
  }
}
