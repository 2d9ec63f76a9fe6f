/*
 * reader.c: bytes to records with the physical lines they span; malformed
 * records to rejects.
 *
 * libcsv does the parsing but reports neither positions nor line numbers.
 * So the reader cuts its buffer into physical lines (a line ends at LF, CR
 * or CRLF, whether inside quotes or not, as PostgreSQL counts them) and
 * feeds libcsv one line at a time: a record can only end at the end of a
 * line, so after each csv_parse call the reader knows exactly where the
 * record that just ended began and ended, in lines and in bytes. The bytes
 * of the record in progress stay in the buffer, so that a malformed one can
 * be shown exactly as it was in the file.
 *
 * Malformed input never stops the reader: the record is marked bad, the
 * rest of it is skipped (quote-aware, so a quoted newline does not end it)
 * and reading goes on with a fresh parser at the next record.
 */
#include <config.h>

#include <csv.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "error.h"
#include "reader.h"
#include "utf8.h"

enum {
  BUF_INITIAL = 256 * 1024,
  CSV_BLOCK = 64 * 1024,      /* libcsv grows its field buffer by this much */
  RAW_HEAD = 64 * 1024,       /* bytes kept of a record too big to keep whole */
};

/* libcsv's states, from its source (3.0.3); read only after csv_parse has
 * stopped on an error, to know whether the stop was inside quotes. */
enum { LIBCSV_FIELD_BEGUN = 2, LIBCSV_FIELD_MIGHT_HAVE_ENDED = 3 };

/* The states of the scanner that skips the rest of a bad record. */
enum { SKIP_OUTSIDE, SKIP_IN_QUOTES, SKIP_AFTER_QUOTE };

/*
 * libcsv's realloc hook has no context pointer, so the field size limit of
 * the parser being run travels in a thread-local: set before every
 * csv_parse. Refusing the allocation makes csv_parse stop with CSV_ENOMEM,
 * which is how a huge field is caught before it exhausts memory.
 */
static __thread size_t field_alloc_limit = SIZE_MAX;

static void *
limited_realloc(void *ptr, size_t size)
{
  if (size > field_alloc_limit)
    return NULL;
  return realloc(ptr, size);
}

struct cs_reader {
  cs_input *in;
  char delimiter, quote;      /* quote '\0': none */
  int header;
  char *comment;              /* comment prefix, or NULL */
  size_t comment_len;
  long long skip_left;        /* preamble lines still to skip */
  int dropping;               /* inside a skipped line too long to hold */
  char *null_marker;
  size_t null_len;
  char *encoding;
  int check_utf8;
  size_t max_field;

  struct csv_parser p;
  int p_ready;

  /* Input buffer: buf[pos..len) is not yet fed to the parser; the record in
   * progress starts at rec_start unless raw_lost. */
  char *buf;
  size_t cap, maxcap, len, pos;
  size_t lf_hint, cr_hint;    /* see find_byte */
  int eof;
  int fed_partial;            /* last feed ended mid-line */
  long long line;             /* physical line of buf[pos] */

  /* The record in progress. */
  int in_record;
  size_t rec_start;
  int raw_lost;
  char *raw_head;             /* start of a record too big to keep whole */
  size_t raw_head_len;
  long long rec_line;
  int rec_done;
  long long rec_last_line;
  int after_cr;               /* last parser event was a CR record end */
  int nomem;

  /* Fields of the record in progress: offsets into arena. */
  char *arena;
  size_t arena_len, arena_cap;
  size_t *fofs, *flen;
  const char **fptr;
  int nf, fcap;

  /* Why the record in progress is bad, if it is. */
  int bad;
  char sqlstate[6];
  char message[512];
  char detail[256];
  int skipping;
  int skip_state;
  int skip_field_start;

  /* Columns. */
  char **cols;
  int ncols;
  int reading_header;
  int finished;
  int ragged;                 /* cs_reader_opts.ragged */

  cs_reader_stats st;
};

void
cs_reader_opts_init(cs_reader_opts *o)
{
  memset(o, 0, sizeof(*o));
  o->delimiter = ',';
  o->quote = '"';
  o->header = 1;
  o->encoding = "UTF8";
}

/* ---- the parser ---------------------------------------------------------- */

static int
keep_spaces(unsigned char c)
{
  (void)c;
  return 0;   /* PostgreSQL keeps spaces around fields; libcsv trims them */
}

static int
parser_init(cs_reader *r)
{
  if (r->p_ready)
    csv_free(&r->p);
  r->p_ready = 0;
  if (csv_init(&r->p, CSV_STRICT | CSV_STRICT_FINI | CSV_REPALL_NL |
                          (r->null_len ? 0 : CSV_EMPTY_IS_NULL)) != 0)
    return -1;
  csv_set_delim(&r->p, (unsigned char)r->delimiter);
  csv_set_quote(&r->p, (unsigned char)r->quote);
  csv_set_space_func(&r->p, keep_spaces);
  csv_set_blk_size(&r->p, CSV_BLOCK);
  csv_set_realloc_func(&r->p, limited_realloc);
  r->p_ready = 1;
  return 0;
}

