/* main.c: csvstage's command line: options -> library -> exit status. */
#include <config.h>

#include <stdio.h>

#include "csvstage.h"
#include "options.h"

int
main(int argc, char **argv)
{
  options opts;
  char why[512];

  if (options_parse(&opts, argc, argv, why, sizeof(why)) != 0) {
    fprintf(stderr, "csvstage: %s\nTry 'csvstage --help' for more information.\n",
            why);
    return EXIT_USAGE;
  }
  switch (opts.action) {
  case ACTION_HELP:
    fputs(options_usage, stdout);
    return fflush(stdout) == 0 ? EXIT_LOADED : EXIT_FAILED;
  case ACTION_VERSION:
    printf("csvstage %s\n", csvstage_version());
    return fflush(stdout) == 0 ? EXIT_LOADED : EXIT_FAILED;
  case ACTION_LOAD:
    break;
  }
  /* The load pipeline is not in this build yet. */
  fprintf(stderr, "csvstage: loading is not available in this version\n");
  return EXIT_FAILED;
}
