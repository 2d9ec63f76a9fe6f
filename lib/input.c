/* input.c: file or stdin, plain or compressed.
 *
 * gzip goes through zlib's inflate, used directly rather than gzread so that
 * a truncated or corrupt stream is an error naming the compressed offset,
 * never a short read that would look like the end of the file. zstd, xz,
 * bzip2 and zip go through libarchive, which calls each format's own
 * library (libzstd, liblzma, libbz2, zlib) and reads zip both from a file,
 * by its central directory, and from a pipe, by its local headers; it
 * reports a cut stream as an error too. */
#include <config.h>

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sys/stat.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#include <archive.h>
#include <archive_entry.h>

#include <openssl/evp.h>

#include "error.h"
#include "input.h"

enum { RAW_SIZE = 256 * 1024, MAGIC_MAX = 10 };

/*
 * Gzip input is inflated by a thread of its own, a few buffers ahead of
 * the reader: inflating takes about as long as parsing (zcat alone: 1.6 s
 * for the 200 MB benchmark file), and on two cores the two overlap instead
 * of adding up. The thread owns the file, the z_stream and the counters
 * while it runs; the reader takes filled buffers in order. An error is
 * handed over after the data that came before it.
 */
enum { NBUF = 4, BUF_SIZE = 256 * 1024 };

typedef struct inflater {
  pthread_t thread;
  pthread_mutex_t mu;
  pthread_cond_t cv;
  char *buf[NBUF];
  size_t len[NBUF];
  int head, count;        /* filled buffers: count of them from head */
  size_t pos;             /* the reader's position in buf[head] */
  int finished;           /* the thread is done: end of data, or error */
  int stop;               /* the reader asks the thread to stop */
  int failed;
  csvstage_error err;     /* the thread's error, once finished */
  long long consumed;     /* compressed bytes inflated, for positions */
} inflater;

struct cs_input {
  int fd;
  int own_fd;
  char *name;
  cs_compression format;
  int gzip;
  int raw_eof;            /* read() returned 0 */
  int member_done;        /* inflate ended a member; another may follow */
  int done;
  long long consumed;     /* bytes handed to inflate (or to the caller) */
  long long total_read;   /* bytes read from the file */
  unsigned char *raw;     /* compressed bytes, gzip only */
  size_t raw_len;         /* bytes in raw not yet given to inflate */
  size_t raw_pos;
  z_stream zs;
  int zs_ready;
  unsigned char peek[MAGIC_MAX]; /* the bytes read to tell the format, not
                                    yet handed on */
  size_t peek_len;
  struct archive *ar;     /* zstd, xz, bzip2, zip: libarchive's reader */
  int ar_seeked;          /* libarchive moved in the file (zip's central
                             directory): the in-stream hash is void */
  char *member;           /* zip: the member read */
  int member_named;       /* ... as the caller named it */
  inflater *inf;          /* gzip: the inflating thread, or NULL */
  csvstage_error gz_err;  /* a broken gzip stream, told after the data before it */
  int gz_failed;
  EVP_MD_CTX *sha;        /* SHA-256 of the bytes read from the file (the
                             ledger's), or NULL when it cannot be had */
  int sha_done;
  char sha_hex[65];
};

/* Feeds bytes read from the file to the SHA-256. */
static void
hash(cs_input *in, const void *data, size_t n)
{
  if (in->sha && n > 0 && EVP_DigestUpdate(in->sha, data, n) != 1) {
    EVP_MD_CTX_free(in->sha);
    in->sha = NULL;
  }
}

static long read_gzip(cs_input *in, char *buf, size_t cap, csvstage_error *err);
static void start_inflater(cs_input *in);

static csvstage_code
read_fail(cs_input *in, csvstage_error *err)
{
  return cs_fail(err, CSVSTAGE_E_IO, "%s: read error: %s", in->name,
                 strerror(errno));
}

/* read() that retries on EINTR. */
static long
read_fd(int fd, void *buf, size_t n)
{
  ssize_t r;

  do
    r = read(fd, buf, n);
  while (r < 0 && errno == EINTR);
  return (long)r;
}

