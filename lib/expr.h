/* expr.h: the SQL for a staged record's values (private; for the careful
 * path's predictions and inserts). */
#ifndef CSVSTAGE_EXPR_H
#define CSVSTAGE_EXPR_H

#include "plan.h"
#include "sql.h"

/* The column's value as text, after trim, nullif and coalesce (except
 * DEFAULT). row: "s" (a staged row) or "r" (a PL/pgSQL record). */
void cs_add_text_value(sql *q, const fed_col *f, const char *row);

/* A number column's rule (decimal, thousands) as a regular expression the
 * text fits, into buf; NULL without one. */
const char *cs_number_regex(const fed_col *f, char *buf, size_t n);

/* "(the text does not fit the number column's separators, or the date
 * column's format, time fields in range)", false for NULL; returns 0 and
 * adds nothing without a rule. */
int cs_add_misfit(sql *q, const fed_col *f, const char *row);

/* "(the text is not the date column's format's shape)": bad input
 * (22007), where cs_add_misfit's other misfits are out of range (22008);
 * returns 0 and adds nothing without a format. */
int cs_add_format_misfit(sql *q, const fed_col *f, const char *row);

/* The column's text after trim, nullif and coalesce: as the file has it,
 * for messages. */
void cs_add_mapped_text(sql *q, const fed_col *f, const char *row);

/* The typed value as an INSERT of the text as a literal gets it; typmod:
 * the value as the column holds it, NULL typed as the base type (for
 * predictions). */
void cs_add_typed_value(sql *q, const plan *p, const fed_col *f, const char *row, int typmod);

/* "(the input is invalid for the column's type)", false for NULL; returns
 * 0 and adds nothing when any text is valid. */
int cs_add_invalid(sql *q, const plan *p, const fed_col *f, const char *row);

/* The INSERT's column list (and OVERRIDING SYSTEM VALUE when needed). */
void cs_add_column_list(sql *q, const plan *p);

/* Table column col's value in staged row s as the table would store it,
 * NULL for invalid input: for columns cs_plan_known knows. */
void cs_add_known_value(sql *q, const plan *p, int col);

/*
 * "row._ok & bit <> 0": the client vouched that fed column f's value in the
 * staged row is valid input for the column's type, modifier included (a
 * NULL too); nothing (returns 0) for a column it cannot say.
 */
int cs_add_vouched(sql *q, const plan *p, const fed_col *f, const char *row);

/*
 * A regular expression that only valid input of column c's type (its
 * modifier included) matches, for the common types: on PostgreSQL 15 it
 * spares most values the PL/pgSQL cast (a subtransaction each). NULL: none.
 * buf holds it when it is built.
 */
const char *cs_valid_regex(const cs_column *c, char *buf, size_t n);

#endif
