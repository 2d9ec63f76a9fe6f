/* summary.c: --summary-json, for scripts and monitoring: per file what
 * happened, in the same numbers the terminal summary shows. */
#include <config.h>

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "summary.h"

struct summary {
  json_object *files;
};

summary *
summary_new(void)
{
  summary *s = calloc(1, sizeof(*s));

  if (!s || !(s->files = json_object_new_array())) {
    free(s);
    return NULL;
  }
  return s;
}

void
summary_free(summary *s)
{
  if (!s)
    return;
  json_object_put(s->files);
  free(s);
}

/* ISO 8601 in UTC, to the millisecond: 2026-11-22T03:41:13.250Z */
static json_object *
timestamp(const struct timespec *ts)
{
  struct tm tm;
  char buf[64], out[80];

  gmtime_r(&ts->tv_sec, &tm);
  strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%S", &tm);
  snprintf(out, sizeof(out), "%s.%03ldZ", buf, ts->tv_nsec / 1000000);
  return json_object_new_string(out);
}

static void
put(json_object *o, const char *key, json_object *v)
{
  json_object_object_add(o, key, v);
}

void
summary_add(summary *s, const csvstage_result *res, csvstage_code rc,
            const csvstage_error *err, int exit_code, const struct timespec *started,
            const struct timespec *finished)
{
  json_object *f = json_object_new_object(), *by = json_object_new_object();
  int failed = rc != CSVSTAGE_OK && rc != CSVSTAGE_E_REJECTS;

  if (!f || !by) {
    json_object_put(f);
    json_object_put(by);
    return;
  }
  /* Rejects by SQLSTATE: the result's groups (by SQLSTATE and column or
   * constraint) added up; kinds beyond its table as "other". */
  for (int i = 0; i < res->ngroups; i++) {
    json_object *n = NULL;
    long long count = res->groups[i].count;
    if (json_object_object_get_ex(by, res->groups[i].sqlstate, &n))
      count += json_object_get_int64(n);
    put(by, res->groups[i].sqlstate, json_object_new_int64(count));
  }
  if (res->other_rejects > 0)
    put(by, "other", json_object_new_int64(res->other_rejects));
  put(f, "file", json_object_new_string(strcmp(res->file, "-") == 0 ? "stdin" : res->file));
  put(f, "table", res->table[0] ? json_object_new_string(res->table) : NULL);
  put(f, "records", json_object_new_int64(res->records));
  put(f, "loaded", json_object_new_int64(res->loaded));
  put(f, "rejected", json_object_new_int64(res->rejected));
  put(f, "dropped", json_object_new_int64(res->dropped));
  put(f, "inserted", json_object_new_int64(res->inserted));
  put(f, "updated", json_object_new_int64(res->updated));
  put(f, "ignored", json_object_new_int64(res->ignored));
  put(f, "comment_lines", json_object_new_int64(res->comment_lines));
  put(f, "skipped_lines", json_object_new_int64(res->skipped_lines));
  put(f, "mode", json_object_new_string(res->mode[0] ? res->mode : "append"));
  put(f, "stopped_at_line", res->stopped_at > 0 ? json_object_new_int64(res->stopped_at) : NULL);
  put(f, "rejects_by_sqlstate", by);
  put(f, "reject_file", res->reject_file[0] ? json_object_new_string(res->reject_file) : NULL);
  put(f, "committed", json_object_new_boolean(res->committed));
  put(f, "dry_run", json_object_new_boolean(res->dry_run));
  put(f, "skipped", json_object_new_boolean(res->skipped));
  put(f, "sha256", res->sha256[0] ? json_object_new_string(res->sha256) : NULL);
  put(f, "exit_code", json_object_new_int(exit_code));
  put(f, "error", failed || rc == CSVSTAGE_E_REJECTS
                  ? json_object_new_string(err->message) : NULL);
  put(f, "sqlstate", failed && err->sqlstate[0] ? json_object_new_string(err->sqlstate) : NULL);
  put(f, "started_at", timestamp(started));
  put(f, "finished_at", timestamp(finished));
  {
    char ms[32];
    snprintf(ms, sizeof(ms), "%.3f", res->elapsed_s);
    put(f, "elapsed_s", json_object_new_double_s(res->elapsed_s, ms));
  }
  put(f, "bytes", json_object_new_int64(res->bytes));
  /* Lost during COMMIT, no server to ask: committed is false, but it may
   * be in (the error says how to find out). */
  put(f, "outcome_unknown", json_object_new_boolean(res->outcome_unknown));
  json_object_array_add(s->files, f);
}

void
summary_set_committed(summary *s, int committed, int unknown)
{
  size_t n = json_object_array_length(s->files);

  for (size_t i = 0; i < n; i++) {
    json_object *f = json_object_array_get_idx(s->files, i), *ok = NULL;
    json_object_object_get_ex(f, "exit_code", &ok);
    /* A file that failed was rolled back to its savepoint whatever the end. */
    if (ok && json_object_get_int(ok) != 0 && json_object_get_int(ok) != 3)
      continue;
    json_object_object_add(f, "committed", json_object_new_boolean(committed));
    json_object_object_add(f, "outcome_unknown", json_object_new_boolean(unknown));
  }
}

int
summary_write(summary *s, const char *path, int exit_code, char *why, size_t whysize)
{
  json_object *doc = json_object_new_object();
  const char *text;
  FILE *out;
  int rc = 0;

  if (!doc) {
    snprintf(why, whysize, "out of memory");
    return -1;
  }
  put(doc, "exit_code", json_object_new_int(exit_code));
  put(doc, "files", json_object_get(s->files));
  text = json_object_to_json_string_ext(doc, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_NOSLASHESCAPE);
  out = strcmp(path, "-") == 0 ? stdout : fopen(path, "w");
  if (!out) {
    snprintf(why, whysize, "%s: %s", path, strerror(errno));
    json_object_put(doc);
    return -1;
  }
  if (fprintf(out, "%s\n", text) < 0 || (out == stdout ? fflush(out) : fclose(out)) != 0) {
    snprintf(why, whysize, "%s: %s", path, strerror(errno));
    rc = -1;
  }
  json_object_put(doc);
  return rc;
}
