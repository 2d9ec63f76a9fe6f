/*
 * direct.c: the fast path into the target table.
 *
 * Why: a bare COPY is the speed to match, and a staging table costs a
 * second write and a second read of every record (measured on PostgreSQL
 * 15, 2M records: COPY 9.2 s; staging, set-based checks and INSERT ...
 * SELECT 37 s). So records go by COPY straight into the table, and only
 * the ones that may fail take the staging path (load.c), where the server
 * says exactly why each one fails.
 *
 * A record is set aside, before anything is sent, when the client sees it
 * would fail or cannot be sure: input its type does not accept (validate.c),
 * NULL into NOT NULL, a unique key that may have come earlier in the file
 * (a Bloom filter per key: a false alarm only costs time). The DEFAULT for
 * a blank goes in as COPY's DEFAULT marker (16+), or as the DEFAULT's value
 * computed once (15, stable defaults only).
 *
 * What the client cannot foresee (CHECK, a key already in the table, a
 * foreign key, a trigger, a type it does not know) makes the server refuse
 * the COPY. Records go in chunks, each in a savepoint, and the chunk stays
 * in memory until its COPY succeeds. When the server refuses one and its
 * CONTEXT names the line, that record is set aside, the records before it
 * are sent again, and the rest of the chunk follows in a new COPY: each
 * chunk is sent at most about twice, however many records it loses. When
 * no record can be named (a foreign key is checked at the end of the COPY),
 * the whole chunk is set aside and the next chunks are smaller.
 *
 * Memory: a chunk (at most CHUNK_BYTES of COPY text twice: for the table and
 * for the staging table), and the Bloom filters (BLOOM_BYTES in all),
 * whatever the file's size. The records set aside wait in a temporary file.
 */
#include <config.h>

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "copyenc.h"
#include "direct.h"
#include "error.h"
#include "pg.h"

#define CHUNK_BYTES (8u << 20)
#define CHUNK_RECORDS_MAX 65536
#define CHUNK_RECORDS_MIN 256
/* A chunk's resends, in its own sizes, before the rest of it goes aside
 * (sparse refusals, a few per thousand records, stay within it); and the
 * smallest chunks in a row that outrun it before the staging path takes
 * the rest of the file. */
#define RESEND_BUDGET 64
#define DENSE_CHUNKS 4
/* Pieces of 32 KiB keep the socket to the server full: with 256 KiB ones
 * (more than a unix socket buffers) the server waited for the client a
 * quarter of the time (pg_stat_activity: Client/ClientRead), though the
 * client needs a third of the server's time for the same records. */
#define SEND_BYTES (32u << 10)
#define BLOOM_BYTES (16u << 20)
#define BLOOM_PROBES 5

typedef struct key {
  int ncols;
  int *fed;              /* fed columns of the key (unfed ones are constant) */
  uint64_t *bits;
  uint64_t mask;         /* blocks of 512 bits - 1 (a power of two) */
  int complete;          /* the record at hand: its key has no NULL */
  int exact;             /* and every value of it is one the server holds
                            as the client hashed it (valid, no DEFAULT) */
  uint64_t hash;         /* and hashes to this */
} key;

/* One record's values after the mapping rules. */
typedef struct value {
  const char *s;         /* NULL: SQL NULL */
  size_t n;
  int is_default;        /* the DEFAULT marker */
  int defaulted;         /* the DEFAULT's text, computed once (15) */
  int has_int;
  int64_t ival;          /* canonical integer, for keys */
  int rewritten;         /* s is in the number scratch, at offset `at` */
  size_t at;
} value;

struct cs_direct {
  const plan *p;
  PGconn *conn;
  int enabled;
  char *copy_sql;
  int marker;            /* COPY's DEFAULT option is in use */
  value *vals;
  long long vouched;     /* the record's: bit i, fed column i's value is
                            valid for its type (settle.c skips its check) */
  key *keys;
  int nkeys;
  /* The chunk: COPY text for the table and for the staging table, and
   * where each record ends in both. */
  cs_buf rows, stage;
  size_t *row_end, *stage_end;
  int n, cap, max_records;
  int dense;             /* chunks in a row, at the smallest size, whose
                            refusals outran the resend budget */
  int copying;           /* a COPY of this chunk is under way */
  size_t sent;           /* bytes of rows sent in that COPY */
  FILE *aside;           /* records set aside, as staging COPY text */
  FILE *journal;         /* with p->order_sensitive: every chunk's records
                            too, so that the whole file can be settled
                            again in file order (load.c) */
  long long naside, refusals;
  long long doubtful;    /* records the client could not vouch for */
  long long inserted;    /* rows the table took (a trigger may drop some) */
  int streaming;         /* the records set aside also go, as they come, by
                            a COPY into the staging table (cs_direct_stream) */
  cs_buf stream;         /* what that COPY has not been sent yet */
  cs_buf one;            /* scratch: one staging row */
  cs_buf numbers;        /* scratch: the record's numbers, as read with a
                            number column's separators */
};

