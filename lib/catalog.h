/* catalog.h: what the target table is, read from the server's catalog
 * (private). */
#ifndef CSVSTAGE_CATALOG_H
#define CSVSTAGE_CATALOG_H

#include <libpq-fe.h>

#include "csvstage.h"

typedef struct cs_column {
  char *name;
  int attnum;
  char *type;          /* with its modifier: "character varying(20)" */
  char *basetype;      /* the type, or a domain's base type, with no
                          modifier, as SQL names it: pg_catalog."bit" */
  int interval_typmod; /* an interval's modifier (its fields), or -1 */
  int notnull_domain;  /* a domain of the column's forbids NULL */
  int domain_checked;  /* a domain of the column's has a constraint */
  int nondeterministic; /* its collation calls different texts equal
                           ('a' = 'A'): the client cannot compare them */
  int is_text;         /* text or unbounded varchar: any input is valid */
  int notnull;
  char *default_expr;  /* the DEFAULT's SQL, or NULL */
  int default_stable;  /* the DEFAULT calls no volatile function, so it may
                          be evaluated more than once (now(): yes; nextval:
                          no) */
  char identity;       /* 'a' (ALWAYS), 'd' (BY DEFAULT) or 0 */
  int generated;       /* a generated column: never inserted */
} cs_column;

/* Whether the column is boolean, or a domain over it. */
int cs_column_is_bool(const cs_column *c);

/* Whether the column is a number a decimal = / thousands = rule may feed:
 * smallint, integer, bigint, numeric, real, double precision (or a domain
 * over one). */
int cs_column_is_number(const cs_column *c);

/* A CHECK constraint, a unique index or a foreign key, over columns given
 * as indexes into cs_table.cols. */
typedef struct cs_constraint {
  char *name;
  char *expr;          /* CHECK: the expression; FOREIGN KEY: the
                          referenced table as "schema\nname" */
  int *cols;
  char **refcols;      /* FOREIGN KEY: the referenced columns */
  int ncols;
} cs_constraint;

typedef struct cs_table {
  char *schema;
  char *name;
  char *sql_name;      /* quoted "schema"."name" for SQL */
  char *display_name;  /* schema.name for people, quoted only where needed */
  char relkind;
  unsigned int oid;
  int row_triggers;    /* BEFORE or INSTEAD OF row triggers on INSERT: they
                          may change rows after the type input */
  int insert_rules;    /* rules ON INSERT: COPY would bypass them */
  cs_column *cols;
  int ncols;
  cs_constraint *checks;
  int nchecks;
  cs_constraint *uniques;
  int nuniques;
  cs_constraint *fkeys;
  int nfkeys;
  /* Every unique and exclusion index the rows meet, the partitions' too,
   * by name (what a 23505 or 23P01 names), each with the name of the
   * index on the table itself that it belongs to (its own, when it is not
   * a partition's copy of one). */
  char **conflict_names;
  char **conflict_roots;
  int nconflicts;
  int self_fkey;       /* a foreign key refers to the table itself: a record
                          may need a row of an earlier one */
} cs_table;

/*
 * Looks up name (SQL syntax: may be schema-qualified and quoted) in the
 * catalog. Returns the table (free with cs_table_free), or NULL with err
 * filled: CSVSTAGE_E_PREFLIGHT when there is no such table, it is not one
 * that takes INSERT, or the user may not insert into it.
 */
cs_table *cs_table_load(PGconn *conn, const char *name, csvstage_error *err);

/* The columns (indexes into t->cols) of an attribute number list as the
 * catalog writes it ("1 3", "{1,3}"): *out malloc'd, their count returned;
 * -1 when out of memory or a number is not one of t's columns. */
int cs_table_attnums(const cs_table *t, const char *text, int **out);

/* The index of a column by exact name, or -1. */
int cs_table_column(const cs_table *t, const char *name);

void cs_table_free(cs_table *t);

#endif
