/* rejects.c: the reject file: where it goes (cs_rejects_path), written
 * beside that path (a file with no name where the system allows) and
 * renamed into place before COMMIT, so that the path always holds a whole
 * file and a committed load never lacks its rejects. */
#define _GNU_SOURCE   /* O_TMPFILE */
#include <config.h>

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "copyenc.h"
#include "error.h"
#include "rejects.h"
#include "settings.h"

const char *const cs_reject_meta[7] = {
  "_line", "_sqlstate", "_column", "_constraint", "_message", "_detail", "_raw",
};

struct cs_rejects {
  char *path;
  char *tmp_path;       /* the file's name until placed, or NULL: a file
                           with no name yet (O_TMPFILE), which a killed run
                           cannot leave behind */
  char *dir;            /* path's directory */
  char *previous;       /* once placed: the file path held before, kept
                           under this name until the outcome is known */
  int placed;           /* the rows are at path */
  FILE *out;
  FILE *early;          /* malformed records, [line][len][row] each */
  long long nearly_left;
  long long early_line; /* the next early reject's line, -1 when none read */
  int early_reading;    /* early rejects are being read back */
  cs_buf early_row;
  char delimiter, quote;
  char *null_marker;
  long long rows;
  cs_buf buf;
};

/* One field, quoted when it must be: empty (vs NULL), or holding the
 * delimiter, the quote, a line end, or the NULL marker. */
static int
put_field(cs_rejects *r, cs_buf *b, const char *f, size_t n, int first)
{
  int quote = 0;

  if (cs_buf_reserve(b, 2 * n + 3 + strlen(r->null_marker)) != 0)
    return -1;
  if (!first)
    b->data[b->len++] = r->delimiter;
  if (!f) {
    memcpy(b->data + b->len, r->null_marker, strlen(r->null_marker));
    b->len += strlen(r->null_marker);
    return 0;
  }
  quote = n == 0 || (*r->null_marker && strlen(r->null_marker) == n &&
                     memcmp(f, r->null_marker, n) == 0);
  for (size_t i = 0; i < n; i++) {
    if (f[i] == r->delimiter || f[i] == r->quote || f[i] == '\n' || f[i] == '\r')
      quote = 1;
  }
  if (!quote) {
    memcpy(b->data + b->len, f, n);
    b->len += n;
    return 0;
  }
  b->data[b->len++] = r->quote;
  for (size_t i = 0; i < n; i++) {
    if (f[i] == r->quote)
      b->data[b->len++] = r->quote;
    b->data[b->len++] = f[i];
  }
  b->data[b->len++] = r->quote;
  return 0;
}

/* csvstage's own columns: empty is written as nothing, not as "". */
static int
put_text(cs_rejects *r, cs_buf *b, const char *s, int first)
{
  if (!s || !*s) {
    if (cs_buf_reserve(b, 1) != 0)
      return -1;
    if (!first)
      b->data[b->len++] = r->delimiter;
    return 0;
  }
  return put_field(r, b, s, strlen(s), first);
}

/* Formats row into b (replacing its content), newline included. */
static int
format_row(cs_rejects *r, cs_buf *b, const cs_reject_row *row)
{
  char line[32];

  b->len = 0;
  snprintf(line, sizeof(line), "%lld", row->line);
  if (put_text(r, b, line, 1) || put_text(r, b, row->sqlstate, 0) ||
      put_text(r, b, row->column, 0) || put_text(r, b, row->constraint, 0) ||
      put_text(r, b, row->message, 0) || put_text(r, b, row->detail, 0))
    return -1;
  for (int i = 0; i < row->nfields; i++) {
    const char *f = row->fields ? row->fields[i] : NULL;
    size_t n = f ? (row->lens ? row->lens[i] : strlen(f)) : 0;
    if (put_field(r, b, f, n, 0))
      return -1;
  }
  /* The raw record without its final line end: the file adds its own. */
  size_t rawlen = row->raw ? row->raw_len : 0;
  while (rawlen > 0 && (row->raw[rawlen - 1] == '\n' || row->raw[rawlen - 1] == '\r'))
    rawlen--;
  if ((rawlen ? put_field(r, b, row->raw, rawlen, 0) : put_text(r, b, "", 0)) ||
      cs_buf_reserve(b, 2) != 0)
    return -1;
  b->data[b->len++] = '\n';
  return 0;
}

