/* html.c: reject files as one self-contained HTML page for the operator
 * who reviews them (csvstage rejects --html OUT FILE...): the counts, the
 * kinds of rejects as a bar chart, and every rejected record with its
 * offending field marked, to filter by kind and search.
 *
 * Everything in a reject file is untrusted input: every byte of it reaches
 * the page through put_text, which escapes it; the script reads the page,
 * never the data, so no value is ever written into script text. */
#include <config.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "error.h"
#include "fixes.h"
#include "input.h"
#include "reader.h"
#include "rejects.h"
#include "settings.h"

/* Rows written per file: a page past that is no longer one to read. */
#define HTML_ROWS 20000

static void
put_text(FILE *out, const char *s, size_t n)
{
  for (size_t i = 0; i < n; i++) {
    switch (s[i]) {
    case '&': fputs("&amp;", out); break;
    case '<': fputs("&lt;", out); break;
    case '>': fputs("&gt;", out); break;
    case '"': fputs("&quot;", out); break;
    case '\'': fputs("&#39;", out); break;
    default: fputc(s[i], out);
    }
  }
}

static void
put_str(FILE *out, const char *s)
{
  put_text(out, s, strlen(s));
}

/* The kind of a reject, as the page labels it: "23505 email" or
 * "23514 constraint orders_amount_check". */
static void
kind_label(char *buf, size_t n, const char *sqlstate, const char *column, const char *constraint)
{
  if (column[0])
    snprintf(buf, n, "%s column %s", sqlstate, column);
  else if (constraint[0])
    snprintf(buf, n, "%s constraint %s", sqlstate, constraint);
  else
    snprintf(buf, n, "%s", sqlstate);
}

/* The page's charset for the file's encoding (the reject file keeps the
 * input's bytes). */
static const char *
charset(const char *encoding)
{
  static const struct { const char *pg, *html; } names[] = {
    {"UTF8", "utf-8"}, {"UTF-8", "utf-8"}, {"LATIN1", "iso-8859-1"}, {"LATIN9", "iso-8859-15"},
    {"WIN1252", "windows-1252"}, {"WIN1250", "windows-1250"}, {"WIN1251", "windows-1251"},
    {"LATIN2", "iso-8859-2"}, {"SJIS", "shift_jis"}, {"EUC_JP", "euc-jp"}, {"GBK", "gbk"},
    {"BIG5", "big5"}, {"KOI8R", "koi8-r"},
  };

  for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
    if (strcasecmp(encoding, names[i].pg) == 0)
      return names[i].html;
  return "utf-8";
}

static const char STYLE[] =
  "body{font:14px/1.4 system-ui,sans-serif;margin:1.5em;color:#222}"
  "h1{font-size:1.4em}h2{font-size:1.1em;margin-top:1.5em}"
  "table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:2px 6px;"
  "vertical-align:top;text-align:left}th{background:#f3f3f3}"
  "table.rec td,table.rec th{border-color:#e4e4e4;font-family:monospace}"
  "td.bad{background:#fdd;outline:2px solid #c00}pre.raw{margin:0;background:#fff3cd;"
  "white-space:pre-wrap}.controls{margin:1em 0}.null{color:#999;font-style:italic}"
  "svg text{font:12px system-ui,sans-serif}pre.fix{background:#eef6ee;padding:4px 8px;"
  "display:inline-block}";

/* Filter by kind and search: hides the rows that do not match, and says
 * how many are shown; page.html#kind=K&q=TEXT opens it filtered (a link to
 * send). Reads only the page and its address. */