/* ---- hashing ---- */

static uint64_t
mix(uint64_t h)
{
  h ^= h >> 33;
  h *= 0xff51afd7ed558ccdULL;
  h ^= h >> 33;
  h *= 0xc4ceb9fe1a85ec53ULL;
  h ^= h >> 33;
  return h;
}

static uint64_t
hash_bytes(uint64_t h, const char *s, size_t n)
{
  uint64_t w;

  h = mix(h ^ (n * 0x9E3779B97F4A7C15ULL));
  while (n >= 8) {
    memcpy(&w, s, 8);
    h = mix(h ^ w) * 0x9E3779B97F4A7C15ULL;
    s += 8, n -= 8;
  }
  w = 0;
  memcpy(&w, s, n);
  return mix(h ^ w ^ 0x5bd1e995);
}

/* Tests and sets h's bits; returns whether all were set already. The
 * filter is blocked: all of a key's bits lie in one 64-byte cache line, so
 * a record costs one cache miss per key, not one per bit (measured: the
 * plain filter's misses were a fifth of the client's time at 2M records). */
static int
bloom_seen(key *k, uint64_t h)
{
  uint64_t *block = &k->bits[(h & k->mask) * 8], h2 = mix(h);
  int seen = 1;

  for (int i = 0; i < BLOOM_PROBES; i++) {
    unsigned bit = (unsigned)(h2 >> (i * 9)) & 511;
    uint64_t *w = &block[bit >> 6], m = 1ULL << (bit & 63);
    if (!(*w & m))
      seen = 0, *w |= m;
  }
  return seen;
}

/* ---- setting up ---- */

static int
grow_index(cs_direct *d)
{
  int cap = d->cap ? d->cap * 2 : 1024;
  size_t *a = realloc(d->row_end, (size_t)cap * sizeof(*a));
  size_t *b;

  if (!a)
    return -1;
  d->row_end = a;
  b = realloc(d->stage_end, (size_t)cap * sizeof(*b));
  if (!b)
    return -1;
  d->stage_end = b;
  d->cap = cap;
  return 0;
}

/* The unique keys the Bloom filters watch: every column fed, or constant
 * (a stable DEFAULT). */
static int
setup_keys(cs_direct *d)
{
  const cs_table *t = d->p->table;
  d->keys = calloc((size_t)t->nuniques + 1, sizeof(key));
  if (!d->keys)
    return -1;
  for (int u = 0; u < t->nuniques; u++) {
    const cs_constraint *c = &t->uniques[u];
    key *k = &d->keys[d->nkeys];
    int ok = 1, fed = 0;
    k->fed = calloc((size_t)c->ncols + 1, sizeof(int));
    if (!k->fed)
      return -1;
    for (int j = 0; j < c->ncols && ok; j++) {
      const cs_column *col = &t->cols[c->cols[j]];
      int fi = d->p->col_fed[c->cols[j]];
      if (fi >= 0)
        k->fed[k->ncols++] = fi, fed = 1;
      else if (col->generated || col->identity || !col->default_expr || !col->default_stable)
        ok = 0;   /* unknown on the client, or always NULL: never a conflict */
    }
    if (ok && fed)
      d->nkeys++;
    else
      free(k->fed), k->fed = NULL, k->ncols = 0;
  }
  for (int i = 0; i < d->nkeys; i++) {
    /* A power of two per key, BLOOM_BYTES in all; calloc'd pages cost
     * memory only once touched. */
    uint64_t bytes = 1;
    while (bytes * 2 * (uint64_t)d->nkeys <= BLOOM_BYTES)
      bytes *= 2;
    d->keys[i].bits = calloc(bytes / 8, 8);
    if (!d->keys[i].bits)
      return -1;
    d->keys[i].mask = bytes / 64 - 1;
  }
  return 0;
}

cs_direct *
cs_direct_open(const plan *p, PGconn *conn, const char *copy_sql, int enabled,
               csvstage_error *err)
{
  cs_direct *d = calloc(1, sizeof(*d));

  if (!d)
    goto nomem;
  d->p = p;
  d->conn = conn;
  d->enabled = enabled;
  d->max_records = CHUNK_RECORDS_MAX;
  d->marker = cs_copy_has_default(p->session);
  d->aside = tmpfile();
  if (p->order_sensitive && enabled && d->aside)
    d->journal = tmpfile();
  if (!d->aside || (p->order_sensitive && enabled && !d->journal)) {
    cs_fail(err, CSVSTAGE_E_IO, "cannot create a temporary file for the records set aside: %s",
            strerror(errno));
    cs_direct_free(d);
    return NULL;
  }
  d->vals = calloc((size_t)p->nfed + 1, sizeof(value));
  if (!d->vals || grow_index(d) || setup_keys(d))
    goto nomem;

  d->copy_sql = strdup(copy_sql);
  if (!d->copy_sql)
    goto nomem;
  return d;
nomem:
  cs_direct_free(d);
  cs_fail(err, CSVSTAGE_E_NOMEM, "out of memory");
  return NULL;
}

