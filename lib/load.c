/*
 * load.c: one file, one transaction: preflight, the records read and sent
 * on their way, the careful path for the doubtful ones, the accounting,
 * then commit or roll back. The pieces live in files of their own:
 *
 *   input.c    file or stdin, gzip or plain; reader.c: bytes to records
 *   plan.c     the mapping rules and the catalog into the per-column plan
 *   lock.c     one run per table; ledger.c: no content loaded twice
 *   direct.c   the fast path: what the client can vouch for, by COPY
 *              straight into the table, the rest set aside
 *   settle.c   the careful path for the records set aside, in file order
 *              (predict.c marks the doubtful, expr.c writes their values)
 *   tally.c    the rejects counted for the summary; rejects.c the file
 *   session.c  the connection and COMMIT with its recheck; sql.c the SQL
 *
 * A bare COPY's speed is the target, and most files are mostly clean; the
 * promise is that the load ends as if every record had been inserted
 * alone, in file order, each in its own savepoint (README).
 */
#include <config.h>

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <libpq-fe.h>

#include "catalog.h"
#include "direct.h"
#include "plan.h"
#include "settings.h"
#include "copyenc.h"
#include "error.h"
#include "input.h"
#include "ledger.h"
#include "lock.h"
#include "mode.h"
#include "pg.h"
#include "reader.h"
#include "rejects.h"
#include "session.h"
#include "settle.h"
#include "sql.h"
#include "tally.h"

