/* input.h: a byte stream from a file or stdin, gzip'd or plain (private). */
#ifndef CSVSTAGE_INPUT_H
#define CSVSTAGE_INPUT_H

#include <stddef.h>

#include "csvstage.h"

typedef struct cs_input cs_input;

/* How a file is compressed, as its first bytes say. */
typedef enum cs_compression {
  CS_PLAIN, CS_GZIP, CS_ZSTD, CS_XZ, CS_BZIP2, CS_ZIP
} cs_compression;

/* "plain", "gzip", "zstd", "xz", "bzip2", "zip". */
const char *cs_compression_name(cs_compression c);

/*
 * Opens path for reading; NULL or "-" is standard input (not closed at the
 * end). gzip, zstd, xz, bzip2 and zip are recognised by their magic bytes,
 * whatever the name, and read in streaming mode on a thread of their own;
 * concatenated gzip members (zstd frames, xz and bzip2 streams) are read
 * one after another. Returns NULL with err filled when the file cannot be
 * opened.
 */
cs_input *cs_input_open(const char *path, csvstage_error *err);

/* The same, and with sha256 set, the SHA-256 of the bytes read is kept
 * for cs_input_sha256 (the ledger's; it costs CPU time on every byte). */
cs_input *cs_input_open_hashed(const char *path, int sha256, csvstage_error *err);

/* The same, and with member set, the zip archive's file of that name. A zip
 * with several files and no member named is an error (CSVSTAGE_E_PREFLIGHT)
 * listing them: at the open for a regular file, after the first file for
 * a pipe. member on a file that is not a zip is an error too. */
cs_input *cs_input_open_member(const char *path, int sha256, const char *member,
                               csvstage_error *err);

/*
 * Reads up to cap bytes of (decompressed) content into buf. Returns the
 * count, 0 at the end of the content, or -1 with err filled: an unreadable
 * file (CSVSTAGE_E_IO), or a truncated or corrupt compressed stream
 * (CSVSTAGE_E_FORMAT, with err->offset the compressed byte offset).
 */
long cs_input_read(cs_input *in, char *buf, size_t cap, csvstage_error *err);

/* The file's size in bytes when it is a regular file, else -1. */
long long cs_input_size(const cs_input *in);

/* The name for messages: the path, or "stdin". */
const char *cs_input_name(const cs_input *in);

/* Bytes taken from the file so far (compressed bytes when compressed), and
 * how it is compressed. For progress reports. */
long long cs_input_position(const cs_input *in);
cs_compression cs_input_compression(const cs_input *in);

/* The zip member read, or NULL when the file is not a zip. */
const char *cs_input_member(const cs_input *in);

/* The SHA-256 (hex) of the file's bytes (compressed bytes when
 * compressed): of a regular file from the open on (hashed then, through the
 * descriptor it is read from), of a pipe or standard input once the whole
 * content has been read; NULL before, when it was not opened with
 * cs_input_open_hashed, or when the hash failed. */
const char *cs_input_sha256(cs_input *in);

/* Closes the file (not stdin) and frees in. in may be NULL. */
void cs_input_close(cs_input *in);

#endif