/* Marks the record in progress bad; the first reason is kept. */
static void
set_bad(cs_reader *r, const char *sqlstate, const char *detail,
        const char *fmt, ...) __attribute__((format(printf, 4, 5)));

static void
set_bad(cs_reader *r, const char *sqlstate, const char *detail,
        const char *fmt, ...)
{
  va_list ap;

  if (r->bad)
    return;
  r->bad = 1;
  cs_strlcpy_utf8(r->sqlstate, sqlstate, sizeof(r->sqlstate));
  cs_strlcpy_utf8(r->detail, detail, sizeof(r->detail));
  va_start(ap, fmt);
  vsnprintf(r->message, sizeof(r->message), fmt, ap);
  va_end(ap);
}

static int
grow(void **p, size_t elem, int *cap, int need)
{
  int ncap = *cap ? *cap : 16;
  void *np;

  while (ncap < need)
    ncap *= 2;
  if (ncap == *cap)
    return 0;
  np = realloc(*p, (size_t)ncap * elem);
  if (!np)
    return -1;
  *p = np;
  *cap = ncap;
  return 0;
}

static void
on_field(void *s, size_t n, void *data)
{
  cs_reader *r = data;
  int cap;

  r->after_cr = 0;
  if (r->nomem)
    return;
  if (r->nf == r->fcap) {
    cap = r->fcap;
    if (grow((void **)&r->fofs, sizeof(size_t), &cap, r->nf + 1) ||
        (cap = r->fcap, grow((void **)&r->flen, sizeof(size_t), &cap, r->nf + 1)) ||
        (cap = r->fcap, grow((void **)&r->fptr, sizeof(char *), &cap, r->nf + 1))) {
      r->nomem = 1;
      return;
    }
    r->fcap = cap;
  }
  if (n > r->max_field) {
    set_bad(r, "54000", "", "field longer than the limit of %zu bytes", r->max_field);
    s = NULL;
    n = 0;
  }
  /* With the default marker libcsv hands an empty unquoted field over as
   * NULL (CSV_EMPTY_IS_NULL); with another marker, only the marker is NULL
   * and an empty field is an empty string, as in PostgreSQL. */
  if (r->null_len ? (n == r->null_len && memcmp(s, r->null_marker, n) == 0) : !s) {
    r->flen[r->nf] = SIZE_MAX;    /* NULL */
  } else {
    if (r->arena_len + n + 1 > r->arena_cap) {
      size_t ncap = r->arena_cap ? r->arena_cap : 4096;
      char *na;
      while (ncap < r->arena_len + n + 1)
        ncap *= 2;
      na = realloc(r->arena, ncap);
      if (!na) {
        r->nomem = 1;
        return;
      }
      r->arena = na;
      r->arena_cap = ncap;
    }
    if (n)
      memcpy(r->arena + r->arena_len, s, n);
    r->fofs[r->nf] = r->arena_len;
    r->flen[r->nf] = n;
    r->arena_len += n;
    r->arena[r->arena_len++] = '\0';
  }
  r->nf++;
}

static void
on_record(int c, void *data)
{
  cs_reader *r = data;

  if (r->nf == 0) {
    /* No field since the last record end: the LF of a CRLF, or a blank line. */
    if (!(c == '\n' && r->after_cr) && r->in_record && !r->rec_done) {
      r->st.blank_lines++;
      r->in_record = 0;
    }
    r->after_cr = (c == '\r');
    return;
  }
  r->after_cr = (c == '\r');
  r->rec_done = 1;
  r->rec_last_line = r->line;
}

/* ---- validation ---------------------------------------------------------- */

/*
 * Checks one line's bytes (no NUL; valid UTF-8 when asked) and marks the
 * record bad at the first offending byte, in PostgreSQL's words.
 */
static void
validate(cs_reader *r, const char *line, size_t n)
{
  char bytes[32], where[128];
  size_t i = cs_bad_byte(line, n, r->check_utf8, bytes, sizeof(bytes));

  if (i == n)
    return;
  snprintf(where, sizeof(where), "at byte %zu of line %lld", i + 1, r->line);
  set_bad(r, "22021", where, "invalid byte sequence for encoding \"%s\": %s",
          r->encoding, bytes);
}

/* ---- skipping the rest of a bad record ----------------------------------- */

