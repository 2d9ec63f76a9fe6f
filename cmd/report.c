/* report.c: summaries and errors, worded for people and for editors
 * (FILE:LINE: message lines jump to the record). */
#include <config.h>

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "report.h"

/* PostgreSQL's condition names for the SQLSTATEs rejects usually carry. */
static const char *
condition_name(const char *sqlstate)
{
  static const struct { const char *code, *name; } names[] = {
    {"22001", "string_data_right_truncation"},
    {"22003", "numeric_value_out_of_range"},
    {"22007", "invalid_datetime_format"},
    {"22008", "datetime_field_overflow"},
    {"22021", "character_not_in_repertoire"},
    {"22P02", "invalid_text_representation"},
    {"22P04", "bad_copy_file_format"},
    {"23502", "not_null_violation"},
    {"23503", "foreign_key_violation"},
    {"23505", "unique_violation"},
    {"23514", "check_violation"},
    {"23P01", "exclusion_violation"},
    {"54000", "program_limit_exceeded"},
    {"P0001", "raise_exception"},
  };

  for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
    if (strcmp(names[i].code, sqlstate) == 0)
      return names[i].name;
  return "";
}

/* One kind of reject: its count, SQLSTATE and condition name, and column or
 * constraint; padded into columns on a terminal, single-spaced in a log. */
static void
put_group(FILE *out, const csvstage_reject_group *g, int log)
{
  const char *name = condition_name(g->sqlstate), *gap = log ? " " : "  ";

  fprintf(out, log ? "%lld %s%s%s" : "%8lld  %s%s%s", g->count, g->sqlstate, *name ? " " : "",
          name);
  if (*g->column)
    fprintf(out, "%scolumn %s", gap, g->column);
  if (*g->constraint)
    fprintf(out, "%sconstraint %s", gap, g->constraint);
}

/* Where stderr is not a terminal (cron, a log file), every event is one
 * line that starts with its time, and nothing is drawn. */
static int log_mode = -1;

static int
logging(FILE *out)
{
  if (log_mode < 0)
    log_mode = !isatty(fileno(out));
  return log_mode;
}

/* "2026-11-22T03:42:46Z " in log mode, nothing on a terminal. */
static void
stamp(FILE *out)
{
  char buf[32];
  time_t now = time(NULL);
  struct tm tm;

  if (!logging(out))
    return;
  gmtime_r(&now, &tm);
  strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%SZ ", &tm);
  fputs(buf, out);
}

void
report_line(FILE *out, const char *fmt, ...)
{
  va_list ap;

  stamp(out);
  va_start(ap, fmt);
  vfprintf(out, fmt, ap);
  va_end(ap);
  fputc('\n', out);
}

