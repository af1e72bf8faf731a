/*
 * fuzz_plugin_smtp.c — the SMTP plugin (plugins/smtp/smtp.c, compiled in) on fuzzed messages,
 * fuzzed MX answers and fuzzed SMTP outcomes.
 *
 * What of ours reads SMTP results: libcurl speaks SMTP and parses the server's replies
 * (greeting, EHLO, STARTTLS, AUTH, MAIL, RCPT, DATA); the plugin reads what libcurl makes of
 * them — the curl code and the last reply code (CURLINFO_RESPONSE_CODE) — and classifies the
 * send (classify(), the walk over MX hosts), and it reads DNS answers itself (mx_lookup(): the
 * MX records of the gateway or the recipient's domain). So the target fuzzes those two
 * inputs, and, since the message is where a hostile sender of data could inject SMTP headers or
 * envelope recipients, the message's fields too:
 *   - fake_curl.c answers every transfer with a fuzzed curl code and reply code, after
 *     check_transfer() has checked the request: URL, MAIL FROM and RCPT TO are single lines
 *     of the expected shape, no header holds CR or LF, encoded headers are 7-bit with encoded
 *     words of at most 75 characters, the text part carries the body;
 *   - res_query() (this file, in place of the resolver's) answers with fuzzed bytes, sometimes
 *     claiming more bytes than the buffer holds, as glibc's res_query does when a TCP answer
 *     was truncated; the wrappers of ns_initparse, ns_get16 and dn_expand below check that the
 *     plugin keeps the (uninstrumented) resolver library inside the buffer it filled.
 * The result must be a known status with NUL-terminated texts, SENT only when the last
 * transfer succeeded, and a 5xx reply permanent.
 *
 * Input: byte 0 picks the configuration (server, server with a password over opportunistic
 * TLS, a gateway's MX, the recipient's MX), the mode and which optional fields are present;
 * then fields separated by "\n--\n": subject, body, HTML, destinations and Bcc ('|' between
 * addresses), from_address, reply_to, application, priority, plan, the DNS answer (first
 * byte: how res_query answers) and the SMTP outcomes (two bytes per transfer: curl code,
 * reply).
 */
#define _DEFAULT_SOURCE /* res_query, dn_expand, dlsym's RTLD_NEXT */
#include <arpa/nameser.h>
#include <curl/curl.h>
#include <dlfcn.h>
#include <netdb.h>
#include <resolv.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_common.h"
#include "fuzz_host.h"
#include "iris_plugin.h"

/* ---- DNS: res_query answers with the fuzzed bytes; the resolver's readers are checked ---- */

static const unsigned char *dns_data;
static size_t dns_len;
static const unsigned char *answer_buf; /* what the plugin handed res_query, and its size */
static size_t answer_size;
static const unsigned char *parsed_end; /* the end of the message ns_initparse was given */

int res_query(const char *dname, int class, int type, unsigned char *answer, int anslen) {
  size_t n;
  (void)dname;
  (void)class;
  (void)type;
  answer_buf = answer;
  answer_size = anslen > 0 ? (size_t)anslen : 0;
  if (!dns_len || dns_data[0] % 4 == 0) {
    h_errno = HOST_NOT_FOUND;
    return -1;
  }
  n = dns_len - 1 < answer_size ? dns_len - 1 : answer_size;
  memcpy(answer, dns_data + 1, n);
  if (dns_data[0] % 4 == 3) {
    /* A TCP answer longer than the buffer: glibc fills the buffer and returns the length
     * the answer had, which is more than the buffer holds. */
    memset(answer + n, 0, answer_size - n);
    return (int)answer_size + 1 + dns_data[0];
  }
  return (int)n;
}

static int inside(const unsigned char *p, size_t n, const unsigned char *end) {
  return answer_buf && p >= answer_buf && p <= end && n <= (size_t)(end - p);
}

int ns_initparse(const unsigned char *msg, int len, ns_msg *handle) {
  static int (*real)(const unsigned char *, int, ns_msg *);
  if (len < 0 || !inside(msg, (size_t)len, answer_buf + answer_size))
    __builtin_trap(); /* the resolver would read past the answer buffer */
  parsed_end = msg + len;
  if (!real)
    real = (int (*)(const unsigned char *, int, ns_msg *))dlsym(RTLD_NEXT, "ns_initparse");
  return real(msg, len, handle);
}

