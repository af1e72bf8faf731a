/*
 * smtp.c — the "smtp" vendor plugin: modes email and im, over SMTP.
 *
 * Ported from Iris's SMTP vendor: From = the application's custom sender address (message
 * extra "from_address") or the configured `from`; To = the destinations; headers
 * X-IRIS-APPLICATION, X-IRIS-PRIORITY, X-IRIS-PLAN, X-IRIS-INCIDENT-ID; the message itself is
 * multipart/alternative, as Iris's MIMEMultipart('alternative') is: a text/plain part (the
 * body), then a text/html part (the rendered email HTML, which carries the one-click claim
 * markup) when there is HTML, both UTF-8 quoted-printable (Gmail's one-click needs
 * quoted-printable HTML). Server: `server` (host[:port]); or `smtp_gateway`, a domain whose
 * MX records are tried in preference order; or, with neither, the MX of the recipient's
 * domain.
 * Fixed on purpose: Bcc recipients are only in the envelope — never in a header recipients
 * can read (Iris wrote a Bcc header); non-ASCII subjects are RFC 2047 encoded; header
 * values cannot inject headers (CR/LF become spaces; addresses with CR/LF are refused);
 * failures are classified by the SMTP reply (4xx retryable, 5xx permanent) instead of one
 * blind resend on port 25.
 *
 * Transport: libcurl's SMTP client rather than libesmtp, the dependency first chosen:
 * libesmtp loads its AUTH mechanisms from a directory fixed at build time
 * (/usr/lib/x86_64-linux-gnu/esmtp-plugins-6.2.0), which does not exist inside a Lambda
 * layer (it unpacks to /opt), so AUTH could never work there; and it has no implicit TLS.
 * libcurl does both, and builds the MIME structure for us.
 *
 * Options: from (required), server | smtp_gateway, port (default 25, 465 for implicit),
 * tls = none | opportunistic | starttls | implicit (default opportunistic), tls_verify
 * (true), ca_file, username, password (a secret: "secretsmanager:<id>"), auth = PLAIN |
 * LOGIN | CRAM-MD5 | * (default: negotiate), reply_to, timeout_ms (10000),
 * allow_plaintext_auth (false).
 * The password never crosses an unencrypted connection unless allow_plaintext_auth=true:
 * tls=none with a password is refused at init, and tls=opportunistic with a password
 * requires STARTTLS (a server that does not offer it, or an attacker who strips it from the
 * EHLO answer, gets no AUTH: the send fails permanently with a reason saying so). With
 * allow_plaintext_auth=true init logs an error-level warning for every instance.
 */
#define _DEFAULT_SOURCE /* hstrerror, res_query */
#include <arpa/nameser.h>
#include <curl/curl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <resolv.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "iris_plugin.h"
#include "plugin_opts.h"
#include "plugin_util.h"

enum tls_mode { TLS_NONE, TLS_OPPORTUNISTIC, TLS_STARTTLS, TLS_IMPLICIT };

struct smtp {
  const struct iris_plugin_host *host;
  char *name, *from, *server, *gateway, *ca_file, *username, *password, *reply_to, *mode;
  char *tls_text, *auth_text; /* the options as written; tls and login_options hold them read */
  char *login_options;        /* "AUTH=PLAIN" etc., NULL to let curl negotiate */
  long port, timeout_ms;
  enum tls_mode tls;
  int verify;
  int allow_plaintext_auth; /* the operator accepts the password in clear text */
  CURL *curl;
};

static const struct pu_opt options[] =
    {PU_STR("from", 1, NULL, struct smtp, from),
     PU_STR("server", 0, NULL, struct smtp, server),
     PU_STR("smtp_gateway", 0, NULL, struct smtp, gateway),
     PU_LONG("port", 1, 65535, 0, struct smtp, port), /* 0: by tls, below */
     PU_STR("tls", 0, "opportunistic", struct smtp, tls_text),
     PU_BOOL("tls_verify", 1, struct smtp, verify),
     PU_STR("ca_file", 0, NULL, struct smtp, ca_file),
     PU_STR("username", 0, NULL, struct smtp, username),
     PU_SECRET("password", 0, struct smtp, password),
     PU_STR("auth", 0, NULL, struct smtp, auth_text),
     PU_BOOL("allow_plaintext_auth", 0, struct smtp, allow_plaintext_auth),
     PU_STR("reply_to", 0, NULL, struct smtp, reply_to),
     PU_LONG("timeout_ms", 1, PU_TIMEOUT_MAX_MS, 10000, struct smtp, timeout_ms),
     PU_OPTS_END};

