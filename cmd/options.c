/* options.c: getopt_long into an options struct. */
#include <config.h>

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "options.h"

const char options_usage[] =
  "Usage: csvstage [OPTIONS] [FILE...]\n"
  "       csvstage rejects [-c CONFIG] [-t TABLE] [--html PAGE] REJECT_FILE...\n"
  "       csvstage init [--sample N] [-t TABLE [-d CONNINFO] [-c CONFIG]] CSV_FILE > CONFIG\n"
  "       csvstage init [--sample N] --create-table NAME [--key A,B] CSV_FILE > SQL\n"
  "Load CSV files (plain, or gzip, zstd, xz, bzip2 or zip compressed) into a\n"
  "PostgreSQL table; records that cannot go in are written, with their line\n"
  "and the server's error, to a reject file. With no FILE, or when FILE is -,\n"
  "read standard input.\n"
  "\n"
  "  -c, --config FILE        import configuration (INI)\n"
  "  -d, --dbname CONNINFO    libpq connection string or URI (default: the PG*\n"
  "                           environment, ~/.pgpass, service files)\n"
  "  -t, --table NAME         target table, may be schema-qualified\n"
  "  -r, --rejects FILE       reject file (overrides the configuration)\n"
  "      --delimiter C        the field delimiter (\",\"; tab for a tab)\n"
  "      --quote C|none       the quote character (\"); none: no quoting, every\n"
  "                           byte is data and a record is one line\n"
  "      --encoding NAME      the file's encoding (UTF8, LATIN1, WIN1252, ...)\n"
  "      --null TEXT          the text that means NULL (an empty field)\n"
  "      --header, --no-header  whether the first line names the columns (it does)\n"
  "      --trim               trim spaces around every value\n"
  "      --ragged pad|error   pad: a record's missing last fields are NULL and\n"
  "                           empty fields past the last column are dropped;\n"
  "                           error (the default): such records are rejected\n"
  "      --comment PREFIX     lines starting with PREFIX (#) are comments: skipped\n"
  "                           and counted\n"
  "      --skip N             skip the first N lines (a preamble before the header)\n"
  "      --columns A,B,...    the CSV's column names (for a file without a header)\n"
  "      --ignore A,B,...     CSV columns that feed nothing\n"
  "      --datestyle DMY|MDY|YMD  the order of dates such as 09/12/2026\n"
  "      --member NAME        the file to read in a zip archive of several\n"
  "      --true WORDS, --false WORDS  the words that mean true and false in\n"
  "                           boolean columns (yes,Y,ja / no,N,nein)\n"
  "      --decimal C, --thousands C  how numbers are written: 1.234,50 is\n"
  "                           --decimal , --thousands . (a value that does not\n"
  "                           fit is rejected, never misread)\n"
  "      --format [COLUMN=]PATTERN  how dates and times are written, as\n"
  "                           to_date's patterns: 'DD.MM.YYYY', 'MM/DD/YYYY\n"
  "                           HH12:MI AM'; without COLUMN, for every column of\n"
  "                           the kind it makes (a value that does not fit, or\n"
  "                           is no real date, is rejected)\n"
  "      --timezone ZONE      the zone of timestamptz values without an offset\n"
  "                           (these override the config file's [source])\n"
  "  -n, --dry-run            do everything, report, then roll back\n"
  "      --mode MODE          append (the default); truncate or replace: empty\n"
  "                           the table first (TRUNCATE: readers wait for the\n"
  "                           load; replace: DELETE, readers see the old rows\n"
  "                           until COMMIT), a roll back keeps the old rows;\n"
  "                           upsert: a record whose key exists updates that\n"
  "                           row; insert-new: such a record is left out\n"
  "      --key COLUMNS        the key for upsert and insert-new, comma-separated\n"
  "                           (default: the primary key)\n"
  "      --max-rejects N|P%   roll back when more records than that are rejected\n"
  "                           (reading stops once the rejects found prove it)\n"
  "      --wait[=SECONDS]     when another csvstage run is loading the table,\n"
  "                           wait for it (as long as it takes, or SECONDS)\n"
  "                           instead of exiting with status 75\n"
  "      --ledger             record each load in csvstage.loads and skip a file\n"
  "                           whose content is in it for the table already\n"
  "      --force              with the ledger: load such a file again\n"
  "      --single-transaction load all the files or none: one transaction\n"
  "      --jobs N             load N files at once, each over its own connection\n"
  "                           in its own transaction (mode append only; the\n"
  "                           files in no set order: a key in two of them is\n"
  "                           taken from the one that gets there first)\n"
  "      --retry N            when the connection is lost (or a lock or\n"
  "                           statement timeout ends the load) and nothing was\n"
  "                           committed, reconnect and load the file again, up\n"
  "                           to N times (waiting 1, 2, 4 ... 30 s); never a\n"
  "                           pipe or standard input\n"
  "      --summary-json FILE  write what happened to each file as JSON to FILE\n"
  "                           (- for standard output)\n"
  "  csvstage init:\n"
  "      --sample N           read N records to sniff the file (20000)\n"
  "      --create-table NAME  print a CREATE TABLE NAME for the file instead of a\n"
  "                           config (the sniffed types; NOT NULL where no value\n"
  "                           is blank; a primary key on --key's columns)\n"
  "  -q, --quiet              print errors only\n"
  "  -v, --verbose            print more; repeat for more still\n"
  "  -h, --help               show this help and exit\n"
  "  -V, --version            show the version and exit\n"
  "\n"
  "Exit status: 0 all loaded, 3 committed with rejects, 1 nothing committed,\n"
  "2 usage, configuration or preflight error (nothing done), 75 another run\n"
  "is loading the table (nothing done: try again later).\n";

