/*
 * gen-users: writes a deterministic CSV shaped like a real users export to
 * standard output, for benchmarks.
 *
 *   gen-users [--dirty | --dirty-pct P | --type-errors P] [RECORDS]
 *                                        default 2000000
 *
 * Columns: id, first_name, last_name, email, status (blank in about 1 in 10),
 * signup_at (timestamptz), balance (numeric), active (boolean), score (int),
 * notes (mostly empty; some with commas and quotes, some over two lines).
 * The same RECORDS always gives the same bytes.
 *
 * --dirty: one record in 100 (the 50th of each hundred) carries one defect,
 * the five kinds in turn: a blank email (NOT NULL, no DEFAULT), a bad
 * integer score, the id of an earlier record, an impossible date, a bad
 * numeric balance. Everything else is byte for byte the clean file.
 * --dirty-pct P: P records in 100 (the 50th to the 50+P-1th of each
 * hundred, wrapping) carry a defect, the five kinds in turn; --dirty is
 * --dirty-pct 1.
 * --type-errors P: as --dirty-pct P, with the two kinds a COPY's
 * ON_ERROR ignore skips only: a bad integer, a bad numeric, in turn.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static unsigned long long state = 88172645463325252ULL;

/* xorshift64: fast, and the same sequence on every machine */
static unsigned long long
next(void)
{
  state ^= state << 13;
  state ^= state >> 7;
  state ^= state << 17;
  return state;
}

static const char *const first[] = {
  "Ann", "Bob", "Chloé", "Dmitri", "Eve", "François", "Grace", "Hiro", "Ines",
  "José", "Kai", "Lena", "Mohammed", "Noor", "Olga", "Pat", "Quinn", "Rosa",
};
static const char *const last[] = {
  "Smith", "O'Brien", "Müller", "\"Big\" Jones", "García", "Nguyen", "Kowalski",
  "Lee, Jr.", "Haddad", "Rossi", "Tanaka", "Ivanova", "Dubois", "Okafor",
};
static const char *const status[] = {"active", "pending", "suspended", "closed"};
static const char *const notes[] = {
  "prefers email", "called twice, no answer", "VIP; see \"gold\" list",
  "moved to Lyon, France", "asked for invoice\nsent 2024-03-02",
};

#define N(a) (sizeof(a) / sizeof((a)[0]))

/* Writes s as a CSV field, quoted when it holds a comma, quote or newline. */
static void
field(const char *s)
{
  const char *p;
  int quote = 0;

  for (p = s; *p; p++)
    if (*p == ',' || *p == '"' || *p == '\n')
      quote = 1;
  if (!quote) {
    fputs(s, stdout);
    return;
  }
  putchar('"');
  for (p = s; *p; p++) {
    if (*p == '"')
      putchar('"');
    putchar(*p);
  }
  putchar('"');
}

int
main(int argc, char **argv)
{
  int pct = 0, types_only = 0, args = 1;
  long long n = 2000000, i, defects = 0;
  static char buf[1 << 20];

  if (argc > 1 && strcmp(argv[1], "--dirty") == 0) {
    pct = 1;
    args = 2;
  } else if (argc > 2 && (strcmp(argv[1], "--dirty-pct") == 0 ||
                          strcmp(argv[1], "--type-errors") == 0)) {
    pct = atoi(argv[2]);
    types_only = argv[1][2] == 't';
    args = 3;
  }
  if (argc > args)
    n = atoll(argv[args]);
  if (pct < 0 || pct > 100 || n < 0) {
    fputs("usage: gen-users [--dirty | --dirty-pct P | --type-errors P] [RECORDS]\n", stderr);
    return 2;
  }
  setvbuf(stdout, buf, _IOFBF, sizeof(buf));
  puts("id,first_name,last_name,email,status,signup_at,balance,active,score,notes");
  for (i = 1; i <= n; i++) {
    unsigned long long r = next();
    const char *f = first[r % N(first)], *l = last[(r >> 8) % N(last)];
    int defect = -1;
    char score[32], balance[48], signup[48];

    if ((i % 100 + 50) % 100 < pct) {
      defect = (int)(defects++ % (types_only ? 2 : 5));
      if (types_only)
        defect = defect ? 4 : 1;
    }

    printf("%lld,", defect == 2 ? i - 7 : i);
    field(f);
    putchar(',');
    field(l);
    if (defect == 0)
      putchar(',');
    else
      printf(",user%lld@example.com", i);
    putchar(',');
    if ((r >> 16) % 10 != 0)
      fputs(status[(r >> 20) % N(status)], stdout);
    snprintf(signup, sizeof(signup), "20%02d-%02d-%02d %02d:%02d:%02d+00",
             (int)(10 + (r >> 24) % 15), defect == 3 ? 2 : (int)(1 + (r >> 28) % 12),
             defect == 3 ? 30 : (int)(1 + (r >> 32) % 28), (int)((r >> 36) % 24),
             (int)((r >> 40) % 60), (int)((r >> 44) % 60));
    snprintf(balance, sizeof(balance), defect == 4 ? "%llu.%02llu.5" : "%llu.%02llu",
             (r >> 20) % 100000, (r >> 12) % 100);
    snprintf(score, sizeof(score), defect == 1 ? "%lluO" : "%llu", (r >> 52) % 1000);
    printf(",%s,%s,%s,%s,", signup, balance, ((r >> 50) & 1) ? "true" : "false", score);
    if ((r >> 56) % 4 == 0)
      field(notes[(r >> 58) % N(notes)]);
    putchar('\n');
  }
  return fflush(stdout) == 0 ? 0 : 1;
}