cs_input *
cs_input_open(const char *path, csvstage_error *err)
{
  return cs_input_open_member(path, 0, NULL, err);
}

cs_input *
cs_input_open_hashed(const char *path, int sha256, csvstage_error *err)
{
  return cs_input_open_member(path, sha256, NULL, err);
}

/* The format the first bytes of a file announce. bzip2's three letters
 * could begin a CSV, so its block (or end-of-stream) magic must follow. */
static cs_compression
sniff(const unsigned char *m, size_t n)
{
  static const unsigned char zstd[] = {0x28, 0xb5, 0x2f, 0xfd};
  static const unsigned char xz[] = {0xfd, '7', 'z', 'X', 'Z', 0x00};
  static const unsigned char bz_block[] = {0x31, 0x41, 0x59, 0x26, 0x53, 0x59};
  static const unsigned char bz_end[] = {0x17, 0x72, 0x45, 0x38, 0x50, 0x90};

  if (n >= 2 && m[0] == 0x1f && m[1] == 0x8b)
    return CS_GZIP;
  if (n >= 4 && memcmp(m, zstd, 4) == 0)
    return CS_ZSTD;
  if (n >= 6 && memcmp(m, xz, 6) == 0)
    return CS_XZ;
  if (n >= 10 && m[0] == 'B' && m[1] == 'Z' && m[2] == 'h' && m[3] >= '1' && m[3] <= '9' &&
      (memcmp(m + 4, bz_block, 6) == 0 || memcmp(m + 4, bz_end, 6) == 0))
    return CS_BZIP2;
  if (n >= 4 && m[0] == 'P' && m[1] == 'K' &&
      ((m[2] == 3 && m[3] == 4) || (m[2] == 5 && m[3] == 6)))
    return CS_ZIP;
  return CS_PLAIN;
}

const char *
cs_compression_name(cs_compression c)
{
  static const char *const names[] = {"plain", "gzip", "zstd", "xz", "bzip2", "zip"};
  return names[c];
}

/*
 * The SHA-256 (hex, into hex[65]) of the regular file open as fd, read
 * with pread so that the descriptor's position stays where it is: the file
 * is opened once, and what is hashed is what is then read. Returns 0, or
 * -1 with err filled.
 */
static int
hash_fd(int fd, const char *name, char hex[65], csvstage_error *err)
{
  unsigned char md[EVP_MAX_MD_SIZE], *buf = NULL;
  unsigned int n = 0;
  EVP_MD_CTX *sha = NULL;
  off_t at = 0;
  ssize_t r;
  int rc = -1;

  buf = malloc(RAW_SIZE);
  sha = EVP_MD_CTX_new();
  if (!buf || !sha || EVP_DigestInit_ex(sha, EVP_sha256(), NULL) != 1) {
    cs_fail(err, CSVSTAGE_E_NOMEM, "out of memory");
    goto out;
  }
  for (;;) {
    r = pread(fd, buf, RAW_SIZE, at);
    if (r < 0 && errno == EINTR)
      continue;
    if (r <= 0 || EVP_DigestUpdate(sha, buf, (size_t)r) != 1)
      break;
    at += r;
  }
  if (r != 0 || EVP_DigestFinal_ex(sha, md, &n) != 1 || n != 32) {
    cs_fail(err, CSVSTAGE_E_IO, "%s: read error: %s", name, strerror(errno));
    goto out;
  }
  for (unsigned int i = 0; i < n; i++)
    snprintf(hex + 2 * i, 3, "%02x", md[i]);
  rc = 0;
out:
  EVP_MD_CTX_free(sha);
  free(buf);
  return rc;
}

static int open_archive(cs_input *in, const char *member, csvstage_error *err);

