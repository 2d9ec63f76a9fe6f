/* main.c: csvstage's command line: options -> library -> exit status. */
#include <config.h>

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "csvstage.h"
#include "options.h"
#include "report.h"
#include "summary.h"

/* Whether everything written to stdout went out: a write that failed
 * before the flush (more than a buffer's worth, to a full disk) leaves
 * only the error flag to say so. */
static int
stdout_ok(void)
{
  return fflush(stdout) == 0 && !ferror(stdout);
}

/* The exit status for a load's outcome: 2 when nothing could start. */
static int
exit_status(csvstage_code rc, const csvstage_result *res)
{
  switch (rc) {
  case CSVSTAGE_OK:
    return res && res->rejected > 0 ? EXIT_REJECTS : EXIT_LOADED;
  case CSVSTAGE_E_INVALID:
  case CSVSTAGE_E_CONFIG:
  case CSVSTAGE_E_PREFLIGHT:
    return EXIT_USAGE;
  case CSVSTAGE_E_BUSY:
    return EXIT_BUSY;
  default:
    return EXIT_FAILED;
  }
}

/* SIGINT and SIGTERM: the load under way is canceled on the server and
 * rolled back; the run stops with 128 + the signal's number. */
static csvstage_session *volatile running;
static volatile sig_atomic_t caught;
/* --jobs: each worker's session (the lock's session is `running`). */
#define MAX_JOBS 64
static csvstage_session *volatile workers[MAX_JOBS];

static void
on_signal(int sig)
{
  caught = sig;
  if (running)
    csvstage_interrupt(running);
  for (int i = 0; i < MAX_JOBS; i++)
    if (workers[i])
      csvstage_interrupt(workers[i]);
}

static void
catch_signals(void)
{
  struct sigaction sa;

  memset(&sa, 0, sizeof(sa));
  sa.sa_handler = on_signal;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, NULL);
  sigaction(SIGTERM, &sa, NULL);
  /* A closed stdout (csvstage rejects FILE | head) is an error to report,
   * not a reason to die. */
  signal(SIGPIPE, SIG_IGN);
}

/* The worst outcome of several files wins: failed (1), then usage (2),
 * then busy (75: worth a retry only when nothing worse happened), then
 * rejects (3). */
static int
severity(int status)
{
  switch (status) {
  case EXIT_FAILED: return 4;
  case EXIT_USAGE: return 3;
  case EXIT_BUSY: return 2;
  case EXIT_REJECTS: return 1;
  default: return 0;
  }
}

/* Applies the command line over the config file; reports what went wrong. */
static csvstage_settings *
settings_from(const options *opts)
{
  csvstage_settings *s = csvstage_settings_new();
  csvstage_error err;

  csvstage_error_clear(&err);
  if (!s) {
    report_line(stderr, "csvstage: out of memory");
    return NULL;
  }
  if (opts->config && csvstage_settings_read(s, opts->config, &err)) {
    report_error(stderr, &err);
    csvstage_settings_free(s);
    return NULL;
  }
  for (int i = 0; i < opts->nsource; i++) {
    const char *key = opts->source[i].key, *value = opts->source[i].value, *eq;
    char section[1024] = "source";
    /* --format COLUMN=PATTERN: that column's; a pattern alone: [source]'s */
    if (strcmp(key, "format") == 0 && (eq = strchr(value, '=')) && eq > value) {
      snprintf(section, sizeof(section), "column \"%.*s\"", (int)(eq - value), value);
      value = eq + 1;
    }
    if (csvstage_settings_set(s, section, key, value, &err)) {
      report_line(stderr, "csvstage: --%s: %s", opts->source[i].key, err.message);
      csvstage_settings_free(s);
      return NULL;
    }
  }
  if ((opts->table && csvstage_settings_set(s, "target", "table", opts->table, &err)) ||
      (opts->rejects && csvstage_settings_set(s, "rejects", "file", opts->rejects, &err)) ||
      (opts->max_rejects &&
       csvstage_settings_set(s, "target", "max_rejects", opts->max_rejects, &err)) ||
      (opts->wait && csvstage_settings_set(s, "target", "wait", opts->wait, &err)) ||
      (opts->mode && csvstage_settings_set(s, "target", "mode", opts->mode, &err)) ||
      (opts->key && csvstage_settings_set(s, "target", "key", opts->key, &err)) ||
      (opts->ledger && csvstage_settings_set(s, "target", "ledger", "on", &err))) {
    report_error(stderr, &err);
    csvstage_settings_free(s);
    return NULL;
  }
  return s;
}