enum { OPT_MAX_REJECTS = 256, OPT_WAIT, OPT_SUMMARY_JSON, OPT_LEDGER, OPT_FORCE, OPT_SINGLE,
       OPT_RETRY, OPT_MODE, OPT_KEY, OPT_HTML, OPT_SAMPLE, OPT_CREATE_TABLE, OPT_JOBS,
       OPT_SOURCE };

/* The [source] keys the command line takes: option, key, value (NULL: the
 * option's argument). */
static const struct {
  const char *option, *key, *value;
} source_options[] = {
  {"delimiter", "delimiter", NULL}, {"quote", "quote", NULL},
  {"encoding", "encoding", NULL},   {"null", "null", NULL},
  {"header", "header", "true"},     {"no-header", "header", "false"},
  {"trim", "trim", "true"},         {"columns", "columns", NULL},
  {"ignore", "ignore", NULL},       {"datestyle", "datestyle", NULL},
  {"member", "member", NULL},       {"true", "true", NULL},
  {"false", "false", NULL},       {"decimal", "decimal", NULL},
  {"thousands", "thousands", NULL}, {"format", "format", NULL},
  {"timezone", "timezone", NULL},   {"ragged", "ragged", NULL},
  {"comment", "comment", NULL},     {"skip", "skip", NULL},
};

/* "N" or "P%", N a non-negative integer, P a percentage in [0, 100]. */
static int
valid_max_rejects(const char *s)
{
  char *end;
  double v;

  if (!*s || *s == '-' || *s == '+' || *s == ' ')
    return 0;
  if (s[strlen(s) - 1] == '%') {
    v = strtod(s, &end);
    return end == s + strlen(s) - 1 && v >= 0 && v <= 100;
  }
  (void)strtoull(s, &end, 10);
  return *end == '\0';
}

