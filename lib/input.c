/* input.c: file or stdin, gzip or plain, through zlib's inflate.
 *
 * inflate is used directly rather than gzread so that a truncated or corrupt
 * stream is an error naming the compressed offset, never a short read that
 * would look like the end of the file. */
#include <config.h>

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sys/stat.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <zlib.h>

#include <openssl/evp.h>

#include "error.h"
#include "input.h"

enum { RAW_SIZE = 256 * 1024 };

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
  unsigned char peek[2];  /* plain input: the bytes read to detect gzip */
  size_t peek_len;
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
  return cs_input_open_hashed(path, 0, err);
}

cs_input *
cs_input_open_hashed(const char *path, int sha256, csvstage_error *err)
{
  cs_input *in = calloc(1, sizeof(*in));
  unsigned char magic[2];
  size_t got = 0;

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

  /* Two bytes tell gzip (1f 8b) from anything else; a pipe may give them
   * one at a time. */
  while (got < 2) {
    long r = read_fd(in->fd, magic + got, 2 - got);
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
  in->sha = sha256 ? EVP_MD_CTX_new() : NULL;
  if (in->sha && EVP_DigestInit_ex(in->sha, EVP_sha256(), NULL) != 1) {
    EVP_MD_CTX_free(in->sha);
    in->sha = NULL;
  }
  hash(in, magic, got);
  if (got == 2 && magic[0] == 0x1f && magic[1] == 0x8b) {
    in->gzip = 1;
    in->raw = malloc(RAW_SIZE);
    if (!in->raw)
      goto nomem;
    memcpy(in->raw, magic, 2);
    in->raw_len = 2;
    /* 15 + 16: a gzip wrapper only, so that a stray zlib stream is an error */
    if (inflateInit2(&in->zs, 15 + 16) != Z_OK)
      goto nomem;
    in->zs_ready = 1;
    start_inflater(in);
  } else {
    memcpy(in->peek, magic, got);
    in->peek_len = got;
  }
  return in;

nomem:
  cs_fail(err, CSVSTAGE_E_NOMEM, "out of memory opening %s", path ? path : "stdin");
fail:
  cs_input_close(in);
  return NULL;
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
  in->gz_failed = 1;
  if (n > 0)
    return n;
  if (err && !cs_failed(err))
    *err = in->gz_err;
  return -1;
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

    n = read_gzip(in, f->buf[slot], BUF_SIZE, &e);

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
  return in->gzip ? read_gzip(in, buf, cap, err) : read_plain(in, buf, cap, err);
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

int
cs_file_sha256(const char *path, char hex[65], csvstage_error *err)
{
  unsigned char md[EVP_MAX_MD_SIZE], *buf = NULL;
  unsigned int n = 0;
  EVP_MD_CTX *sha = NULL;
  struct stat st;
  int fd = -1, rc = -1;
  long r;

  if (!path || strcmp(path, "-") == 0)
    return 0;
  fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    cs_fail(err, CSVSTAGE_E_IO, "%s: %s", path, strerror(errno));
    return -1;
  }
  if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    close(fd);
    return 0;
  }
  buf = malloc(RAW_SIZE);
  sha = EVP_MD_CTX_new();
  if (!buf || !sha || EVP_DigestInit_ex(sha, EVP_sha256(), NULL) != 1) {
    cs_fail(err, CSVSTAGE_E_NOMEM, "out of memory");
    goto out;
  }
  while ((r = read_fd(fd, buf, RAW_SIZE)) > 0)
    if (EVP_DigestUpdate(sha, buf, (size_t)r) != 1)
      break;
  if (r != 0 || EVP_DigestFinal_ex(sha, md, &n) != 1 || n != 32) {
    cs_fail(err, CSVSTAGE_E_IO, "%s: read error: %s", path, strerror(errno));
    goto out;
  }
  for (unsigned int i = 0; i < n; i++)
    snprintf(hex + 2 * i, 3, "%02x", md[i]);
  rc = 1;
out:
  EVP_MD_CTX_free(sha);
  free(buf);
  close(fd);
  return rc;
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

int
cs_input_is_gzip(const cs_input *in)
{
  return in->gzip;
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
  if (in->own_fd && in->fd >= 0)
    close(in->fd);
  free(in->raw);
  free(in->name);
  free(in);
}