cs_input *
cs_input_open_member(const char *path, int sha256, const char *member, csvstage_error *err)
{
  cs_input *in = calloc(1, sizeof(*in));
  unsigned char magic[MAGIC_MAX];
  size_t got = 0;
  struct stat st;

  if (!in)
    goto nomem;
  in->fd = -1;
  if (!path || strcmp(path, "-") == 0) {
    in->fd = STDIN_FILENO;
    in->name = strdup("stdin");
  } else {
    in->name = strdup(path);
    in->fd = open(path, O_RDONLY | O_CLOEXEC);
    if (in->fd < 0) {
      cs_fail(err, CSVSTAGE_E_IO, "%s: %s", path, strerror(errno));
      goto fail;
    }
    in->own_fd = 1;
  }
  if (!in->name)
    goto nomem;

  /* The first bytes tell the format; a pipe may give them one at a time. */
  while (got < MAGIC_MAX) {
    long r = read_fd(in->fd, magic + got, MAGIC_MAX - got);
    if (r < 0) {
      read_fail(in, err);
      goto fail;
    }
    if (r == 0) {
      in->raw_eof = 1;
      break;
    }
    got += (size_t)r;
  }
  in->total_read = (long long)got;
  if (sha256 && in->own_fd && fstat(in->fd, &st) == 0 && S_ISREG(st.st_mode)) {
    /* A regular file: hashed whole now, so that the ledger can skip
     * content loaded before without reading it (a pipe is hashed as read). */
    if (hash_fd(in->fd, in->name, in->sha_hex, err))
      goto fail;
    in->sha_done = 1;
    sha256 = 0;
  }
  in->sha = sha256 ? EVP_MD_CTX_new() : NULL;
  if (in->sha && EVP_DigestInit_ex(in->sha, EVP_sha256(), NULL) != 1) {
    EVP_MD_CTX_free(in->sha);
    in->sha = NULL;
  }
  hash(in, magic, got);
  in->format = sniff(magic, got);
  if (member && in->format != CS_ZIP) {
    cs_fail(err, CSVSTAGE_E_CONFIG, "%s: member '%s' named, but the file is not a zip archive (%s)",
            in->name, member, cs_compression_name(in->format));
    goto fail;
  }
  if (in->format == CS_GZIP) {
    in->gzip = 1;
    in->raw = malloc(RAW_SIZE);
    if (!in->raw)
      goto nomem;
    memcpy(in->raw, magic, got);
    in->raw_len = got;
    /* 15 + 16: a gzip wrapper only, so that a stray zlib stream is an error */
    if (inflateInit2(&in->zs, 15 + 16) != Z_OK)
      goto nomem;
    in->zs_ready = 1;
    start_inflater(in);
  } else {
    memcpy(in->peek, magic, got);
    in->peek_len = got;
    if (in->format != CS_PLAIN) {
      if (open_archive(in, member, err))
        goto fail;
      start_inflater(in);
    }
  }
  return in;

nomem:
  cs_fail(err, CSVSTAGE_E_NOMEM, "out of memory opening %s", path ? path : "stdin");
fail:
  cs_input_close(in);
  return NULL;
}

/* libarchive's read callback: the bytes read to tell the format, then the
 * file, counted (the compressed position) and hashed as read. */
static la_ssize_t
ar_read(struct archive *a, void *arg, const void **out)
{
  cs_input *in = arg;
  long r;

  if (in->peek_len > 0) {
    r = (long)in->peek_len;
    in->peek_len = 0;
    in->consumed += r;
    *out = in->peek;
    return r;
  }
  if (!in->raw && !(in->raw = malloc(RAW_SIZE))) {
    archive_set_error(a, ENOMEM, "out of memory");
    return -1;
  }
  r = read_fd(in->fd, in->raw, RAW_SIZE);
  if (r < 0) {
    archive_set_error(a, errno, "read error: %s", strerror(errno));
    return -1;
  }
  if (r == 0)
    in->raw_eof = 1;
  if (!in->ar_seeked)
    hash(in, in->raw, (size_t)r);
  in->total_read += r;
  in->consumed += r;
  *out = in->raw;
  return r;
}

/* A zip in a regular file is read by its central directory, at its end. */
static la_int64_t
ar_seek(struct archive *a, void *arg, la_int64_t offset, int whence)
{
  cs_input *in = arg;
  off_t to;

  (void)a;
  if (whence == SEEK_CUR) {
    offset += in->consumed;   /* the peeked bytes are behind the fd's offset */
    whence = SEEK_SET;
  }
  to = lseek(in->fd, (off_t)offset, whence);
  if (to < 0)
    return ARCHIVE_FATAL;
  in->peek_len = 0;
  in->consumed = (long long)to;
  in->raw_eof = 0;
  in->ar_seeked = 1;
  return (la_int64_t)to;
}

