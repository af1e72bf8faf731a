/*
 * tmpl_unicode.c — the Unicode facts Python's str methods rely on, from libunistring (see
 * docs/templates.md for why this library): full case mappings (SpecialCasing included, so
 * 'ß'.upper() is "SS", 'İ'.lower() is "i̇", 'ŉ'.upper() is "ʼN"), the Cased and
 * Case_Ignorable properties Python's final-sigma rule reads, decimal digit values (int('٣')
 * is 3) and the general categories that decide what repr() escapes. ASCII takes a fast path
 * everywhere; nothing here is a hand-written table.
 */
#include <string.h>
#include <unicase.h>
#include <unictype.h>

#include "alloc.h"
#include "tmpl_int.h"

/* Append the full mapping of one code point (how: 'u' upper, 'l' lower, 't' title). */
int iris__uc_append_case(struct iris_buf *b, uint32_t cp, int how) {
  uint8_t in[4], res[32], *mapped;
  size_t n, len = sizeof res;
  int rc;
  if (cp < 0x80) {
    char c = (char)cp;
    if (how == 'l' && c >= 'A' && c <= 'Z')
      c = (char)(c + 32);
    else if (how != 'l' && c >= 'a' && c <= 'z')
      c = (char)(c - 32);
    return iris_buf_appendc(b, c);
  }
  n = (size_t)iris__utf8_put(cp, (char *)in);
  mapped = how == 'u'   ? u8_toupper(in, n, NULL, NULL, res, &len)
           : how == 'l' ? u8_tolower(in, n, NULL, NULL, res, &len)
                        : u8_totitle(in, n, NULL, NULL, res, &len);
  if (!mapped)
    return IRIS_ENOMEM;
  rc = iris_buf_append(b, (const char *)mapped, len);
  if (mapped != res)
    iris_free(mapped); /* libunistring allocated it; one character's mapping always fits res */
  return rc;
}

int iris__uc_is_cased(uint32_t cp) {
  if (cp < 0x80)
    return (cp | 32) >= 'a' && (cp | 32) <= 'z';
  return uc_is_property_cased(cp);
}

int iris__uc_is_case_ignorable(uint32_t cp) {
  if (cp < 0x80)
    return cp == '\'' || cp == '.' || cp == ':' || cp == '^' || cp == '`';
  return uc_is_property_case_ignorable(cp);
}

int iris__uc_is_lower(uint32_t cp) {
  return cp < 0x80 ? cp >= 'a' && cp <= 'z' : uc_is_property_lowercase(cp);
}

int iris__uc_is_upper(uint32_t cp) {
  return cp < 0x80 ? cp >= 'A' && cp <= 'Z' : uc_is_property_uppercase(cp);
}

int iris__uc_is_title(uint32_t cp) {
  return cp >= 0x80 && uc_is_general_category(cp, UC_TITLECASE_LETTER);
}

/* Python's str.isdigit() for one code point: a decimal or other digit (superscripts...). */
int iris__uc_is_digit(uint32_t cp) {
  if (cp < 0x80)
    return cp >= '0' && cp <= '9';
  return uc_digit_value(cp) >= 0;
}

int iris__uc_decimal(uint32_t cp) {
  if (cp < 0x80)
    return cp >= '0' && cp <= '9' ? (int)(cp - '0') : -1;
  return uc_decimal_value(cp);
}

/* Python's str.isprintable() for one code point: not a control, format, surrogate, private
 * use, unassigned, line or paragraph separator, nor a space other than ' '. */
int iris__uc_printable(uint32_t cp) {
  if (cp < 0x80)
    return cp >= 0x20 && cp < 0x7f;
  return !uc_is_general_category(
      cp,
      uc_general_category_or(uc_general_category_or(uc_general_category_or(UC_CONTROL, UC_FORMAT),
                                                    uc_general_category_or(UC_SURROGATE,
                                                                           UC_PRIVATE_USE)),
                             uc_general_category_or(uc_general_category_or(UC_UNASSIGNED,
                                                                           UC_LINE_SEPARATOR),
                                                    uc_general_category_or(UC_PARAGRAPH_SEPARATOR,
                                                                           UC_SPACE_SEPARATOR))));
}

/*
 * Python's lower() of the capital sigma at byte i of s[lo, hi): final (ς) when a cased
 * letter precedes it and none follows, skipping case-ignorable characters both ways.
 */
int iris__uc_final_sigma(const char *s, size_t lo, size_t hi, size_t i) {
  size_t j = i;
  uint32_t c = 0;
  int found = 0;
  while (j > lo) {
    size_t k = j - 1;
    while (k > lo && ((unsigned char)s[k] & 0xC0) == 0x80)
      k--;
    iris__utf8_get(s, hi, k, &c);
    j = k;
    if (!iris__uc_is_case_ignorable(c)) {
      found = 1;
      break;
    }
  }
  if (!found || !iris__uc_is_cased(c))
    return 0;
  j = i + 2; /* Σ is two bytes */
  while (j < hi) {
    j += iris__utf8_get(s, hi, j, &c);
    if (!iris__uc_is_case_ignorable(c))
      return !iris__uc_is_cased(c);
  }
  return 1;
}

/* \w in Python's re for str patterns: str.isalnum() (a letter, or a character with a numeric
 * value: the L and N general categories) or '_'. */
int iris__uc_is_word(uint32_t cp) {
  if (cp < 0x80)
    return (cp >= '0' && cp <= '9') || ((cp | 32) >= 'a' && (cp | 32) <= 'z') || cp == '_';
  return uc_is_general_category(cp, uc_general_category_or(UC_CATEGORY_L, UC_CATEGORY_N));
}
