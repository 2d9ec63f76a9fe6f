/* error.c: status codes, their descriptions, and the first-error-wins rule. */
#include <config.h>

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "error.h"

const char *
csvstage_version(void)
{
  return PACKAGE_VERSION;
}

/* Indexed by csvstage_code; keep it in the enum's order. */
static const char *const descriptions[] = {
  [CSVSTAGE_OK] = "no error",
  [CSVSTAGE_E_NOMEM] = "out of memory",
  [CSVSTAGE_E_INVALID] = "invalid argument",
  [CSVSTAGE_E_IO] = "input/output error",
  [CSVSTAGE_E_CONNECT] = "could not connect to the server",
  [CSVSTAGE_E_DB] = "the server reported an error",
  [CSVSTAGE_E_CONNLOST] = "the connection to the server was lost",
  [CSVSTAGE_E_CONFIG] = "configuration error",
  [CSVSTAGE_E_PREFLIGHT] = "the target cannot take this input",
  [CSVSTAGE_E_FORMAT] = "the input is corrupt",
  [CSVSTAGE_E_REJECTS] = "too many rejected records",
  [CSVSTAGE_E_BUSY] = "another run is loading the same table",
  [CSVSTAGE_E_INTERRUPTED] = "interrupted",
  [CSVSTAGE_E_UNKNOWN] = "outcome of COMMIT unknown",
  [CSVSTAGE_E_TRANSIENT] = "the server could not go on for now",
};

const char *
csvstage_strerror(csvstage_code code)
{
  if ((int)code < 0 || code >= CSVSTAGE_E_LAST || !descriptions[code])
    return "unknown error";
  return descriptions[code];
}

void
csvstage_error_clear(csvstage_error *err)
{
  if (!err)
    return;
  memset(err, 0, sizeof(*err));
  err->offset = -1;
}

int
cs_failed(const csvstage_error *err)
{
  return err && err->code != CSVSTAGE_OK;
}

void
cs_strlcpy_utf8(char *dst, const char *src, size_t dstsize)
{
  size_t n;

  if (dstsize == 0)
    return;
  if (!src)
    src = "";
  n = strlen(src);
  if (n >= dstsize) {
    n = dstsize - 1;
    /* Step back over continuation bytes (10xxxxxx) so that no character is
     * cut in half: the text may end up in a UTF-8 reject file. */
    while (n > 0 && ((unsigned char)src[n] & 0xC0) == 0x80)
      n--;
  }
  memcpy(dst, src, n);
  dst[n] = '\0';
}

csvstage_code
cs_fail(csvstage_error *err, csvstage_code code, const char *fmt, ...)
{
  va_list ap;
  char buf[sizeof(err->message) * 2];

  if (!err || err->code != CSVSTAGE_OK)
    return code;
  csvstage_error_clear(err);
  err->code = code;
  va_start(ap, fmt);
  vsnprintf(buf, sizeof(buf), fmt, ap);
  va_end(ap);
  cs_strlcpy_utf8(err->message, buf, sizeof(err->message));
  return code;
}

void
cs_prefix(csvstage_error *err, const char *fmt, ...)
{
  va_list ap;
  char head[512], buf[sizeof(err->message) + sizeof(head) + 2];

  if (!err || err->code == CSVSTAGE_OK)
    return;
  va_start(ap, fmt);
  vsnprintf(head, sizeof(head), fmt, ap);
  va_end(ap);
  snprintf(buf, sizeof(buf), "%s: %s", head, err->message);
  cs_strlcpy_utf8(err->message, buf, sizeof(err->message));
}

void
cs_list_name(char *buf, size_t n, const char *name, int quoted)
{
  size_t len = strlen(buf);

  if (len + strlen(name) + 8 >= n) {
    if (len + 5 < n && !strstr(buf, "..."))
      strcat(buf, ", ...");
    return;
  }
  snprintf(buf + len, n - len, quoted ? "%s\"%s\"" : "%s%s", len ? ", " : "", name);
}