unsigned int ns_get16(const unsigned char *p) {
  if (!inside(p, 2, parsed_end))
    __builtin_trap(); /* two bytes past the end of the DNS message */
  return (unsigned int)p[0] << 8 | p[1];
}

int dn_expand(const unsigned char *msg, const unsigned char *eom, const unsigned char *src,
              char *dst, int dstsiz) {
  static int (*real)(const unsigned char *, const unsigned char *, const unsigned char *, char *,
                     int);
  if (!inside(msg, (size_t)(eom - msg), parsed_end))
    __builtin_trap();
  if (!real)
    real = (int (*)(const unsigned char *, const unsigned char *, const unsigned char *, char *,
                    int))dlsym(RTLD_NEXT, "dn_expand");
  return real(msg, eom, src, dst, dstsiz);
}

/* ---- SMTP: each transfer's request is checked, then answered with a fuzzed outcome ------- */

static struct fuzz_answer outcomes[16];
static size_t noutcomes, served;
static const struct iris_plugin_message *msg; /* the message being sent */
static int last_code;                         /* the curl code of the last transfer answered */
static long last_reply;

static const struct fuzz_answer *next(void) {
  const struct fuzz_answer *a = served < noutcomes ? &outcomes[served++] : NULL;
  last_code = a ? a->curl_code : CURLE_COULDNT_CONNECT;
  last_reply = a ? a->status : 0;
  return a;
}

static int has_break(const char *s) { return strpbrk(s, "\r\n") != NULL; }

static int seven_bit(const char *s) {
  for (; *s; s++)
    if ((unsigned char)*s >= 0x80)
      return 0;
  return 1;
}

/* The message's value of a header the plugin encodes when it is not ASCII, NULL for others. */
static const char *encoded_source(const char *h) {
  static const struct {
    const char *name;
    size_t off;
  } encoded[] = {{"Subject: ", offsetof(struct iris_plugin_message, subject)},
                 {"X-IRIS-APPLICATION: ", offsetof(struct iris_plugin_message, application)},
                 {"X-IRIS-PRIORITY: ", offsetof(struct iris_plugin_message, priority)},
                 {"X-IRIS-PLAN: ", offsetof(struct iris_plugin_message, plan)}};
  size_t i;
  for (i = 0; i < sizeof encoded / sizeof encoded[0]; i++)
    if (strncmp(h, encoded[i].name, strlen(encoded[i].name)) == 0) {
      const char *v = *(const char *const *)(const void *)((const char *)msg + encoded[i].off);
      return v ? v : "";
    }
  return NULL;
}

/* Each "=?UTF-8?B?...?=" word at most 75 characters (RFC 2047, 2). */
static int words_ok(const char *v) {
  const char *w = v;
  while ((w = strstr(w, "=?UTF-8?B?")) != NULL) {
    const char *end = strstr(w + 10, "?=");
    if (!end || end + 2 - w > 75)
      return 0;
    w = end + 2;
  }
  return 1;
}

static void check_transfer(const struct fuzz_transfer *t) {
  const struct curl_slist *l;
  const char *text;
  if (!t->url || has_break(t->url) || strchr(t->url, ' ') ||
      (strncmp(t->url, "smtp://", 7) != 0 && strncmp(t->url, "smtps://", 8) != 0))
    __builtin_trap();
  if (!t->mail_from || has_break(t->mail_from) || t->mail_from[0] != '<' ||
      t->mail_from[strlen(t->mail_from) - 1] != '>')
    __builtin_trap();
  if (!t->rcpt)
    __builtin_trap();
  for (l = t->rcpt; l; l = l->next) {
    size_t n = strlen(l->data);
    if (has_break(l->data) || n < 3 || l->data[0] != '<' || l->data[n - 1] != '>' ||
        memchr(l->data + 1, '<', n - 2) || memchr(l->data + 1, '>', n - 2) ||
        memchr(l->data, ',', n) || !strchr(l->data, '@'))
      __builtin_trap();
  }
  for (l = t->headers; l; l = l->next) {
    const char *h = l->data;
    if (has_break(h) || !strstr(h, ": "))
      __builtin_trap();
    /* a value that is not ASCII goes out as encoded words only (an ASCII one as written) */
    if (encoded_source(h) && !seven_bit(encoded_source(h)) && (!seven_bit(h) || !words_ok(h)))
      __builtin_trap();
  }
  text = fuzz_mime_data(t->mime, "text/plain");
  if (!text || strcmp(text, msg->body) != 0)
    __builtin_trap();
}

