/* validate.h: proving values valid for a column's type on the client, so
 * that clean records can go straight into the table (private).
 *
 * A check answers "valid" only when PostgreSQL's own input function is
 * certain to accept the text (tests/check_validate.c holds it to that
 * against a real server). Anything unusual is "doubtful": such a record goes
 * the careful way, through the staging table, where the server decides. A
 * type the client does not know is "unknown": its values go in
 * optimistically, and should the server refuse one, that record is found
 * and sent the careful way instead. */
#ifndef CSVSTAGE_VALIDATE_H
#define CSVSTAGE_VALIDATE_H

#include <stddef.h>
#include <stdint.h>

typedef enum cs_kind {
  CS_KIND_OTHER,        /* not known here */
  CS_KIND_TEXT,         /* text, unbounded varchar: any text */
  CS_KIND_VARCHAR,      /* varchar(n): at most n characters */
  CS_KIND_BPCHAR,       /* char(n): at most n characters */
  CS_KIND_INT2,
  CS_KIND_INT4,
  CS_KIND_INT8,
  CS_KIND_NUMERIC,      /* numeric(p,s) when precision > 0 */
  CS_KIND_BOOL,
  CS_KIND_DATE,
  CS_KIND_TIMESTAMP,    /* with or without time zone, any precision */
  CS_KIND_UUID
} cs_kind;

typedef struct cs_type {
  cs_kind kind;
  int precision;        /* numeric; varchar/char: the length */
  int scale;            /* numeric */
  int utf8;             /* characters are counted as UTF-8 */
} cs_type;

/* White space as PostgreSQL's input functions skip it (isspace in C). */
static inline int
cs_is_space(char c)
{
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

typedef enum cs_verdict { CS_VALID, CS_DOUBTFUL, CS_UNKNOWN } cs_verdict;

/* Classifies a type as format_type() prints it ("numeric(12,2)",
 * "character varying(20)", "timestamp with time zone"). utf8: the input's
 * encoding is UTF-8 (lengths count characters, not bytes). */
void cs_type_parse(cs_type *t, const char *format_type, int utf8);

/* Whether PostgreSQL's input function for t accepts s (n bytes, not
 * NUL-terminated). For the integer kinds, *ival (may be NULL) gets the
 * value when valid, so that "007" and "7" are one key. */
cs_verdict cs_value_check(const cs_type *t, const char *s, size_t n, int64_t *ival);

#endif