void
cs_direct_free(cs_direct *d)
{
  if (!d)
    return;
  for (int i = 0; i < d->nkeys; i++) {
    free(d->keys[i].fed);
    free(d->keys[i].bits);
  }
  free(d->keys);
  free(d->vals);
  free(d->numbers.data);
  free(d->copy_sql);
  free(d->rows.data);
  free(d->stage.data);
  free(d->row_end);
  free(d->stage_end);
  free(d->one.data);
  free(d->stream.data);
  if (d->aside)
    fclose(d->aside);
  if (d->journal)
    fclose(d->journal);
  free(d);
}

/* ---- one record ---- */

static int
is_trim_space(char c)
{
  return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/* CSV field i, trimmed as btrim(x, E' \t\r\n') would. */
static void
source(const cs_record *rec, int i, int trim, value *v)
{
  v->s = rec->field[i];
  v->n = rec->len[i];
  if (!v->s || !trim)
    return;
  while (v->n > 0 && is_trim_space(v->s[0]))
    v->s++, v->n--;
  while (v->n > 0 && is_trim_space(v->s[v->n - 1]))
    v->n--;
}

/* Whether s[0..n) is word, ASCII letters in either case (the bytes of other
 * characters as they are: in UTF-8 none of them is an ASCII byte). */
static int
same_word(const char *s, size_t n, const char *word)
{
  size_t i;

  for (i = 0; i < n && word[i]; i++) {
    unsigned char a = (unsigned char)s[i], b = (unsigned char)word[i];
    if (a >= 'A' && a <= 'Z')
      a = (unsigned char)(a - 'A' + 'a');
    if (b >= 'A' && b <= 'Z')
      b = (unsigned char)(b - 'A' + 'a');
    if (a != b)
      return 0;
  }
  return i == n && !word[i];
}

/* A boolean column's value through its words, as expr.c's SQL maps it:
 * "true" or "false" for one of them (white space around it aside, as
 * boolin drops it), else NULL: the value stays as it is. */
static const char *
bool_word(const fed_col *f, const char *s, size_t n)
{
  while (n > 0 && cs_is_space(s[0]))
    s++, n--;
  while (n > 0 && cs_is_space(s[n - 1]))
    n--;
  for (int k = 0; k < f->nyes; k++)
    if (same_word(s, n, f->yes[k]))
      return "true";
  for (int k = 0; k < f->nno; k++)
    if (same_word(s, n, f->no[k]))
      return "false";
  return NULL;
}

static int
digits(const char *s, size_t n, size_t *i)
{
  size_t start = *i;

  while (*i < n && s[*i] >= '0' && s[*i] <= '9')
    ++*i;
  return (int)(*i - start);
}

/*
 * A number column's value through its separators, as expr.c's SQL reads it
 * (cs_number_regex): white space around, a sign, digits (grouped by three
 * with the thousands separator, or not grouped), the decimal separator and
 * digits. Writes the text with '.' and no grouping into out (n bytes at
 * most) and returns its length; -1 when the value does not fit.
 */
static long
read_number(const fed_col *f, const char *s, size_t n, char *out)
{
  size_t i = 0, o = 0;
  int lead, whole = 0, frac = 0, point = 0;

  while (n > 0 && cs_is_space(s[n - 1]))
    n--;
  while (i < n && cs_is_space(s[i]))
    i++;
  if (i < n && (s[i] == '+' || s[i] == '-'))
    out[o++] = s[i++];
  size_t from = i;
  lead = digits(s, n, &i);
  memcpy(out + o, s + from, (size_t)lead);
  o += (size_t)lead;
  whole = lead;
  if (f->thousands && lead >= 1 && lead <= 3 && i < n && s[i] == f->thousands) {
    while (i + 4 <= n && s[i] == f->thousands) {
      size_t g = i + 1;
      if (digits(s, n, &g) != 3)
        break;
      memcpy(out + o, s + i + 1, 3);
      o += 3;
      whole += 3;
      i = g;
    }
  }
  if (i < n && s[i] == f->decimal) {
    point = 1;
    out[o++] = '.';
    from = ++i;
    frac = digits(s, n, &i);
    memcpy(out + o, s + from, (size_t)frac);
    o += (size_t)frac;
  }
  if (i != n || (whole == 0 && (!point || frac == 0)))
    return -1;
  return (long)o;
}

/*
 * Applies the mapping rules to the record, as load.c's SQL does, and checks
 * the values. Returns 1 when the record can go into the table, 0 when it
 * must be set aside.
 */
static int
map_record(cs_direct *d, const cs_record *rec)
{
  const plan *p = d->p;
  int ok = 1;

  d->vouched = 0;
  d->numbers.len = 0;
  for (int i = 0; i < p->nfed; i++) {
    const fed_col *f = &p->fed[i];
    const cs_rule *r = f->rule;
    const cs_column *c = &p->table->cols[f->col];
    value *v = &d->vals[i];

    memset(v, 0, sizeof(*v));
    if (f->src >= 0)
      source(rec, f->src, f->trim, v);
    for (int k = 0; r && v->s && k < r->nnullif; k++)
      if (strlen(r->nullif[k]) == v->n && memcmp(r->nullif[k], v->s, v->n) == 0)
        v->s = NULL;
    for (int k = 0; r && !v->s && k < r->ncoalesce; k++) {
      const cs_fallback *fb = &r->coalesce[k];
      if (fb->kind == CS_FALLBACK_LITERAL) {
        v->s = fb->text;
        v->n = strlen(fb->text);
      } else if (fb->kind == CS_FALLBACK_COLUMN) {
        source(rec, f->fallback_src[k], f->trim, v);
      }
    }
    if (v->s && (f->nyes || f->nno)) {
      const char *w;
      if (!f->type.utf8) {
        ok = 0;   /* ASCII bytes may be parts of other characters: the server says */
        continue;
      }
      if ((w = bool_word(f, v->s, v->n)))
        v->s = w, v->n = strlen(w);
    }
    if (v->s && f->format) {
      size_t len;
      if (cs_buf_reserve(&d->numbers, CS_DF_ISO_MAX)) {
        ok = 0;   /* no memory to spare: the server reads it */
        continue;
      }
      if (cs_datefmt_read(f->format, v->s, v->n, d->numbers.data + d->numbers.len, &len) !=
          CS_DF_FITS) {
        ok = 0;   /* refused, in refuse.c's words */
        continue;
      }
      v->rewritten = 1;
      v->at = d->numbers.len;
      v->s = d->numbers.data + v->at;
      v->n = len;
      d->numbers.len += len;
    }
    if (v->s && f->decimal) {
      long len;
      if (cs_buf_reserve(&d->numbers, v->n + 1)) {
        ok = 0;   /* no memory to spare: the server reads it */
        continue;
      }
      len = read_number(f, v->s, v->n, d->numbers.data + d->numbers.len);
      if (len < 0) {
        ok = 0;   /* does not fit: refused, in refuse.c's words */
        continue;
      }
      v->rewritten = 1;
      v->at = d->numbers.len;
      v->s = d->numbers.data + v->at;
      v->n = (size_t)len;
      d->numbers.len += (size_t)len;
    }
    if (!v->s) {
      /* NULL is no input to check (the server's checks skip it too). */
      if (i < CS_VOUCHED_COLUMNS)
        d->vouched |= 1LL << i;
      if (f->use_default) {
        if (d->marker)
          v->is_default = 1;
        else if (f->default_known && f->default_text)
          v->s = f->default_text, v->n = strlen(f->default_text), v->defaulted = 1;
        else if (!f->default_known || c->notnull)
          ok = 0;   /* a volatile DEFAULT (15), or a NULL DEFAULT: the server says */
      } else if (c->notnull || c->notnull_domain) {
        ok = 0;
      }
      continue;
    }
    switch (cs_value_check(&f->type, v->s, v->n, &v->ival)) {
    case CS_VALID:
      v->has_int = f->type.kind == CS_KIND_INT2 || f->type.kind == CS_KIND_INT4 ||
                   f->type.kind == CS_KIND_INT8;
      if (i < CS_VOUCHED_COLUMNS)
        d->vouched |= 1LL << i;
      break;
    case CS_DOUBTFUL:
      ok = 0;
      break;
    case CS_UNKNOWN:
      break;   /* the server decides; a refusal is found and set aside */
    }
  }
  for (int i = 0; i < p->nfed; i++)
    if (d->vals[i].rewritten)   /* the scratch may have moved since */
      d->vals[i].s = d->numbers.data + d->vals[i].at;
  /* Keys: their hashes now, their filter bits later (keys_seen): the bits
   * are a cache miss each, and fetching them while the row is encoded
   * hides most of it. */
  for (int k = 0; k < d->nkeys; k++) {
    key *kk = &d->keys[k];
    uint64_t h = (uint64_t)k;
    int complete = 1, exact = 1;
    for (int j = 0; j < kk->ncols && complete; j++) {
      int fi = kk->fed[j];
      const value *v = &d->vals[fi];
      const fed_col *f = &p->fed[fi];
      size_t n = v->n;
      if (v->is_default || v->defaulted || fi >= CS_VOUCHED_COLUMNS || !(d->vouched & (1LL << fi)))
        exact = 0;
      if (!v->s || v->is_default) {
        complete = 0;   /* NULLs never conflict; a DEFAULT is the server's */
      } else if (v->has_int) {
        h = hash_bytes(h, (const char *)&v->ival, sizeof(v->ival));
      } else {
        if (f->type.kind == CS_KIND_BPCHAR)
          while (n > 0 && v->s[n - 1] == ' ')
            n--;   /* char(n) compares without trailing spaces */
        h = hash_bytes(h, v->s, n);
      }
    }
    kk->complete = complete;
    kk->exact = exact;
    kk->hash = h;
    if (complete)
      __builtin_prefetch(&kk->bits[(h & kk->mask) * 8], 1);
  }
  return ok;
}

/* Every record's key goes into the filter, so that a later record with the
 * same key is set aside too and the staging path keeps the file's order
 * between them. Returns whether any key of the record may have come
 * before. */
static int
keys_seen(cs_direct *d)
{
  int seen = 0;

  for (int k = 0; k < d->nkeys; k++)
    if (d->keys[k].complete && bloom_seen(&d->keys[k], d->keys[k].hash))
      seen = 1;
  return seen;
}

/* Whether every key of the record is one the server holds as it was
 * hashed: then a later record of that key is seen in the filter. */
static int
keys_exact(const cs_direct *d)
{
  for (int k = 0; k < d->nkeys; k++)
    if (!d->keys[k].exact)
      return 0;
  return 1;
}

/* Appends the record's row for the table (COPY text). */
static int
encode_row(cs_direct *d)
{
  cs_buf *b = &d->rows;
  size_t need = 1;
  char *p;

  for (int i = 0; i < d->p->nfed; i++)
    need += (d->vals[i].s ? 2 * d->vals[i].n : 2) + 1;
  if (cs_buf_reserve(b, need) != 0)
    return -1;
  p = b->data + b->len;
  for (int i = 0; i < d->p->nfed; i++) {
    const value *v = &d->vals[i];
    if (i)
      *p++ = '\t';
    if (v->is_default)
      memcpy(p, CS_DEFAULT_MARKER, 2), p += 2;
    else if (!v->s)
      memcpy(p, "\\N", 2), p += 2;
    else
      p = cs_copy_escape(p, v->s, v->n);
  }
  *p++ = '\n';
  b->len = (size_t)(p - b->data);
  return 0;
}

/* Sends what the staging table's COPY has not had yet. */
static int
stream_flush(cs_direct *d, csvstage_error *err)
{
  int rc = cs_copy_put(d->conn, d->stream.data, d->stream.len, err);

  d->stream.len = 0;
  if (rc != 0)
    d->streaming = -1;   /* failed: cs_direct_stream_end ends it */
  return rc;
}

/* Writes records' staging rows (n bytes, count records) to the aside file,
 * and to the staging table's COPY when one is under way. */
static int
write_aside(cs_direct *d, const char *rows, size_t n, int count, csvstage_error *err)
{
  if (fwrite(rows, 1, n, d->aside) != n)
    return cs_fail(err, CSVSTAGE_E_IO, "cannot write the records set aside to a temporary "
                   "file: %s", strerror(errno)), -1;
  d->naside += count;
  if (d->streaming == 1) {
    if (cs_buf_append(&d->stream, rows, n) != 0)
      return cs_fail(err, CSVSTAGE_E_NOMEM, "out of memory"), -1;
    if (d->stream.len >= SEND_BYTES && stream_flush(d, err))
      return -1;
  }
  return 0;
}

int
cs_direct_stream(cs_direct *d, const char *copy_sql, csvstage_error *err)
{
  if (cs_copy_begin(d->conn, copy_sql, err))
    return -1;
  d->streaming = 1;
  return 0;
}

int
cs_direct_streaming(const cs_direct *d)
{
  return d->streaming != 0;
}

int
cs_direct_stream_end(cs_direct *d, const char *abort_reason, char *context,
                     size_t context_size, csvstage_error *err)
{
  int failed = d->streaming == -1 || (d->stream.len > 0 && !abort_reason &&
                                      stream_flush(d, err));

  if (!d->streaming)
    return 0;
  d->streaming = 0;
  d->stream.len = 0;
  if (failed || abort_reason) {
    cs_copy_end(d->conn, abort_reason ? abort_reason : "csvstage: send failed", NULL, NULL);
    return -1;
  }
  return cs_copy_end_ctx(d->conn, NULL, NULL, err, context, context_size);
}

/* Sets chunk records [a, b) aside. */
static int
set_aside_range(cs_direct *d, int a, int b, csvstage_error *err)
{
  size_t from;

  if (a >= b)
    return 0;
  from = a ? d->stage_end[a - 1] : 0;
  return write_aside(d, d->stage.data + from, d->stage_end[b - 1] - from, b - a, err);
}

/* Sends rows bytes [from, to) into the COPY under way; on failure ends it
 * (the connection stays usable) and returns -1. */
static int
send_rows(cs_direct *d, size_t from, size_t to, csvstage_error *err)
{
  if (cs_copy_put(d->conn, d->rows.data + from, to - from, err) == 0)
    return 0;
  cs_copy_end(d->conn, "csvstage: send failed", NULL, NULL);
  d->copying = 0;
  return -1;
}

/* ---- chunks ---- */

/*
 * Ends the COPY of chunk records [a, b). Returns 0 when they are in, 1 when
 * the server refused them (rolled back; *bad is the refused record, or -1
 * when none can be named), -1 when the load cannot go on.
 */
static int
copy_verdict(cs_direct *d, int a, int b, int *bad, csvstage_error *err)
{
  csvstage_error e;
  char ctx[1024];
  int cls_data;
  long long line, rows = 0;

  csvstage_error_clear(&e);
  ctx[0] = '\0';
  d->copying = 0;
  *bad = -1;
  if (cs_copy_end_ctx(d->conn, NULL, &rows, &e, ctx, sizeof(ctx)) == 0) {
    d->inserted += rows;   /* COPY counts the rows a BEFORE trigger kept */
    return cs_run(d->conn, "RELEASE SAVEPOINT csvstage_chunk", err);
  }
  if (PQstatus(d->conn) != CONNECTION_OK || e.code != CSVSTAGE_E_DB) {
    *err = e;
    return -1;
  }
  d->refusals++;
  if (cs_run(d->conn, "ROLLBACK TO SAVEPOINT csvstage_chunk; "
                     "RELEASE SAVEPOINT csvstage_chunk", err))
    return -1;
  /* Data errors name a record; foreign keys are checked after the last
   * one, and anything else (no COPY into this relation, no privilege)
   * will not get better: the staging path takes every record from now. */
  cls_data = strncmp(e.sqlstate, "22", 2) == 0 || strncmp(e.sqlstate, "23", 2) == 0 ||
             strncmp(e.sqlstate, "P0", 2) == 0 || strncmp(e.sqlstate, "44", 2) == 0;
  if (!cls_data) {
    d->enabled = 0;
    return 1;
  }
  if (strcmp(e.sqlstate, "23503") == 0)
    return 1;
  line = cs_context_line(ctx, d->p->table->name);
  if (line >= 1 && line <= b - a)
    *bad = a + (int)(line - 1);
  return 1;
}

/*
 * Starts a chunk's COPY. Returns 0; 1 when the server will not take COPY
 * into this relation (a foreign table whose wrapper cannot, say): the fast
 * path is off and the connection usable; -1 when the load cannot go on.
 */
static int
begin_copy(cs_direct *d, csvstage_error *err)
{
  csvstage_error e;

  csvstage_error_clear(&e);
  if (cs_copy_begin(d->conn, d->copy_sql, &e) == 0) {
    d->copying = 1;
    return 0;
  }
  if (PQstatus(d->conn) != CONNECTION_OK || e.code != CSVSTAGE_E_DB) {
    *err = e;
    return -1;
  }
  if (cs_run(d->conn, "ROLLBACK TO SAVEPOINT csvstage_chunk; "
                     "RELEASE SAVEPOINT csvstage_chunk", err))
    return -1;
  d->enabled = 0;
  return 1;
}

/* COPYs chunk records [a, b) from memory. Returns as copy_verdict. */
static int
copy_range(cs_direct *d, int a, int b, int *bad, csvstage_error *err)
{
  size_t from = a ? d->row_end[a - 1] : 0, to = d->row_end[b - 1];
  int r = begin_copy(d, err);

  *bad = -1;
  if (r != 0)
    return r;
  if (send_rows(d, from, to, err))
    return -1;
  return copy_verdict(d, a, b, bad, err);
}

/*
 * Records [a, b) were refused, bad the record named (or -1): sets it aside
 * and sends the others again, the ones before it first, until each is in
 * or aside. The records before it can be refused again: COPY checks unique
 * keys a batch at a time, so a key conflict earlier in the batch surfaces
 * after a CHECK failure later in it. Ranges wait on a stack (no recursion:
 * a chunk can hold many refusals).
 *
 * Each refusal costs a resend of the rest of the chunk (which the server
 * reads and drops after the refused record), so a chunk dense with
 * refusals the client could not foresee (a file loaded again: every key
 * already in the table) would be sent once per record. The resends are
 * held to RESEND_BUDGET times the chunk's size: past that, what is left
 * goes aside whole and the next chunks are smaller; when even the smallest
 * keep outrunning it, the staging path takes every record from then on.
 */
typedef struct range {
  int a, b, bad;         /* bad: the refused record, -1 none named, -2 untried */
} range;

static int
resolve(cs_direct *d, int a, int b, int bad, csvstage_error *err)
{
  range *st = NULL;
  int n = 0, cap = 0, rc = -1;

#define PUSH(A, B, BAD)                                                  \
  do {                                                                   \
    if (n == cap) {                                                      \
      range *g = realloc(st, (size_t)(cap = cap ? 2 * cap : 16) * sizeof(*st)); \
      if (!g) {                                                          \
        cs_fail(err, CSVSTAGE_E_NOMEM, "out of memory");                 \
        goto out;                                                        \
      }                                                                  \
      st = g;                                                            \
    }                                                                    \
    st[n++] = (range){(A), (B), (BAD)};                                  \
  } while (0)

  size_t budget = RESEND_BUDGET * (d->row_end[b - 1] - (a ? d->row_end[a - 1] : 0));
  int over = 0;

  PUSH(a, b, bad);
  while (n > 0) {
    range r = st[--n];
    if (r.bad == -2 && d->enabled) {
      size_t bytes = d->row_end[r.b - 1] - (r.a ? d->row_end[r.a - 1] : 0);
      if (bytes > budget) {
        over = 1;
        if (set_aside_range(d, r.a, r.b, err))
          goto out;
        continue;
      }
      budget -= bytes;
      int got = copy_range(d, r.a, r.b, &r.bad, err);
      if (got < 0)
        goto out;
      if (got == 0)
        continue;
    }
    if (r.bad < 0 || !d->enabled) {
      /* Nothing to name: the whole range goes the careful way, and the
       * next chunks are smaller. */
      if (d->max_records > CHUNK_RECORDS_MIN)
        d->max_records /= 4;
      if (set_aside_range(d, r.a, r.b, err))
        goto out;
      continue;
    }
    if (set_aside_range(d, r.bad, r.bad + 1, err))
      goto out;
    /* Popped in file order: the records before the refused one first. */
    if (r.bad + 1 < r.b)
      PUSH(r.bad + 1, r.b, -2);
    if (r.a < r.bad)
      PUSH(r.a, r.bad, -2);
  }
#undef PUSH
  if (!over) {
    d->dense = 0;
  } else if (d->max_records > CHUNK_RECORDS_MIN) {
    d->max_records /= 4;
  } else if (++d->dense >= DENSE_CHUNKS) {
    d->enabled = 0;
  }
  rc = 0;
out:
  free(st);
  return rc;
}

/* Finishes the chunk: its COPY's verdict, resending around refusals. */
static int
flush_chunk(cs_direct *d, csvstage_error *err)
{
  int bad, r;

  if (d->n == 0)
    return 0;
  if (d->journal && fwrite(d->stage.data, 1, d->stage.len, d->journal) != d->stage.len)
    return cs_fail(err, CSVSTAGE_E_IO, "cannot write the records to a temporary file: %s",
                   strerror(errno)), -1;
  if (!d->enabled && !d->copying) {
    r = set_aside_range(d, 0, d->n, err);
    d->n = 0;
    d->rows.len = d->stage.len = 0;
    d->sent = 0;
    return r;
  }
  if (d->copying) {
    if (send_rows(d, d->sent, d->rows.len, err))
      return -1;
    r = copy_verdict(d, 0, d->n, &bad, err);
  } else {
    r = copy_range(d, 0, d->n, &bad, err);
  }
  if (r < 0)
    return -1;
  if (r == 1) {
    if (resolve(d, 0, d->n, bad, err))
      return -1;
  } else if (d->max_records < CHUNK_RECORDS_MAX) {
    d->max_records *= 2;
  }
  d->n = 0;
  d->rows.len = d->stage.len = 0;
  d->sent = 0;
  return 0;
}

int
cs_direct_add(cs_direct *d, const cs_record *rec, csvstage_error *err)
{
  int ok = map_record(d, rec);
  long long tail = d->vouched;

  d->doubtful += !ok;
  if (ok && d->enabled) {
    size_t rows_len = d->rows.len, stage_len = d->stage.len;
    if (d->n == d->cap && grow_index(d))
      return cs_fail(err, CSVSTAGE_E_NOMEM, "out of memory"), -1;
    if (encode_row(d) || cs_copy_encode(&d->stage, rec, d->vouched))
      return cs_fail(err, CSVSTAGE_E_NOMEM, "out of memory"), -1;
    if (keys_seen(d)) {
      d->rows.len = rows_len;   /* the rare case: take the row back */
      d->stage.len = stage_len;
      ok = 0;
    }
  } else if (!keys_seen(d) && keys_exact(d)) {
    tail |= CS_STAGE_SURE;
  }
  if (!ok || !d->enabled) {
    d->one.len = 0;
    if (cs_copy_encode(&d->one, rec, tail) != 0)
      return cs_fail(err, CSVSTAGE_E_NOMEM, "out of memory"), -1;
    return write_aside(d, d->one.data, d->one.len, 1, err);
  }
  d->row_end[d->n] = d->rows.len;
  d->stage_end[d->n] = d->stage.len;
  d->n++;
  /* Stream while the chunk fills, so that the server works as we read. */
  if (!d->copying && d->rows.len - d->sent >= SEND_BYTES) {
    int r = begin_copy(d, err);
    if (r < 0)
      return -1;
    if (r == 1)
      return flush_chunk(d, err);   /* all of it aside */
  }
  if (d->copying && d->rows.len - d->sent >= SEND_BYTES) {
    if (send_rows(d, d->sent, d->rows.len, err))
      return -1;
    d->sent = d->rows.len;
  }
  if (d->n >= d->max_records || d->rows.len >= CHUNK_BYTES || d->stage.len >= CHUNK_BYTES)
    return flush_chunk(d, err);
  return 0;
}

int
cs_direct_finish(cs_direct *d, csvstage_error *err)
{
  return flush_chunk(d, err);
}

long long
cs_direct_set_aside(const cs_direct *d)
{
  return d->naside;
}

long long
cs_direct_doubtful(const cs_direct *d)
{
  return d->doubtful;
}

long long
cs_direct_inserted(const cs_direct *d)
{
  return d->inserted;
}

long long
cs_direct_refusals(const cs_direct *d)
{
  return d->refusals;
}

/*
 * Walks rows [from, to) (to < 0: to the end) of the records set aside
 * (all: then the journal's), one row a line of COPY text: sends them into
 * the COPY under way, or (out) appends them to out.
 */
static int
walk_rows(cs_direct *d, int all, long long from, long long to, cs_buf *out,
          csvstage_error *err)
{
  FILE *files[2] = {d->aside, all ? d->journal : NULL};
  long long row = 0;
  size_t n;

  if (cs_buf_reserve(&d->one, SEND_BYTES) != 0)
    return cs_fail(err, CSVSTAGE_E_NOMEM, "out of memory"), -1;
  for (int i = 0; i < 2 && (to < 0 || row < to); i++) {
    FILE *f = files[i];
    if (!f)
      continue;
    if (fflush(f) != 0 || fseek(f, 0, SEEK_SET) != 0)
      return cs_fail(err, CSVSTAGE_E_IO, "cannot read back the records set aside: %s",
                     strerror(errno)), -1;
    while ((to < 0 || row < to) && (n = fread(d->one.data, 1, SEND_BYTES, f)) > 0) {
      const char *p = d->one.data, *end = p + n, *span = NULL;
      while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *stop = nl ? nl + 1 : end;
        int in = row >= from && (to < 0 || row < to);
        if (in && !span)
          span = p;
        if (!in && span) {
          if (out ? cs_buf_append(out, span, (size_t)(p - span))
                  : cs_copy_put(d->conn, span, (size_t)(p - span), err))
            return out ? (cs_fail(err, CSVSTAGE_E_NOMEM, "out of memory"), -1) : -1;
          span = NULL;
        }
        if (nl)
          row++;
        p = stop;
      }
      if (span && (out ? cs_buf_append(out, span, (size_t)(end - span))
                       : cs_copy_put(d->conn, span, (size_t)(end - span), err)))
        return out ? (cs_fail(err, CSVSTAGE_E_NOMEM, "out of memory"), -1) : -1;
    }
    if (ferror(f))
      return cs_fail(err, CSVSTAGE_E_IO, "cannot read back the records set aside: %s",
                     strerror(errno)), -1;
    if (fseek(f, 0, SEEK_END) != 0)
      return cs_fail(err, CSVSTAGE_E_IO, "cannot seek in a temporary file: %s",
                     strerror(errno)), -1;
  }
  return 0;
}

int
cs_direct_send_set_aside(cs_direct *d, int all, csvstage_error *err)
{
  return walk_rows(d, all, 0, -1, NULL, err);
}

int
cs_direct_send_rows(cs_direct *d, int all, long long from, long long to, csvstage_error *err)
{
  return walk_rows(d, all, from, to, NULL, err);
}

int
cs_direct_row(cs_direct *d, int all, long long k, cs_buf *out, csvstage_error *err)
{
  out->len = 0;
  return walk_rows(d, all, k, k + 1, out, err);
}