/* Runs the skip scanner over line bytes s[0..n) (terminator excluded). */
static void
skip_scan(cs_reader *r, const char *s, size_t n)
{
  size_t i;

  for (i = 0; i < n; i++) {
    char c = s[i];
    switch (r->skip_state) {
    case SKIP_OUTSIDE:
      if (c == r->delimiter)
        r->skip_field_start = 1;
      else {
        if (r->quote && c == r->quote && r->skip_field_start)
          r->skip_state = SKIP_IN_QUOTES;
        r->skip_field_start = 0;
      }
      break;
    case SKIP_IN_QUOTES:
      if (c == r->quote)
        r->skip_state = SKIP_AFTER_QUOTE;
      break;
    case SKIP_AFTER_QUOTE:
      if (c == r->quote)
        r->skip_state = SKIP_IN_QUOTES;        /* a doubled quote */
      else {
        r->skip_state = SKIP_OUTSIDE;
        r->skip_field_start = (c == r->delimiter);
      }
      break;
    }
  }
}

/* csv_parse stopped before the end of the line bytes it was given: mark
 * the record bad and switch to skipping the rest of it, starting in the
 * quote state the parser was in. */
static void
parse_stopped(cs_reader *r)
{
  int quoted = r->p.quoted, state = r->p.pstate;

  if (csv_error(&r->p) == CSV_EPARSE) {
    if (quoted && state == LIBCSV_FIELD_MIGHT_HAVE_ENDED)
      set_bad(r, "22P04", "", "unexpected character after closing quote "
                              "(a quote inside a quoted field must be doubled)");
    else
      set_bad(r, "22P04", "", "quote character inside an unquoted field "
                              "(quote the whole field and double the quote)");
    r->skip_state = SKIP_OUTSIDE;
  } else {
    /* CSV_ENOMEM: our realloc hook refused a field past the limit (or
     * memory really ran out: the record is lost either way, and said so). */
    set_bad(r, "54000", "", "field longer than the limit of %zu bytes", r->max_field);
    if (quoted && state == LIBCSV_FIELD_BEGUN)
      r->skip_state = SKIP_IN_QUOTES;
    else if (quoted && state == LIBCSV_FIELD_MIGHT_HAVE_ENDED)
      r->skip_state = SKIP_AFTER_QUOTE;
    else
      r->skip_state = SKIP_OUTSIDE;
  }
  r->skip_field_start = 0;
  r->skipping = 1;
}

/* ---- the input buffer ---------------------------------------------------- */

/*
 * The index of the next byte c in buf[pos..len), or len if none. *hint
 * caches the scan: buf[pos..*hint) holds no c, and buf[*hint] is c when
 * *hint < len. This keeps the search linear even for a file whose lines
 * end in a byte that is never found (CR-only files).
 */
static size_t
find_byte(const cs_reader *r, char c, size_t *hint)
{
  size_t from = *hint >= r->pos ? *hint : r->pos;
  const char *q;

  if (from < r->len && *hint >= r->pos && r->buf[from] == c)
    return from;
  if (from > r->len)
    from = r->pos;
  q = memchr(r->buf + from, c, r->len - from);
  *hint = q ? (size_t)(q - r->buf) : r->len;
  return *hint;
}

/* A read error (a corrupt or cut gzip stream) breaks the input inside line
 * `line`: name it the way every other error does, FILE:LINE. The input's
 * message starts with the file's name. */
static void
put_line(csvstage_error *err, const char *name, long long line)
{
  char tail[sizeof err->message];
  size_t n = strlen(name);

  if (!err || err->line || strncmp(err->message, name, n) != 0 || err->message[n] != ':')
    return;
  snprintf(tail, sizeof tail, "%s", err->message + n);
  snprintf(err->message + n, sizeof err->message - n, ":%lld%s", line, tail);
  err->line = line;
}

/* Moves the bytes still needed to the front of the buffer, makes room, and
 * reads more. Returns 0, or -1 with err filled. */