static int
write_out(cs_rejects *r, const char *data, size_t n, csvstage_error *err)
{
  if (fwrite(data, 1, n, r->out) != n) {
    cs_fail(err, CSVSTAGE_E_IO, "%s: %s", r->tmp_path, strerror(errno));
    return -1;
  }
  return 0;
}

/* A name beside path that nothing holds: path.TAG-XXXXXX, created empty
 * (0600) when create, else only reserved and removed again (then free for
 * a link to take). Returns it (malloc'd) or NULL with errno set. */
static char *
fresh_name(const char *path, const char *tag, int create)
{
  char *name = malloc(strlen(path) + strlen(tag) + 9);
  int fd;

  if (!name)
    return errno = ENOMEM, NULL;
  sprintf(name, "%s.%s-XXXXXX", path, tag);
  fd = mkstemp(name);
  if (fd < 0) {
    int e = errno;
    free(name);
    return errno = e, NULL;
  }
  close(fd);
  if (!create)
    unlink(name);
  return name;
}

/*
 * The file to write the rejects to, in path's directory (so that a
 * directory that does not exist or cannot be written fails at once, and
 * the rename into place stays within one file system): one with no name
 * (O_TMPFILE) where the kernel, the file system and /proc allow naming it
 * later, else a named temporary file (r->tmp_path). Returns the fd, or -1
 * with errno set.
 */
static int
create_file(cs_rejects *r)
{
#ifdef O_TMPFILE
  if (access("/proc/self/fd", X_OK) == 0) {
    int fd = open(r->dir, O_TMPFILE | O_WRONLY | O_CLOEXEC, 0600);
    if (fd >= 0 || (errno != EOPNOTSUPP && errno != EISDIR && errno != EINVAL))
      return fd;
  }
#endif
  r->tmp_path = fresh_name(r->path, "tmp", 1);
  return r->tmp_path ? open(r->tmp_path, O_WRONLY | O_CLOEXEC) : -1;
}

cs_rejects *
cs_rejects_open(const char *path, char delimiter, char quote, const char *null_marker,
                const char *const *names, int n, csvstage_error *err)
{
  cs_rejects *r = calloc(1, sizeof(*r));
  const char *slash;
  int fd = -1;

  if (!r)
    goto nomem;
  r->delimiter = delimiter;
  /* A source with no quote still gets a quoted reject file: messages and
   * raw records hold the delimiter (the reader knows the file again). */
  r->quote = quote ? quote : '"';
  r->early_line = -1;
  r->null_marker = strdup(null_marker ? null_marker : "");
  r->path = strdup(path);
  slash = strrchr(path, '/');
  r->dir = !slash          ? strdup(".")
           : slash == path ? strdup("/")
                           : strndup(path, (size_t)(slash - path));
  if (!r->null_marker || !r->path || !r->dir)
    goto nomem;
  fd = create_file(r);   /* mode 0600 */
  if (fd < 0) {
    cs_fail(err, CSVSTAGE_E_IO, "cannot create the reject file %s: %s", path,
            strerror(errno));
    goto fail;
  }
  r->out = fdopen(fd, "w");
  if (!r->out) {
    close(fd);
    goto nomem;
  }
  r->early = tmpfile();
  if (!r->early) {
    cs_fail(err, CSVSTAGE_E_IO, "cannot create a temporary file: %s", strerror(errno));
    goto fail;
  }
  r->buf.len = 0;
  for (int i = 0; i < CS_REJECT_META_BEFORE + n + 1; i++) {
    const char *name = i < CS_REJECT_META_BEFORE ? cs_reject_meta[i]
                     : i < CS_REJECT_META_BEFORE + n ? names[i - CS_REJECT_META_BEFORE]
                     : cs_reject_meta[6];
    if (put_text(r, &r->buf, name, i == 0))
      goto nomem;
  }
  if (cs_buf_reserve(&r->buf, 1))
    goto nomem;
  r->buf.data[r->buf.len++] = '\n';
  if (write_out(r, r->buf.data, r->buf.len, err))
    goto fail;
  return r;
nomem:
  cs_fail(err, CSVSTAGE_E_NOMEM, "out of memory");
fail:
  cs_rejects_discard(r);
  return NULL;
}

int
cs_rejects_add_early(cs_rejects *r, const cs_reject_row *row, csvstage_error *err)
{
  int64_t head[2];

  if (format_row(r, &r->buf, row))
    return cs_fail(err, CSVSTAGE_E_NOMEM, "out of memory"), -1;
  head[0] = row->line;
  head[1] = (int64_t)r->buf.len;
  if (fwrite(head, sizeof(head), 1, r->early) != 1 ||
      fwrite(r->buf.data, 1, r->buf.len, r->early) != r->buf.len)
    return cs_fail(err, CSVSTAGE_E_IO, "writing a temporary file: %s", strerror(errno)), -1;
  r->nearly_left++;
  r->rows++;
  return 0;
}

