/*
 * utf8.h — the one place that knows where a UTF-8 character starts and ends, so every text we
 * produce (reasons, log lines, error messages, changelog rows) is valid UTF-8 even when it is
 * cut to a size or stored in a column with a narrower character set.
 *
 * Layer: core, lowest level (no dependencies); used by err.c, log.c, contract.c, record.c and
 * anything that shortens or stores outside text.
 *
 * Validity follows RFC 3629: no overlong forms, no surrogates (U+D800–U+DFFF), nothing above
 * U+10FFFF. Every function accepts any bytes; none reads past `n`.
 */
#ifndef IRIS_UTF8_H
#define IRIS_UTF8_H

#include <stddef.h>

#include "err.h"

/* Length in bytes of the valid UTF-8 sequence starting s[0] (of the n available), or 0 when
 * s[0] does not start one (a stray continuation byte, an overlong form, a cut sequence…). */
size_t iris_utf8_seq(const char *s, size_t n);

/* 1 when the n bytes are entirely valid UTF-8, else 0. */
int iris_utf8_valid(const char *s, size_t n);

/* 1 when c is printable ASCII other than the space (0x21-0x7E): the characters of the ids
 * that key ASCII columns (a notification's id, an SQS message id in a claim). */
static inline int iris_ascii_graphic(char c) {
  return (unsigned char)c > 0x20 && (unsigned char)c < 0x7f;
}

/*
 * The length of the longest prefix of s (n bytes) that is at most max bytes long and does not
 * end inside a character: cutting there never splits one. A character the text itself
 * ends inside of (a cut left by snprintf) is dropped; other invalid bytes count as one
 * character each (they are not made valid, only not made worse).
 */
size_t iris_utf8_prefix(const char *s, size_t n, size_t max);

/*
 * The precision to give "%.*s" so that at most max bytes of the NUL-terminated s are printed
 * without splitting a character: `"%.*s", iris_utf8_prec(name, 60), name`. s may be NULL
 * (returns 0). max is clamped to INT_MAX.
 */
int iris_utf8_prec(const char *s, size_t max);

/* Cut the NUL-terminated s in place to at most max bytes on a character boundary. */
void iris_utf8_truncate(char *s, size_t max);

/* Make the NUL-terminated s valid UTF-8 in place: cut to at most max bytes on a character
 * boundary, then every byte that is not part of a valid character becomes '?'. */
void iris_utf8_repair(char *s, size_t max);

/*
 * A copy of the n bytes of s in which every character above max_cp and every byte that is not
 * valid UTF-8 is replaced by '?', NUL-terminated. max_cp 0xFF keeps what a latin1 column can
 * hold, 0xFFFF what utf8mb3 can hold. Caller owns the copy, free with iris_free; NULL when
 * out of memory.
 */
char *iris_utf8_narrow_dup(const char *s, size_t n, unsigned long max_cp);

/* Number of characters in n bytes (an invalid byte counts as one), as JSON Schema's
 * minLength/maxLength and MySQL's VARCHAR(n) count them. */
size_t iris_utf8_count(const char *s, size_t n);

#endif /* IRIS_UTF8_H */
