/*
 * reader-bench: how fast the front of the pipeline turns a file into COPY
 * data: input (plain or compressed) -> reader -> COPY encoding on one thread
 * (a compressed file is decompressed on a thread of its own, as in a load),
 * with the COPY data dropped in 256 KiB batches as the loader would send it.
 *
 *   reader-bench FILE [ROUNDS]     best of ROUNDS (default 3)
 *   reader-bench --libcsv FILE     libcsv alone with empty callbacks, for
 *                                  reference
 *
 * Prints content megabytes per second (MB = 10^6 bytes of decompressed CSV).
 */
#include <config.h>

#include <csv.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "copyenc.h"
#include "input.h"
#include "reader.h"

static double
now(void)
{
  struct timespec ts;

  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void
cb1(void *s, size_t n, void *d)
{
  (void)s;
  (*(size_t *)d) += n;
}

static void
cb2(int c, void *d)
{
  (void)c;
  (void)d;
}

static int
libcsv_only(const char *path)
{
  struct csv_parser p;
  csvstage_error err;
  cs_input *in;
  static char buf[256 * 1024];
  size_t total = 0, fields = 0;
  long n;
  double t0 = now(), dt;

  csvstage_error_clear(&err);
  in = cs_input_open(path, &err);
  if (!in) {
    fprintf(stderr, "reader-bench: %s\n", err.message);
    return 1;
  }
  csv_init(&p, CSV_REPALL_NL | CSV_EMPTY_IS_NULL);
  while ((n = cs_input_read(in, buf, sizeof(buf), &err)) > 0) {
    csv_parse(&p, buf, (size_t)n, cb1, cb2, &fields);
    total += (size_t)n;
  }
  csv_fini(&p, cb1, cb2, &fields);
  csv_free(&p);
  cs_input_close(in);
  dt = now() - t0;
  printf("libcsv alone: %.1f MB in %.3f s: %.1f MB/s\n", (double)total / 1e6, dt,
         (double)total / 1e6 / dt);
  return 0;
}

int
main(int argc, char **argv)
{
  const char *path;
  int rounds, round;
  double best = 1e30;
  long long records = 0, rejects = 0, bytes = 0;

  if (argc > 2 && strcmp(argv[1], "--libcsv") == 0)
    return libcsv_only(argv[2]);
  if (argc < 2) {
    fprintf(stderr, "usage: reader-bench FILE [ROUNDS] | --libcsv FILE\n");
    return 2;
  }
  path = argv[1];
  rounds = argc > 2 ? atoi(argv[2]) : 3;
  for (round = 0; round < rounds; round++) {
    csvstage_error err;
    cs_input *in;
    cs_reader *r;
    cs_record rec;
    cs_buf out = {0};
    cs_reader_stats st;
    double t0 = now(), dt;
    int got;

    csvstage_error_clear(&err);
    in = cs_input_open(path, &err);
    r = in ? cs_reader_open(in, NULL, &err) : NULL;
    if (!r) {
      fprintf(stderr, "reader-bench: %s\n", err.message);
      return 1;
    }
    bytes = 0;
    while ((got = cs_reader_next(r, &rec, &err)) == 1) {
      if (rec.kind == CS_RECORD_DATA && cs_copy_encode(&out, &rec, -1) != 0) {
        fprintf(stderr, "reader-bench: out of memory\n");
        return 1;
      }
      if (out.len >= 256 * 1024) {
        bytes += (long long)out.len;
        out.len = 0;   /* here the loader would PQputCopyData */
      }
    }
    if (got < 0) {
      fprintf(stderr, "reader-bench: %s\n", err.message);
      return 1;
    }
    cs_reader_get_stats(r, &st);
    records = st.records;
    rejects = st.rejects;
    bytes += (long long)out.len;
    free(out.data);
    cs_reader_free(r);
    cs_input_close(in);
    dt = now() - t0;
    if (dt < best)
      best = dt;
  }
  {
    /* content size: read once more without parsing */
    csvstage_error err;
    cs_input *in = cs_input_open(path, &err);
    static char buf[256 * 1024];
    long long total = 0;
    long n;
    while ((n = cs_input_read(in, buf, sizeof(buf), &err)) > 0)
      total += n;
    cs_input_close(in);
    printf("%s: %lld records (%lld rejected), %.1f MB of CSV -> %.1f MB of COPY data "
           "in %.3f s (best of %d): %.1f MB/s\n",
           path, records, rejects, (double)total / 1e6, (double)bytes / 1e6, best,
           rounds, (double)total / 1e6 / best);
  }
  return 0;
}
