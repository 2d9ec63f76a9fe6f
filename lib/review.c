/* review.c: a reject file read back and summed up for the operator who
 * has to fix it (csvstage rejects FILE). */
#include <config.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "fixes.h"
#include "input.h"
#include "reader.h"
#include "rejects.h"
#include "settings.h"

/* Distinct messages are counted in a table of this many; once it is full,
 * new ones count as "other" (type errors quote the value: a file can hold
 * as many messages as records). */
#define MESSAGE_SLOTS 4096

typedef struct slot {
  char *message;
  csvstage_review_message m;
} slot;

static unsigned long
hash_str(const char *s, size_t n)
{
  unsigned long h = 5381;

  for (size_t i = 0; i < n; i++)
    h = h * 33 + (unsigned char)s[i];
  return h;
}

/* Counts one message; returns 0, or -1 when out of memory. */
static int
count_message(slot *slots, int *used, csvstage_review *out, const char *msg, size_t n,
              long long line)
{
  unsigned long i = hash_str(msg, n) % MESSAGE_SLOTS;

  for (;; i = (i + 1) % MESSAGE_SLOTS) {
    slot *s = &slots[i];
    if (s->message && strlen(s->message) == n && memcmp(s->message, msg, n) == 0)
      break;
    if (!s->message) {
      if (*used >= MESSAGE_SLOTS * 3 / 4) {
        out->other_messages++;
        return 0;
      }
      if (!(s->message = malloc(n + 1)))
        return -1;
      memcpy(s->message, msg, n);
      s->message[n] = '\0';
      snprintf(s->m.message, sizeof(s->m.message), "%s", s->message);
      (*used)++;
      break;
    }
  }
  slots[i].m.count++;
  if (slots[i].m.nlines < CSVSTAGE_REVIEW_LINES)
    slots[i].m.lines[slots[i].m.nlines++] = line;
  return 0;
}

static void
count_group(csvstage_review *out, const char *sqlstate, const char *column,
            const char *constraint)
{
  for (int i = 0; i < out->ngroups; i++) {
    csvstage_reject_group *g = &out->groups[i];
    if (strcmp(g->sqlstate, sqlstate) == 0 && strcmp(g->column, column) == 0 &&
        strcmp(g->constraint, constraint) == 0) {
      g->count++;
      return;
    }
  }
  if (out->ngroups == CSVSTAGE_MAX_GROUPS) {
    out->other_rejects++;
    return;
  }
  csvstage_reject_group *g = &out->groups[out->ngroups++];
  snprintf(g->sqlstate, sizeof(g->sqlstate), "%s", sqlstate);
  snprintf(g->column, sizeof(g->column), "%s", column);
  snprintf(g->constraint, sizeof(g->constraint), "%s", constraint);
  g->count = 1;
}

static int
by_group_count(const void *a, const void *b)
{
  const csvstage_reject_group *x = a, *y = b;

  return (x->count < y->count) - (x->count > y->count);
}

static int
by_message_count(const void *a, const void *b)
{
  const slot *x = a, *y = b;

  if (!x->message || !y->message)
    return (x->message == NULL) - (y->message == NULL);
  if (x->m.count != y->m.count)
    return (x->m.count < y->m.count) - (x->m.count > y->m.count);
  return (x->m.lines[0] > y->m.lines[0]) - (x->m.lines[0] < y->m.lines[0]);
}

/* A field as a C string (NULL: ""), cut to size. */
static void
field(const cs_record *rec, int i, char *buf, size_t n)
{
  size_t len = rec->field[i] ? rec->len[i] : 0;

  if (len >= n)
    len = n - 1;
  memcpy(buf, rec->field[i] ? rec->field[i] : "", len);
  buf[len] = '\0';
}

/* The message with the value it quotes at its end replaced by "...", so
 * that `invalid input syntax for type integer: "12x"` and `...: "7y"` count
 * as one kind. Returns its length in buf. */
static size_t
message_shape(const cs_record *rec, char *buf, size_t n)
{
  char *q;
  size_t len;

  field(rec, 4, buf, n);
  len = strlen(buf);
  if (len > 2 && buf[len - 1] == '"') {
    buf[len - 1] = '\0';
    q = strstr(buf, ": \"");
    for (char *next = q; next; next = strstr(next + 1, ": \""))
      q = next;   /* the last one */
    if (q && (size_t)(q - buf) + 8 < n) {
      strcpy(q, ": \"...\"");
      return strlen(buf);
    }
    buf[len - 1] = '"';
  }
  return len;
}