void
report_result(FILE *out, const csvstage_result *res, int verbosity)
{
  const char *file = strcmp(res->file, "-") == 0 ? "stdin" : res->file;
  double rate = res->elapsed_s > 0 ? (double)res->records / res->elapsed_s : 0;
  int log = logging(out);
  /* On a terminal: a line, then the details indented below it; in a log:
   * the details on the same line, after "; ". */
  const char *sep = log ? "; " : "\n  ";
  char mode[32] = "";

  /* A load that replaced the table's old rows says so. */
  if (res->mode[0] && strcmp(res->mode, "append") != 0)
    snprintf(mode, sizeof(mode), " (%s)", res->mode);
  if (verbosity < 0)
    return;
  if (res->skipped) {
    report_line(out, "csvstage: %s -> %s: already loaded on %s (sha256 %.12s...): skipped; "
                "--force loads it again", file, res->table, res->loaded_before, res->sha256);
    return;
  }
  stamp(out);
  /* A decimal for slow rates: a few huge records are not "0 records/s". */
  fprintf(out, "csvstage: %s -> %s%s: %lld record%s, %lld %s, %lld rejected",
          file, res->table[0] ? res->table : "?", mode, res->records,
          res->records == 1 ? "" : "s", res->loaded,
          res->dry_run ? "would load" : res->committed ? "loaded"
          : res->pending ? "loaded (in at the run's COMMIT)" : "rolled back",
          res->rejected);
  if (res->dropped > 0)
    fprintf(out, ", %lld dropped by a trigger", res->dropped);
  if (res->skipped_lines > 0)
    fprintf(out, ", %lld preamble line%s skipped", res->skipped_lines,
            res->skipped_lines == 1 ? "" : "s");
  if (res->comment_lines > 0)
    fprintf(out, ", %lld comment line%s skipped", res->comment_lines,
            res->comment_lines == 1 ? "" : "s");
  fprintf(out, ", %.2f s (%.*f records/s)%s", res->elapsed_s, rate < 10 ? 1 : 0, rate,
          res->dry_run ? " [dry run: rolled back]" : "");
  for (int i = 0; i < res->ngroups; i++) {
    fputs(sep, out);
    put_group(out, &res->groups[i], log);
  }
  if (res->other_rejects > 0)
    fprintf(out, log ? "%s%lld of other kinds" : "%s%8lld  of other kinds", sep,
            res->other_rejects);
  if (res->reject_file[0])
    fprintf(out, "%sreject file: %s", sep, res->reject_file);
  if (res->commit_rechecked)
    fprintf(out, "%sthe connection was lost during COMMIT; a new one found it committed", sep);
  if (res->note[0])
    fprintf(out, "%snote: %s", sep, res->note);
  if (verbosity > 0 && res->staged > 0)
    fprintf(out, "%s%lld records took the staging path (doubtful, or refused by the "
                 "server), %lld of them tried one by one; the others went straight in", sep,
            res->staged, res->one_by_one);
  if (verbosity > 0 && res->reordered)
    fprintf(out, "%snote: a key conflict may have come out of file order (a key csvstage "
                 "cannot compare on the client): the file was settled again, record by "
                 "record, in file order (same result as always, slower)", sep);
  else if (verbosity > 0 && res->row_by_row)
    fprintf(out, "%snote: an error that csvstage could not foresee made it insert "
                 "record by record (same result, slower)", sep);
  fputc('\n', out);
  for (int i = 0; i < res->nfirst; i++)
    report_line(out, "%s:%lld: %s", file, res->first[i].line, res->first[i].message);
  if (res->rejected > res->nfirst && res->nfirst > 0)
    report_line(out, "... %lld more in %s", res->rejected - res->nfirst,
                res->reject_file[0] ? res->reject_file : "the reject file");
}

/* s as one shell word: as it is when it holds only safe characters, else
 * in single quotes ('\'' for a quote). */
static void
put_shell_word(FILE *out, const char *s)
{
  if (*s && strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
                      "_./,:=@%+-") == strlen(s)) {
    fputs(s, out);
    return;
  }
  fputc('\'', out);
  for (; *s; s++) {
    if (*s == '\'')
      fputs("'\\''", out);
    else
      fputc(*s, out);
  }
  fputc('\'', out);
}

void
report_review(FILE *out, const char *path, const csvstage_review *rv, const char *config,
              const char *table)
{
  fprintf(out, "%s: %lld rejected record%s\n", path, rv->records, rv->records == 1 ? "" : "s");
  if (rv->records == 0)
    return;
  fprintf(out, "\nBy kind:\n");
  for (int i = 0; i < rv->ngroups; i++) {
    fputs("  ", out);
    put_group(out, &rv->groups[i], 0);
    fputc('\n', out);
  }
  if (rv->other_rejects > 0)
    fprintf(out, "  %8lld  of other kinds\n", rv->other_rejects);
  fprintf(out, "\nMost common messages (with the first lines that have them):\n");
  for (int i = 0; i < rv->nmessages; i++) {
    const csvstage_review_message *m = &rv->messages[i];
    fprintf(out, "  %8lld  %s\n            line%s", m->count, m->message,
            m->nlines > 1 ? "s" : "");
    for (int j = 0; j < m->nlines; j++)
      fprintf(out, "%s %lld", j ? "," : "", m->lines[j]);
    fprintf(out, "%s\n", m->count > m->nlines ? ", ..." : "");
  }
  if (rv->other_messages > 0)
    fprintf(out, "  %8lld  with other messages\n", rv->other_messages);
  if (rv->nfixes > 0) {
    fprintf(out, "\nWritten in a way a config would read (tried on the rejected values):\n");
    for (int i = 0; i < rv->nfixes; i++) {
      const csvstage_review_fix *x = &rv->fixes[i];
      const char *k = x->keys;
      fprintf(out, "  %s   ; reads %lld of column %s's %lld rejected values\n", x->section,
              x->takes, x->column, x->of);
      while (*k) {
        const char *nl = strchr(k, '\n');
        int len = nl ? (int)(nl - k) : (int)strlen(k);
        fprintf(out, "  %.*s\n", len, k);
        k += len + (nl != NULL);
      }
    }
  }
  /* A command that runs as printed: the table the config or -t names. */
  fprintf(out, "\nFix the records in %s (its _ columns are ignored on loading), then load "
               "it again:\n  csvstage", path);
  if (config) {
    fputs(" -c ", out);
    put_shell_word(out, config);
  }
  fputs(" -t ", out);
  put_shell_word(out, table ? table : "TABLE");
  fputc(' ', out);
  put_shell_word(out, path);
  fputc('\n', out);
  if (!table)
    fprintf(out, "  (TABLE: the table to load; neither -t nor the config names it)\n");
}

