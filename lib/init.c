/* init.c: a starter config from a CSV header and the table's catalog
 * (csvstage init). */
#include <config.h>

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "catalog.h"
#include "copyenc.h"
#include "error.h"
#include "input.h"
#include "session.h"
#include "reader.h"
#include "settings.h"

/* Appends printf text to b; sets *failed when out of memory. */
static void
out(cs_buf *b, int *failed, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static void
out(cs_buf *b, int *failed, const char *fmt, ...)
{
  va_list ap;

  if (*failed)
    return;
  va_start(ap, fmt);
  *failed = cs_buf_vprintf(b, fmt, ap) != 0;
  va_end(ap);
}

/* Whether two names match with case, spaces and underscores ignored
 * ("E-mail Address" and "email_address" do not: the dash counts). */
static int
loose_eq(const char *a, const char *b)
{
  for (;;) {
    while (*a == ' ' || *a == '_')
      a++;
    while (*b == ' ' || *b == '_')
      b++;
    if (!*a || !*b)
      return !*a && !*b;
    if (tolower((unsigned char)*a) != tolower((unsigned char)*b))
      return 0;
    a++, b++;
  }
}

/* A value for the INI file: in double quotes (a quote doubled) when it
 * holds what the parser would take otherwise: ; # = , or a quote (a list
 * splits at commas outside quotes), white space around it, or nothing. */
static const char *
ini_value(const char *v, char *buf, size_t n)
{
  size_t len = strlen(v);

  if (len && !strpbrk(v, ";#=\",'") && !isspace((unsigned char)v[0]) &&
      !isspace((unsigned char)v[len - 1]))
    return v;
  return cs_config_quote(v, buf, n);
}

/* What the config is written from: the table, the file's header and which
 * CSV column feeds each table column. */
typedef struct draft {
  const cs_table *t;
  const csvstage_settings *settings;
  cs_reader *rd;
  int ncsv;
  int *src;              /* per table column: its CSV column, or -1 */
  int *used;             /* per CSV column: it feeds a table column */
  char **shortened;      /* per CSV column: its name as init --create-table
                            shortens it (cs_header_shorten) */
  cs_buf b;
  int failed;            /* out of memory while writing b */
} draft;

/* CSV column c's name: the header's, or [source] columns' for a file
 * without one. */
static const char *
csv_name(const draft *d, int c)
{
  if (!d->settings->header && c < d->settings->ncolumns)
    return d->settings->columns[c];
  return cs_reader_column(d->rd, c);
}

/* Each table column: the CSV column of the same name, else the one that
 * matches loosely (only when exactly one does). */
static void
match_columns(draft *d)
{
  for (int i = 0; i < d->t->ncols; i++) {
    int found = -1, n = 0;
    d->src[i] = -1;
    if (d->t->cols[i].generated)
      continue;
    for (int c = 0; c < d->ncsv && found < 0; c++)
      if (!d->used[c] && strcmp(csv_name(d, c), d->t->cols[i].name) == 0)
        found = c;
    /* A name too long for the server: the table has it shortened. */
    for (int c = 0; c < d->ncsv && found < 0; c++)
      if (!d->used[c] && strcmp(d->shortened[c], d->t->cols[i].name) == 0)
        found = c;
    for (int c = 0; c < d->ncsv && found < 0; c++)
      if (!d->used[c] && loose_eq(csv_name(d, c), d->t->cols[i].name))
        n++, found = n == 1 ? c : found;
    if (found >= 0 && n <= 1) {
      d->src[i] = found;
      d->used[found] = 1;
    }
  }
}

/* true = ... and false = ... lines for words, when there are any. */
static void
write_words(draft *d, const cs_words *w)
{
  char qbuf[1100];

  for (int yes = 1; yes >= 0; yes--) {
    char *const *list = yes ? w->yes : w->no;
    int n = yes ? w->nyes : w->nno;
    if (!n)
      continue;
    out(&d->b, &d->failed, "%s = ", yes ? "true" : "false");
    for (int k = 0; k < n; k++)
      out(&d->b, &d->failed, "%s%s", k ? ", " : "", ini_value(list[k], qbuf, sizeof(qbuf)));
    out(&d->b, &d->failed, "\n");
  }
}

/* The opening comment, [source] (with ignore for the CSV columns that feed
 * nothing) and [target]. */
static void
write_head(draft *d, const csvstage_settings *settings, const char *input_name)
{
  char delim[8], quote[8], qbuf[1100];
  int any = 0;

  out(&d->b, &d->failed, "; csvstage config for loading %s into %s (written by csvstage init).\n"
                         "; Review it, resolve every ERROR line, then:\n"
                         ";   csvstage -c THIS_FILE %s\n\n",
      input_name, d->t->display_name, input_name);
  if (settings->delimiter == '\t')
    snprintf(delim, sizeof(delim), "tab");
  else
    snprintf(delim, sizeof(delim), "\"%c\"", settings->delimiter);
  if (settings->quote)
    snprintf(quote, sizeof(quote), "%c", settings->quote);
  else
    snprintf(quote, sizeof(quote), "none");
  out(&d->b, &d->failed, "[source]\ndelimiter = %s\nquote = %s\nheader = %s\nencoding = %s\n",
      delim, quote, settings->header ? "true" : "false", settings->encoding);
  if (settings->comment)
    out(&d->b, &d->failed, "comment = %s\n", ini_value(settings->comment, qbuf, sizeof(qbuf)));
  if (settings->skip)
    out(&d->b, &d->failed, "skip = %lld\n", settings->skip);
  if (!settings->header && settings->ncolumns) {
    out(&d->b, &d->failed, "columns = ");
    for (int i = 0; i < settings->ncolumns; i++)
      out(&d->b, &d->failed, "%s%s", i ? ", " : "",
          ini_value(settings->columns[i], qbuf, sizeof(qbuf)));
    out(&d->b, &d->failed, "\n");
  }
  /* How the file writes values, as the settings say (sniffed, or given). */
  if (settings->number.decimal)
    out(&d->b, &d->failed, "decimal = \"%c\"\n", settings->number.decimal);
  if (settings->number.thousands)
    out(&d->b, &d->failed, "thousands = \"%c\"\n", settings->number.thousands);
  write_words(d, &settings->words);
  if (settings->datestyle)
    out(&d->b, &d->failed, "datestyle = %s\n", settings->datestyle);
  if (settings->format)
    out(&d->b, &d->failed, "format = '%s'\n", settings->format);
  if (settings->timezone)
    out(&d->b, &d->failed, "timezone = %s\n", settings->timezone);
  if (settings->ragged)
    out(&d->b, &d->failed, "ragged = pad\n");
  for (int c = 0; c < d->ncsv; c++) {
    if (d->used[c])
      continue;
    if (!any)
      out(&d->b, &d->failed, "; these CSV columns match no column of %s:\nignore = ",
          d->t->display_name);
    out(&d->b, &d->failed, "%s%s", any ? ", " : "",
        ini_value(csv_name(d, c), qbuf, sizeof(qbuf)));
    any = 1;
  }
  if (any)
    out(&d->b, &d->failed, "\n");
  out(&d->b, &d->failed, "\n[target]\ntable = %s\n"
                         "; mode = append   ; or truncate, replace: the table emptied first\n"
                         "; before = SQL    ; after = SQL: run in the load's transaction\n"
                         "; max_rejects = 1%%\n; ledger = on\n; wait = no\n", d->t->display_name);
}

/* One [column] section: where table column i comes from, or the ERROR that
 * nothing feeds a NOT NULL column without a DEFAULT. */
static void
write_column(draft *d, int i)
{
  const cs_column *c = &d->t->cols[i];
  const char *name = d->src[i] >= 0 ? csv_name(d, d->src[i]) : NULL;
  char qbuf[1100], sbuf[1100];

  out(&d->b, &d->failed, "\n%s   ; %s%s%s%s\n", cs_config_section(c->name, sbuf, sizeof(sbuf)), c->type,
      c->notnull ? " NOT NULL" : "", c->default_expr ? " DEFAULT " : "",
      c->default_expr ? c->default_expr : "");
  if (name && strcmp(name, c->name) == 0)
    out(&d->b, &d->failed, "; from = %s   (the same name: matched without this line)\n",
        ini_value(name, qbuf, sizeof(qbuf)));
  else if (name)
    out(&d->b, &d->failed, "from = %s\n", ini_value(name, qbuf, sizeof(qbuf)));
  else if (c->notnull && !c->default_expr && !c->identity) {
    out(&d->b, &d->failed, "; ERROR: no CSV column feeds this NOT NULL column and it has no "
                           "DEFAULT: every record would be rejected.\n"
                           "; Name its CSV column (from = ..., and take it out of ignore) or "
                           "give a value (coalesce = 'value'), then delete the line from = ?\n");
    out(&d->b, &d->failed, "; CSV columns matched to nothing:");
    for (int k = 0, any = 0; k < d->ncsv; k++)
      if (!d->used[k])
        out(&d->b, &d->failed, "%s %s", any++ ? "," : "", csv_name(d, k));
    out(&d->b, &d->failed, "\nfrom = ?\n");
  } else {
    out(&d->b, &d->failed, "; no CSV column: %s\n",
        c->default_expr || c->identity ? "its DEFAULT" : "NULL");
  }
  const cs_rule *r = cs_settings_rule(d->settings, c->name);
  if (r && name) {
    if (r->format)
      out(&d->b, &d->failed, "format = '%s'\n", r->format);
    if (r->nnullif) {
      out(&d->b, &d->failed, "nullif = ");
      for (int k = 0; k < r->nnullif; k++)
        out(&d->b, &d->failed, "%s%s", k ? ", " : "", cs_config_quote(r->nullif[k], qbuf, sizeof(qbuf)));
      out(&d->b, &d->failed, "\n");
    }
    write_words(d, &r->words);
    if (r->number.decimal)
      out(&d->b, &d->failed, "decimal = \"%c\"\n", r->number.decimal);
    if (r->number.thousands)
      out(&d->b, &d->failed, "thousands = \"%c\"\n", r->number.thousands);
  }
  if (name && c->default_expr && !c->identity)
    out(&d->b, &d->failed, "%scoalesce = DEFAULT   ; a blank value takes the DEFAULT%s\n",
        c->notnull ? "; " : "", c->notnull ? " (NOT NULL: csvstage does so already)" : "");
  if (name && !c->notnull && !(r && r->nnullif))
    out(&d->b, &d->failed, "; nullif = \"\", \"N/A\"   ; values that mean NULL\n");
  if (name && cs_column_is_bool(c) && !d->settings->words.nyes && !(r && r->words.nyes))
    out(&d->b, &d->failed, "; true = yes, ja   ; words for true and false, beyond PostgreSQL's\n"
                           "; false = no, nein\n");
}

csvstage_code
csvstage_init_config(csvstage_session *session, const csvstage_settings *settings,
                     const char *path, char **text, csvstage_error *err)
{
  cs_table *t = NULL;
  cs_input *in = NULL;
  cs_reader_opts o;
  draft d = {0};
  csvstage_code rc = CSVSTAGE_OK;

  *text = NULL;
  if (!session || !settings || !settings->table)
    return cs_fail(err, CSVSTAGE_E_CONFIG, "no target table: give -t TABLE");
  /* The table's names in the file's encoding, as the load reads them and
   * as the config is written (its names are compared byte for byte). */
  if (settings->encoding && PQsetClientEncoding(session->conn, settings->encoding) != 0)
    return cs_fail(err, CSVSTAGE_E_CONFIG, "encoding %s: %s", settings->encoding,
                   PQerrorMessage(session->conn));
  t = cs_table_load(session->conn, settings->table, err);
  if (!t) {
    rc = err ? err->code : CSVSTAGE_E_DB;
    goto done;
  }
  in = cs_input_open(path, err);
  if (!in) {
    rc = err ? err->code : CSVSTAGE_E_IO;
    goto done;
  }
  cs_settings_reader_opts(settings, &o);
  o.header = settings->header || !settings->ncolumns;   /* names: the header's, or columns' */
  d.rd = cs_reader_open(in, &o, err);
  if (!d.rd) {
    rc = err ? err->code : CSVSTAGE_E_FORMAT;
    goto done;
  }
  d.t = t;
  d.settings = settings;
  d.ncsv = o.header ? cs_reader_ncolumns(d.rd) : settings->ncolumns;
  d.src = calloc((size_t)t->ncols + 1, sizeof(int));
  d.used = calloc((size_t)d.ncsv + 1, sizeof(int));
  d.shortened = calloc((size_t)d.ncsv + 1, sizeof(char *));
  if (!d.src || !d.used || !d.shortened) {
    rc = cs_fail(err, CSVSTAGE_E_NOMEM, "out of memory");
    goto done;
  }
  for (int c = 0; c < d.ncsv; c++)
    if (!(d.shortened[c] = strdup(csv_name(&d, c)))) {
      rc = cs_fail(err, CSVSTAGE_E_NOMEM, "out of memory");
      goto done;
    }
  if (cs_header_shorten(d.shortened, d.ncsv, strcasecmp(settings->encoding, "UTF8") == 0 ||
                                             strcasecmp(settings->encoding, "UTF-8") == 0 ||
                                             strcasecmp(settings->encoding, "UNICODE") == 0) < 0) {
    rc = cs_fail(err, CSVSTAGE_E_NOMEM, "out of memory");
    goto done;
  }
  match_columns(&d);
  write_head(&d, settings, cs_input_name(in));
  for (int i = 0; i < t->ncols; i++)
    if (!t->cols[i].generated)
      write_column(&d, i);
  if (d.failed) {
    rc = cs_fail(err, CSVSTAGE_E_NOMEM, "out of memory");
    goto done;
  }
  *text = d.b.data;
  d.b.data = NULL;
done:
  free(d.b.data);
  free(d.src);
  free(d.used);
  for (int c = 0; d.shortened && c < d.ncsv; c++)
    free(d.shortened[c]);
  free(d.shortened);
  cs_reader_free(d.rd);
  cs_input_close(in);
  cs_table_free(t);
  return rc;
}