static int
refill(cs_reader *r, csvstage_error *err)
{
  size_t keep = (r->in_record && !r->raw_lost) ? r->rec_start : r->pos;
  long n;

  if (keep > 0) {
    memmove(r->buf, r->buf + keep, r->len - keep);
    r->len -= keep;
    r->pos -= keep;
    if (r->in_record && !r->raw_lost)
      r->rec_start -= keep;
    r->lf_hint = r->lf_hint > keep ? r->lf_hint - keep : 0;
    r->cr_hint = r->cr_hint > keep ? r->cr_hint - keep : 0;
  }
  if (r->len == r->cap) {
    if (r->cap < r->maxcap) {
      size_t ncap = r->cap * 2 < r->maxcap ? r->cap * 2 : r->maxcap;
      char *nb = realloc(r->buf, ncap);
      if (!nb)
        return cs_fail(err, CSVSTAGE_E_NOMEM, "out of memory reading %s",
                       cs_input_name(r->in)), -1;
      r->buf = nb;
      r->cap = ncap;
    } else if (r->in_record && !r->raw_lost && r->rec_start < r->pos) {
      /* The record is too big to keep whole for a reject: keep its start. */
      size_t head = r->pos - r->rec_start < RAW_HEAD ? r->pos - r->rec_start : RAW_HEAD;
      char *nh = realloc(r->raw_head, head ? head : 1);
      if (!nh)
        return cs_fail(err, CSVSTAGE_E_NOMEM, "out of memory reading %s",
                       cs_input_name(r->in)), -1;
      memcpy(nh, r->buf + r->rec_start, head);
      r->raw_head = nh;
      r->raw_head_len = head;
      r->raw_lost = 1;
      return refill(r, err);
    } else {
      return 0;   /* full of one unfinished line: the caller feeds part of it */
    }
  }
  n = cs_input_read(r->in, r->buf + r->len, r->cap - r->len, err);
  if (n < 0) {
    put_line(err, cs_input_name(r->in), r->line);
    return -1;
  }
  if (n == 0)
    r->eof = 1;
  r->len += (size_t)n;
  return 0;
}

/* ---- feeding the parser -------------------------------------------------- */

/*
 * Feeds the line bytes buf[pos..pos+n) followed by the terminator bytes
 * buf[pos+n..pos+n+t) (t = 0 for part of a line or the unterminated last
 * line). Afterwards r->rec_done tells whether a record ended.
 */
static void
feed(cs_reader *r, size_t n, size_t t)
{
  const char *s = r->buf + r->pos;

  if (!r->in_record) {
    r->in_record = 1;
    r->rec_start = r->pos;
    r->raw_lost = 0;
    r->rec_line = r->line;
    r->rec_done = 0;
  }
  if (!r->bad) {
    validate(r, s, n);
    /* With no quote a record is one line: a bad one needs no parsing to
     * find its end (and a NUL, libcsv's stand-in quote, is never parsed). */
    if (r->bad && !r->quote && !r->skipping) {
      r->skipping = 1;
      r->skip_state = SKIP_OUTSIDE;
      r->skip_field_start = 0;
    }
  }
  if (r->skipping) {
    skip_scan(r, s, n);
    if (t > 0 && r->skip_state != SKIP_IN_QUOTES) {
      r->rec_done = 1;
      r->rec_last_line = r->line;
    }
  } else {
    size_t used;
    field_alloc_limit = r->max_field + 2 * CSV_BLOCK;
    used = csv_parse(&r->p, s, n + t, on_field, on_record, r);
    if (used < n + t) {
      parse_stopped(r);
      if (used < n)
        skip_scan(r, s + used, n - used);
      if (t > 0 && r->skip_state != SKIP_IN_QUOTES) {
        r->rec_done = 1;
        r->rec_last_line = r->line;
      }
    }
  }
  r->pos += n + t;
  if (t > 0) {
    r->line++;
    r->fed_partial = 0;
  } else {
    r->fed_partial = 1;
  }
}

/* Whether the line starting at buf[pos] (n bytes of it at hand) is not
 * read at all: a preamble line (skip = N) or a comment. Only between
 * records: inside a quoted field a # is data. */
static int
drops_line(const cs_reader *r, size_t n)
{
  if (r->in_record)
    return 0;
  return r->dropping || r->skip_left > 0 ||
         (r->comment && n >= r->comment_len &&
          memcmp(r->buf + r->pos, r->comment, r->comment_len) == 0);
}

/* Drops n line bytes and t terminator bytes (t = 0: part of a line too
 * long to hold; the rest is dropped when it comes). */
static void
drop(cs_reader *r, size_t n, size_t t)
{
  if (!r->dropping) {
    if (r->skip_left > 0) {
      r->skip_left--;
      r->st.skipped_lines++;
    } else {
      r->st.comment_lines++;
    }
  }
  r->pos += n + t;
  r->dropping = t == 0;
  if (t > 0)
    r->line++;
  r->fed_partial = t == 0;
}

/* Feeds the next line (or as much of a huge one as fits). Returns 1 when
 * something was fed, 0 at the end of the input, -1 on error. */