static void destroy(void *instance) {
  struct smtp *s = instance;
  if (!s)
    return;
  if (s->curl)
    curl_easy_cleanup(s->curl);
  pu_opts_free(options, s);
  free(s->name);
  free(s->mode);
  free(s->login_options);
  free(s);
}

static int has_crlf(const char *v) { return v && strpbrk(v, "\r\n") != NULL; }

static int init_mode(const char *mode, const struct iris_plugin_host *host, const char *name,
                     const struct iris_plugin_kv *c, size_t n, void **instance, char *error,
                     size_t esize) {
  struct smtp *s = calloc(1, sizeof *s);
  const char *v;
  if (!s) {
    snprintf(error, esize, "out of memory");
    return -1;
  }
  s->host = host;
  if (pu_opts_read(options, s, c, n, error, esize) != 0)
    goto fail;
  s->mode = pu_dup(mode);
  s->name = pu_dup(name ? name : "smtp");
  v = s->auth_text;
  if (v && strcmp(v, "PLAIN") && strcmp(v, "LOGIN") && strcmp(v, "CRAM-MD5") && strcmp(v, "*")) {
    snprintf(error, esize, "auth must be PLAIN, LOGIN, CRAM-MD5 or * (negotiate), got '%.40s'", v);
    goto fail;
  }
  if (v && strcmp(v, "*") != 0) {
    size_t ln = strlen(v) + 6;
    s->login_options = malloc(ln);
    if (!s->login_options) {
      snprintf(error, esize, "out of memory");
      goto fail;
    }
    snprintf(s->login_options, ln, "AUTH=%s", v);
  }
  v = s->tls_text;
  if (strcmp(v, "opportunistic") == 0)
    s->tls = TLS_OPPORTUNISTIC;
  else if (strcmp(v, "none") == 0)
    s->tls = TLS_NONE;
  else if (strcmp(v, "starttls") == 0)
    s->tls = TLS_STARTTLS;
  else if (strcmp(v, "implicit") == 0)
    s->tls = TLS_IMPLICIT;
  else {
    snprintf(error, esize, "tls must be none, opportunistic, starttls or implicit, got '%.40s'", v);
    goto fail;
  }
  if (s->port == 0)
    s->port = s->tls == TLS_IMPLICIT ? 465 : 25;
  if (has_crlf(s->from) || has_crlf(s->reply_to)) {
    snprintf(error, esize,
             "options 'from' and 'reply_to' must be plain addresses (no line "
             "breaks)");
    goto fail;
  }
  if (s->server && s->gateway) {
    snprintf(error, esize, "set either server or smtp_gateway, not both");
    goto fail;
  }
  if (!s->username != !s->password) {
    snprintf(error, esize, "username and password go together");
    goto fail;
  }
  if (s->password && s->tls == TLS_NONE && !s->allow_plaintext_auth) {
    snprintf(error, esize,
             "tls=none with a password would send it in clear text: use "
             "starttls or implicit, or set allow_plaintext_auth=true to accept it");
    goto fail;
  }
  if (s->password && s->allow_plaintext_auth && (s->tls == TLS_NONE || s->tls == TLS_OPPORTUNISTIC))
    host->log(host->data, IRIS_PLUGIN_LOG_ERROR,
              "smtp %s: allow_plaintext_auth=true: the SMTP password of '%s' %s sent in clear "
              "text over plain TCP, readable by anyone on the path to the server",
              name ? name : "smtp", s->username,
              s->tls == TLS_NONE ? "is" : "is, whenever STARTTLS is missing,");
  if (!s->curl)
    s->curl = curl_easy_init();
  if (!s->curl || !s->mode || !s->name) {
    snprintf(error, esize, "out of memory");
    goto fail;
  }
  *instance = s;
  return 0;
fail:
  destroy(s);
  return -1;
}

static int init_email(const struct iris_plugin_host *h, const char *name,
                      const struct iris_plugin_kv *c, size_t n, void **inst, char *e, size_t es) {
  return init_mode("email", h, name, c, n, inst, e, es);
}
static int init_im(const struct iris_plugin_host *h, const char *name,
                   const struct iris_plugin_kv *c, size_t n, void **inst, char *e, size_t es) {
  return init_mode("im", h, name, c, n, inst, e, es);
}