/* 1234567 -> "1.2 MB" */
static const char *
human_bytes(long long n, char *buf, size_t size)
{
  if (n >= 10LL << 30)
    snprintf(buf, size, "%.1f GB", (double)n / (1 << 30));
  else if (n >= 10LL << 20)
    snprintf(buf, size, "%.1f MB", (double)n / (1 << 20));
  else
    snprintf(buf, size, "%.1f kB", (double)n / 1024);
  return buf;
}

void
report_progress(const csvstage_progress *p, void *arg)
{
  FILE *out = arg;
  char read[32], size[32], eta[32] = "";
  double rate = p->elapsed_s > 0 ? (double)p->records / p->elapsed_s : 0;

  if (logging(out))
    return;
  if (p->done) {
    fputs("\r\033[K", out);   /* the summary takes its place */
    fflush(out);
    return;
  }
  human_bytes(p->bytes, read, sizeof(read));
  if (p->size > 0 && p->bytes > 0) {
    double left = p->elapsed_s * (double)(p->size - p->bytes) / (double)p->bytes;
    snprintf(eta, sizeof(eta), ", ETA %.0f s", left);
    fprintf(out, "\r\033[K%s: %.0f%% (%s of %s), %.0f records/s, %lld rejected so far%s",
            strcmp(p->file, "-") == 0 ? "stdin" : p->file,
            100.0 * (double)p->bytes / (double)p->size, read,
            human_bytes(p->size, size, sizeof(size)), rate, p->rejects, eta);
  } else {
    fprintf(out, "\r\033[K%s: %s, %.0f records/s, %lld rejected so far",
            strcmp(p->file, "-") == 0 ? "stdin" : p->file, read, rate, p->rejects);
  }
  fflush(out);
}

void
report_error(FILE *out, const csvstage_error *err)
{
  const char *msg = err->message[0] ? err->message : csvstage_strerror(err->code);

  if (logging(out)) {
    /* One line: libpq's DETAIL can hold a newline and a tab. */
    char detail[sizeof(err->detail)];
    size_t k = 0;
    for (const char *p = err->detail; *p && k + 1 < sizeof(detail); p++) {
      if (*p == '\n' || *p == '\t' || *p == '\r') {
        if (k > 0 && detail[k - 1] != ' ')
          detail[k++] = ' ';
      } else {
        detail[k++] = *p;
      }
    }
    detail[k] = '\0';
    report_line(out, "csvstage: %s%s%s%s%s", msg, detail[0] ? "; DETAIL: " : "", detail,
                err->hint[0] ? "; HINT: " : "", err->hint);
    return;
  }
  fprintf(out, "csvstage: %s\n", msg);
  if (err->detail[0])
    fprintf(out, "DETAIL:  %s\n", err->detail);
  if (err->hint[0])
    fprintf(out, "HINT:  %s\n", err->hint);
}