static int
feed_next_line(cs_reader *r, csvstage_error *err)
{
  for (;;) {
    size_t lf = find_byte(r, '\n', &r->lf_hint);
    size_t cr = find_byte(r, '\r', &r->cr_hint);
    size_t eol = lf < cr ? lf : cr;

    if (eol < r->len) {
      if (r->buf[eol] == '\r' && eol + 1 == r->len && !r->eof) {
        /* A CR at the end of what we have: CRLF or CR? Read on to know. */
      } else {
        size_t t = (r->buf[eol] == '\r' && eol + 1 < r->len && r->buf[eol + 1] == '\n') ? 2 : 1;
        if (drops_line(r, eol - r->pos)) {
          drop(r, eol - r->pos, t);
          continue;
        }
        feed(r, eol - r->pos, t);
        return 1;
      }
    } else if (r->eof) {
      if (r->pos == r->len)
        return 0;
      if (drops_line(r, r->len - r->pos)) {
        drop(r, r->len - r->pos, 0);
        return 0;
      }
      feed(r, r->len - r->pos, 0);
      return 1;
    }
    if (refill(r, err) < 0)
      return -1;
    if (r->len == r->cap && r->pos == 0 && !r->eof &&
        find_byte(r, '\n', &r->lf_hint) == r->len &&
        find_byte(r, '\r', &r->cr_hint) == r->len) {
      /* One line fills the largest buffer: feed it in parts, cut where no
       * UTF-8 character or CRLF is split. */
      size_t n = r->len;
      size_t back = 0;
      while (back < 3 && n - back > 0 &&
             ((unsigned char)r->buf[n - back - 1] & 0xC0) == 0x80)
        back++;
      if (n - back > 0 && (unsigned char)r->buf[n - back - 1] >= 0xC0)
        back++;
      else if (back > 0)
        back = 0;   /* continuation bytes after ASCII: invalid anyway */
      if (drops_line(r, n)) {
        drop(r, n, 0);
        continue;
      }
      feed(r, n - back, 0);
      return 1;
    }
  }
}

/* ---- records ------------------------------------------------------------- */

static void
reset_record(cs_reader *r)
{
  r->in_record = 0;
  r->rec_done = 0;
  r->raw_lost = 0;
  r->nf = 0;
  r->arena_len = 0;
  r->bad = 0;
  r->skipping = 0;
  r->nomem = 0;
}

/* ragged = pad: empty fields past the last column dropped (a delimiter
 * that ends every line), the fields a short record lacks made NULL.
 * Returns -1 when out of memory (r->nomem). */
static int
even_out(cs_reader *r)
{
  int was = r->nf;

  while (r->nf > r->ncols && (r->flen[r->nf - 1] == SIZE_MAX || r->flen[r->nf - 1] == 0))
    r->nf--;
  r->st.long_records += was > r->ncols && r->nf == r->ncols;
  r->st.short_records += r->nf < r->ncols;
  if (r->nf < r->ncols) {
    int cap = r->fcap;
    if (grow((void **)&r->fofs, sizeof(size_t), &cap, r->ncols) ||
        (cap = r->fcap, grow((void **)&r->flen, sizeof(size_t), &cap, r->ncols)) ||
        (cap = r->fcap, grow((void **)&r->fptr, sizeof(char *), &cap, r->ncols)))
      return r->nomem = 1, -1;
    r->fcap = cap;
    for (; r->nf < r->ncols; r->nf++) {
      r->fofs[r->nf] = 0;
      r->flen[r->nf] = SIZE_MAX;
    }
  }
  return 0;
}

/* Fills rec from the record that just ended. */
static void
emit(cs_reader *r, cs_record *rec)
{
  int i;

  for (i = 0; i < r->nf; i++)
    r->fptr[i] = r->flen[i] == SIZE_MAX ? NULL : r->arena + r->fofs[i];
  memset(rec, 0, sizeof(*rec));
  rec->line = r->rec_line;
  rec->last_line = r->rec_last_line;
  rec->nfields = r->nf;
  rec->field = r->fptr;
  rec->len = r->flen;
  if (!r->bad && !r->reading_header && r->ncols > 0 && r->nf != r->ncols) {
    if (r->nf < r->ncols)
      set_bad(r, "22P04", "", "missing data for column \"%s\"", r->cols[r->nf]);
    else
      set_bad(r, "22P04", "", "extra data after last expected column");
  }
  if (!r->bad)
    return;
  rec->kind = CS_RECORD_REJECT;
  rec->sqlstate = r->sqlstate;
  rec->message = r->message;
  rec->detail = r->detail;
  if (r->raw_lost) {
    rec->raw = r->raw_head;
    rec->raw_len = r->raw_head_len;
    rec->raw_truncated = 1;
  } else {
    rec->raw = r->buf + r->rec_start;
    rec->raw_len = r->pos - r->rec_start;
  }
}