/* A stream libarchive could not decode: at the end of the file, most
 * likely cut short; before it, corrupt. err->offset is the compressed byte
 * reached. */
static void
broken(cs_input *in, csvstage_error *err, const char *why)
{
  const char *kind = cs_compression_name(in->format);

  if (!why)   /* libarchive's zip reader finds no central directory */
    why = in->format == CS_ZIP ? "no central directory" : "invalid data";
  if (in->raw_eof)
    cs_fail(err, CSVSTAGE_E_FORMAT, "%s: truncated or corrupt %s data: the file ends at byte "
            "%lld (%s)", in->name, kind, in->consumed, why);
  else
    cs_fail(err, CSVSTAGE_E_FORMAT, "%s: corrupt %s data near byte %lld: %s", in->name, kind,
            in->consumed, why);
  err->offset = in->consumed;
}

static struct archive *
new_archive(cs_input *in, int seekable, csvstage_error *err)
{
  struct archive *a = archive_read_new();

  if (!a)
    return cs_fail(err, CSVSTAGE_E_NOMEM, "out of memory opening %s", in->name), NULL;
  if (in->format == CS_ZSTD)
    archive_read_support_filter_zstd(a);
  else if (in->format == CS_XZ)
    archive_read_support_filter_xz(a);
  else if (in->format == CS_BZIP2)
    archive_read_support_filter_bzip2(a);
  if (in->format == CS_ZIP)
    archive_read_support_format_zip(a);
  else
    archive_read_support_format_raw(a);
  archive_read_set_read_callback(a, ar_read);
  if (seekable)
    archive_read_set_seek_callback(a, ar_seek);
  archive_read_set_callback_data(a, in);
  if (archive_read_open1(a) != ARCHIVE_OK) {
    const char *why = archive_error_string(a);
    if (in->format != CS_ZIP && why && strcmp(why, "Unrecognized archive format") == 0) {
      /* The stream decoded to nothing, which the raw format does not take:
       * an empty file, compressed. */
      archive_read_free(a);
      in->done = 1;
      return NULL;
    }
    broken(in, err, why);
    archive_read_free(a);
    return NULL;
  }
  return a;
}

/* Moves a to the next regular file in the archive: 1 with *name set, 0 at
 * the end, -1 with err filled. */
static int
next_file(cs_input *in, struct archive *a, const char **name, csvstage_error *err)
{
  struct archive_entry *e;
  int r;

  while ((r = archive_read_next_header(a, &e)) == ARCHIVE_OK || r == ARCHIVE_WARN) {
    if (archive_entry_filetype(e) == AE_IFREG) {
      *name = archive_entry_pathname(e);
      if (!*name)
        *name = "";
      return 1;
    }
  }
  if (r == ARCHIVE_EOF)
    return 0;
  broken(in, err, archive_error_string(a));
  return -1;
}

/* Appends name to a list for messages, up to a few. */
static void
list_name(char *list, size_t size, int *n, const char *name)
{
  size_t len = strlen(list);

  if (++*n <= 5)
    snprintf(list + len, size - len, "%s'%s'", *n > 1 ? ", " : "", name);
  else if (*n == 6)
    snprintf(list + len, size - len, ", ...");
}

/*
 * Opens libarchive on the file, at the member to read. A zip in a regular
 * file is listed first (its central directory: no data read) so that one
 * with several files and none named is refused before anything is loaded;
 * from a pipe, the member is the first file (or the one named), and a
 * second one found after it is an error then (cs_input_read's).
 */