/* Whether file can be read again from its start: a regular file (not
 * standard input, a pipe, a FIFO or <(...), which hold only what is left). */
static int
rereadable(const char *file)
{
  struct stat st;

  return strcmp(file, "-") != 0 && stat(file, &st) == 0 && S_ISREG(st.st_mode);
}

/* Whether a load that failed this way may be tried again: nothing
 * committed, and the connection lost or the server's trouble passing (a
 * lock or statement timeout, a deadlock, a shortage). */
static int
retryable(csvstage_code rc, const csvstage_result *res)
{
  return (rc == CSVSTAGE_E_CONNLOST || rc == CSVSTAGE_E_TRANSIENT) && !res->outcome_unknown;
}

static csvstage_session *join_run(const options *opts, const csvstage_settings *settings,
                                   csvstage_error *err);

/* Loads one file over *session, trying again as --retry allows (a new
 * session then, published in *slot for the signal handler). */
static csvstage_code
load_file(const options *opts, const csvstage_settings *settings, csvstage_session **session,
          csvstage_session *volatile *slot, const char *file, int flags, csvstage_result *res,
          csvstage_error *err)
{
  csvstage_code rc;

  for (int attempt = 0, wait_s = 1;;) {
    csvstage_session *again = NULL;
    rc = csvstage_load(*session, settings, file, flags, res, err);
    /* Retry only what is known to be safe: nothing committed, a file that
     * can be read again, and no run-wide transaction lost with it. */
    if (!retryable(rc, res) || attempt >= opts->retry || opts->single_transaction || caught)
      break;
    if (!rereadable(file)) {
      /* What was read of a pipe is gone: a retry would load the rest as
       * the whole file. */
      report_error(stderr, err);
      report_line(stderr, "csvstage: %s is not a regular file (standard input, a pipe or a "
                  "FIFO): it cannot be read again from its start, so it is not retried; "
                  "nothing of it was committed", strcmp(file, "-") == 0 ? "stdin" : file);
      break;
    }
    report_error(stderr, err);
    /* Each try to reconnect is one retry; the server may take a while. */
    while (!again && attempt < opts->retry && !caught) {
      attempt++;
      report_line(stderr, "csvstage: retrying %s in %d s (retry %d of %d)", file, wait_s,
                  attempt, opts->retry);
      sleep((unsigned)wait_s);
      wait_s = wait_s * 2 > 30 ? 30 : wait_s * 2;
      csvstage_error_clear(err);
      /* A worker of --jobs takes its share of the run's lock again: busy
       * if another run has the table now. */
      if (!caught)
        again = flags & CSVSTAGE_LOCKED ? join_run(opts, settings, err)
                                        : csvstage_connect(opts->dbname, err);
      if (!again && err->code == CSVSTAGE_E_BUSY) {
        rc = CSVSTAGE_E_BUSY;
        break;
      }
      if (!again && !caught && attempt < opts->retry)
        report_error(stderr, err);
    }
    if (!again)
      break;   /* err: the last failure */
    *slot = again;
    csvstage_disconnect(*session);
    *session = again;
    if (opts->verbosity >= 0 && opts->jobs <= 1)
      csvstage_set_progress(*session, report_progress, stderr);
  }
  return rc;
}

/* --jobs N: the files loaded by N workers at once, each over its own
 * session in its own transaction, under the run's one lock (held by the
 * main session); each file's outcome is reported in the order given. */
