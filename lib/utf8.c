/*
 * utf8.c: which bytes of a line PostgreSQL refuses as text input: a NUL
 * always, and in a UTF-8 file anything that is not valid UTF-8 (overlongs,
 * surrogates and code points past U+10FFFF included). The reader calls it
 * on every line, so the common case, plain ASCII, goes eight bytes at a time.
 */
#include <config.h>

#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "utf8.h"

size_t
cs_utf8_seq(const unsigned char *s, size_t n)
{
  unsigned char c = s[0];

  if (c < 0x80)
    return 1;
  if (c >= 0xC2 && c <= 0xDF)
    return n >= 2 && (s[1] & 0xC0) == 0x80 ? 2 : 0;
  if (c >= 0xE0 && c <= 0xEF) {
    if (n < 3 || (s[1] & 0xC0) != 0x80 || (s[2] & 0xC0) != 0x80)
      return 0;
    if ((c == 0xE0 && s[1] < 0xA0) || (c == 0xED && s[1] > 0x9F))
      return 0;
    return 3;
  }
  if (c >= 0xF0 && c <= 0xF4) {
    if (n < 4 || (s[1] & 0xC0) != 0x80 || (s[2] & 0xC0) != 0x80 ||
        (s[3] & 0xC0) != 0x80)
      return 0;
    if ((c == 0xF0 && s[1] < 0x90) || (c == 0xF4 && s[1] > 0x8F))
      return 0;
    return 4;
  }
  return 0;
}

/* The expected length of a sequence from its lead byte, for messages. */
static size_t
utf8_expected(unsigned char c)
{
  return c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : c >= 0xC0 ? 2 : 1;
}

size_t
cs_bad_byte(const char *line, size_t n, int check_utf8, char *bytes, size_t size)
{
  const unsigned char *s = (const unsigned char *)line;
  size_t i = 0;

  while (i < n) {
    /* Eight ASCII bytes with no NUL at a time: the common case. */
    while (i + 8 <= n) {
      uint64_t w;
      memcpy(&w, s + i, 8);
      if ((w & 0x8080808080808080ULL) ||
          ((w - 0x0101010101010101ULL) & ~w & 0x8080808080808080ULL))
        break;
      i += 8;
    }
    if (i >= n)
      break;
    if (s[i] == 0) {
      snprintf(bytes, size, "0x00");
      return i;
    }
    if (s[i] >= 0x80 && check_utf8 && !cs_utf8_seq(s + i, n - i)) {
      size_t m = utf8_expected(s[i]);
      int at = 0;
      bytes[0] = '\0';
      for (size_t k = 0; k < m && i + k < n && (size_t)at < size; k++)
        at += snprintf(bytes + at, size - (size_t)at, "%s0x%02x", k ? " " : "", s[i + k]);
      return i;
    }
    i += s[i] < 0x80 || !check_utf8 ? 1 : cs_utf8_seq(s + i, n - i);
  }
  return n;
}