static int
open_archive(cs_input *in, const char *member, csvstage_error *err)
{
  struct stat st;
  int seekable = in->format == CS_ZIP && fstat(in->fd, &st) == 0 && S_ISREG(st.st_mode);
  char list[512] = "";
  int n = 0, found = 0, r;
  const char *name;

  in->member_named = member != NULL;
  if (seekable) {
    struct archive *a = new_archive(in, 1, err);
    if (!a)
      return -1;
    while ((r = next_file(in, a, &name, err)) == 1) {
      list_name(list, sizeof(list), &n, name);
      if (member ? strcmp(name, member) == 0 : n == 1) {
        found = 1;
        free(in->member);
        in->member = strdup(name);
      }
    }
    archive_read_free(a);
    if (r < 0)
      return -1;
    if (n == 0)
      return cs_fail(err, CSVSTAGE_E_PREFLIGHT, "%s: the zip archive holds no file", in->name), -1;
    if (member && !found)
      return cs_fail(err, CSVSTAGE_E_PREFLIGHT, "%s: the zip archive holds no file '%s' (it holds %s)",
                     in->name, member, list), -1;
    if (!member && n > 1)
      return cs_fail(err, CSVSTAGE_E_PREFLIGHT, "%s: the zip archive holds %d files (%s): name the "
                     "one to load with --member NAME or [source] member", in->name, n, list), -1;
    if (!in->member)
      return cs_fail(err, CSVSTAGE_E_NOMEM, "out of memory opening %s", in->name), -1;
    member = in->member;
    in->member_named = 1;   /* the listing made the choice */
    /* Read from the start again (a regular file, hashed at the open:
     * libarchive reads it out of order). */
    if (lseek(in->fd, 0, SEEK_SET) != 0)
      return read_fail(in, err), -1;
    in->consumed = 0;
    in->raw_eof = 0;
  }
  if (!(in->ar = new_archive(in, seekable, err)))
    return in->done ? 0 : -1;
  if (in->format != CS_ZIP) {
    struct archive_entry *e;
    r = archive_read_next_header(in->ar, &e);
    if (r == ARCHIVE_EOF)
      in->done = 1;     /* no data at all */
    else if (r != ARCHIVE_OK && r != ARCHIVE_WARN)
      return broken(in, err, archive_error_string(in->ar)), -1;
    return 0;
  }
  n = 0;
  list[0] = '\0';
  while ((r = next_file(in, in->ar, &name, err)) == 1) {
    list_name(list, sizeof(list), &n, name);
    if (!member || strcmp(name, member) == 0)
      break;
  }
  if (r < 0)
    return -1;
  if (r == 0)
    return (member ? cs_fail(err, CSVSTAGE_E_PREFLIGHT, "%s: the zip archive holds no file '%s'%s%s%s",
                             in->name, member, n ? " (it holds " : "", list, n ? ")" : "")
                   : cs_fail(err, CSVSTAGE_E_PREFLIGHT, "%s: the zip archive holds no file",
                             in->name)), -1;
  if (!in->member && !(in->member = strdup(name)))
    return cs_fail(err, CSVSTAGE_E_NOMEM, "out of memory opening %s", in->name), -1;
  return 0;
}

/* A broken stream, in->gz_err said: what this call read before the break
 * (n bytes) is handed on first, so that the reader sees every line before
 * it; the error comes with the next call. Returns n, or -1. */
static long
fail_after(cs_input *in, long n, csvstage_error *err)
{
  in->gz_failed = 1;
  if (n > 0)
    return n;
  if (err && !cs_failed(err))
    *err = in->gz_err;
  return -1;
}

/* Records a broken stream libarchive reports, as gzip_fail does. */
static long
archive_fail(cs_input *in, long n, csvstage_error *err, const char *why)
{
  broken(in, &in->gz_err, why);
  return fail_after(in, n, err);
}

/* Reads what is left of the file, for the hash of the whole of it. */
static int
drain(cs_input *in, csvstage_error *err)
{
  char tail[64 * 1024];
  long r;

  if (in->ar_seeked || !in->sha)
    return 0;
  while (!in->raw_eof) {
    r = read_fd(in->fd, tail, sizeof(tail));
    if (r < 0)
      return read_fail(in, err), -1;
    if (r == 0)
      in->raw_eof = 1;
    hash(in, tail, (size_t)r);
    in->total_read += r;
  }
  return 0;
}