/* Writes the early rejects on lines before `before` (all: -1). */
static int
flush_early(cs_rejects *r, long long before, csvstage_error *err)
{
  int64_t head[2];

  for (;;) {
    if (r->early_line < 0) {
      if (r->nearly_left == 0)
        return 0;
      if (!r->early_reading) {
        /* All early rejects come before the first late one is added. */
        if (fflush(r->early) != 0 || fseek(r->early, 0, SEEK_SET) != 0)
          return cs_fail(err, CSVSTAGE_E_IO, "reading back a temporary file: %s",
                         strerror(errno)), -1;
        r->early_reading = 1;
      }
      if (fread(head, sizeof(head), 1, r->early) != 1 ||
          cs_buf_reserve(&r->early_row, (size_t)head[1]) != 0 ||
          fread(r->early_row.data, 1, (size_t)head[1], r->early) != (size_t)head[1])
        return cs_fail(err, CSVSTAGE_E_IO, "reading back a temporary file"), -1;
      r->early_row.len = (size_t)head[1];
      r->early_line = head[0];
      r->nearly_left--;
    }
    if (before >= 0 && r->early_line >= before)
      return 0;
    if (write_out(r, r->early_row.data, r->early_row.len, err))
      return -1;
    r->early_line = -1;
  }
}

int
cs_rejects_add(cs_rejects *r, const cs_reject_row *row, csvstage_error *err)
{
  if (flush_early(r, row->line, err))
    return -1;
  if (format_row(r, &r->buf, row))
    return cs_fail(err, CSVSTAGE_E_NOMEM, "out of memory"), -1;
  r->rows++;
  return write_out(r, r->buf.data, r->buf.len, err);
}

int
cs_rejects_finish(cs_rejects *r, csvstage_error *err)
{
  if (flush_early(r, -1, err))
    return -1;
  if (fflush(r->out) != 0 || fsync(fileno(r->out)) != 0)
    return cs_fail(err, CSVSTAGE_E_IO, "%s: %s", r->tmp_path, strerror(errno)), -1;
  return 0;
}

long long
cs_rejects_count(const cs_rejects *r)
{
  return r ? r->rows : 0;
}

/* Makes the directory's entries (the rename) durable. */
static int
sync_dir(const char *dir)
{
  int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC), rc;

  if (fd < 0)
    return -1;
  rc = fsync(fd);
  close(fd);
  return rc;
}

/* Gives the file written so far a name beside path (the temporary one it
 * has, or a fresh one for a file without a name). Returns 0 or -1 (errno). */
static int
name_file(cs_rejects *r)
{
  char proc[64];

  if (r->tmp_path)
    return 0;
  r->tmp_path = fresh_name(r->path, "tmp", 0);
  if (!r->tmp_path)
    return -1;
  snprintf(proc, sizeof(proc), "/proc/self/fd/%d", fileno(r->out));
  if (linkat(AT_FDCWD, proc, AT_FDCWD, r->tmp_path, AT_SYMLINK_FOLLOW) != 0) {
    int e = errno;
    free(r->tmp_path);
    r->tmp_path = NULL;
    return errno = e, -1;
  }
  return 0;
}

int
cs_rejects_place(cs_rejects *r, csvstage_error *err)
{
  struct stat st;

  if (r->rows == 0 || r->placed)
    return 0;
  if (name_file(r) != 0)
    goto fail;
  /* What path held (an earlier run's rejects) stays, under another name,
   * until this load's outcome is known. */
  if (lstat(r->path, &st) == 0) {
    if (!(r->previous = fresh_name(r->path, "previous", 0)))
      goto fail;
    if (link(r->path, r->previous) != 0) {
      free(r->previous);
      r->previous = NULL;
      goto fail;
    }
  } else if (errno != ENOENT) {
    goto fail;
  }
  if (rename(r->tmp_path, r->path) != 0)
    goto fail;
  free(r->tmp_path);
  r->tmp_path = NULL;
  r->placed = 1;
  if (sync_dir(r->dir) != 0)
    goto fail;
  return 0;
fail:
  cs_fail(err, CSVSTAGE_E_IO, "cannot put the reject file in place at %s: %s", r->path,
          strerror(errno));
  return -1;
}