/* The next record, header included; see cs_reader_next. */
static int
next_record(cs_reader *r, cs_record *rec, csvstage_error *err)
{
  if (r->finished)
    return 0;
  if (r->rec_done || (!r->in_record && r->nf > 0))
    reset_record(r);
  for (;;) {
    int fed = feed_next_line(r, err);

    if (fed < 0)
      return -1;
    if (fed == 0) {
      /* The end: flush what the parser holds. */
      if (r->in_record && !r->rec_done) {
        if (r->skipping) {
          if (r->skip_state == SKIP_IN_QUOTES)
            set_bad(r, "22P04", "", "unterminated CSV quoted field");
        } else {
          field_alloc_limit = r->max_field + 2 * CSV_BLOCK;
          if (csv_fini(&r->p, on_field, on_record, r) != 0)
            set_bad(r, "22P04", "", "unterminated CSV quoted field");
        }
        if (r->nf > 0 || r->bad) {
          r->rec_done = 1;
          r->rec_last_line = r->fed_partial ? r->line : r->line - 1;
        }
      }
      r->finished = 1;
      r->st.lines = r->fed_partial ? r->line : r->line - 1;
      if (!r->rec_done)
        return 0;
    }
    if (r->nomem)
      return cs_fail(err, CSVSTAGE_E_NOMEM, "%s:%lld: out of memory",
                     cs_input_name(r->in), r->rec_line), -1;
    if (r->rec_done) {
      if (r->bad && parser_init(r) != 0)
        return cs_fail(err, CSVSTAGE_E_NOMEM, "out of memory"), -1;
      if (r->ragged && !r->bad && !r->reading_header && r->ncols > 0 && r->nf != r->ncols &&
          even_out(r) != 0)
        return cs_fail(err, CSVSTAGE_E_NOMEM, "%s:%lld: out of memory",
                       cs_input_name(r->in), r->rec_line), -1;
      emit(r, rec);
      r->in_record = 0;
      if (!r->finished)
        r->st.lines = r->line - 1;
      return 1;
    }
  }
}

typedef struct named {
  const char *name;
  int index;
} named;

static int
by_name(const void *a, const void *b)
{
  const named *x = a, *y = b;
  int c = strcmp(x->name, y->name);

  return c ? c : (x->index > y->index) - (x->index < y->index);
}

/* Past this many columns, empty or repeated names are an error rather
 * than renamed (the renaming compares every name with every other). */
#define RENAME_MAX_COLUMNS 10000

/* Does any of names[0..n) other than names[self] equal name? */
static int
name_taken(char **names, int n, int self, const char *name)
{
  for (int j = 0; j < n; j++)
    if (j != self && strcmp(names[j], name) == 0)
      return 1;
  return 0;
}

int
cs_header_rename(char **names, int n)
{
  int renamed = 0, clean = 1;

  if (n <= 0)
    return 0;
  for (int i = 0; i < n && clean; i++)
    clean = names[i][0] != '\0';
  if (clean) {   /* the common case, in n log n: any name twice? */
    named *byname = malloc((size_t)n * sizeof(named));
    if (!byname)
      return -1;
    for (int i = 0; i < n; i++)
      byname[i].name = names[i], byname[i].index = i;
    qsort(byname, (size_t)n, sizeof(named), by_name);
    for (int i = 1; i < n && clean; i++)
      clean = strcmp(byname[i - 1].name, byname[i].name) != 0;
    free(byname);
    if (clean)
      return 0;
  }
  if (n > RENAME_MAX_COLUMNS)
    return -2;
  for (int i = 0; i < n; i++) {
    char *base, *name;
    size_t size;
    int k = 0;
    if (names[i][0] == '\0') {
      free(names[i]);
      if (!(names[i] = malloc(24)))
        return -1;
      snprintf(names[i], 24, "column%d", i + 1);
      renamed++;
      if (!name_taken(names, i, -1, names[i]))
        continue;
    } else if (!name_taken(names, i, -1, names[i])) {
      continue;   /* no earlier column has it */
    } else {
      renamed++;
    }
    base = names[i];
    size = strlen(base) + 16;
    if (!(name = malloc(size)))
      return -1;
    do
      snprintf(name, size, "%s_%d", base, ++k);
    while (name_taken(names, n, i, name));
    names[i] = name;
    free(base);
  }
  return renamed;
}

/* The bytes of name[0..n) in the server's encoding, at most. */
static size_t
server_bytes(const char *name, size_t n, int utf8)
{
  size_t b = 0;

  for (size_t i = 0; i < n; i++)
    b += utf8 || (unsigned char)name[i] < 0x80 ? 1 : 3;
  return b;
}

/* The longest prefix of name that is at most max server bytes, cut
 * before a UTF-8 continuation byte. */
static size_t
cut_at(const char *name, size_t max, int utf8)
{
  size_t n = 0, b = 0;

  for (; name[n]; n++) {
    size_t w = server_bytes(name + n, 1, utf8);
    if (b + w > max)
      break;
    b += w;
  }
  while (utf8 && n > 0 && ((unsigned char)name[n] & 0xC0) == 0x80)
    n--;
  return n;
}

