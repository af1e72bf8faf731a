/* utf8.c — UTF-8 boundaries, validity and narrowing (see utf8.h). */
#include "utf8.h"

#include <limits.h>
#include <string.h>

#include "alloc.h"

/* Decode the sequence at s (n bytes available); return its length and set *cp, or 0. */
static size_t decode(const unsigned char *s, size_t n, unsigned long *cp) {
  unsigned long c;
  size_t len, i;
  if (n == 0)
    return 0;
  if (s[0] < 0x80) {
    *cp = s[0];
    return 1;
  }
  if (s[0] >= 0xC2 && s[0] <= 0xDF) {
    len = 2;
    c = s[0] & 0x1Fu;
  } else if (s[0] >= 0xE0 && s[0] <= 0xEF) {
    len = 3;
    c = s[0] & 0x0Fu;
  } else if (s[0] >= 0xF0 && s[0] <= 0xF4) {
    len = 4;
    c = s[0] & 0x07u;
  } else {
    return 0; /* continuation byte, C0/C1 overlong lead, or F5..FF */
  }
  if (n < len)
    return 0;
  for (i = 1; i < len; i++) {
    if ((s[i] & 0xC0u) != 0x80u)
      return 0;
    c = (c << 6) | (s[i] & 0x3Fu);
  }
  if ((len == 3 && c < 0x800) || (len == 4 && (c < 0x10000 || c > 0x10FFFF)) ||
      (c >= 0xD800 && c <= 0xDFFF))
    return 0;
  *cp = c;
  return len;
}

size_t iris_utf8_seq(const char *s, size_t n) {
  unsigned long cp;
  return s ? decode((const unsigned char *)s, n, &cp) : 0;
}

int iris_utf8_valid(const char *s, size_t n) {
  size_t i = 0;
  while (i < n) {
    size_t k = iris_utf8_seq(s + i, n - i);
    if (!k)
      return 0;
    i += k;
  }
  return 1;
}

/* The n bytes at s are the start of a character that the end of the text cut short. */
static int cut_at_end(const unsigned char *s, size_t n) {
  size_t need = s[0] >= 0xF0 && s[0] <= 0xF4   ? 4
                : s[0] >= 0xE0 && s[0] <= 0xEF ? 3
                : s[0] >= 0xC2 && s[0] <= 0xDF ? 2
                                               : 0;
  size_t i;
  if (!need || n >= need)
    return 0;
  for (i = 1; i < n; i++)
    if ((s[i] & 0xC0u) != 0x80u)
      return 0;
  return 1;
}

size_t iris_utf8_prefix(const char *s, size_t n, size_t max) {
  size_t i = 0;
  if (!s)
    return 0;
  while (i < n) {
    size_t k = iris_utf8_seq(s + i, n - i);
    if (!k && cut_at_end((const unsigned char *)s + i, n - i))
      break; /* the text already ends inside a character (cut by snprintf): drop the piece */
    if (!k)
      k = 1;
    if (i + k > max)
      break;
    i += k;
  }
  return i;
}

int iris_utf8_prec(const char *s, size_t max) {
  if (!s)
    return 0;
  if (max > INT_MAX)
    max = INT_MAX;
  /* Never look further than one character past max. */
  return (int)iris_utf8_prefix(s, strnlen(s, max + 4 < max ? max : max + 4), max);
}

void iris_utf8_truncate(char *s, size_t max) {
  if (s)
    s[iris_utf8_prefix(s, strlen(s), max)] = '\0';
}

void iris_utf8_repair(char *s, size_t max) {
  size_t i = 0, n;
  if (!s)
    return;
  n = iris_utf8_prefix(s, strlen(s), max);
  s[n] = '\0';
  while (i < n) {
    size_t k = iris_utf8_seq(s + i, n - i);
    if (!k) {
      s[i] = '?';
      k = 1;
    }
    i += k;
  }
}

char *iris_utf8_narrow_dup(const char *s, size_t n, unsigned long max_cp) {
  char *out = iris_malloc(n + 1);
  size_t i = 0, o = 0;
  if (!out)
    return NULL;
  while (s && i < n) {
    unsigned long cp = 0;
    size_t k = decode((const unsigned char *)s + i, n - i, &cp);
    if (k && cp <= max_cp) {
      memcpy(out + o, s + i, k);
      o += k;
      i += k;
    } else {
      out[o++] = '?';
      i += k ? k : 1;
    }
  }
  out[o] = '\0';
  return out;
}

size_t iris_utf8_count(const char *s, size_t n) {
  size_t i = 0, count = 0;
  while (s && i < n) {
    size_t k = iris_utf8_seq(s + i, n - i);
    i += k ? k : 1;
    count++;
  }
  return count;
}