typedef struct file_slot {
  int done;
  csvstage_code rc;
  csvstage_result res;
  csvstage_error err;
  struct timespec started, finished;
} file_slot;

typedef struct job_queue {
  const options *opts;
  char *const *files;
  int nfiles, next;
  file_slot *slots;
  pthread_mutex_t mu;
  pthread_cond_t done;
} job_queue;

typedef struct worker {
  job_queue *q;
  int id;
  csvstage_session *session;   /* connected, holding its share of the run's
                                  lock; or NULL, cerr saying why */
  csvstage_error cerr;
} worker;

/* Connects a worker's session and takes its share of the run's lock (the
 * share outlives the session that took the lock: csvstage_lock_share). */
static csvstage_session *
join_run(const options *opts, const csvstage_settings *settings, csvstage_error *err)
{
  csvstage_session *session = csvstage_connect(opts->dbname, err);

  if (session && csvstage_lock_share(session, settings, err) != CSVSTAGE_OK) {
    csvstage_disconnect(session);
    session = NULL;
  }
  return session;
}

static void *
work(void *arg)
{
  worker *w = arg;
  job_queue *q = w->q;
  const options *opts = q->opts;
  csvstage_settings *settings = settings_from(opts);   /* (read before: valid) */
  csvstage_session *session = w->session;
  csvstage_error cerr = w->cerr;

  workers[w->id] = session;
  if (caught && session)
    csvstage_interrupt(session);
  for (;;) {
    pthread_mutex_lock(&q->mu);
    int i = q->next < q->nfiles ? q->next++ : -1;
    pthread_mutex_unlock(&q->mu);
    if (i < 0)
      break;
    file_slot *f = &q->slots[i];
    csvstage_error_clear(&f->err);
    memset(&f->res, 0, sizeof(f->res));
    clock_gettime(CLOCK_REALTIME, &f->started);
    if (!settings)
      f->rc = f->err.code = CSVSTAGE_E_NOMEM, snprintf(f->err.message, sizeof(f->err.message),
                                                      "out of memory");
    else if (!session)
      f->err = cerr, f->rc = cerr.code ? cerr.code : CSVSTAGE_E_CONNECT;
    else if (caught)
      f->rc = CSVSTAGE_E_INTERRUPTED, snprintf(f->err.message, sizeof(f->err.message),
                                               "interrupted"), f->err.code = f->rc;
    else
      f->rc = load_file(opts, settings, &session, &workers[w->id], q->files[i],
                        CSVSTAGE_LOCKED | CSVSTAGE_SEVERAL_FILES |
                        (opts->dry_run ? CSVSTAGE_DRY_RUN : 0) |
                        (opts->force ? CSVSTAGE_FORCE : 0), &f->res, &f->err);
    clock_gettime(CLOCK_REALTIME, &f->finished);
    pthread_mutex_lock(&q->mu);
    f->done = 1;
    pthread_cond_broadcast(&q->done);
    pthread_mutex_unlock(&q->mu);
  }
  workers[w->id] = NULL;
  csvstage_disconnect(session);
  csvstage_settings_free(settings);
  return NULL;
}