static long
read_archive(cs_input *in, char *buf, size_t cap, csvstage_error *err)
{
  long n = 0;

  if (in->gz_failed) {
    if (err && !cs_failed(err))
      *err = in->gz_err;
    return -1;
  }
  if (in->done)   /* (a stream with no data at all ends here first) */
    return drain(in, err) ? -1 : 0;
  while ((size_t)n < cap && !in->done) {
    la_ssize_t r = archive_read_data(in->ar, buf + n, cap - (size_t)n);
    if (r > 0) {
      n += (long)r;
      continue;
    }
    if (r < 0)
      return archive_fail(in, n, err, archive_error_string(in->ar));
    in->done = 1;
    if (in->format == CS_ZIP && !in->member_named) {
      /* From a pipe the archive is met in order: a second file after the
       * one read means the choice was not the caller's to make. */
      const char *name;
      csvstage_error e;
      int more;
      csvstage_error_clear(&e);
      more = next_file(in, in->ar, &name, &e);
      if (more != 0) {
        if (more < 0)
          in->gz_err = e;
        else
          cs_fail(&in->gz_err, CSVSTAGE_E_PREFLIGHT, "%s: the zip archive holds more than one "
                  "file ('%s', then '%s'): name the one to load with --member NAME or [source] "
                  "member", in->name, in->member, name);
        in->gz_err.offset = in->consumed;
        return fail_after(in, n, err);
      }
    }
    if (drain(in, err))
      return -1;
  }
  return n;
}

static long
read_plain(cs_input *in, char *buf, size_t cap, csvstage_error *err)
{
  long r;

  if (in->peek_len > 0) {
    size_t n = in->peek_len < cap ? in->peek_len : cap;
    memcpy(buf, in->peek, n);
    memmove(in->peek, in->peek + n, in->peek_len - n);
    in->peek_len -= n;
    in->consumed += (long long)n;
    return (long)n;
  }
  if (in->raw_eof)
    return 0;
  r = read_fd(in->fd, buf, cap);
  if (r < 0) {
    read_fail(in, err);
    return -1;
  }
  if (r == 0)
    in->raw_eof = 1;
  hash(in, buf, (size_t)r);
  in->consumed += r;
  in->total_read += r;
  return r;
}

/* Refills in->raw when inflate has used it all. Returns 0, or -1 on error. */
static int
fill_raw(cs_input *in, csvstage_error *err)
{
  long r;

  if (in->raw_pos < in->raw_len || in->raw_eof)
    return 0;
  r = read_fd(in->fd, in->raw, RAW_SIZE);
  if (r < 0) {
    read_fail(in, err);
    return -1;
  }
  if (r == 0)
    in->raw_eof = 1;
  hash(in, in->raw, (size_t)r);
  in->raw_pos = 0;
  in->raw_len = (size_t)r;
  in->total_read += r;
  return 0;
}

/* Records a corrupt or truncated gzip stream: the message names the file
 * (the caller's format starts with it) and err->offset the compressed byte
 * where reading stopped. What this call inflated before the break is
 * returned first, so that the reader sees every line before it; the error
 * comes with the next call. Returns that byte count, or -1. */
static long
gzip_fail(cs_input *in, char *buf, csvstage_error *err, const char *fmt, const char *detail)
{
  long n = (long)(in->zs.next_out - (unsigned char *)buf);

  cs_fail(&in->gz_err, CSVSTAGE_E_FORMAT, fmt, in->name, in->consumed, detail);
  in->gz_err.offset = in->consumed;
  return fail_after(in, n, err);
}

