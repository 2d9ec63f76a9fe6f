/* plan.h: how one file's CSV columns feed one table (private; built by
 * plan.c, read by direct.c and settle.c). */
#ifndef CSVSTAGE_PLAN_H
#define CSVSTAGE_PLAN_H

#include <libpq-fe.h>

#include "catalog.h"
#include "datefmt.h"
#include "session.h"
#include "settings.h"
#include "sql.h"
#include "validate.h"

/* Fed columns whose values the client can vouch for in a staged row's _ok
 * (a bit each). */
#define CS_VOUCHED_COLUMNS 62
/* And a bit for the record's keys: with a key (upsert, insert-new), set
 * when no key of the record can have come earlier in the file (its Bloom
 * filters had not seen it, and each value hashed is the one the server
 * compares); predict.c's cs_predict_sure trusts it. */
#define CS_STAGE_SURE (1LL << 62)

typedef struct fed_col {
  int col;               /* index in table->cols */
  int src;               /* CSV column, or -1 (fed by coalesce literals) */
  const cs_rule *rule;
  int *fallback_src;     /* per coalesce item: its CSV column, or -1 (a
                            literal, DEFAULT); resolved once by plan_build */
  int trim;
  /* A boolean column's words for true and false (its rule's, else
   * [source]'s), matched after the other rules, as PostgreSQL matches its
   * own: white space around them and ASCII case aside. */
  char *const *yes, *const *no;
  int nyes, nno;
  /* A number column's separators (its rule's, else [source]'s): decimal 0
   * when none is set; else the text must fit (sign, digits grouped by
   * thousands or not, decimal and digits) and is read with '.' and no
   * grouping, and a value that does not fit is bad input. */
  char decimal, thousands;
  /* A date or time column's format (its rule's, else [source]'s when it
   * suits the column), or NULL: the text must fit it and is read as the
   * ISO text of its fields; a value that does not fit is bad input. */
  cs_datefmt *format;
  const char *format_text; /* the pattern as written, for messages */
  int use_default;       /* a NULL takes the column's DEFAULT */
  int valid_fn;          /* PostgreSQL 15: index of its pg_temp validator */
  cs_type type;          /* for the client's checks */
  /* The DEFAULT as COPY text, for servers without COPY's DEFAULT option
   * (before 16): known only when it is stable. */
  int default_known;
  char *default_text;    /* NULL: the DEFAULT is NULL */
} fed_col;

typedef struct plan {
  csvstage_session *session;
  const csvstage_settings *settings;
  cs_table *table;
  int ncsv;              /* CSV columns */
  const char *const *csv_names;
  int *csv_meta;         /* per CSV column: one of a reject file's own */
  fed_col *fed;          /* in table column order */
  int nfed;
  int overriding;        /* an identity ALWAYS column is fed */
  int *col_fed;          /* per table column: index into fed, or -1 */
  long long refusals;    /* COPYs into the table the server refused */
  long long inserted;    /* rows the fast path's COPYs put in */
  /* File order between the two paths (load.c's order_plan): */
  int order_sensitive;   /* a key conflict may be settled out of file order:
                            the fast path keeps every record to settle the
                            file again, in order, should one be found */
  int strict;            /* every record one by one, in order, from the
                            start (a foreign key to the table itself) */
  int unchecked_domain;  /* a column left out has a domain with a
                            constraint: COPY would not check it */
  const char **exact;    /* conflict indexes kept in file order by both
                            paths (a 23505 naming one is in order) */
  int nexact;
  /* upsert and insert-new (mode.c's cs_mode_plan): */
  int *conflict;         /* the key's table columns: ON CONFLICT (...) */
  int nconflict;
  char *conflict_index;  /* the unique index on exactly them */
  int *update;           /* upsert: the table columns an update sets */
  int nupdate;
  int row_triggers;      /* a row trigger of any event: one by one */
  int deferrable_keys;   /* a deferrable unique or exclusion constraint:
                            checked at a statement's end, not per row */
  long long updated;     /* rows the careful path updated (upsert) */
  long long ignored;     /* records it left out for their key (insert-new) */
  long long tried;       /* records it tried one by one (a subtransaction
                            each) */
  int probing;           /* settle.c's csvstage_probe is made */
  int suspects_kept;     /* csvstage_doubt holds every suspect's staged row
                            (predict.c's cs_predict_sure) */
  enum {
    CS_SPLIT_NONE,       /* every record staged is in csvstage_stage */
    CS_SPLIT_MOVED,      /* those refuse.c refused are in csvstage_refused */
    CS_SPLIT_COPIED      /* the others are in csvstage_stage, all of them
                            in csvstage_staged */
  } split;
} plan;

/*
 * Preflight: matches the CSV's columns (p->csv_names, p->ncsv) to
 * p->table's, applying p->settings' rules. Fails with
 * CSVSTAGE_E_PREFLIGHT (or _CONFIG for rules that cannot apply) when
 * anything would make every record fail or silently lose data.
 */
csvstage_code cs_plan_build(plan *p, const char *input_name, csvstage_error *err);

/* Computes the DEFAULTs that blanks take, where the server's COPY cannot
 * (before 16). Returns 0, or -1 with q's err filled. */
int cs_plan_defaults(plan *p, sql *q);

/* Sets order_sensitive, strict, unchecked_domain and exact. Returns 0, or
 * -1 when out of memory. */
int cs_plan_order(plan *p, csvstage_error *err);

/* Whether the careful path's predictions know column col's value without
 * evaluating a volatile DEFAULT (nextval, identity); whether they know
 * every column of k (and k has a fed one). */
int cs_plan_known(const plan *p, int col);
int cs_plan_predictable(const plan *p, const cs_constraint *k);

/* Whether it knows every column of k (k may have no fed one). */
int cs_plan_all_known(const plan *p, const cs_constraint *k);

/* Whether it knows every column of the upsert's key (p->conflict). */
int cs_plan_key_known(const plan *p);

/* The record's fields for the reject file (a reject file's own columns
 * left out): out[0..n), n returned. */
int cs_pick_fields(const plan *p, int nfields, const char *const *in, const size_t *inlen,
                   const char **out, size_t *outlen);

void cs_plan_free(plan *p);

#endif