/* ---- the plugin ------------------------------------------------------------------------ */

static const struct iris_plugin_host host = FUZZ_HOST(NULL, NULL);

#define FROM \
  { "from", "iris@example.com" }
static const struct iris_plugin_kv config0[] = {FROM,
                                                {"server", "mail.example.com:2525"},
                                                {"tls", "none"}};
static const struct iris_plugin_kv config1[] = {FROM,
                                                {"server", "mail.example.com"},
                                                {"username", "iris"},
                                                {"password", "fuzz-pass"},
                                                {"reply_to", "oncall@example.com"}};
static const struct iris_plugin_kv config2[] = {FROM,
                                                {"smtp_gateway", "gw.example.com"},
                                                {"tls", "starttls"},
                                                {"auth", "PLAIN"},
                                                {"username", "iris"},
                                                {"password", "fuzz-pass"}};
static const struct iris_plugin_kv config3[] = {FROM,
                                                {"tls", "implicit"},
                                                {"tls_verify", "false"},
                                                {"timeout_ms", "2000"}};
static const struct {
  const struct iris_plugin_kv *kv;
  size_t n;
} configs[] = {{config0, sizeof config0 / sizeof config0[0]},
               {config1, sizeof config1 / sizeof config1[0]},
               {config2, sizeof config2 / sizeof config2[0]},
               {config3, sizeof config3 / sizeof config3[0]}};

/* One instance per configuration and mode, created at the first input that needs it (the
 * plugin keeps nothing between sends but its curl handle, which every attempt resets). */
static void *instances[4][2];

/* Curl codes and reply codes the plugin treats differently. */
static int curl_code(unsigned char b) {
  static const int c[] = {CURLE_OK,
                          CURLE_COULDNT_RESOLVE_HOST,
                          CURLE_COULDNT_CONNECT,
                          CURLE_OPERATION_TIMEDOUT,
                          CURLE_LOGIN_DENIED,
                          CURLE_USE_SSL_FAILED,
                          CURLE_PEER_FAILED_VERIFICATION,
                          CURLE_SEND_ERROR,
                          CURLE_RECV_ERROR,
                          CURLE_WEIRD_SERVER_REPLY,
                          CURLE_SEND_FAIL_REWIND,
                          CURLE_GOT_NOTHING,
                          CURLE_SSL_CONNECT_ERROR,
                          CURLE_QUOTE_ERROR,
                          CURLE_OUT_OF_MEMORY,
                          CURLE_OK};
  return c[b % (sizeof c / sizeof c[0])];
}

static long reply_code(unsigned char b) {
  static const long r[] = {0,   220, 221, 235, 250, 334, 354, 421, 450, 451, 452,
                           454, 500, 501, 502, 503, 504, 530, 534, 535, 550, 551,
                           552, 553, 554, 555, 999, -1,  250, 250, 0,   0};
  return r[b % (sizeof r / sizeof r[0])];
}

/* A NUL-terminated copy of a field (NULL when the field is absent). */
static char *text(const struct fuzz_span *f, size_t nfields, size_t i) {
  char *s;
  if (i >= nfields)
    return NULL;
  if (!(s = malloc(f[i].n + 1)))
    abort();
  memcpy(s, f[i].p, f[i].n);
  s[f[i].n] = '\0';
  return s;
}

/* Split a NUL-terminated list at '|' in place. Returns how many (at most max; none in an
 * empty list). */
static size_t addresses(char *list, const char **out, size_t max) {
  size_t n = 0;
  while (list && *list && n < max) {
    char *bar = strchr(list, '|');
    out[n++] = list;
    if (!bar)
      break;
    *bar = '\0';
    list = bar + 1;
  }
  return n;
}

