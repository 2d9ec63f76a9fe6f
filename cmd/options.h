/* options.h: the command line, parsed into a struct (no I/O). */
#ifndef CSVSTAGE_OPTIONS_H
#define CSVSTAGE_OPTIONS_H

/* Exit statuses: part of the interface that cron jobs and scripts rely on. */
enum {
  EXIT_LOADED = 0,      /* every record loaded */
  EXIT_FAILED = 1,      /* nothing committed */
  EXIT_USAGE = 2,       /* usage, configuration or preflight error */
  EXIT_REJECTS = 3,     /* committed, some records rejected */
  EXIT_BUSY = 75,       /* another run holds the table (EX_TEMPFAIL): retry */
};

typedef enum { ACTION_LOAD, ACTION_HELP, ACTION_VERSION, ACTION_REJECTS, ACTION_INIT } action_t;

typedef struct options {
  action_t action;
  const char *config;       /* -c */
  const char *dbname;       /* -d: conninfo or URI */
  const char *table;        /* -t */
  const char *rejects;      /* -r */
  int dry_run;              /* -n */
  const char *max_rejects;  /* as given: "N" or "P%" */
  const char *wait;         /* --wait: "forever" or seconds as given */
  const char *summary_json; /* --summary-json: a path, or "-" */
  const char *html;         /* csvstage rejects --html: the page's path */
  long long sample;         /* csvstage init --sample: records to sniff */
  const char *create_table; /* csvstage init --create-table: the table's name */
  int jobs;                 /* --jobs: files loaded at once (0, 1: one) */
  int ledger;               /* --ledger */
  const char *mode;         /* --mode: append, truncate, replace, upsert, insert-new */
  const char *key;          /* --key: the key's columns, comma-separated */
  int force;                /* --force */
  int single_transaction;   /* --single-transaction */
  int retry;                /* --retry N */
  /* [source] keys given on the command line (--delimiter, --no-header...),
   * in order: they override the config file's. */
  struct {
    const char *key, *value;
  } source[32];
  int nsource;
  int verbosity;            /* -1 quiet, 0 normal, 1+ verbose */
  char **files;             /* the operands; none means stdin */
  int nfiles;
} options;

/*
 * Parses argv into opts. Returns 0, or -1 after writing a one-line reason
 * into why (size whysize). Never prints and never exits.
 */
int options_parse(options *opts, int argc, char **argv, char *why,
                  size_t whysize);

/* The --help text. */
extern const char options_usage[];

#endif
