/*
 * gen-users: writes a deterministic CSV shaped like a real users export to
 * standard output, for benchmarks.
 *
 *   gen-users [RECORDS]        default 2000000
 *
 * Columns: id, first_name, last_name, email, status (blank in about 1 in 10),
 * signup_at (timestamptz), balance (numeric), active (boolean), score (int),
 * notes (mostly empty; some with commas and quotes, some over two lines).
 * The same RECORDS always gives the same bytes.
 */
#include <stdio.h>
#include <stdlib.h>

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
  long long n = argc > 1 ? atoll(argv[1]) : 2000000, i;
  static char buf[1 << 20];

  setvbuf(stdout, buf, _IOFBF, sizeof(buf));
  puts("id,first_name,last_name,email,status,signup_at,balance,active,score,notes");
  for (i = 1; i <= n; i++) {
    unsigned long long r = next();
    const char *f = first[r % N(first)], *l = last[(r >> 8) % N(last)];
    printf("%lld,", i);
    field(f);
    putchar(',');
    field(l);
    printf(",user%lld@example.com,", i);
    if ((r >> 16) % 10 != 0)
      fputs(status[(r >> 20) % N(status)], stdout);
    printf(",20%02d-%02d-%02d %02d:%02d:%02d+00,%llu.%02llu,%s,%llu,",
           (int)(10 + (r >> 24) % 15), (int)(1 + (r >> 28) % 12),
           (int)(1 + (r >> 32) % 28), (int)((r >> 36) % 24),
           (int)((r >> 40) % 60), (int)((r >> 44) % 60),
           (r >> 20) % 100000, (r >> 12) % 100, ((r >> 50) & 1) ? "true" : "false",
           (r >> 52) % 1000);
    if ((r >> 56) % 4 == 0)
      field(notes[(r >> 58) % N(notes)]);
    putchar('\n');
  }
  return fflush(stdout) == 0 ? 0 : 1;
}