static const char SCRIPT[] =
  "(function(){var k=document.getElementById('kind'),q=document.getElementById('q'),"
  "n=document.getElementById('shown'),rows=document.querySelectorAll('tr.r');"
  "function f(){var kv=k.value,qv=q.value.toLowerCase(),c=0;"
  "for(var i=0;i<rows.length;i++){var r=rows[i],"
  "ok=(!kv||r.getAttribute('data-kind')===kv)&&(!qv||r.textContent.toLowerCase().indexOf(qv)>=0);"
  "r.style.display=ok?'':'none';if(ok)c++;}n.textContent=c;}"
  "var h=new URLSearchParams(location.hash.slice(1));"
  "if(h.has('kind'))k.value=h.get('kind');if(h.has('q'))q.value=h.get('q');"
  "k.addEventListener('change',f);q.addEventListener('input',f);f();})();";

typedef struct report_file {
  const char *path;
  csvstage_review rv;
} report_file;

/* The bar chart of one file's kinds, inline SVG. */
static void
put_chart(FILE *out, const csvstage_review *rv)
{
  long long most = 1;
  int h = 22, width = 420, label = 330;

  for (int i = 0; i < rv->ngroups; i++)
    if (rv->groups[i].count > most)
      most = rv->groups[i].count;
  fprintf(out, "<svg class=\"chart\" role=\"img\" width=\"%d\" height=\"%d\">", label + width + 80,
          h * (rv->ngroups + (rv->other_rejects > 0)) + 4);
  for (int i = 0; i < rv->ngroups + (rv->other_rejects > 0); i++) {
    char kind[512];
    long long count = i < rv->ngroups ? rv->groups[i].count : rv->other_rejects;
    int w = (int)((double)width * (double)count / (double)most);
    if (i < rv->ngroups)
      kind_label(kind, sizeof(kind), rv->groups[i].sqlstate, rv->groups[i].column,
                 rv->groups[i].constraint);
    else
      snprintf(kind, sizeof(kind), "other kinds");
    fprintf(out, "<g><text x=\"0\" y=\"%d\">", h * i + 15);
    put_str(out, kind);
    fprintf(out, "</text><rect x=\"%d\" y=\"%d\" width=\"%d\" height=\"16\" fill=\"#c0392b\"/>"
            "<text x=\"%d\" y=\"%d\">%lld</text></g>", label, h * i + 3, w < 1 ? 1 : w,
            label + (w < 1 ? 1 : w) + 6, h * i + 15, count);
  }
  fputs("</svg>\n", out);
}

/* One file's rows. Returns 0, or -1 with err filled. */
/* Whether the header's column feeds one of a reject's constraint's table
 * columns: those its DETAIL names as the key ("Key (a, b)=(...)": unique,
 * foreign key and exclusion violations), or the column of a CHECK named
 * as PostgreSQL names one itself (TABLE_COLUMN_check). */
static int
in_constraint(const csvstage_settings *settings, const char *header, const char *constraint,
              const char *detail, size_t dlen)
{
  char names[512], col[128];

  if (detail && dlen > 5 && strncmp(detail, "Key (", 5) == 0) {
    const char *end = memchr(detail, ')', dlen);
    size_t n = end ? (size_t)(end - detail - 5) : 0;
    if (!end || n >= sizeof(names) || end + 1 >= detail + dlen || end[1] != '=')
      return 0;
    memcpy(names, detail + 5, n);
    names[n] = '\0';
    for (char *p = names, *next; p; p = next) {
      next = strstr(p, ", ");
      if (next)
        *next = '\0', next += 2;
      size_t len = strlen(p);
      if (len >= 2 && p[0] == '"' && p[len - 1] == '"') {   /* a quoted name */
        size_t o = 0;
        for (size_t k = 1; k + 1 < len && o + 1 < sizeof(col); k++) {
          col[o++] = p[k];
          if (p[k] == '"' && p[k + 1] == '"')
            k++;
        }
        col[o] = '\0';
      } else {
        snprintf(col, sizeof(col), "%s", p);
      }
      if (cs_header_feeds(settings, header, col))
        return 1;
    }
    return 0;
  }
  size_t len = strlen(constraint);
  if (len > 6 && strcmp(constraint + len - 6, "_check") == 0) {
    for (size_t k = 0; k + 6 < len; k++) {
      if (constraint[k] != '_')
        continue;
      snprintf(col, sizeof(col), "%.*s", (int)(len - 6 - k - 1), constraint + k + 1);
      if (col[0] && cs_header_feeds(settings, header, col))
        return 1;
    }
  }
  return 0;
}