/* ---- MX lookup ------------------------------------------------------------------------ */

struct mx {
  int pref;
  char host[NS_MAXDNAME];
};

static int by_pref(const void *a, const void *b) {
  return ((const struct mx *)a)->pref - ((const struct mx *)b)->pref;
}

/* MX hosts of domain, best first; returns how many (0 on failure, reason in why). */
static size_t mx_lookup(const char *domain, struct mx *out, size_t max, char *why, size_t wsize) {
  unsigned char answer[4096];
  ns_msg msg;
  ns_rr rr;
  int len, i, count;
  size_t n = 0;
  len = res_query(domain, ns_c_in, ns_t_mx, answer, sizeof answer);
  /* An answer longer than the buffer (over TCP) is cut to it, but res_query returns the
   * length it had: parse only what the buffer holds (the records cut off are skipped). */
  if (len > (int)sizeof answer)
    len = (int)sizeof answer;
  if (len < 0 || ns_initparse(answer, len, &msg) < 0) {
    snprintf(why, wsize, "no MX records for %s (%s)", domain, hstrerror(h_errno));
    return 0;
  }
  count = ns_msg_count(msg, ns_s_an);
  for (i = 0; i < count && n < max; i++) {
    /* an MX record's data is a preference (2 bytes) and a name (1 byte at least) */
    if (ns_parserr(&msg, ns_s_an, i, &rr) < 0 || ns_rr_type(rr) != ns_t_mx || ns_rr_rdlen(rr) < 3)
      continue;
    out[n].pref = ns_get16(ns_rr_rdata(rr));
    if (dn_expand(ns_msg_base(msg), ns_msg_end(msg), ns_rr_rdata(rr) + 2, out[n].host,
                  sizeof out[n].host) < 0)
      continue;
    n++;
  }
  qsort(out, n, sizeof *out, by_pref);
  if (!n)
    snprintf(why, wsize, "no usable MX records for %s", domain);
  return n;
}

/* ---- message building ------------------------------------------------------------------ */

/* Header text without line breaks (they would start a new header). */
static void add_header_text(struct pu_str *s, const char *v) {
  for (; *v; v++)
    pu_str_add(s, (*v == '\r' || *v == '\n') ? " " : v, 1);
}

static int is_ascii(const char *v) {
  for (; *v; v++)
    if ((unsigned char)*v >= 0x80)
      return 0;
  return 1;
}

