/* utf8.h: the byte checks the reader makes on every line (private). */
#ifndef CSVSTAGE_UTF8_H
#define CSVSTAGE_UTF8_H

#include <stddef.h>

/* The length of the UTF-8 sequence starting at s (n bytes available), or 0
 * when it is not valid UTF-8, as PostgreSQL judges it. */
size_t cs_utf8_seq(const unsigned char *s, size_t n);

/*
 * The offset of the first byte of line[0..n) that PostgreSQL would refuse:
 * a NUL, or (check_utf8) the start of an invalid UTF-8 sequence; n when
 * there is none. bytes gets the offending bytes as PostgreSQL names them
 * ("0x00", "0xc3 0x28").
 */
size_t cs_bad_byte(const char *line, size_t n, int check_utf8, char *bytes, size_t size);

#endif