static int
put_rows(FILE *out, const csvstage_settings *settings, const report_file *rf, int nth,
         csvstage_error *err)
{
  cs_input *in = cs_input_open(rf->path, err);
  cs_reader *rd = NULL;
  cs_reader_opts o;
  cs_record rec;
  long long written = 0;
  int more, rc = -1, ncols;

  if (!in)
    return -1;
  cs_settings_reader_opts(settings, &o);
  o.encoding = "SQL_ASCII";   /* the bytes as they came (review.c reads them so too) */
  if (!(rd = cs_reader_open(in, &o, err)))
    goto out;
  ncols = cs_reader_ncolumns(rd);
  while ((more = cs_reader_next(rd, &rec, err)) == 1 && written < HTML_ROWS) {
    char kind[512], sqlstate[6] = "", column[128] = "", constraint[128] = "";
    int raw = ncols - 1;
    if (rec.kind != CS_RECORD_DATA || rec.nfields < 7)
      continue;   /* review.c has said what is wrong with such a file */
    snprintf(sqlstate, sizeof(sqlstate), "%.*s", (int)rec.len[1], rec.field[1] ? rec.field[1] : "");
    snprintf(column, sizeof(column), "%.*s", (int)rec.len[2], rec.field[2] ? rec.field[2] : "");
    snprintf(constraint, sizeof(constraint), "%.*s", (int)rec.len[3],
             rec.field[3] ? rec.field[3] : "");
    kind_label(kind, sizeof(kind), sqlstate, column, constraint);
    fputs("<tr class=\"r\" data-kind=\"", out);
    put_str(out, kind);
    fprintf(out, "\" data-file=\"%d\"><td>", nth);
    put_str(out, rf->path);
    fputs("</td><td class=\"line\">", out);
    put_text(out, rec.field[0], rec.len[0]);
    fputs("</td><td class=\"state\">", out);
    put_str(out, sqlstate);
    fputs("</td><td class=\"msg\">", out);
    if (rec.field[4])
      put_text(out, rec.field[4], rec.len[4]);
    fputs("</td><td class=\"detail\">", out);
    if (rec.field[5])
      put_text(out, rec.field[5], rec.len[5]);
    fputs("</td><td>", out);
    if (raw < rec.nfields && rec.field[raw] && rec.len[raw] > 0) {
      /* a malformed record: its raw text is all there is */
      fputs("<pre class=\"raw\">", out);
      put_text(out, rec.field[raw], rec.len[raw]);
      fputs("</pre>", out);
    } else {
      fputs("<table class=\"rec\"><tr>", out);
      for (int i = 6; i < raw; i++) {
        fputs("<th>", out);
        put_str(out, cs_reader_column(rd, i));
        fputs("</th>", out);
      }
      fputs("</tr><tr>", out);
      for (int i = 6; i < raw; i++) {
        int bad = column[0] ? cs_header_feeds(settings, cs_reader_column(rd, i), column)
                            : in_constraint(settings, cs_reader_column(rd, i), constraint,
                                            rec.field[5], rec.len[5]);
        fputs(bad ? "<td class=\"bad\">" : "<td>", out);
        if (i >= rec.nfields || !rec.field[i])
          fputs("<span class=\"null\">NULL</span>", out);
        else
          put_text(out, rec.field[i], rec.len[i]);
        fputs("</td>", out);
      }
      fputs("</tr></table>", out);
    }
    fputs("</td></tr>\n", out);
    written++;
  }
  if (more < 0)
    goto out;
  rc = 0;
out:
  cs_reader_free(rd);
  cs_input_close(in);
  return rc;
}