static int
load(const options *opts)
{
  static char *const stdin_only[] = {"-"};
  char *const *files = opts->nfiles > 0 ? opts->files : stdin_only;
  int nfiles = opts->nfiles > 0 ? opts->nfiles : 1;
  csvstage_error err;
  csvstage_settings *settings;
  csvstage_session *session = NULL;
  summary *sum = NULL;
  int worst = EXIT_LOADED, jobs = opts->jobs > nfiles ? nfiles : opts->jobs;
  char why[512];
  job_queue q = {.opts = opts, .files = files, .nfiles = nfiles};
  pthread_t threads[MAX_JOBS];
  worker ws[MAX_JOBS];
  int started_jobs = 0;
  int done = 0, cut = 0;   /* files whose outcome is known; a signal cut one short */

  csvstage_error_clear(&err);
  settings = settings_from(opts);
  if (!settings)
    return EXIT_USAGE;
  if (jobs > 1 && !csvstage_settings_order_free(settings)) {
    report_line(stderr, "csvstage: --jobs loads the files in no set order: not with mode %s, "
                "whose outcome depends on it (load them one by one)",
                csvstage_settings_mode(settings));
    csvstage_settings_free(settings);
    return EXIT_USAGE;
  }
  if (opts->summary_json && !(sum = summary_new())) {
    report_line(stderr, "csvstage: out of memory");
    csvstage_settings_free(settings);
    return EXIT_FAILED;
  }
  session = csvstage_connect(opts->dbname, &err);
  if (!session) {
    report_error(stderr, &err);
    worst = EXIT_FAILED;
    goto out;
  }
  if (opts->verbosity >= 0 && jobs <= 1)
    csvstage_set_progress(session, report_progress, stderr);
  running = session;
  if (caught)
    csvstage_interrupt(session);   /* a signal before the session existed */
  if (jobs > 1) {
    /* One lock for the run, held here; then the workers. */
    if (csvstage_lock(session, settings, &err) != CSVSTAGE_OK) {
      report_error(stderr, &err);
      worst = exit_status(err.code, NULL);
      goto out;
    }
    if (!(q.slots = calloc((size_t)nfiles, sizeof(*q.slots)))) {
      report_line(stderr, "csvstage: out of memory");
      worst = EXIT_FAILED;
      goto out;
    }
    pthread_mutex_init(&q.mu, NULL);
    pthread_cond_init(&q.done, NULL);
    /* Each worker's session shares the lock while this one holds it;
     * then this one lets go: the run stays locked as long as any worker's
     * session lives, whatever ends this one (an idle timeout, say). */
    for (int k = 0; k < jobs; k++) {
      ws[k] = (worker){.q = &q, .id = k};
      csvstage_error_clear(&ws[k].cerr);
      if (!caught)
        ws[k].session = join_run(opts, settings, &ws[k].cerr);
    }
    csvstage_error_clear(&err);
    csvstage_rollback(session, &err);
    csvstage_error_clear(&err);
    for (; started_jobs < jobs; started_jobs++)
      if (pthread_create(&threads[started_jobs], NULL, work, &ws[started_jobs]) != 0)
        break;
    for (int k = started_jobs; k < jobs; k++)
      csvstage_disconnect(ws[k].session);
    if (started_jobs == 0) {
      report_line(stderr, "csvstage: cannot start a worker thread");
      worst = EXIT_FAILED;
      goto out;
    }
  }
  if (opts->single_transaction && csvstage_begin(session, &err) != CSVSTAGE_OK) {
    report_error(stderr, &err);
    worst = EXIT_FAILED;
    goto out;
  }
  for (int i = 0; i < nfiles && (!caught || jobs > 1); i++) {
    csvstage_result res;
    csvstage_code rc;
    int status;
    struct timespec started, finished;

    csvstage_error_clear(&err);
    if (jobs > 1) {
      /* The next file in the order given, once its worker is done. */
      pthread_mutex_lock(&q.mu);
      while (!q.slots[i].done)
        pthread_cond_wait(&q.done, &q.mu);
      pthread_mutex_unlock(&q.mu);
      rc = q.slots[i].rc, res = q.slots[i].res, err = q.slots[i].err;
      started = q.slots[i].started, finished = q.slots[i].finished;
    } else {
      clock_gettime(CLOCK_REALTIME, &started);
      rc = load_file(opts, settings, &session, &running, files[i],
                     (opts->dry_run ? CSVSTAGE_DRY_RUN : 0) |
                     (nfiles > 1 ? CSVSTAGE_SEVERAL_FILES : 0) |
                     (opts->force ? CSVSTAGE_FORCE : 0), &res, &err);
      clock_gettime(CLOCK_REALTIME, &finished);
    }
    if (rc == CSVSTAGE_OK || rc == CSVSTAGE_E_REJECTS)
      report_result(stderr, &res, opts->verbosity);
    if (rc != CSVSTAGE_OK)
      report_error(stderr, &err);
    status = exit_status(rc, &res);
    if (severity(status) > severity(worst))
      worst = status;
    if (rc == CSVSTAGE_E_INTERRUPTED)
      cut = 1;
    if (sum)
      summary_add(sum, &res, rc, &err, status, &started, &finished);
    done = i + 1;
    if (opts->single_transaction && status != EXIT_LOADED && status != EXIT_REJECTS)
      break;   /* all or none: none */
  }
  /* A signal says 128 + its number only when it stopped something: a file
   * rolled back or left unread. One that came while a COMMIT went through
   * changes nothing: that file is loaded, and the status says so. */
  if (caught && (cut || done < nfiles))
    worst = 128 + caught;
  if (opts->single_transaction) {
    int all = worst == EXIT_LOADED || worst == EXIT_REJECTS;
    csvstage_error_clear(&err);
    if (all && csvstage_commit(session, &err) == CSVSTAGE_OK) {
      if (opts->verbosity >= 0)
        report_line(stderr, "csvstage: committed the run's %d file%s", nfiles,
                  nfiles == 1 ? "" : "s");
    } else {
      csvstage_error e2;
      csvstage_error_clear(&e2);
      if (all) {
        report_error(stderr, &err);
        /* (interrupted before COMMIT was sent: the server rolls back when
         * the session ends) */
        worst = err.code == CSVSTAGE_E_INTERRUPTED && caught ? 128 + caught : EXIT_FAILED;
      } else {
        csvstage_rollback(session, &e2);
      }
      all = 0;
      if (err.code != CSVSTAGE_E_UNKNOWN)
        report_line(stderr, "csvstage: --single-transaction: rolled back, nothing of the "
                    "run's %d file%s committed", nfiles, nfiles == 1 ? "" : "s");
    }
    if (sum)
      summary_set_committed(sum, all, err.code == CSVSTAGE_E_UNKNOWN);
  }
out:
  for (int i = 0; i < started_jobs; i++)
    pthread_join(threads[i], NULL);
  if (q.slots) {
    pthread_mutex_destroy(&q.mu);
    pthread_cond_destroy(&q.done);
    free(q.slots);
  }
  running = NULL;
  /* A summary that cannot be written is reported, but the exit status
   * still says what happened to the data. */
  if (sum && summary_write(sum, opts->summary_json, worst, why, sizeof(why)) != 0)
    report_line(stderr, "csvstage: cannot write the JSON summary: %s", why);
  summary_free(sum);
  csvstage_disconnect(session);
  csvstage_settings_free(settings);
  return worst;
}