int
cs_header_shorten(char **names, int n, int utf8)
{
  int shortened = 0;

  for (int i = 0; i < n; i++) {
    size_t len = strlen(names[i]);
    if (server_bytes(names[i], len, utf8) <= CS_NAME_MAX)
      continue;
    char *cut = strndup(names[i], cut_at(names[i], CS_NAME_MAX, utf8));
    if (!cut)
      return -1;
    if (name_taken(names, n, i, cut)) {
      /* room for _N, then the first N no other name has */
      char *base = strndup(cut, cut_at(cut, CS_NAME_MAX - 6, utf8));
      int k = 0;
      free(cut);
      if (!base || !(cut = malloc(strlen(base) + 16))) {
        free(base);
        return -1;
      }
      do
        snprintf(cut, strlen(base) + 16, "%s_%d", base, ++k);
      while (name_taken(names, n, i, cut));
      free(base);
    }
    free(names[i]);
    names[i] = cut;
    shortened++;
  }
  return shortened;
}

static csvstage_code
read_header(cs_reader *r, csvstage_error *err)
{
  cs_record rec;
  int i, got;

  r->reading_header = 1;
  got = next_record(r, &rec, err);
  r->reading_header = 0;
  if (got < 0)
    return err ? err->code : CSVSTAGE_E_IO;
  if (got == 0)
    return CSVSTAGE_OK;   /* empty input: no columns, no records */
  if (rec.kind == CS_RECORD_REJECT) {
    cs_fail(err, CSVSTAGE_E_FORMAT, "%s:%lld: cannot read the header: %s",
            cs_input_name(r->in), rec.line, rec.message);
    if (err)
      err->line = rec.line;
    return CSVSTAGE_E_FORMAT;
  }
  r->cols = calloc((size_t)rec.nfields, sizeof(char *));
  if (!r->cols)
    return cs_fail(err, CSVSTAGE_E_NOMEM, "out of memory");
  r->ncols = rec.nfields;
  for (i = 0; i < rec.nfields; i++) {
    r->cols[i] = rec.field[i] ? strndup(rec.field[i], rec.len[i]) : strdup("");
    if (!r->cols[i])
      return cs_fail(err, CSVSTAGE_E_NOMEM, "out of memory");
    if (rec.field[i] && strlen(r->cols[i]) != rec.len[i]) {
      cs_fail(err, CSVSTAGE_E_FORMAT, "%s:%lld: header column %d holds a NUL byte",
              cs_input_name(r->in), rec.line, i + 1);
      goto bad;
    }
  }
  {
    int renamed = cs_header_rename(r->cols, r->ncols);
    if (renamed == -1)
      return cs_fail(err, CSVSTAGE_E_NOMEM, "out of memory");
    if (renamed == -2) {
      cs_fail(err, CSVSTAGE_E_FORMAT, "%s:%lld: the header's %d columns hold empty or "
              "repeated names, and csvstage renames them only up to %d columns: fix the "
              "header", cs_input_name(r->in), rec.line, r->ncols, RENAME_MAX_COLUMNS);
      goto bad;
    }
    r->st.renamed_columns = renamed;
  }
  r->st.records = 0;
  return CSVSTAGE_OK;
bad:
  if (err)
    err->line = rec.line;
  return CSVSTAGE_E_FORMAT;
}

/* ---- the API ------------------------------------------------------------- */

/*
 * A reject file csvstage wrote from this source is read back with the
 * source's config (to fix and load it again, or to review it): its first
 * line is its header, and it is quoted with " even when the source has no
 * quote. Tells it by that header's start. Returns 0, or -1 with err set.
 */
static int
reject_file(cs_reader *r, csvstage_error *err)
{
  char start[32];
  int n = snprintf(start, sizeof(start), "_line%c_sqlstate%c", r->delimiter, r->delimiter);

  while (!r->eof && r->len - r->pos < (size_t)n && r->len < r->cap)
    if (refill(r, err) < 0)
      return -1;
  if (r->len - r->pos < (size_t)n || memcmp(r->buf + r->pos, start, (size_t)n) != 0)
    return 0;
  r->st.reject_file = 1;
  r->skip_left = 0;
  if (!r->quote)
    r->quote = '"';
  return 0;
}

/* Names n columns "1", "2", ... for input without a header. Returns 0, or
 * -1 when out of memory (cs_reader_free releases what was made). */
static int
positional_columns(cs_reader *r, int n)
{
  int i;

  r->cols = calloc((size_t)n, sizeof(char *));
  if (!r->cols)
    return -1;
  r->ncols = n;
  for (i = 0; i < n; i++) {
    char name[16];
    snprintf(name, sizeof(name), "%d", i + 1);
    if (!(r->cols[i] = strdup(name)))
      return -1;
  }
  return 0;
}