csvstage_code
csvstage_rejects_html(const csvstage_settings *settings, const char *const *paths, int npaths,
                      FILE *out, csvstage_error *err)
{
  report_file *files = calloc((size_t)(npaths > 0 ? npaths : 1), sizeof(*files));
  long long total = 0, shown = 0;
  csvstage_code rc;

  if (!files)
    return cs_fail(err, CSVSTAGE_E_NOMEM, "out of memory");
  for (int i = 0; i < npaths; i++) {
    files[i].path = paths[i];
    if ((rc = csvstage_review_rejects(settings, paths[i], &files[i].rv, err)) != CSVSTAGE_OK) {
      free(files);
      return rc;
    }
    total += files[i].rv.records;
    shown += files[i].rv.records < HTML_ROWS ? files[i].rv.records : HTML_ROWS;
  }
  fprintf(out, "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"%s\">"
          "<meta name=\"viewport\" content=\"width=device-width\">"
          "<title>csvstage rejects</title><style>%s</style></head><body>\n",
          charset(settings->encoding), STYLE);
  fprintf(out, "<h1>Rejected records</h1>\n<p id=\"counts\"><span id=\"total\">%lld</span> "
          "rejected records in %d file%s.</p>\n", total, npaths, npaths == 1 ? "" : "s");
  for (int i = 0; i < npaths; i++) {
    fputs("<h2>", out);
    put_str(out, paths[i]);
    fprintf(out, ": %lld rejected</h2>\n", files[i].rv.records);
    put_chart(out, &files[i].rv);
    for (int x = 0; x < files[i].rv.nfixes; x++) {
      const csvstage_review_fix *fx = &files[i].rv.fixes[x];
      fprintf(out, "<p class=\"fix\">Written in a way a config would read: %lld of column ",
              fx->takes);
      put_str(out, fx->column);
      fprintf(out, "'s %lld rejected values read with</p><pre class=\"fix\">", fx->of);
      put_str(out, fx->section);
      fputc('\n', out);
      put_str(out, fx->keys);
      fputs("</pre>\n", out);
    }
  }
  fputs("<div class=\"controls\"><label>Kind <select id=\"kind\"><option value=\"\">all kinds"
        "</option>", out);
  for (int i = 0; i < npaths; i++) {
    for (int g = 0; g < files[i].rv.ngroups; g++) {
      const csvstage_reject_group *gr = &files[i].rv.groups[g];
      char kind[512];
      int seen = 0;
      kind_label(kind, sizeof(kind), gr->sqlstate, gr->column, gr->constraint);
      for (int j = 0; j <= i && !seen; j++)   /* each kind once, across the files */
        for (int h = 0; h < (j < i ? files[j].rv.ngroups : g) && !seen; h++) {
          char other[512];
          const csvstage_reject_group *o = &files[j].rv.groups[h];
          kind_label(other, sizeof(other), o->sqlstate, o->column, o->constraint);
          seen = strcmp(kind, other) == 0;
        }
      if (seen)
        continue;
      fputs("<option value=\"", out);
      put_str(out, kind);
      fputs("\">", out);
      put_str(out, kind);
      fputs("</option>", out);
    }
  }
  fprintf(out, "</select></label> <label>Search <input id=\"q\" type=\"search\"></label> "
          "<span id=\"shown\">%lld</span> shown", shown);
  if (shown < total)
    fprintf(out, " (the first %d of each file)", HTML_ROWS);
  fputs("</div>\n<table id=\"rows\"><thead><tr><th>file</th><th>line</th><th>SQLSTATE</th>"
        "<th>message</th><th>detail</th><th>record</th></tr></thead><tbody>\n", out);
  for (int i = 0; i < npaths; i++) {
    if (put_rows(out, settings, &files[i], i, err)) {
      free(files);
      return err->code;
    }
  }
  fprintf(out, "</tbody></table>\n<script>%s</script>\n</body></html>\n", SCRIPT);
  free(files);
  if (ferror(out))
    return cs_fail(err, CSVSTAGE_E_IO, "cannot write the page");
  return CSVSTAGE_OK;
}
