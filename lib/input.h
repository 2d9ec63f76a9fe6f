/* input.h: a byte stream from a file or stdin, gzip'd or plain (private). */
#ifndef CSVSTAGE_INPUT_H
#define CSVSTAGE_INPUT_H

#include <stddef.h>

#include "csvstage.h"

typedef struct cs_input cs_input;

/*
 * Opens path for reading; NULL or "-" is standard input (not closed at the
 * end). Gzip is recognised by its magic bytes, whatever the name, and read
 * in streaming mode; concatenated gzip members are read one after another.
 * Returns NULL with err filled when the file cannot be opened.
 */
cs_input *cs_input_open(const char *path, csvstage_error *err);

/* The same, and with sha256 set, the SHA-256 of the bytes read is kept
 * for cs_input_sha256 (the ledger's; it costs CPU time on every byte). */
cs_input *cs_input_open_hashed(const char *path, int sha256, csvstage_error *err);

/*
 * Reads up to cap bytes of (decompressed) content into buf. Returns the
 * count, 0 at the end of the content, or -1 with err filled: an unreadable
 * file (CSVSTAGE_E_IO), or a truncated or corrupt gzip stream
 * (CSVSTAGE_E_FORMAT, with err->offset the compressed byte offset).
 */
long cs_input_read(cs_input *in, char *buf, size_t cap, csvstage_error *err);

/* The file's size in bytes when it is a regular file, else -1. */
long long cs_input_size(const cs_input *in);

/* The name for messages: the path, or "stdin". */
const char *cs_input_name(const cs_input *in);

/* Bytes taken from the file so far (compressed bytes for gzip), and whether
 * the stream is gzip'd. For progress reports. */
long long cs_input_position(const cs_input *in);
int cs_input_is_gzip(const cs_input *in);

/* The SHA-256 (hex) of the bytes read from the file (compressed bytes for
 * gzip), once the whole content has been read; NULL before, when it was
 * not opened with cs_input_open_hashed, or when the hash failed. */
const char *cs_input_sha256(cs_input *in);

/*
 * The SHA-256 (hex, into hex[65]) of the regular file at path, read
 * through once, before loading it. Returns 1, 0 when path is standard
 * input or not a regular file (its hash comes from cs_input_sha256 as it
 * is read), or -1 with err filled when it cannot be read.
 */
int cs_file_sha256(const char *path, char hex[65], csvstage_error *err);

/* Closes the file (not stdin) and frees in. in may be NULL. */
void cs_input_close(cs_input *in);

#endif