static double
now_s(void)
{
  struct timespec ts;

  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Calls the session's progress function: every 4096 records at most once
 * per 100 ms, and at the end (done). */
static void
progress(plan *p, cs_input *in, cs_reader *rd, const char *path, double t0, int done,
         double *last)
{
  csvstage_progress pr;
  cs_reader_stats st;
  double now;

  if (!p->session->progress)
    return;
  now = now_s();
  if (!done && now - *last < 0.1)
    return;
  *last = now;
  cs_reader_get_stats(rd, &st);
  pr.file = path && *path ? path : "-";
  pr.bytes = cs_input_position(in);
  pr.size = cs_input_size(in);
  pr.records = st.records;
  pr.rejects = st.rejects;
  pr.elapsed_s = now - t0;
  pr.done = done;
  p->session->progress(&pr, p->session->progress_arg);
}

/* Stopping early: what the records read so far prove about max_rejects. */
typedef struct early {
  int limited;           /* max_rejects is set */
  long long size;        /* the input's bytes, when known (a plain file) */
  long long probed;      /* records set aside that a probe has counted */
  long long certain;     /* of them, sure to be rejected */
  long long next;        /* probe again once this many are set aside */
  long long stopped;     /* the line the reading stopped at, or 0 */
} early;

/* Whether rejects among records read are more than max_rejects allows
 * whatever the rest holds: at most `more` records (-1: unknown). */
static int
beyond(const csvstage_settings *s, long long rejects, long long records, long long more)
{
  return (s->max_rejects >= 0 && rejects > s->max_rejects) ||
         (s->max_rejects_pct >= 0 && more >= 0 &&
          (double)rejects * 100.0 > s->max_rejects_pct * (double)(records + more));
}

/*
 * Whether to stop reading: the rejects proven so far (malformed records,
 * and what a probe of the records set aside finds sure to be refused) are
 * over max_rejects, and for a percentage, would be even if every record
 * left were good: each takes at least a byte per CSV column (its
 * delimiters and line end), so a plain file's bytes left bound how many
 * there can be. Probes run as the records set aside grow by half. Returns
 * 1 to stop, 0, or -1 with q's err filled.
 */
static int
check_early(plan *p, sql *q, cs_input *in, cs_reader *rd, cs_rejects *rj, cs_direct *d,
            early *e, long long line)
{
  cs_reader_stats st;
  long long malformed = cs_rejects_count(rj), aside = cs_direct_set_aside(d), more = -1, n;

  cs_reader_get_stats(rd, &st);
  if (e->size >= 0) {
    long long left = e->size - cs_input_position(in) + st.buffered;
    more = 2 + (left > 0 ? left : 0) / (p->ncsv > 1 ? p->ncsv : 1);
  }
  if (aside < e->next || !beyond(p->settings, malformed + aside, st.records, more))
    return 0;
  /* The chunk under way ends first: the connection is the probe's. */
  if (cs_direct_finish(d, q->err))
    return -1;
  aside = cs_direct_set_aside(d);
  if (aside > e->probed) {
    if (cs_probe_rejects(p, q, d, e->probed, aside, &n))
      return -1;
    e->certain += n;
    e->probed = aside;
  }
  e->next = aside + (aside / 2 > 256 ? aside / 2 : 256);
  if (!beyond(p->settings, malformed + e->certain, st.records, more))
    return 0;
  e->stopped = line;
  return 1;
}

/*
 * Reads every record: malformed ones into the reject file, the others
 * straight into the table (direct.c) or, when they may fail, into the
 * staging table. *staged: how many went there; *dp: the fast path, for the
 * caller to free (the careful path may need its records again). Stops
 * early (e->stopped) once the records read prove the load over
 * max_rejects.
 */
static int
stage(plan *p, PGconn *conn, cs_input *in, cs_reader *rd, cs_rejects *rj, tally *ty,
      cs_direct **dp, long long *staged, const char *path, double t0, early *e,
      csvstage_error *err)
{
  long long since = 0;
  double last = t0;
  sql q = {.conn = conn, .err = err};
  cs_direct *d = NULL;
  cs_record rec;
  const char **picked = NULL;
  size_t *plens = NULL;
  int rc = -1, more;

  picked = calloc((size_t)p->ncsv + 1, sizeof(*picked));
  plens = calloc((size_t)p->ncsv + 1, sizeof(*plens));
  if (!picked || !plens) {
    cs_fail(err, CSVSTAGE_E_NOMEM, "out of memory");
    goto out;
  }
  /* SAVEPOINT and COPY in one message: one round trip per chunk. */
  sql_add(&q, "SAVEPOINT csvstage_chunk; COPY %s (", p->table->sql_name);
  for (int i = 0; i < p->nfed; i++) {
    sql_add(&q, i ? ", " : "");
    sql_ident(&q, p->table->cols[p->fed[i].col].name);
  }
  sql_add(&q, ") FROM STDIN");
  if (cs_copy_has_default(p->session)) {
    sql_add(&q, " WITH (DEFAULT ");
    sql_literal(&q, CS_DEFAULT_MARKER);
    sql_add(&q, ")");
  }
  /* A view takes INSERT through its rules or triggers, not COPY; and COPY
   * bypasses a table's rules ON INSERT; and COPY has no ON CONFLICT (upsert,
   * insert-new). Those take the staging path. */
  if (sql_text(&q))
    d = cs_direct_open(p, conn, sql_text(&q), p->table->relkind != 'v' && !p->table->insert_rules &&
                       !p->strict && !p->unchecked_domain && !cs_mode_keyed(p->settings), err);
  sql_reset(&q);
  if (!d)
    goto out;
  /* With a key every record is staged: as it is read, so that the server
   * copies while the client reads (not with --max-rejects, whose probes
   * need the connection meanwhile). */
  if (cs_mode_keyed(p->settings) && !e->limited &&
      (cs_stage_create(p, &q) ||
       cs_direct_stream(d, "SAVEPOINT csvstage_fill; COPY csvstage_stage FROM STDIN", err)))
    goto out;
  while ((more = cs_reader_next(rd, &rec, err)) == 1) {
    if (rec.kind == CS_RECORD_REJECT) {
      int n = cs_pick_fields(p, rec.nfields, (const char *const *)rec.field, rec.len, picked, plens);
      cs_reject_row row = {
        .line = rec.line, .sqlstate = rec.sqlstate, .column = "", .constraint = "",
        .message = rec.message, .detail = rec.detail, .fields = picked, .lens = plens,
        .nfields = n, .raw = rec.raw, .raw_len = rec.raw_len,
      };
      if (cs_rejects_add_early(rj, &row, err))
        break;
      cs_tally_add(ty, 1, rec.line, rec.sqlstate, "", "", rec.message);
      continue;
    }
    if (p->session->interrupted) {
      cs_fail(err, CSVSTAGE_E_INTERRUPTED, "interrupted");
      break;
    }
    if (cs_direct_add(d, &rec, err))
      break;
    if (e->limited && (++since & 255) == 0) {
      int stop = check_early(p, &q, in, rd, rj, d, e, rec.line);
      if (stop)
        break;
    }
    if ((rec.line & 4095) == 0)
      progress(p, in, rd, path, t0, 0, &last);
  }
  if (!cs_failed(err))
    progress(p, in, rd, path, t0, 1, &last);
  if (cs_failed(err) || cs_direct_finish(d, err))
    goto out;
  *staged = cs_direct_set_aside(d);
  p->refusals = cs_direct_refusals(d);
  p->inserted = cs_direct_inserted(d);
  if (cs_direct_streaming(d) ? cs_stage_streamed(p, &q, d)
                              : *staged > 0 && cs_fill_stage(p, &q, d, 0))
    goto out;
  rc = 0;
out:
  if (d && cs_direct_streaming(d))
    cs_direct_stream_end(d, "csvstage stopped reading the file", NULL, 0, NULL);
  *dp = d;   /* the caller's to free: settle may need it again */
  free(q.b.data);
  free(picked);
  free(plens);
  return rc;
}

/* One file's load: what its phases share. */
typedef struct load {
  csvstage_session *session;
  const csvstage_settings *settings;
  PGconn *conn;
  const char *path;
  int flags;
  csvstage_result *res;
  csvstage_error *err;
  double t0;
  int in_tx;             /* the file's transaction (or savepoint) is open */
  plan p;
  sql q;
  tally *ty;
  cs_input *in;
  cs_reader *rd;
  const char **names;    /* the CSV's column names */
  cs_rejects *rj;
  char rpath[4096];      /* the reject file's path */
  char servers[256];     /* the other servers the table's rows go to, or "" */
  cs_direct *d;
  long long staged, bulk, one;
  early early;
} load;

/* Says err's SQL error as a config error about [source] encoding. */
static void
encoding_error(csvstage_error *err)
{
  char msg[sizeof(err->message)];

  if (err->code != CSVSTAGE_E_DB)
    return;
  cs_strlcpy_utf8(msg, err->message, sizeof(msg));
  csvstage_error_clear(err);
  cs_fail(err, CSVSTAGE_E_CONFIG, "[source] encoding: %s", msg);
}

/* Opens the reject file (its directory must take a file before anything
 * loads), its header the input's names but a reject file's own columns. */
static int
open_rejects(load *l)
{
  const csvstage_settings *s = l->settings;
  const char **picked;
  int n = 0;

  if (cs_rejects_path(s, l->path, (l->flags & CSVSTAGE_SEVERAL_FILES) != 0, l->rpath,
                  sizeof(l->rpath), l->err))
    return -1;
  picked = calloc((size_t)l->p.ncsv + 1, sizeof(*picked));
  if (!picked)
    return cs_fail(l->err, CSVSTAGE_E_NOMEM, "out of memory"), -1;
  for (int i = 0; i < l->p.ncsv; i++)
    if (!l->p.csv_meta[i])
      picked[n++] = l->names[i];
  l->rj = cs_rejects_open(l->rpath, s->delimiter, s->quote, s->null_marker, picked, n, l->err);
  free(picked);
  if (!l->rj && l->err->code == CSVSTAGE_E_IO)
    l->err->code = CSVSTAGE_E_CONFIG;   /* nothing was loaded: a setup error */
  return l->rj ? 0 : -1;
}

/* Opens the input's reader (the input is open), and names the CSV's
 * columns: the header's, the configured ones, or 1, 2, ... */
static int
open_reader(load *l)
{
  const csvstage_settings *s = l->settings;
  cs_reader_opts ro;

  cs_settings_reader_opts(s, &ro);
  ro.header = s->header;
  ro.ncolumns = s->ncolumns;
  if (!s->header && s->ncolumns == 0) {
    /* Neither a header nor names: as COPY without a column list, every
     * record holds every column the table takes, in order. */
    for (int i = 0; i < l->p.table->ncols; i++)
      ro.ncolumns += !l->p.table->cols[i].generated;
  }
  l->rd = cs_reader_open(l->in, &ro, l->err);
  if (!l->rd)
    return -1;
  l->p.ncsv = cs_reader_ncolumns(l->rd);
  l->names = calloc((size_t)l->p.ncsv + 1, sizeof(*l->names));
  if (!l->names)
    return cs_fail(l->err, CSVSTAGE_E_NOMEM, "out of memory"), -1;
  for (int i = 0; i < l->p.ncsv; i++)
    l->names[i] = i < s->ncolumns ? s->columns[i] : cs_reader_column(l->rd, i);
  l->p.csv_names = l->names;
  return 0;
}

/*
 * Prepare: the file's transaction, the target from the catalog, the table's
 * lock, the ledger (content loaded before is skipped without reading it:
 * returns 1), the input, the plan and the reject file. Returns 0, 1, or -1
 * with l->err filled.
 */
static int
prepare(load *l)
{
  const csvstage_settings *s = l->settings;

  if (cs_run(l->conn, l->session->outer ? "SAVEPOINT csvstage_file" : "BEGIN", l->err))
    return -1;
  l->in_tx = 1;
  /* Deferrable constraints are checked per record, not at COMMIT, where one
   * bad record would take the whole file down. */
  if (cs_run(l->conn, "SET CONSTRAINTS ALL IMMEDIATE", l->err))
    return -1;
  sql_add(&l->q, "SET LOCAL client_encoding = ");
  sql_literal(&l->q, s->encoding);
  if (sql_run(&l->q, NULL))
    return encoding_error(l->err), -1;
  /* The order of ambiguous dates (09/12/2026) for every path, the server's
   * reading them alike; output stays ISO (the client's checks take ISO
   * dates only, which read the same in any order). */
  if (s->datestyle) {
    sql_add(&l->q, "SET LOCAL DateStyle = ");
    sql_literal(&l->q, strcmp(s->datestyle, "DMY") == 0   ? "ISO, DMY"
                       : strcmp(s->datestyle, "MDY") == 0 ? "ISO, MDY"
                                                          : "ISO, YMD");
    if (sql_run(&l->q, NULL))
      return -1;
  }
  /* The zone of timestamptz values without an offset, for every path. */
  if (s->timezone) {
    sql_add(&l->q, "SET LOCAL TimeZone = ");
    sql_literal(&l->q, s->timezone);
    if (sql_run(&l->q, NULL)) {
      if (l->err->code == CSVSTAGE_E_DB) {
        csvstage_error_clear(l->err);
        cs_fail(l->err, CSVSTAGE_E_CONFIG, "[source] timezone: '%s' is not a time zone the "
                "server knows (e.g. Europe/Berlin, UTC)", s->timezone);
      }
      return -1;
    }
  }
  l->p.table = cs_table_load(l->conn, s->table, l->err);
  if (!l->p.table)
    return -1;
  snprintf(l->res->table, sizeof(l->res->table), "%s", l->p.table->display_name);
  if (!(l->flags & CSVSTAGE_LOCKED) && cs_take_lock(&l->p, &l->q))
    return -1;
  /* Rows that go to other servers (foreign tables, or foreign partitions):
   * those commit each on its own, after this one's COMMIT is sent. */
  sql_add(&l->q, "SELECT pg_catalog.string_agg(DISTINCT s.srvname, ', ') "
                 "FROM pg_catalog.pg_partition_tree(%u) pt "
                 "JOIN pg_catalog.pg_foreign_table ft ON ft.ftrelid = pt.relid "
                 "JOIN pg_catalog.pg_foreign_server s ON s.oid = ft.ftserver",
          l->p.table->oid);
  PGresult *servers = sql_query(&l->q);
  if (!servers)
    return -1;
  if (!PQgetisnull(servers, 0, 0)) {
    snprintf(l->servers, sizeof(l->servers), "%s", PQgetvalue(servers, 0, 0));
    snprintf(l->res->note, sizeof(l->res->note),
             "%s stores rows on other servers (%s): they commit without two-phase commit, "
             "so a failure during COMMIT can leave some of them committed and others not",
             l->p.table->display_name, PQgetvalue(servers, 0, 0));
  }
  PQclear(servers);
  /* The input is opened once: what the ledger hashes is what is read. */
  l->in = cs_input_open_member(l->path, s->ledger, s->member, l->err);
  if (!l->in)
    return -1;
  if (s->ledger && !(l->flags & CSVSTAGE_FORCE)) {
    /* A regular file is hashed at the open: content loaded before is
     * skipped without reading it (a pipe is checked at the end). */
    const char *sha = cs_input_sha256(l->in);
    if (sha && cs_ledger_lookup(&l->p, &l->q, sha, 0, l->res))
      return -1;
    if (l->res->skipped) {
      if (cs_run(l->conn, cs_rollback_sql(l->session), l->err))
        return -1;
      l->in_tx = 0;
      return 1;
    }
  }
  if (open_reader(l) ||
      (l->p.ncsv > 0 && (cs_plan_build(&l->p, cs_input_name(l->in), l->err) != CSVSTAGE_OK ||
                         cs_mode_plan(&l->p, &l->q))) ||
      open_rejects(l))
    return -1;
  /* The mode's work on the old rows comes after every preflight check, so
   * that a load refused at preflight has not emptied the table first. */
  return cs_mode_begin(&l->p, &l->q, l->session->outer &&
                       cs_session_emptied(l->session, l->p.table->oid));
}

/*
 * Stream and settle: every record read, straight into the table or set
 * aside (stage), then the careful path for those set aside. Where a key
 * conflict may come out of file order, the whole file is settled again
 * from the csvstage_data savepoint. Returns 0, or -1 with l->err filled.
 */
static int
stream_and_settle(load *l)
{
  plan *p = &l->p;
  int utf8 = strcasecmp(l->settings->encoding, "UTF8") == 0 ||
             strcasecmp(l->settings->encoding, "UTF-8") == 0;

  if (p->ncsv == 0)
    return 0;   /* an empty file: nothing to load */
  l->early.limited = l->settings->max_rejects >= 0 || l->settings->max_rejects_pct >= 0;
  l->early.size = cs_input_compression(l->in) != CS_PLAIN ? -1 : cs_input_size(l->in);
  for (int i = 0; i < p->nfed; i++)
    cs_type_parse(&p->fed[i].type, p->table->cols[p->fed[i].col].type, utf8);
  if (cs_plan_defaults(p, &l->q) || cs_plan_order(p, l->err) ||
      cs_run(l->conn, "SAVEPOINT csvstage_data", l->err) ||
      stage(p, l->conn, l->in, l->rd, l->rj, l->ty, &l->d, &l->staged, l->path, l->t0,
            &l->early, l->err) ||
      l->session->interrupted)
    return -1;
  l->res->staged = l->staged;
  if (l->staged > 0 && (cs_settle(p, &l->q, l->d, l->res, &l->bulk, &l->one) ||
                        cs_settle_rejects(p, &l->q, l->rj, l->ty)))
    return -1;
  return cs_run(l->conn, "RELEASE SAVEPOINT csvstage_data", l->err);
}

/* Whether the rejects are more than max_rejects allows. */
static int
over_limit(const csvstage_settings *s, const csvstage_result *res)
{
  return beyond(s, res->rejected, res->records, 0);
}

/* The error for a load over max_rejects. */
static csvstage_code
over_error(const load *l)
{
  const csvstage_settings *s = l->settings;
  char limit[64];

  if (s->max_rejects >= 0)
    snprintf(limit, sizeof(limit), "%lld", s->max_rejects);
  else
    snprintf(limit, sizeof(limit), "%g%%", s->max_rejects_pct);
  if (l->res->stopped_at > 0)
    return cs_fail(l->err, CSVSTAGE_E_REJECTS, "%s: stopped reading at line %lld: %lld of the "
                   "first %lld records rejected, more than max_rejects %s allows whatever the "
                   "rest holds: nothing committed; the reject file holds the rejects up to "
                   "line %lld", l->res->file, l->res->stopped_at, l->res->rejected,
                   l->res->records, limit, l->res->stopped_at);
  return cs_fail(l->err, CSVSTAGE_E_REJECTS, "%s: %lld of %lld records rejected, more than "
                 "max_rejects %s: nothing committed", l->res->file, l->res->rejected,
                 l->res->records, limit);
}

/*
 * COMMIT, and what follows when the connection is lost during it
 * (cs_commit asks a new connection). Returns 0 when committed, -1 when not
 * (l->err says why; an unknown outcome keeps the reject file).
 */
static int
commit(load *l)
{
  csvstage_result *res = l->res;
  char xid[32];
  cs_commit_end how = cs_session_commit(l->session, xid, sizeof(xid), l->err);

  if (how == CS_ROLLED_BACK && (l->err->code == CSVSTAGE_E_DB ||
                                (l->err->code == CSVSTAGE_E_TRANSIENT && l->servers[0]))) {
    /* Refused at COMMIT (a deferred check, or another server's part that
     * would not commit): said as the COMMIT's failure, with what it may
     * have left on the other servers, which commit first. With other
     * servers even a transient refusal (a shard's lost connection, 08006)
     * is no failure to retry: a shard may hold its part committed. */
    csvstage_error e = *l->err;
    csvstage_error_clear(l->err);
    cs_fail(l->err, CSVSTAGE_E_DB, "%s: COMMIT failed, nothing committed%s%s%s: %s", res->file,
            l->servers[0] ? " here; the other servers (" : "", l->servers,
            l->servers[0] ? ") may have committed their part of it: check them" : "", e.message);
    snprintf(l->err->sqlstate, sizeof(l->err->sqlstate), "%s", e.sqlstate);
    return -1;
  }
  if (how == CS_ROLLED_BACK)
    return -1;   /* lost before COMMIT: said as usual */
  l->in_tx = 0;
  if (how == CS_ROLLED_BACK_AFTER_LOSS) {
    cs_lost_commit(l->err, how, res->file, xid, "");
    return -1;
  }
  if (how == CS_COMMIT_UNKNOWN) {
    /* If it did commit, its rejects (in place already) are the only record
     * of what did not go in: keep them, and the file they replaced. */
    char more[2 * sizeof(l->rpath) + 160] = "", previous[sizeof(l->rpath)];
    cs_rejects *r = l->rj;
    l->rj = NULL;
    if (l->settings->ledger)
      snprintf(more, sizeof(more), ", or run the same command again: the ledger skips it "
               "if it was loaded");
    if (res->rejected > 0) {
      cs_rejects_keep(r, 1, previous, sizeof(previous));
      snprintf(more + strlen(more), sizeof(more) - strlen(more),
               "; its rejects, in case it did: %s%s%s%s", l->rpath,
               previous[0] ? " (the reject file there before is now " : "", previous,
               previous[0] ? ")" : "");
    } else {
      cs_rejects_discard(r);
    }
    res->outcome_unknown = 1;
    cs_lost_commit(l->err, how, res->file, xid, more);
    return -1;
  }
  res->committed = 1;
  res->commit_rechecked = how == CS_COMMITTED_AFTER_LOSS;
  return 0;
}

/*
 * Finish: the accounting, the limit, the ledger, then commit or roll back,
 * and the reject file into place. Returns the load's code, or -1 when it
 * failed (l->err filled).
 */
static int
finish(load *l)
{
  const csvstage_settings *s = l->settings;
  csvstage_result *res = l->res;
  cs_reader_stats st;
  int over, dry = (l->flags & CSVSTAGE_DRY_RUN) != 0;

  if (cs_rejects_finish(l->rj, l->err))
    return -1;
  cs_reader_get_stats(l->rd, &st);
  res->records = st.records;
  res->comment_lines = st.comment_lines;
  res->skipped_lines = st.skipped_lines;
  res->rejected = cs_rejects_count(l->rj);
  /* What the server wrote (inserted or updated): a record a trigger
   * dropped is neither loaded nor rejected nor ignored. */
  res->loaded = l->p.inserted + l->bulk + l->one;
  res->updated = l->p.updated;
  res->inserted = res->loaded - res->updated;
  res->ignored = l->p.ignored;
  res->one_by_one = l->p.tried;
  res->copy_refusals = l->p.refusals;
  res->stopped_at = l->early.stopped;
  res->dropped = res->records - res->rejected - res->loaded - res->ignored;
  res->bytes = cs_input_position(l->in);
  cs_tally_finish(l->ty);
  over = over_limit(s, res);
  if (!over && cs_mode_end(&l->p, &l->q))
    return -1;
  if (s->ledger && !over &&
      cs_ledger_record(&l->p, &l->q, l->in, (l->flags & CSVSTAGE_FORCE) != 0, res))
    return -1;
  if (l->session->interrupted)
    return -1;
  /* The rejects in place before COMMIT: a committed load never lacks
   * them, and one whose rejects cannot be placed does not commit. */
  if (!res->skipped && cs_rejects_place(l->rj, l->err)) {
    char msg[sizeof(l->err->message)];
    cs_strlcpy_utf8(msg, l->err->message, sizeof(msg));
    csvstage_error_clear(l->err);
    return cs_fail(l->err, CSVSTAGE_E_IO, "%s: %s: nothing of it was committed", res->file, msg),
           -1;
  }
  if (res->skipped) {
    /* Loaded before: nothing of this run stays, its rejects included. */
    if (cs_run(l->conn, cs_rollback_sql(l->session), l->err))
      return -1;
    l->in_tx = 0;
    res->records = res->loaded = res->rejected = res->dropped = res->staged = 0;
    res->inserted = res->updated = res->ignored = 0;
    res->ngroups = res->nfirst = 0;
    res->other_rejects = 0;
    return CSVSTAGE_OK;
  }
  if (over || dry) {
    if (cs_run(l->conn, cs_rollback_sql(l->session), l->err))
      return -1;
  } else if (l->session->outer) {
    if (cs_run(l->conn, "RELEASE SAVEPOINT csvstage_file", l->err))
      return -1;
    res->pending = 1;
    /* The run's later files add to what this one put in the table. */
    if (cs_mode_replaces(s) && cs_session_note_emptied(l->session, l->p.table->oid))
      return cs_fail(l->err, CSVSTAGE_E_NOMEM, "out of memory"), -1;
  } else if (commit(l)) {
    return -1;
  }
  l->in_tx = 0;
  if (res->rejected > 0)
    snprintf(res->reject_file, sizeof(res->reject_file), "%s", l->rpath);
  {
    cs_rejects *r = l->rj;
    char note[sizeof(res->note)];
    l->rj = NULL;
    /* (Only an earlier run's file that could not be removed: the load's
     * outcome stands, the note says it.) */
    if (cs_rejects_keep(r, 0, note, sizeof(note)) != 0 && !res->note[0])
      snprintf(res->note, sizeof(res->note), "%s", note);
  }
  if (over)
    return over_error(l);
  return CSVSTAGE_OK;
}

/* A failed load: says what happened, rolls the file back, zeroes the
 * counts (nothing was committed). Returns the load's code. */
static csvstage_code
fail(load *l)
{
  csvstage_error *err = l->err;
  csvstage_result *res = l->res;

  /* An interruption shows as whatever it broke (a canceled statement, a
   * COPY cut short): say what happened instead. */
  if (l->session->interrupted && !res->outcome_unknown) {
    /* (Interrupted while asking what became of a lost COMMIT: that is
     * unknown, not rolled back.) */
    csvstage_error_clear(err);
    cs_fail(err, CSVSTAGE_E_INTERRUPTED, "interrupted: %s rolled back, nothing of it "
            "committed", res->file);
  } else if (l->in_tx && PQstatus(l->conn) == CONNECTION_BAD && !res->outcome_unknown) {
    /* Lost before COMMIT was sent: the server rolled the transaction back.
     * (A loss during COMMIT is worded where it happens: the outcome is
     * unknown there.) */
    char msg[sizeof(err->message)];
    cs_strlcpy_utf8(msg, err->message[0] ? err->message : "no reason given", sizeof(msg));
    csvstage_error_clear(err);
    cs_fail(err, CSVSTAGE_E_CONNLOST, "the connection to the server was lost while loading "
            "%s (%s): nothing of it was committed; load it again when the server is back",
            res->file, msg);
  } else if (err->code == CSVSTAGE_E_TRANSIENT && !res->outcome_unknown) {
    /* A lock or statement timeout, a deadlock, a shortage: no record's
     * fault, so no reject; the file goes back whole. */
    csvstage_error e = *err;
    csvstage_error_clear(err);
    cs_fail(err, CSVSTAGE_E_TRANSIENT, "%s: the server could not go on (%s%s%s): no record's "
            "fault, so nothing was rejected and nothing of it was committed; load it again "
            "(--retry N does so by itself)", res->file, e.message, e.sqlstate[0] ? ", SQLSTATE " : "",
            e.sqlstate);
    snprintf(err->sqlstate, sizeof(err->sqlstate), "%s", e.sqlstate);
  }
  if (l->in_tx && PQstatus(l->conn) == CONNECTION_OK) {
    csvstage_error ignored;
    csvstage_error_clear(&ignored);
    cs_run(l->conn, cs_rollback_sql(l->session), &ignored);
  }
  res->records = res->loaded = res->rejected = res->dropped = res->staged = 0;
  res->inserted = res->updated = res->ignored = 0;
  res->committed = 0;
  return err->code ? err->code : CSVSTAGE_E_DB;
}

/* The settings' own errors, before anything is done. */
static csvstage_code
check_settings(const csvstage_settings *s, int flags, int outer, csvstage_error *err)
{
  if (!s->table)
    return cs_fail(err, CSVSTAGE_E_CONFIG, "no target table: give -t TABLE, or table = in "
                   "[target]");
  if (cs_mode_replaces(s) && (flags & CSVSTAGE_SEVERAL_FILES) && !outer)
    return cs_fail(err, CSVSTAGE_E_CONFIG, "mode = %s with several files: each file would "
                   "replace the one before; load one file, or give --single-transaction to "
                   "make the files together the table's new contents", cs_mode_name(s->mode));
  if (s->header && s->ncolumns > 0)
    return cs_fail(err, CSVSTAGE_E_CONFIG, "[source] columns names the columns of a file "
                   "without a header: set header = false, or leave columns out");
  return CSVSTAGE_OK;
}

csvstage_code
csvstage_load(csvstage_session *session, const csvstage_settings *settings,
              const char *path, int flags, csvstage_result *res, csvstage_error *err)
{
  csvstage_result dummy;
  csvstage_error localerr;
  load l = {.session = session, .settings = settings, .path = path, .flags = flags,
            .t0 = now_s()};
  csvstage_code rc;
  int r;

  if (!err) {
    csvstage_error_clear(&localerr);
    err = &localerr;
  }
  if (!res)
    res = &dummy;
  memset(res, 0, sizeof(*res));
  res->dry_run = (flags & CSVSTAGE_DRY_RUN) != 0;
  if (settings)
    snprintf(res->mode, sizeof(res->mode), "%s", cs_mode_name(settings->mode));
  cs_strlcpy_utf8(res->file, path && strcmp(path, "-") != 0 ? path : "-", sizeof(res->file));
  if (!session || !settings)
    return cs_fail(err, CSVSTAGE_E_INVALID, "no session or no settings");
  if ((rc = check_settings(settings, flags, session->outer, err)) != CSVSTAGE_OK)
    return rc;
  l.conn = session->conn;
  l.res = res;
  l.err = err;
  l.q = (sql){.conn = l.conn, .err = err};
  l.p.session = session;
  l.p.settings = settings;
  l.ty = calloc(1, sizeof(*l.ty));
  if (!l.ty)
    return cs_fail(err, CSVSTAGE_E_NOMEM, "out of memory");
  l.ty->res = res;

  r = prepare(&l);
  if (r == 0)
    r = stream_and_settle(&l) ? -1 : finish(&l);
  else if (r == 1)
    r = CSVSTAGE_OK;   /* skipped: the ledger has it */
  rc = r < 0 ? fail(&l) : (csvstage_code)r;

  res->elapsed_s = now_s() - l.t0;
  cs_rejects_discard(l.rj);
  cs_direct_free(l.d);
  cs_reader_free(l.rd);
  cs_input_close(l.in);
  cs_table_free(l.p.table);
  cs_plan_free(&l.p);
  free(l.names);
  free(l.ty);
  free(l.q.b.data);
  return rc;
}
