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
#include "plan.h"
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

/* A value for the INI file: in double quotes when it holds what the
 * parser would take otherwise (; # = or surrounding spaces). */
static const char *
ini_value(const char *v, char *buf, size_t n)
{
  size_t len = strlen(v);

  if (len && !strpbrk(v, ";#=\"") && v[0] != ' ' && v[len - 1] != ' ')
    return v;
  snprintf(buf, n, "\"%s\"", v);
  return buf;
}

csvstage_code
csvstage_init_config(csvstage_session *session, const csvstage_settings *settings,
                     const char *path, char **text, csvstage_error *err)
{
  cs_table *t = NULL;
  cs_input *in = NULL;
  cs_reader *rd = NULL;
  cs_reader_opts o;
  cs_buf b = {0};
  int *src = NULL, *used = NULL, ncsv = 0, failed = 0;
  char qbuf[600];
  csvstage_code rc = CSVSTAGE_OK;

  *text = NULL;
  if (!session || !settings || !settings->table)
    return cs_fail(err, CSVSTAGE_E_CONFIG, "no target table: give -t TABLE");
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
  cs_settings_reader_opts(settings, &o);   /* header: always, for these */
  rd = cs_reader_open(in, &o, err);
  if (!rd) {
    rc = err ? err->code : CSVSTAGE_E_FORMAT;
    goto done;
  }
  ncsv = cs_reader_ncolumns(rd);
  src = calloc((size_t)t->ncols + 1, sizeof(int));
  used = calloc((size_t)ncsv + 1, sizeof(int));
  if (!src || !used) {
    rc = cs_fail(err, CSVSTAGE_E_NOMEM, "out of memory");
    goto done;
  }
  /* Each table column: the CSV column of the same name, else the one that
   * matches loosely (only when exactly one does). */
  for (int i = 0; i < t->ncols; i++) {
    int found = -1, n = 0;
    src[i] = -1;
    if (t->cols[i].generated)
      continue;
    for (int c = 0; c < ncsv && found < 0; c++)
      if (!used[c] && strcmp(cs_reader_column(rd, c), t->cols[i].name) == 0)
        found = c;
    for (int c = 0; c < ncsv && found < 0; c++)
      if (!used[c] && loose_eq(cs_reader_column(rd, c), t->cols[i].name))
        n++, found = n == 1 ? c : found;
    if (found >= 0 && n <= 1) {
      src[i] = found;
      used[found] = 1;
    }
  }

  out(&b, &failed, "; csvstage config for loading %s into %s (written by csvstage init).\n"
                   "; Review it, resolve every ERROR line, then:\n"
                   ";   csvstage -c THIS_FILE %s\n\n",
      cs_input_name(in), t->display_name, cs_input_name(in));
  {
    char delim[8], quote[8];
    if (settings->delimiter == '\t')
      snprintf(delim, sizeof(delim), "tab");
    else
      snprintf(delim, sizeof(delim), "\"%c\"", settings->delimiter);
    snprintf(quote, sizeof(quote), "%c", settings->quote);
    out(&b, &failed, "[source]\ndelimiter = %s\nquote = %s\nheader = true\nencoding = %s\n",
        delim, quote, settings->encoding);
  }
  {
    int any = 0;
    for (int c = 0; c < ncsv; c++) {
      if (used[c])
        continue;
      if (!any)
        out(&b, &failed, "; these CSV columns match no column of %s:\nignore = ",
            t->display_name);
      out(&b, &failed, "%s%s", any ? ", " : "",
          ini_value(cs_reader_column(rd, c), qbuf, sizeof(qbuf)));
      any = 1;
    }
    if (any)
      out(&b, &failed, "\n");
  }
  out(&b, &failed, "\n[target]\ntable = %s\n; max_rejects = 1%%\n; ledger = on\n; wait = no\n",
      t->display_name);

  for (int i = 0; i < t->ncols; i++) {
    const cs_column *c = &t->cols[i];
    const char *name = src[i] >= 0 ? cs_reader_column(rd, src[i]) : NULL;

    if (c->generated)
      continue;
    out(&b, &failed, "\n[column \"%s\"]   ; %s%s%s%s\n", c->name, c->type,
        c->notnull ? " NOT NULL" : "", c->default_expr ? " DEFAULT " : "",
        c->default_expr ? c->default_expr : "");
    if (name && strcmp(name, c->name) == 0)
      out(&b, &failed, "; from = %s   (the same name: matched without this line)\n",
          ini_value(name, qbuf, sizeof(qbuf)));
    else if (name)
      out(&b, &failed, "from = %s\n", ini_value(name, qbuf, sizeof(qbuf)));
    else if (c->notnull && !c->default_expr && !c->identity) {
      out(&b, &failed, "; ERROR: no CSV column feeds this NOT NULL column and it has no "
                       "DEFAULT: every record would be rejected.\n"
                       "; Name its CSV column (from = ..., and take it out of ignore) or give "
                       "a value (coalesce = 'value'), then delete the line from = ?\n");
      out(&b, &failed, "; CSV columns matched to nothing:");
      for (int k = 0, any = 0; k < ncsv; k++)
        if (!used[k])
          out(&b, &failed, "%s %s", any++ ? "," : "", cs_reader_column(rd, k));
      out(&b, &failed, "\nfrom = ?\n");
    } else {
      out(&b, &failed, "; no CSV column: %s\n",
          c->default_expr || c->identity ? "its DEFAULT" : "NULL");
    }
    if (name && c->default_expr && !c->identity)
      out(&b, &failed, "%scoalesce = DEFAULT   ; a blank value takes the DEFAULT%s\n",
          c->notnull ? "; " : "", c->notnull ? " (NOT NULL: csvstage does so already)" : "");
    if (name && !c->notnull)
      out(&b, &failed, "; nullif = \"\", \"N/A\"   ; values that mean NULL\n");
  }
  if (failed) {
    rc = cs_fail(err, CSVSTAGE_E_NOMEM, "out of memory");
    goto done;
  }
  *text = b.data;
  b.data = NULL;
done:
  free(b.data);
  free(src);
  free(used);
  cs_reader_free(rd);
  cs_input_close(in);
  cs_table_free(t);
  return rc;
}