cs_reader *
cs_reader_open(cs_input *in, const cs_reader_opts *opts, csvstage_error *err)
{
  cs_reader_opts defaults;
  cs_reader *r;

  if (!opts) {
    cs_reader_opts_init(&defaults);
    opts = &defaults;
  }
  if (opts->delimiter == opts->quote || !opts->delimiter || opts->delimiter == '\n' ||
      opts->delimiter == '\r' || opts->quote == '\n' || opts->quote == '\r') {
    cs_fail(err, CSVSTAGE_E_INVALID,
            "the delimiter and the quote must differ and be neither CR nor LF");
    return NULL;
  }
  if (opts->comment && *opts->comment &&
      (strpbrk(opts->comment, "\r\n") || opts->comment[0] == opts->delimiter ||
       (opts->quote && opts->comment[0] == opts->quote))) {
    cs_fail(err, CSVSTAGE_E_INVALID, "the comment prefix cannot hold a line end or "
            "start with the delimiter or the quote");
    return NULL;
  }
  r = calloc(1, sizeof(*r));
  if (!r)
    goto nomem;
  r->in = in;
  r->delimiter = opts->delimiter;
  r->quote = opts->quote;
  r->header = opts->header;
  r->ragged = opts->ragged;
  r->skip_left = opts->skip > 0 ? opts->skip : 0;
  if (opts->comment && *opts->comment) {
    if (!(r->comment = strdup(opts->comment)))
      goto nomem;
    r->comment_len = strlen(r->comment);
  }
  r->max_field = opts->max_field ? opts->max_field : CS_DEFAULT_MAX_FIELD;
  r->encoding = strdup(opts->encoding ? opts->encoding : "UTF8");
  if (!r->encoding)
    goto nomem;
  /* PostgreSQL's spellings of UTF8 */
  r->check_utf8 = strcasecmp(r->encoding, "UTF8") == 0 ||
                  strcasecmp(r->encoding, "UTF-8") == 0 ||
                  strcasecmp(r->encoding, "UNICODE") == 0;
  if (opts->null_marker && *opts->null_marker) {
    r->null_marker = strdup(opts->null_marker);
    if (!r->null_marker)
      goto nomem;
    r->null_len = strlen(r->null_marker);
  }
  r->cap = BUF_INITIAL;
  r->maxcap = r->max_field + CSV_BLOCK > BUF_INITIAL ? r->max_field + CSV_BLOCK : BUF_INITIAL;
  r->buf = malloc(r->cap);
  if (!r->buf)
    goto nomem;
  r->line = 1;

  /* A UTF-8 byte order mark is not data. */
  while (r->len < 3 && !r->eof)
    if (refill(r, err) < 0)
      goto fail;
  if (r->len >= 3 && memcmp(r->buf, "\xEF\xBB\xBF", 3) == 0)
    r->pos = 3;
  if (reject_file(r, err) < 0)
    goto fail;
  if (parser_init(r) != 0)
    goto nomem;

  if (r->header) {
    if (read_header(r, err) != CSVSTAGE_OK)
      goto fail;
  } else if (opts->ncolumns > 0 && positional_columns(r, opts->ncolumns) != 0) {
    goto nomem;
  }
  return r;

nomem:
  cs_fail(err, CSVSTAGE_E_NOMEM, "out of memory");
fail:
  cs_reader_free(r);
  return NULL;
}

int
cs_reader_ncolumns(const cs_reader *r)
{
  return r->ncols;
}

const char *
cs_reader_column(const cs_reader *r, int i)
{
  return i >= 0 && i < r->ncols ? r->cols[i] : NULL;
}

int
cs_reader_next(cs_reader *r, cs_record *rec, csvstage_error *err)
{
  int got = next_record(r, rec, err);

  if (got <= 0)
    return got;
  /* No header and no count given: the first record sets the count. */
  if (r->ncols == 0 && !r->header && rec->kind == CS_RECORD_DATA &&
      positional_columns(r, rec->nfields) != 0)
    return cs_fail(err, CSVSTAGE_E_NOMEM, "out of memory"), -1;
  r->st.records++;
  if (rec->kind == CS_RECORD_REJECT)
    r->st.rejects++;
  return 1;
}

void
cs_reader_get_stats(const cs_reader *r, cs_reader_stats *st)
{
  *st = r->st;
  st->buffered = (long long)(r->len - r->pos);
}

void
cs_reader_free(cs_reader *r)
{
  int i;

  if (!r)
    return;
  if (r->p_ready)
    csv_free(&r->p);
  for (i = 0; i < r->ncols; i++)
    free(r->cols ? r->cols[i] : NULL);
  free(r->cols);
  free(r->buf);
  free(r->raw_head);
  free(r->arena);
  free(r->fofs);
  free(r->flen);
  free(r->fptr);
  free(r->null_marker);
  free(r->encoding);
  free(r->comment);
  free(r);
}