/* csvstage rejects FILE...: what each reject file holds, for the operator
 * who fixes it, and the command that loads it again. */
static int
review(const options *opts)
{
  csvstage_error err;
  csvstage_settings *settings;
  int status = EXIT_LOADED;

  csvstage_error_clear(&err);
  settings = settings_from(opts);
  if (!settings)
    return EXIT_USAGE;
  if (opts->html) {
    /* One page for all the files, written whole or not at all. */
    char tmp[4096];
    FILE *out;
    snprintf(tmp, sizeof(tmp), "%s.tmp", opts->html);
    if (!(out = fopen(tmp, "w"))) {
      report_line(stderr, "csvstage: %s: %s", tmp, strerror(errno));
      csvstage_settings_free(settings);
      return EXIT_FAILED;
    }
    if (csvstage_rejects_html(settings, (const char *const *)opts->files, opts->nfiles, out,
                              &err) != CSVSTAGE_OK) {
      report_error(stderr, &err);
      status = EXIT_FAILED;
    }
    if (fclose(out) != 0 && status == EXIT_LOADED) {
      report_line(stderr, "csvstage: %s: %s", tmp, strerror(errno));
      status = EXIT_FAILED;
    }
    if (status == EXIT_LOADED && rename(tmp, opts->html) != 0) {
      report_line(stderr, "csvstage: %s: %s", opts->html, strerror(errno));
      status = EXIT_FAILED;
    }
    if (status != EXIT_LOADED)
      remove(tmp);
    csvstage_settings_free(settings);
    return status;
  }
  for (int i = 0; i < opts->nfiles; i++) {
    csvstage_review rv;
    csvstage_error_clear(&err);
    if (csvstage_review_rejects(settings, opts->files[i], &rv, &err) != CSVSTAGE_OK) {
      report_error(stderr, &err);
      status = EXIT_FAILED;
      continue;
    }
    report_review(stdout, opts->files[i], &rv, opts->config,
                  csvstage_settings_table(settings));
  }
  csvstage_settings_free(settings);
  if (!stdout_ok()) {
    report_line(stderr, "csvstage: cannot write to standard output: %s", strerror(errno));
    return EXIT_FAILED;
  }
  return status;
}