int
options_parse(options *opts, int argc, char **argv, char *why, size_t whysize)
{
  static const struct option longopts[] = {
    {"config", required_argument, NULL, 'c'},
    {"dbname", required_argument, NULL, 'd'},
    {"table", required_argument, NULL, 't'},
    {"rejects", required_argument, NULL, 'r'},
    {"dry-run", no_argument, NULL, 'n'},
    {"max-rejects", required_argument, NULL, OPT_MAX_REJECTS},
    {"mode", required_argument, NULL, OPT_MODE},
    {"key", required_argument, NULL, OPT_KEY},
    {"wait", optional_argument, NULL, OPT_WAIT},
    {"summary-json", required_argument, NULL, OPT_SUMMARY_JSON},
    {"ledger", no_argument, NULL, OPT_LEDGER},
    {"force", no_argument, NULL, OPT_FORCE},
    {"single-transaction", no_argument, NULL, OPT_SINGLE},
    {"retry", required_argument, NULL, OPT_RETRY},
    {"html", required_argument, NULL, OPT_HTML},
    {"sample", required_argument, NULL, OPT_SAMPLE},
    {"create-table", required_argument, NULL, OPT_CREATE_TABLE},
    {"jobs", required_argument, NULL, OPT_JOBS},
    {"quiet", no_argument, NULL, 'q'},
    {"verbose", no_argument, NULL, 'v'},
    {"help", no_argument, NULL, 'h'},
    {"version", no_argument, NULL, 'V'},
    /* [source] keys: source_options[index - OPT_SOURCE] */
    {"delimiter", required_argument, NULL, OPT_SOURCE + 0},
    {"quote", required_argument, NULL, OPT_SOURCE + 1},
    {"encoding", required_argument, NULL, OPT_SOURCE + 2},
    {"null", required_argument, NULL, OPT_SOURCE + 3},
    {"header", no_argument, NULL, OPT_SOURCE + 4},
    {"no-header", no_argument, NULL, OPT_SOURCE + 5},
    {"trim", no_argument, NULL, OPT_SOURCE + 6},
    {"columns", required_argument, NULL, OPT_SOURCE + 7},
    {"ignore", required_argument, NULL, OPT_SOURCE + 8},
    {"datestyle", required_argument, NULL, OPT_SOURCE + 9},
    {"member", required_argument, NULL, OPT_SOURCE + 10},
    {"true", required_argument, NULL, OPT_SOURCE + 11},
    {"false", required_argument, NULL, OPT_SOURCE + 12},
    {"decimal", required_argument, NULL, OPT_SOURCE + 13},
    {"thousands", required_argument, NULL, OPT_SOURCE + 14},
    {"format", required_argument, NULL, OPT_SOURCE + 15},
    {"timezone", required_argument, NULL, OPT_SOURCE + 16},
    {"ragged", required_argument, NULL, OPT_SOURCE + 17},
    {"comment", required_argument, NULL, OPT_SOURCE + 18},
    {"skip", required_argument, NULL, OPT_SOURCE + 19},
    {NULL, 0, NULL, 0},
  };
  int c;

  memset(opts, 0, sizeof(*opts));
  opts->action = ACTION_LOAD;
  optind = 1;
  /* "csvstage rejects ...": review reject files (to load a file named
   * "rejects", write ./rejects). */
  if (argc > 1 && strcmp(argv[1], "rejects") == 0) {
    opts->action = ACTION_REJECTS;
    argv++, argc--;
  } else if (argc > 1 && strcmp(argv[1], "init") == 0) {
    opts->action = ACTION_INIT;
    argv++, argc--;
  }
  opterr = 0;   /* we word the message ourselves; the library must not print */
  while ((c = getopt_long(argc, argv, ":c:d:t:r:nqvhV", longopts, NULL)) != -1) {
    switch (c) {
    case 'c': opts->config = optarg; break;
    case 'd': opts->dbname = optarg; break;
    case 't': opts->table = optarg; break;
    case 'r': opts->rejects = optarg; break;
    case 'n': opts->dry_run = 1; break;
    case 'q': opts->verbosity = -1; break;
    case 'v': opts->verbosity = opts->verbosity < 0 ? 1 : opts->verbosity + 1; break;
    case 'h': opts->action = ACTION_HELP; return 0;
    case 'V': opts->action = ACTION_VERSION; return 0;
    case OPT_MAX_REJECTS:
      if (!valid_max_rejects(optarg)) {
        snprintf(why, whysize,
                 "invalid --max-rejects '%s': give a count (100) or a percentage (1%%)",
                 optarg);
        return -1;
      }
      opts->max_rejects = optarg;
      break;
    case OPT_SUMMARY_JSON: opts->summary_json = optarg; break;
    case OPT_HTML: opts->html = optarg; break;
    case OPT_CREATE_TABLE: opts->create_table = optarg; break;
    case OPT_JOBS: {
      char *end;
      long v = strtol(optarg, &end, 10);
      if (end == optarg || *end || v < 1 || v > 64) {
        snprintf(why, whysize, "invalid --jobs '%s': give a number of files to load at once "
                 "(1 to 64)", optarg);
        return -1;
      }
      opts->jobs = (int)v;
      break;
    }
    case OPT_SAMPLE: {
      char *end;
      long long v = strtoll(optarg, &end, 10);
      if (end == optarg || *end || v < 1) {
        snprintf(why, whysize, "invalid --sample '%s': give a number of records (1 or more)", optarg);
        return -1;
      }
      opts->sample = v;
      break;
    }
    case OPT_LEDGER: opts->ledger = 1; break;
    case OPT_MODE: opts->mode = optarg; break;   /* checked by the settings */
    case OPT_KEY: opts->key = optarg; break;
    case OPT_FORCE: opts->force = 1; break;
    case OPT_SINGLE: opts->single_transaction = 1; break;
    case OPT_RETRY: {
      char *end;
      long v = strtol(optarg, &end, 10);
      if (end == optarg || *end || v < 0 || v > 100) {
        snprintf(why, whysize, "invalid --retry '%s': give a number of retries (0 to 100)",
                 optarg);
        return -1;
      }
      opts->retry = (int)v;
      break;
    }
    case OPT_WAIT: {
      char *end;
      double v = optarg ? strtod(optarg, &end) : 0;
      if (optarg && (end == optarg || *end || v <= 0 || v > 86400)) {
        snprintf(why, whysize, "invalid --wait '%s': give seconds (at most 86400), or "
                 "--wait alone to wait as long as it takes", optarg);
        return -1;
      }
      opts->wait = optarg ? optarg : "forever";
      break;
    }
    case ':':
      snprintf(why, whysize, "option '%s' needs a value", argv[optind - 1]);
      return -1;
    default:
      if (c >= OPT_SOURCE && c < OPT_SOURCE + (int)(sizeof(source_options) /
                                                    sizeof(source_options[0]))) {
        int k = c - OPT_SOURCE;
        if (opts->nsource == (int)(sizeof(opts->source) / sizeof(opts->source[0]))) {
          snprintf(why, whysize, "too many [source] options");
          return -1;
        }
        opts->source[opts->nsource].key = source_options[k].key;
        opts->source[opts->nsource++].value = source_options[k].value ? source_options[k].value
                                                                       : optarg;
        break;
      }
      if (optopt && optopt < OPT_MAX_REJECTS)
        snprintf(why, whysize, "unknown option '-%c'", optopt);
      else
        snprintf(why, whysize, "unknown option '%s'", argv[optind - 1]);
      return -1;
    }
  }
  opts->files = argv + optind;
  opts->nfiles = argc - optind;
  if (opts->action == ACTION_REJECTS && opts->nfiles == 0) {
    snprintf(why, whysize, "csvstage rejects: give the reject file to review");
    return -1;
  }
  if (opts->jobs > 1 && opts->single_transaction) {
    snprintf(why, whysize, "--jobs and --single-transaction exclude each other: the files of "
             "--jobs commit each in its own transaction");
    return -1;
  }
  if (opts->create_table && (opts->action != ACTION_INIT || opts->table || opts->config)) {
    snprintf(why, whysize, "--create-table goes with csvstage init FILE alone (no -t, no -c)");
    return -1;
  }
  if (opts->action == ACTION_INIT && opts->nfiles != 1) {
    snprintf(why, whysize, "csvstage init: give one CSV file (and the table, -t, to match it to)");
    return -1;
  }
  return 0;
}