csvstage_code
csvstage_review_rejects(const csvstage_settings *settings, const char *path,
                        csvstage_review *out, csvstage_error *err)
{
  cs_input *in = NULL;
  cs_reader *rd = NULL;
  cs_reader_opts o;
  cs_record rec;
  slot *slots = NULL;
  cs_fixes *fixes = NULL;
  int used = 0, more, raw;
  csvstage_code rc = CSVSTAGE_OK;

  memset(out, 0, sizeof(*out));
  if (!settings || !path)
    return cs_fail(err, CSVSTAGE_E_INVALID, "no settings or no path");
  slots = calloc(MESSAGE_SLOTS, sizeof(*slots));
  fixes = cs_fixes_new();
  if (!slots || !fixes) {
    free(slots);
    cs_fixes_free(fixes);
    return cs_fail(err, CSVSTAGE_E_NOMEM, "out of memory");
  }
  in = cs_input_open(path, err);
  if (!in) {
    rc = err ? err->code : CSVSTAGE_E_IO;
    goto out;
  }
  cs_settings_reader_opts(settings, &o);   /* header: always, for these */
  /* A reject file keeps the input's bytes as they came, invalid UTF-8
   * among them (a 22021 reject is that): read them unchecked (SQL_ASCII,
   * PostgreSQL's name for it). */
  o.encoding = "SQL_ASCII";
  rd = cs_reader_open(in, &o, err);
  if (!rd) {
    rc = err ? err->code : CSVSTAGE_E_FORMAT;
    goto out;
  }
  for (int i = 0; i < 6; i++) {
    if (cs_reader_ncolumns(rd) < 8 || strcmp(cs_reader_column(rd, i), cs_reject_meta[i]) != 0) {
      rc = cs_fail(err, CSVSTAGE_E_FORMAT, "%s is not a csvstage reject file: its header does "
                   "not start with _line,_sqlstate,_column,_constraint,_message,_detail "
                   "(with another delimiter, give the config it was loaded with: -c)", path);
      goto out;
    }
  }
  raw = cs_reader_ncolumns(rd) - 1;
  while ((more = cs_reader_next(rd, &rec, err)) == 1) {
    char line[32], sqlstate[6], column[128], constraint[128], msg[512];
    if (rec.kind == CS_RECORD_REJECT) {
      rc = cs_fail(err, CSVSTAGE_E_FORMAT, "%s:%lld: %s (was the reject file edited?)", path,
                   rec.line, rec.message);
      goto out;
    }
    field(&rec, 0, line, sizeof(line));
    field(&rec, 1, sqlstate, sizeof(sqlstate));
    field(&rec, 2, column, sizeof(column));
    field(&rec, 3, constraint, sizeof(constraint));
    out->records++;
    count_group(out, sqlstate, column, column[0] ? "" : constraint);
    if (column[0] && sqlstate[0] == '2' && sqlstate[1] == '2') {
      field(&rec, 4, msg, sizeof(msg));
      for (int i = 6; i < raw && i < rec.nfields; i++)
        if (cs_header_feeds(settings, cs_reader_column(rd, i), column)) {
          cs_fixes_add(fixes, sqlstate, column, msg, rec.field[i], rec.len[i]);
          break;
        }
    }
    if (count_message(slots, &used, out, msg, message_shape(&rec, msg, sizeof(msg)),
                      atoll(line)) != 0) {
      rc = cs_fail(err, CSVSTAGE_E_NOMEM, "out of memory");
      goto out;
    }
  }
  if (more < 0) {
    rc = err ? err->code : CSVSTAGE_E_IO;
    goto out;
  }
  qsort(out->groups, (size_t)out->ngroups, sizeof(out->groups[0]), by_group_count);
  qsort(slots, MESSAGE_SLOTS, sizeof(*slots), by_message_count);
  for (int i = 0; i < MESSAGE_SLOTS && slots[i].message; i++) {
    if (i < CSVSTAGE_REVIEW_MESSAGES)
      out->messages[out->nmessages++] = slots[i].m;
    else
      out->other_messages += slots[i].m.count;
  }
  out->nfixes = cs_fixes_found(fixes, out->fixes, CSVSTAGE_REVIEW_FIXES);
out:
  cs_fixes_free(fixes);
  for (int i = 0; i < MESSAGE_SLOTS; i++)
    free(slots[i].message);
  free(slots);
  cs_reader_free(rd);
  cs_input_close(in);
  return rc;
}