enum {
  F_SUBJECT,
  F_BODY,
  F_HTML,
  F_TO,
  F_BCC,
  F_FROM,
  F_REPLY_TO,
  F_APP,
  F_PRIO,
  F_PLAN,
  F_DNS,
  F_OUTCOMES,
  F_COUNT
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  struct fuzz_span f[F_COUNT];
  char *s[F_COUNT] = {0};
  const char *to[8], *bcc[8];
  struct iris_plugin_kv extra[2];
  struct iris_plugin_message m = {0};
  struct iris_plugin_result r;
  const struct iris_plugin_descriptor *d = iris_plugin_entry();
  const struct iris_plugin_mode_ops *ops;
  size_t nf, i, cfg, mode;
  unsigned flags;
  if (size < 1)
    return 0;
  flags = data[0];
  cfg = flags % 4;
  mode = (flags >> 2) % d->nmodes;
  ops = d->modes[mode];
  if (!instances[cfg][mode]) {
    char error[256];
    if (ops->init(&host, "fuzz", configs[cfg].kv, configs[cfg].n, &instances[cfg][mode], error,
                  sizeof error)) {
      fprintf(stderr, "fuzz: smtp %s config %zu: %s\n", ops->mode, cfg, error);
      abort(); /* the configurations are ours: they must be accepted */
    }
    fuzz_http_set(next);
    fuzz_http_set_check(check_transfer);
  }
  nf = fuzz_fields(data + 1, size - 1, f, F_COUNT);
  for (i = 0; i < F_COUNT; i++)
    if (i != F_DNS && i != F_OUTCOMES)
      s[i] = text(f, nf, i);
  dns_data = nf > F_DNS ? (const unsigned char *)f[F_DNS].p : NULL;
  dns_len = nf > F_DNS ? f[F_DNS].n : 0;
  answer_buf = parsed_end = NULL;
  noutcomes = 0;
  for (i = 0; nf > F_OUTCOMES && i + 1 < f[F_OUTCOMES].n && noutcomes < 16; i += 2) {
    outcomes[noutcomes].curl_code = curl_code((unsigned char)f[F_OUTCOMES].p[i]);
    outcomes[noutcomes++].status = reply_code((unsigned char)f[F_OUTCOMES].p[i + 1]);
  }
  served = 0;
  last_code = -1;
  last_reply = 0;

  m.struct_size = sizeof m;
  m.message_id = "9101";
  m.mode = ops->mode;
  if (!s[F_TO] && !(s[F_TO] = strdup("ada@example.com")))
    abort();
  m.ndestinations = addresses(s[F_TO], to, 8);
  m.destinations = to;
  m.nbcc = addresses(s[F_BCC], bcc, 8);
  m.bcc = bcc;
  m.subject = (flags & 0x10) ? NULL : s[F_SUBJECT];
  m.body = s[F_BODY] ? s[F_BODY] : "";
  m.email_html = (flags & 0x20) ? s[F_HTML] : NULL;
  m.application = s[F_APP] ? s[F_APP] : "Autoalerts";
  m.priority = s[F_PRIO];
  m.plan = s[F_PLAN];
  m.incident_id = (flags & 0x40) ? 500 : 0;
  m.nextra = 0;
  if (s[F_FROM] && (flags & 0x80))
    extra[m.nextra++] = (struct iris_plugin_kv){"from_address", s[F_FROM]};
  if (s[F_REPLY_TO])
    extra[m.nextra++] = (struct iris_plugin_kv){"reply_to", s[F_REPLY_TO]};
  m.extra = extra;
  msg = &m;

  memset(&r, 0, sizeof r);
  r.struct_size = sizeof r;
  ops->send(instances[cfg][mode], &m, &r);
  if (r.status > IRIS_PLUGIN_RATE_LIMITED || r.retry_after_ms < 0 ||
      strnlen(r.error, sizeof r.error) == sizeof r.error ||
      strnlen(r.vendor_message_id, sizeof r.vendor_message_id) == sizeof r.vendor_message_id)
    __builtin_trap();
  if (r.status == IRIS_PLUGIN_SENT && last_code != CURLE_OK)
    __builtin_trap(); /* sent without a transfer that succeeded */
  if (r.status != IRIS_PLUGIN_SENT &&
      (!r.error[0] || (last_code > 0 && last_reply >= 500 && r.status != IRIS_PLUGIN_PERMANENT)))
    __builtin_trap(); /* an unsent result says why; a 5xx reply is permanent */
  for (i = 0; i < F_COUNT; i++)
    free(s[i]);
  return 0;
}