/* csvstage init -t TABLE FILE: a starter config on standard output. */
static int
init(const options *opts)
{
  csvstage_error err;
  csvstage_settings *settings;
  csvstage_session *session = NULL;
  char *text = NULL;
  int status = EXIT_LOADED;

  csvstage_error_clear(&err);
  if (opts->create_table) {
    /* SQL to print, not to run: no server (-d is taken, and not used). */
    if (csvstage_sniff_create_table(opts->files[0], opts->sample, opts->create_table,
                                    opts->key, &text, &err)) {
      report_error(stderr, &err);
      status = err.code == CSVSTAGE_E_CONFIG ? EXIT_USAGE : EXIT_FAILED;
    } else if (fputs(text, stdout) < 0 || !stdout_ok()) {
      status = EXIT_FAILED;
    }
    free(text);
    return status;
  }
  if (!opts->table && !opts->config) {
    /* No table to match: the file alone, no server. */
    if (csvstage_sniff_config(opts->files[0], opts->sample, &text, &err) != CSVSTAGE_OK) {
      report_error(stderr, &err);
      return EXIT_FAILED;
    }
    status = fputs(text, stdout) < 0 || !stdout_ok() ? EXIT_FAILED : EXIT_LOADED;
    free(text);
    return status;
  }
  settings = settings_from(opts);
  if (!settings)
    return EXIT_USAGE;
  /* No config and no [source] option: the file's own dialect and ways of
   * writing values, sniffed, as init FILE alone finds them. */
  if (!opts->config && opts->nsource == 0 &&
      csvstage_sniff_settings(opts->files[0], opts->sample, settings, &err) != CSVSTAGE_OK) {
    report_error(stderr, &err);
    csvstage_settings_free(settings);
    return EXIT_FAILED;
  }
  session = csvstage_connect(opts->dbname, &err);
  if (!session || csvstage_init_config(session, settings, opts->files[0], &text, &err)) {
    report_error(stderr, &err);
    status = err.code == CSVSTAGE_E_PREFLIGHT || err.code == CSVSTAGE_E_CONFIG ? EXIT_USAGE
                                                                               : EXIT_FAILED;
  } else if (fputs(text, stdout) < 0 || !stdout_ok()) {
    status = EXIT_FAILED;
  }
  free(text);
  csvstage_disconnect(session);
  csvstage_settings_free(settings);
  return status;
}

int
main(int argc, char **argv)
{
  options opts;
  char why[512];

  catch_signals();
  if (options_parse(&opts, argc, argv, why, sizeof(why)) != 0) {
    fprintf(stderr, "csvstage: %s\nTry 'csvstage --help' for more information.\n",
            why);
    return EXIT_USAGE;
  }
  switch (opts.action) {
  case ACTION_HELP:
    fputs(options_usage, stdout);
    return stdout_ok() ? EXIT_LOADED : EXIT_FAILED;
  case ACTION_VERSION:
    printf("csvstage %s\n", csvstage_version());
    return stdout_ok() ? EXIT_LOADED : EXIT_FAILED;
  case ACTION_REJECTS:
    return review(&opts);
  case ACTION_INIT:
    return init(&opts);
  case ACTION_LOAD:
    break;
  }
  return load(&opts);
}