static long
read_gzip(cs_input *in, char *buf, size_t cap, csvstage_error *err)
{
  if (in->gz_failed) {
    if (err && !cs_failed(err))
      *err = in->gz_err;
    return -1;
  }
  in->zs.next_out = (unsigned char *)buf;
  in->zs.avail_out = (uInt)(cap > (1u << 30) ? (1u << 30) : cap);

  while (in->zs.avail_out > 0 && !in->done) {
    int zr;
    size_t before, out_before;

    if (fill_raw(in, err) < 0)
      return -1;
    if (in->member_done) {
      /* After a member: more gzip data, or the end. Anything else after a
       * complete member is corruption, not a reason to stop quietly. */
      if (in->raw_pos == in->raw_len) {
        in->done = 1;
        break;
      }
      if (in->raw[in->raw_pos] != 0x1f) {
        return gzip_fail(in, buf, err, "%s: corrupt gzip data: trailing garbage at byte %lld%s", "");
      }
      inflateReset(&in->zs);
      in->member_done = 0;
    }
    in->zs.next_in = in->raw + in->raw_pos;
    in->zs.avail_in = (uInt)(in->raw_len - in->raw_pos);
    before = in->zs.avail_in;
    out_before = in->zs.avail_out;
    zr = inflate(&in->zs, Z_NO_FLUSH);
    if (zr == Z_BUF_ERROR || (zr == Z_OK && before == 0 && out_before == in->zs.avail_out)) {
      /* No progress: inflate wants input. At the end of the file that means
       * the stream was cut short (inflate may still have had output to give
       * from what it already took, so this is asked only after trying). */
      if (before == 0 && in->raw_eof) {
        return gzip_fail(in, buf, err,
                         "%s: truncated gzip data: the stream ends at byte %lld before its end marker%s",
                         "");
      }
    }
    in->raw_pos += before - in->zs.avail_in;
    in->consumed += (long long)(before - in->zs.avail_in);
    if (zr == Z_STREAM_END) {
      in->member_done = 1;
    } else if (zr == Z_NEED_DICT || zr == Z_DATA_ERROR || zr == Z_STREAM_ERROR) {
      return gzip_fail(in, buf, err, "%s: corrupt gzip data near byte %lld: %s",
                       in->zs.msg ? in->zs.msg : "invalid data");
    } else if (zr == Z_MEM_ERROR) {
      cs_fail(err, CSVSTAGE_E_NOMEM, "%s: out of memory decompressing", in->name);
      return -1;
    }
    /* Z_OK, or Z_BUF_ERROR (no progress possible): loop for more input. */
  }
  return (long)(in->zs.next_out - (unsigned char *)buf);
}

static void *
inflate_main(void *arg)
{
  cs_input *in = arg;
  inflater *f = in->inf;
  csvstage_error e;

  csvstage_error_clear(&e);
  for (;;) {
    int slot;
    long n;

    pthread_mutex_lock(&f->mu);
    while (f->count == NBUF && !f->stop)
      pthread_cond_wait(&f->cv, &f->mu);
    if (f->stop) {
      pthread_mutex_unlock(&f->mu);
      break;
    }
    slot = (f->head + f->count) % NBUF;
    pthread_mutex_unlock(&f->mu);

    n = in->gzip ? read_gzip(in, f->buf[slot], BUF_SIZE, &e)
                 : read_archive(in, f->buf[slot], BUF_SIZE, &e);

    pthread_mutex_lock(&f->mu);
    f->consumed = in->consumed;
    if (n > 0) {
      f->len[slot] = (size_t)n;
      f->count++;
    } else {
      f->finished = 1;
      if (n < 0) {
        f->failed = 1;
        f->err = e;
      }
    }
    pthread_cond_broadcast(&f->cv);
    pthread_mutex_unlock(&f->mu);
    if (n <= 0)
      break;
  }
  return NULL;
}

/* Starts the thread; without one (no memory, no thread), the reader
 * inflates in its own thread as before. */
static void
start_inflater(cs_input *in)
{
  inflater *f = calloc(1, sizeof(*f));
  int i;

  if (!f)
    return;
  for (i = 0; i < NBUF; i++)
    if (!(f->buf[i] = malloc(BUF_SIZE)))
      break;
  if (i == NBUF && pthread_mutex_init(&f->mu, NULL) == 0) {
    if (pthread_cond_init(&f->cv, NULL) == 0) {
      in->inf = f;
      if (pthread_create(&f->thread, NULL, inflate_main, in) == 0)
        return;
      in->inf = NULL;
      pthread_cond_destroy(&f->cv);
    }
    pthread_mutex_destroy(&f->mu);
  }
  for (i = 0; i < NBUF; i++)
    free(f->buf[i]);
  free(f);
}

