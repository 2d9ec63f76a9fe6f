/* report.c: summaries and errors, worded for people and for editors
 * (FILE:LINE: message lines jump to the record). */
#include <config.h>

#include <stdio.h>
#include <string.h>

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

void
report_result(FILE *out, const csvstage_result *res, int verbosity)
{
  const char *file = strcmp(res->file, "-") == 0 ? "stdin" : res->file;
  double rate = res->elapsed_s > 0 ? (double)res->records / res->elapsed_s : 0;

  if (verbosity < 0)
    return;
  fprintf(out, "csvstage: %s -> %s: %lld record%s, %lld %s, %lld rejected, "
          "%.2f s (%.0f records/s)%s\n",
          file, res->table[0] ? res->table : "?", res->records,
          res->records == 1 ? "" : "s", res->loaded,
          res->dry_run ? "would load" : res->committed ? "loaded" : "rolled back",
          res->rejected, res->elapsed_s, rate,
          res->dry_run ? " [dry run: rolled back]" : "");
  for (int i = 0; i < res->ngroups; i++) {
    const csvstage_reject_group *g = &res->groups[i];
    const char *name = condition_name(g->sqlstate);
    fprintf(out, "  %8lld  %s%s%s%s%s%s%s\n", g->count, g->sqlstate,
            *name ? " " : "", name, *g->column ? "  column " : "", g->column,
            *g->constraint ? "  constraint " : "", g->constraint);
  }
  if (res->other_rejects > 0)
    fprintf(out, "  %8lld  of other kinds\n", res->other_rejects);
  if (res->reject_file[0])
    fprintf(out, "  reject file: %s\n", res->reject_file);
  if (verbosity > 0 && res->staged > 0)
    fprintf(out, "  %lld records took the staging path (doubtful, or refused by the "
                 "server); the others went straight in\n", res->staged);
  if (verbosity > 0 && res->row_by_row)
    fprintf(out, "  note: an error that csvstage could not foresee made it insert "
                 "record by record (same result, slower)\n");
  for (int i = 0; i < res->nfirst; i++)
    fprintf(out, "%s:%lld: %s\n", file, res->first[i].line, res->first[i].message);
  if (res->rejected > res->nfirst && res->nfirst > 0)
    fprintf(out, "... %lld more in %s\n", res->rejected - res->nfirst,
            res->reject_file[0] ? res->reject_file : "the reject file");
}

void
report_error(FILE *out, const csvstage_error *err)
{
  fprintf(out, "csvstage: %s\n", err->message[0] ? err->message
                                                 : csvstage_strerror(err->code));
  if (err->detail[0])
    fprintf(out, "DETAIL:  %s\n", err->detail);
  if (err->hint[0])
    fprintf(out, "HINT:  %s\n", err->hint);
}