int
cs_rejects_keep(cs_rejects *r, int keep_previous, char *note, size_t n)
{
  int rc = 0;

  if (!r)
    return 0;
  if (note && n)
    note[0] = '\0';
  if (r->placed) {
    if (r->previous && keep_previous) {
      if (note && n)
        snprintf(note, n, "%s", r->previous);
    } else if (r->previous) {
      unlink(r->previous);
    }
    free(r->previous);
    r->previous = NULL;
    r->placed = 0;
  } else if (r->rows == 0 && unlink(r->path) != 0 && errno != ENOENT) {
    /* An earlier run's file that no longer says what was rejected. */
    if (note && n)
      snprintf(note, n, "cannot remove the old reject file %s: %s", r->path, strerror(errno));
    rc = -1;
  }
  cs_rejects_discard(r);
  return rc;
}

void
cs_rejects_discard(cs_rejects *r)
{
  if (!r)
    return;
  if (r->placed) {
    /* Nothing of this load stays: path holds what it held before. */
    if (r->previous)
      rename(r->previous, r->path);
    else
      unlink(r->path);
    sync_dir(r->dir);
  }
  if (r->out)
    fclose(r->out);
  if (r->early)
    fclose(r->early);
  if (r->tmp_path)
    unlink(r->tmp_path);
  free(r->tmp_path);
  free(r->previous);
  free(r->dir);
  free(r->path);
  free(r->null_marker);
  free(r->buf.data);
  free(r->early_row.data);
  free(r);
}

/* The length of name without a final .gz, then .csv. */
static size_t
without_suffixes(const char *name)
{
  size_t len = strlen(name);

  if (len > 3 && strcmp(name + len - 3, ".gz") == 0)
    len -= 3;
  if (len > 4 && strncasecmp(name + len - 4, ".csv", 4) == 0)
    len -= 4;
  return len;
}

/*
 * The reject file's path: the configured one, with strftime patterns and
 * %f for the input's name without directory, .gz and .csv ("users" for
 * incoming/users.csv.gz, "stdin"), or NAME.rejects.csv beside the input
 * (stdin: in the current directory). several: one of several files in a
 * run; a configured path without %f then gets %f before its extension
 * (rejects.csv: rejects.users.csv), so that the files' reject files do not
 * replace each other.
 */
int
cs_rejects_path(const csvstage_settings *s, const char *input, int several, char *out, size_t n,
                csvstage_error *err)
{
  const char *name = !input || strcmp(input, "-") == 0 ? "stdin" : input;
  size_t len;

  if (s->rejects_file) {
    const char *p = s->rejects_file, *base = strrchr(p, '/') ? strrchr(p, '/') + 1 : p;
    const char *ext = several && !strstr(p, "%f") ? strrchr(base, '.') : NULL;
    const char *stem = strrchr(name, '/') ? strrchr(name, '/') + 1 : name;
    size_t stem_len = without_suffixes(stem);
    cs_buf pattern = {0};
    int failed = 0;
    time_t now = time(NULL);
    struct tm tm;

    if (several && !strstr(p, "%f") && !ext)
      ext = p + strlen(p);
    /* One pass: %f (and the name put in before ext) becomes the input's
     * name with its own % doubled for strftime; %% stays as it is. */
    for (;; p++) {
      int name_here = p == ext || (p[0] == '%' && p[1] == 'f');
      if (p == ext)
        failed |= cs_buf_printf(&pattern, ".");
      for (size_t i = 0; name_here && i < stem_len; i++)
        failed |= cs_buf_printf(&pattern, "%s%c", stem[i] == '%' ? "%" : "", stem[i]);
      if (!*p)
        break;
      if (p != ext && name_here) {
        p++;   /* the f of %f */
      } else if (p[0] == '%' && p[1] == '%') {
        failed |= cs_buf_printf(&pattern, "%%%%");
        p++;
      } else {
        failed |= cs_buf_printf(&pattern, "%c", *p);
      }
    }
    localtime_r(&now, &tm);
    if (failed || !pattern.data || strftime(out, n, pattern.data, &tm) == 0) {
      free(pattern.data);
      return cs_fail(err, CSVSTAGE_E_CONFIG, "[rejects] file: the path is empty or too long"), -1;
    }
    free(pattern.data);
    return 0;
  }
  len = without_suffixes(name);
  if (len + 13 > n)
    return cs_fail(err, CSVSTAGE_E_CONFIG, "the input path is too long"), -1;
  memcpy(out, name, len);
  strcpy(out + len, ".rejects.csv");
  return 0;
}