static long
read_inflated(cs_input *in, char *buf, size_t cap, csvstage_error *err)
{
  inflater *f = in->inf;
  size_t n;

  pthread_mutex_lock(&f->mu);
  while (f->count == 0 && !f->finished)
    pthread_cond_wait(&f->cv, &f->mu);
  if (f->count == 0) {
    int failed = f->failed;
    if (failed && !cs_failed(err) && err)
      *err = f->err;
    pthread_mutex_unlock(&f->mu);
    return failed ? -1 : 0;
  }
  pthread_mutex_unlock(&f->mu);
  /* buf[head] is the reader's until it gives it back. */
  n = f->len[f->head] - f->pos;
  if (n > cap)
    n = cap;
  memcpy(buf, f->buf[f->head] + f->pos, n);
  f->pos += n;
  if (f->pos == f->len[f->head]) {
    pthread_mutex_lock(&f->mu);
    f->head = (f->head + 1) % NBUF;
    f->count--;
    f->pos = 0;
    pthread_cond_broadcast(&f->cv);
    pthread_mutex_unlock(&f->mu);
  }
  return (long)n;
}

static void
stop_inflater(cs_input *in)
{
  inflater *f = in->inf;

  if (!f)
    return;
  pthread_mutex_lock(&f->mu);
  f->stop = 1;
  pthread_cond_broadcast(&f->cv);
  pthread_mutex_unlock(&f->mu);
  pthread_join(f->thread, NULL);
  pthread_cond_destroy(&f->cv);
  pthread_mutex_destroy(&f->mu);
  for (int i = 0; i < NBUF; i++)
    free(f->buf[i]);
  free(f);
  in->inf = NULL;
}

long
cs_input_read(cs_input *in, char *buf, size_t cap, csvstage_error *err)
{
  if (cap == 0)
    return 0;
  if (in->inf)
    return read_inflated(in, buf, cap, err);
  if (in->gzip)
    return read_gzip(in, buf, cap, err);
  if (in->format != CS_PLAIN)
    return read_archive(in, buf, cap, err);
  return read_plain(in, buf, cap, err);
}

long long
cs_input_size(const cs_input *in)
{
  struct stat st;

  if (fstat(in->fd, &st) != 0 || !S_ISREG(st.st_mode))
    return -1;
  return (long long)st.st_size;
}

const char *
cs_input_name(const cs_input *in)
{
  return in->name;
}

long long
cs_input_position(const cs_input *in)
{
  long long n;

  if (!in->inf)
    return in->consumed;
  pthread_mutex_lock(&in->inf->mu);
  n = in->inf->consumed;
  pthread_mutex_unlock(&in->inf->mu);
  return n;
}

const char *
cs_input_sha256(cs_input *in)
{
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int n = 0;

  if (in->sha_done)
    return in->sha_hex[0] ? in->sha_hex : NULL;
  /* Only a stream read to its end has the hash of the whole file. */
  if (!in->raw_eof || (in->inf && !in->inf->finished))
    return NULL;
  in->sha_done = 1;
  if (!in->sha || EVP_DigestFinal_ex(in->sha, md, &n) != 1 || n != 32)
    return NULL;
  for (unsigned int i = 0; i < n; i++)
    snprintf(in->sha_hex + 2 * i, 3, "%02x", md[i]);
  return in->sha_hex;
}

cs_compression
cs_input_compression(const cs_input *in)
{
  return in->format;
}

const char *
cs_input_member(const cs_input *in)
{
  return in->member;
}

void
cs_input_close(cs_input *in)
{
  if (!in)
    return;
  stop_inflater(in);
  EVP_MD_CTX_free(in->sha);
  if (in->zs_ready)
    inflateEnd(&in->zs);
  if (in->ar)
    archive_read_free(in->ar);
  free(in->member);
  if (in->own_fd && in->fd >= 0)
    close(in->fd);
  free(in->raw);
  free(in->name);
  free(in);
}