/* RFC 2047 "B" encoded words of at most 75 characters, split on UTF-8 boundaries. */
static void add_encoded_words(struct pu_str *s, const char *v) {
  static const char al[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  size_t len = strlen(v), i = 0;
  while (i < len) {
    size_t take = len - i > 45 ? 45 : len - i, k;
    while (take < len - i && take > 0 && ((unsigned char)v[i + take] & 0xC0) == 0x80)
      take--;      /* do not split a character between words */
    if (take == 0) /* no character starts here: not UTF-8, but every word must move on */
      take = len - i > 45 ? 45 : len - i;
    if (s->len && s->p[s->len - 1] != ' ')
      pu_str_adds(s, " ");
    pu_str_adds(s, "=?UTF-8?B?");
    for (k = 0; k < take; k += 3) {
      unsigned long b = (unsigned long)(unsigned char)v[i + k] << 16;
      char q[4];
      if (k + 1 < take)
        b |= (unsigned long)(unsigned char)v[i + k + 1] << 8;
      if (k + 2 < take)
        b |= (unsigned char)v[i + k + 2];
      q[0] = al[(b >> 18) & 63];
      q[1] = al[(b >> 12) & 63];
      q[2] = k + 1 < take ? al[(b >> 6) & 63] : '=';
      q[3] = k + 2 < take ? al[b & 63] : '=';
      pu_str_add(s, q, 4);
    }
    pu_str_adds(s, "?=");
    i += take;
  }
}

static struct curl_slist *add_hdr(struct curl_slist *l, int *oom, const char *name,
                                  const char *value, int encode) {
  struct pu_str h = {0};
  struct curl_slist *r;
  if (*oom || !value)
    return l;
  pu_str_adds(&h, name);
  pu_str_adds(&h, ": ");
  if (encode && !is_ascii(value)) {
    struct pu_str clean = {0};
    add_header_text(&clean, value);
    add_encoded_words(&h, clean.p ? clean.p : "");
    pu_str_free(&clean);
  } else {
    add_header_text(&h, value);
  }
  r = h.oom ? NULL : curl_slist_append(l, h.p);
  pu_str_free(&h);
  if (!r) {
    *oom = 1;
    return l;
  }
  return r;
}

static const char *extra(const struct iris_plugin_message *m, const char *key) {
  size_t i;
  for (i = 0; i < m->nextra; i++)
    if (m->extra[i].key && strcmp(m->extra[i].key, key) == 0)
      return m->extra[i].value;
  return NULL;
}

/*
 * One part of the alternative: text of the given type, quoted-printable (Gmail's one-click
 * needs quoted-printable HTML, and Iris encodes the text part the same way). The mime owns
 * the part and a copy of text.
 */
static CURLcode add_text_part(curl_mime *mime, const char *text, const char *type) {
  curl_mimepart *part = curl_mime_addpart(mime);
  CURLcode cc = part ? CURLE_OK : CURLE_OUT_OF_MEMORY;
  if (cc == CURLE_OK)
    cc = curl_mime_data(part, text, CURL_ZERO_TERMINATED);
  if (cc == CURLE_OK)
    cc = curl_mime_type(part, type);
  if (cc == CURLE_OK)
    cc = curl_mime_encoder(part, "quoted-printable");
  return cc;
}

/* ---- sending ---------------------------------------------------------------------------- */

static void classify(struct smtp *s, CURLcode cc, long code, const char *server,
                     struct iris_plugin_result *r) {
  if (cc == CURLE_USE_SSL_FAILED && s->tls == TLS_OPPORTUNISTIC && s->password) {
    /* Either the server has no STARTTLS or someone on the path removed it from EHLO. */
    r->status = IRIS_PLUGIN_PERMANENT;
    snprintf(r->error, sizeof r->error,
             "SMTP %s: the server did not offer STARTTLS, so the password was not sent in "
             "clear text (tls=opportunistic with a password needs STARTTLS; use tls=implicit, "
             "or set allow_plaintext_auth=true to accept the risk)",
             server);
    return;
  }
  if (code >= 500 || cc == CURLE_LOGIN_DENIED || cc == CURLE_USE_SSL_FAILED ||
      cc == CURLE_PEER_FAILED_VERIFICATION) {
    r->status = IRIS_PLUGIN_PERMANENT;
  } else {
    r->status = IRIS_PLUGIN_RETRYABLE; /* 4xx replies, timeouts, lost connections */
  }
  if (code)
    snprintf(r->error, sizeof r->error, "SMTP %s: %s (last reply %ld)", server,
             curl_easy_strerror(cc), code);
  else
    snprintf(r->error, sizeof r->error, "SMTP %s: %s", server, curl_easy_strerror(cc));
}

/* One attempt against host:port. Returns the curl code; *reply gets the last SMTP reply. */
static CURLcode attempt(struct smtp *s, const char *host, long port, const char *from,
                        struct curl_slist *rcpt, struct curl_slist *headers, curl_mime *mime,
                        long *reply) {
  char url[NS_MAXDNAME + 32];
  snprintf(url, sizeof url, "%s://%s:%ld", s->tls == TLS_IMPLICIT ? "smtps" : "smtp", host, port);
  curl_easy_reset(s->curl);
  curl_easy_setopt(s->curl, CURLOPT_URL, url);
  curl_easy_setopt(s->curl, CURLOPT_MAIL_FROM, from);
  curl_easy_setopt(s->curl, CURLOPT_MAIL_RCPT, rcpt);
  curl_easy_setopt(s->curl, CURLOPT_HTTPHEADER, headers);
  curl_easy_setopt(s->curl, CURLOPT_MIMEPOST, mime);
  curl_easy_setopt(s->curl, CURLOPT_TIMEOUT_MS, s->timeout_ms);
  curl_easy_setopt(s->curl, CURLOPT_CONNECTTIMEOUT_MS,
                   s->timeout_ms < 5000 ? s->timeout_ms : 5000L);
  curl_easy_setopt(s->curl, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(s->curl, CURLOPT_PROTOCOLS_STR, "smtp,smtps");
  if (s->tls == TLS_STARTTLS)
    curl_easy_setopt(s->curl, CURLOPT_USE_SSL, (long)CURLUSESSL_ALL);
  else if (s->tls == TLS_OPPORTUNISTIC)
    /* Opportunistic means "encrypt when offered" for the message, never for the password:
     * with credentials, TLS is required unless the operator explicitly accepted clear text. */
    curl_easy_setopt(s->curl, CURLOPT_USE_SSL,
                     s->password && !s->allow_plaintext_auth ? (long)CURLUSESSL_ALL
                                                             : (long)CURLUSESSL_TRY);
  if (!s->verify) {
    curl_easy_setopt(s->curl, CURLOPT_SSL_VERIFYPEER, 0L);
    curl_easy_setopt(s->curl, CURLOPT_SSL_VERIFYHOST, 0L);
  }
  if (s->ca_file || getenv("IRIS_CA_FILE"))
    curl_easy_setopt(s->curl, CURLOPT_CAINFO, s->ca_file ? s->ca_file : getenv("IRIS_CA_FILE"));
  if (s->username) {
    curl_easy_setopt(s->curl, CURLOPT_USERNAME, s->username);
    curl_easy_setopt(s->curl, CURLOPT_PASSWORD, s->password);
    if (s->login_options)
      curl_easy_setopt(s->curl, CURLOPT_LOGIN_OPTIONS, s->login_options);
    /* Send the credentials with the AUTH command (RFC 4954 initial response). */
    curl_easy_setopt(s->curl, CURLOPT_SASL_IR, 1L);
  }
  *reply = 0;
  {
    CURLcode cc = curl_easy_perform(s->curl);
    curl_easy_getinfo(s->curl, CURLINFO_RESPONSE_CODE, reply);
    return cc;
  }
}

static void send_msg(void *instance, const struct iris_plugin_message *m,
                     struct iris_plugin_result *r) {
  struct smtp *s = instance;
  struct curl_slist *rcpt = NULL, *headers = NULL, *tmp;
  curl_mime *mime = NULL;
  struct pu_str to = {0}, from_env = {0}, msgid = {0};
  struct mx hosts[16];
  size_t nhosts = 0, i;
  const char *from = extra(m, "from_address") ? extra(m, "from_address") : s->from;
  const char *reply_to = extra(m, "reply_to") ? extra(m, "reply_to") : s->reply_to;
  char date[64], incident[32], why[256] = "";
  int oom = 0;
  time_t now = (time_t)(s->host->now_ms(s->host->data) / 1000);
  struct tm tm;

  if (!m->ndestinations) {
    r->status = IRIS_PLUGIN_PERMANENT;
    snprintf(r->error, sizeof r->error, "no email address to send to");
    return;
  }
  if (has_crlf(from) || has_crlf(reply_to)) {
    r->status = IRIS_PLUGIN_PERMANENT;
    snprintf(r->error, sizeof r->error, "sender address contains a line break");
    return;
  }
  /* Envelope: destinations and Bcc; headers show only the destinations. */
  for (i = 0; i < m->ndestinations + m->nbcc; i++) {
    const char *a = i < m->ndestinations ? m->destinations[i] : m->bcc[i - m->ndestinations];
    struct pu_str env = {0};
    if (!a || !*a || has_crlf(a) || strpbrk(a, "<>,") || !strchr(a, '@')) {
      r->status = IRIS_PLUGIN_PERMANENT;
      snprintf(r->error, sizeof r->error, "'%s' is not a plain email address", a ? a : "");
      goto out;
    }
    pu_str_adds(&env, "<");
    pu_str_adds(&env, a);
    pu_str_adds(&env, ">");
    tmp = env.oom ? NULL : curl_slist_append(rcpt, env.p);
    pu_str_free(&env);
    if (!tmp) {
      oom = 1;
      break;
    }
    rcpt = tmp;
    if (i < m->ndestinations) {
      if (to.len)
        pu_str_adds(&to, ", ");
      pu_str_adds(&to, a);
    }
  }
  pu_str_adds(&from_env, "<");
  pu_str_adds(&from_env, from);
  pu_str_adds(&from_env, ">");
  gmtime_r(&now, &tm);
  strftime(date, sizeof date, "%a, %d %b %Y %H:%M:%S +0000", &tm);
  pu_str_adds(&msgid, "<iris.");
  pu_str_adds(&msgid, m->message_id ? m->message_id : "oob");
  {
    char rnd[64];
    snprintf(rnd, sizeof rnd, ".%lld.%d@iris-sender>", (long long)s->host->now_ms(s->host->data),
             rand() % 100000);
    pu_str_adds(&msgid, rnd);
  }
  headers = add_hdr(headers, &oom, "Date", date, 0);
  headers = add_hdr(headers, &oom, "From", from, 0);
  headers = add_hdr(headers, &oom, "To", to.p, 0);
  headers = add_hdr(headers, &oom, "Subject", m->subject ? m->subject : "", 1);
  headers = add_hdr(headers, &oom, "Message-ID", msgid.p, 0);
  headers = add_hdr(headers, &oom, "Reply-To", reply_to, 0);
  /* The message itself is the multipart/alternative (curl adds the boundary); without this
   * header curl makes the top level multipart/mixed. */
  headers = add_hdr(headers, &oom, "Content-Type", "multipart/alternative", 0);
  headers = add_hdr(headers, &oom, "X-IRIS-APPLICATION", m->application, 1);
  headers = add_hdr(headers, &oom, "X-IRIS-PRIORITY", m->priority, 1);
  headers = add_hdr(headers, &oom, "X-IRIS-PLAN", m->plan, 1);
  if (m->incident_id) {
    snprintf(incident, sizeof incident, "%lld", (long long)m->incident_id);
    headers = add_hdr(headers, &oom, "X-IRIS-INCIDENT-ID", incident, 0);
  }
  mime = curl_mime_init(s->curl);
  if (oom || to.oom || from_env.oom || msgid.oom || !mime) {
    r->status = IRIS_PLUGIN_RETRYABLE;
    snprintf(r->error, sizeof r->error, "out of memory building the email");
    goto out;
  }
  if (add_text_part(mime, m->body ? m->body : "", "text/plain; charset=utf-8") != CURLE_OK ||
      (m->email_html &&
       add_text_part(mime, m->email_html, "text/html; charset=utf-8") != CURLE_OK)) {
    r->status = IRIS_PLUGIN_RETRYABLE;
    snprintf(r->error, sizeof r->error, "out of memory building the email");
    goto out;
  }
  /* Where to: the server, the gateway's MX, or the recipient domain's MX. */
  if (s->server) {
    const char *colon = strrchr(s->server, ':');
    snprintf(hosts[0].host, sizeof hosts[0].host, "%.*s",
             (int)(colon ? (size_t)(colon - s->server) : strlen(s->server)), s->server);
    hosts[0].pref = colon ? (int)strtol(colon + 1, NULL, 10) : 0;
    nhosts = 1;
  } else {
    const char *domain = s->gateway ? s->gateway : strchr(m->destinations[0], '@') + 1;
    nhosts = mx_lookup(domain, hosts, 16, why, sizeof why);
    for (i = 0; i < nhosts; i++)
      hosts[i].pref = 0;
    if (!nhosts) {
      r->status = IRIS_PLUGIN_RETRYABLE;
      snprintf(r->error, sizeof r->error, "SMTP: %s", why);
      goto out;
    }
  }
  for (i = 0; i < nhosts; i++) {
    long reply = 0, port = (s->server && hosts[i].pref) ? hosts[i].pref : s->port;
    CURLcode cc = attempt(s, hosts[i].host, port, from_env.p, rcpt, headers, mime, &reply);
    if (cc == CURLE_OK) {
      r->status = IRIS_PLUGIN_SENT;
      snprintf(r->vendor_message_id, sizeof r->vendor_message_id, "%s", msgid.p);
      goto out;
    }
    classify(s, cc, reply, hosts[i].host, r);
    /* The next MX only helps when this one could not be reached. */
    if (r->status == IRIS_PLUGIN_PERMANENT || reply != 0)
      break;
  }
out:
  curl_mime_free(mime);
  curl_slist_free_all(rcpt);
  curl_slist_free_all(headers);
  pu_str_free(&to);
  pu_str_free(&from_env);
  pu_str_free(&msgid);
}

PU_MODE_OPS(email_ops, "email", init_email, send_msg, destroy, NULL);
PU_MODE_OPS(im_ops, "im", init_im, send_msg, destroy, NULL);
PU_PLUGIN_ENTRY("smtp", "1.0.0", &email_ops, &im_ops)
