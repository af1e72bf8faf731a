/*
 * iris_plugin.h — the vendor plugin ABI of the Iris Serverless Sender (version 1.0).
 *
 * This is the only public interface of the project. A plugin is a shared object that exports
 * one symbol, `iris_plugin_entry`, returning a constant descriptor. The descriptor lists one
 * operations table per Iris mode the plugin serves ("email", "sms", "call", "im", "slack",
 * "hipchat", or a new mode name). The host (the sender) loads every plugin of a directory,
 * checks the ABI, creates instances from configuration and calls send() for each message.
 *
 * The host owns retries, backoff, fallback to email, idempotency (a message is claimed in
 * MySQL before send() is called) and metrics; a plugin makes one delivery attempt per call
 * and says how it went. A plugin links against nothing of the host: every service it needs
 * (logging, HTTP, clock, secrets, metrics) arrives in struct iris_plugin_host.
 *
 * Versioning rules (after SQLite's VFS and curl's vtls):
 *   - Every struct that crosses the boundary starts with its size (and the descriptor also
 *     with the ABI version), so each side reads only the fields the other one knows.
 *   - Minor versions only append fields at the end of structs; a field is never moved,
 *     removed or changed. A host accepts plugins of its major and any minor; a field a
 *     plugin's struct_size does not cover is treated as absent (NULL / 0).
 *   - A new major version means an incompatible change; the host refuses other majors with
 *     an error naming the file and both versions.
 * Only plain C types cross the boundary (no library types), every string is UTF-8 and
 * NUL-terminated, and every pointer's owner and lifetime is stated below.
 *
 * Threading: the host calls init, send, health and destroy of one instance from one thread
 * at a time. Different instances may be used from different threads; keep state in the
 * instance, not in globals.
 *
 * Time: a plugin runs inside an AWS Lambda invocation that has a deadline (the function's
 * timeout, typically 30-60 s for the sender, and the SQS visibility timeout of the message
 * being sent). ABI 1.0 does not pass the remaining time, so pick timeouts as follows:
 *   - every host->http request sets timeout_ms (the whole exchange, connect included); make it
 *     an option of the plugin named `timeout_ms`, default 10000, so operators can match it
 *     to their function timeout;
 *   - one send() should make one network round trip (two at most); its worst case — the sum
 *     of its timeouts — must stay well below the function's timeout, since the sender sends
 *     several messages per invocation and must still record each outcome before the
 *     deadline. A send() that overruns the deadline is killed with the invocation and the
 *     message is retried after its visibility timeout;
 *   - never sleep or retry inside send(): return IRIS_PLUGIN_RETRYABLE or
 *     IRIS_PLUGIN_RATE_LIMITED with retry_after_ms and let the host schedule the retry.
 */
#ifndef IRIS_PLUGIN_H
#define IRIS_PLUGIN_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define IRIS_PLUGIN_ABI_MAJOR 1
#define IRIS_PLUGIN_ABI_MINOR 0

/* The longest retry_after_ms the host honours: 15 minutes. A larger value is clamped to
 * this (SQS could hold a message for 12 h, but a page that waits longer than this is no
 * page); a negative value is ignored (0). See struct iris_plugin_result. */
#define IRIS_PLUGIN_RETRY_AFTER_MAX_MS 900000

/* The exported entry point's name, for dlsym/lt_dlsym. */
#define IRIS_PLUGIN_ENTRY_SYMBOL "iris_plugin_entry"

#if defined(__GNUC__) || defined(__clang__)
#define IRIS_PLUGIN_PRINTF(f, a) __attribute__((format(printf, f, a)))
#else
#define IRIS_PLUGIN_PRINTF(f, a)
#endif

/* ---- services the host gives every plugin -------------------------------------------- */

enum iris_plugin_log_level {
  IRIS_PLUGIN_LOG_DEBUG = 0,
  IRIS_PLUGIN_LOG_INFO = 1,
  IRIS_PLUGIN_LOG_WARN = 2,
  IRIS_PLUGIN_LOG_ERROR = 3
};

/* A name/value pair (configuration, HTTP headers, extra message fields). */
struct iris_plugin_kv {
  const char *key;
  const char *value;
};

/* One HTTP request. Everything is borrowed by the host for the duration of the call. */
struct iris_plugin_http_request {
  uint32_t struct_size;                 /* sizeof(struct iris_plugin_http_request) */
  const char *method;                   /* "GET", "POST", ... */
  const char *url;                      /* http:// or https:// only */
  const struct iris_plugin_kv *headers; /* "Content-Type" etc.; may be NULL */
  size_t nheaders;
  const char *body; /* may be NULL */
  size_t body_len;
  const char *basic_user;     /* HTTP Basic auth, or NULL */
  const char *basic_password; /* never logged by the host */
  long timeout_ms;            /* whole request; 0 = the host's default (10 s) */
};

/* Transport outcome of an HTTP request (the HTTP status is separate). */
enum iris_plugin_http_error {
  IRIS_PLUGIN_HTTP_OK = 0,      /* a response arrived (any status) */
  IRIS_PLUGIN_HTTP_TIMEOUT = 1, /* no complete response within timeout_ms */
  IRIS_PLUGIN_HTTP_CONNECT = 2, /* DNS, connection or TLS failure */
  IRIS_PLUGIN_HTTP_TOO_BIG = 3, /* response above the host's limit (1 MiB) */
  IRIS_PLUGIN_HTTP_FAILED = 4   /* anything else; see error */
};

/* The answer; filled by the host, released with host->http_free. */
struct iris_plugin_http_response {
  uint32_t struct_size; /* set by the plugin before the call */
  enum iris_plugin_http_error transport;
  long status; /* HTTP status, 0 if no response */
  char *body;  /* NUL-terminated (the NUL is not counted in body_len) */
  size_t body_len;
  struct iris_plugin_kv *headers; /* response headers, names lower-cased */
  size_t nheaders;
  char error[256]; /* transport error text, "" if none */
};

struct iris_plugin_host {
  uint32_t abi_major; /* the host's IRIS_PLUGIN_ABI_MAJOR */
  uint32_t abi_minor;
  uint32_t struct_size; /* sizeof(struct iris_plugin_host) as the host built it */
  void *data;           /* pass back as the first argument of every service */

  /* A log line in the host's structured log (request and message ids added; values the
   * host knows to be secret are redacted). printf-style. */
  void (*log)(void *data, enum iris_plugin_log_level level, const char *fmt, ...)
      IRIS_PLUGIN_PRINTF(3, 4);

  /* Perform one HTTP request (TLS verified). Returns 0 when a response arrived (whatever
   * its status), -1 otherwise (resp->transport and resp->error say why). The response must
   * always be released with http_free, on success and on failure. */
  int (*http)(void *data, const struct iris_plugin_http_request *req,
              struct iris_plugin_http_response *resp);
  void (*http_free)(void *data, struct iris_plugin_http_response *resp);

  /* Wall-clock milliseconds since the Unix epoch (the host's clock; tests move it). */
  int64_t (*now_ms)(void *data);

  /* Resolve a secret by name (an AWS Secrets Manager id, as configured by the operator).
   * On success returns 0 and *value, which the plugin releases with host->free. */
  int (*get_secret)(void *data, const char *name, char **value);

  /* Record a metric ("Count", "Milliseconds", "Bytes" or "None"), dimensioned by the host
   * with the plugin, mode and vendor instance. */
  void (*metric)(void *data, const char *name, double value, const char *unit);

  /* Release memory the host allocated for the plugin (secret values). */
  void (*free)(void *data, void *ptr);
};

/* Does a struct of this size contain member m? (For reading structs of other versions.) */
#define IRIS_PLUGIN_HAS(ptr, type, m) \
  ((ptr)->struct_size >= offsetof(type, m) + sizeof(((type *)0)->m))

/* ---- messages and results ------------------------------------------------------------ */

/*
 * What to deliver. Everything is borrowed and valid only during send(); copy what must
 * outlive the call. Optional strings are NULL when absent, never "".
 */
struct iris_plugin_message {
  uint32_t struct_size;
  const char *message_id;          /* Iris message id ("1234"), batch id or notification id;
                                    stable across retries of the same delivery */
  const char *mode;                /* the mode being sent ("email", "sms", ...) */
  const char *const *destinations; /* one or more: address, number, channel, room */
  size_t ndestinations;
  const char *const *bcc; /* email only; never visible to the recipients */
  size_t nbcc;
  const char *subject;                /* may be NULL */
  const char *body;                   /* plain text, never NULL (may be "") */
  const char *email_html;             /* ready HTML for email, or NULL */
  const char *application;            /* Iris application name */
  const char *priority;               /* "urgent", "high", ... or NULL */
  int64_t incident_id;                /* 0 for out-of-band notifications */
  const char *plan;                   /* plan name or NULL */
  const char *target;                 /* the user or group the message is for, or NULL */
  const struct iris_plugin_kv *extra; /* more template fields (from_address, reply_to, ...) */
  size_t nextra;
};

enum iris_plugin_status {
  IRIS_PLUGIN_SENT = 0,        /* the vendor accepted the message */
  IRIS_PLUGIN_RETRYABLE = 1,   /* transient failure (5xx, timeout): try again later */
  IRIS_PLUGIN_PERMANENT = 2,   /* will never work as is (bad number, unknown channel) */
  IRIS_PLUGIN_RATE_LIMITED = 3 /* the vendor asked us to slow down: retry after */
};

/*
 * Filled by send(). The host zeroes it and sets struct_size before the call; the buffers
 * belong to the host; write with snprintf (text is truncated, never overflowed).
 * What the host does with what comes back (it trusts nothing):
 *   - status outside the enum → RETRYABLE, with an error saying the plugin gave no status;
 *   - retry_after_ms: used only for RATE_LIMITED and RETRYABLE (0 otherwise); negative is
 *     ignored (0); above IRIS_PLUGIN_RETRY_AFTER_MAX_MS it is clamped to that; RATE_LIMITED
 *     with 0 waits 1000 ms;
 *   - vendor_message_id and error are cut at their buffer's last byte if not terminated,
 *     bytes that are not valid UTF-8 become '?', control characters become '?' in the id
 *     and ' ' in the error; an unsent result without an error gets one.
 */
struct iris_plugin_result {
  uint32_t struct_size;
  enum iris_plugin_status status;
  int64_t retry_after_ms;      /* RATE_LIMITED (and optionally RETRYABLE): wait this long;
                                    0 .. IRIS_PLUGIN_RETRY_AFTER_MAX_MS */
  char vendor_message_id[128]; /* the vendor's id for the message (SID, ts...), or "" */
  char error[512];             /* why it failed, for the operator; "" when sent */
};

/* ---- what a plugin exports ----------------------------------------------------------- */

/* Operations for one mode. init/send/destroy are required; health may be NULL. */
struct iris_plugin_mode_ops {
  uint32_t struct_size; /* sizeof(struct iris_plugin_mode_ops) */
  const char *mode;     /* the Iris mode served */

  /*
   * Create an instance from configuration: `name` is the operator's name for it
   * ("smtp-primary", the vendors.<mode>[].name of the configuration); `config` holds its
   * settings (vendors.<mode>[].config) as strings: numbers and booleans as their JSON text,
   * and secret references ("secretsmanager:<id>[#key]") already replaced by the secret's
   * value, which the host also redacts from its logs. That is the one way a plugin gets
   * its credentials; get_secret is for names only known at send time.
   * Lifetimes: `name`, `config` and every string in it are valid only during this call
   * (copy what you keep); `host` stays valid until destroy. On failure return non-zero and
   * write the reason into error (error_size bytes, NUL-terminated), naming the option;
   * *instance unset.
   */
  int (*init)(const struct iris_plugin_host *host, const char *name,
              const struct iris_plugin_kv *config, size_t nconfig, void **instance, char *error,
              size_t error_size);

  /*
   * Make one delivery attempt and fill result. Must not keep pointers into msg.
   * Several destinations: the sender passes one today (one contact per message); a mode
   * whose vendor can address several at once (email: all of them in To) uses them all, a
   * mode that cannot (sms, call, im, slack, hipchat) delivers to destinations[0] and
   * ignores the rest. An empty destination list is a PERMANENT failure.
   */
  void (*send)(void *instance, const struct iris_plugin_message *msg,
               struct iris_plugin_result *result);

  /* Release the instance. */
  void (*destroy)(void *instance);

  /*
   * Optional: can the vendor be reached with this configuration? 0 = healthy. Called only
   * when an operator asks (iris-plugin-harness --health), never by the sender before or
   * between sends: send() must not depend on it. One cheap request with a short timeout
   * (a few seconds), no message sent; the reason for failure goes into error.
   */
  int (*health)(void *instance, char *error, size_t error_size);
};

struct iris_plugin_descriptor {
  uint32_t abi_major;   /* IRIS_PLUGIN_ABI_MAJOR the plugin was built with */
  uint32_t abi_minor;   /* IRIS_PLUGIN_ABI_MINOR the plugin was built with */
  uint32_t struct_size; /* sizeof(struct iris_plugin_descriptor) */
  const char *name;     /* plugin name, unique in a deployment ("smtp") */
  const char *version;  /* the plugin's own version ("1.2.0") */
  const char *vendor;   /* who wrote it ("iris-serverless-sender", "acme") */
  const struct iris_plugin_mode_ops *const *modes; /* one per mode served */
  size_t nmodes;
};

/* Marks the entry point exported even when a plugin builds with -fvisibility=hidden. */
#if defined(__GNUC__) || defined(__clang__)
#define IRIS_PLUGIN_EXPORT __attribute__((visibility("default")))
#else
#define IRIS_PLUGIN_EXPORT
#endif

/* The one symbol a plugin exports. Returns a descriptor with static lifetime. */
typedef const struct iris_plugin_descriptor *(*iris_plugin_entry_fn)(void);
IRIS_PLUGIN_EXPORT const struct iris_plugin_descriptor *iris_plugin_entry(void);

/* Fill the leading fields of a descriptor in a plugin's source. */
#define IRIS_PLUGIN_DESCRIPTOR_HEAD \
  IRIS_PLUGIN_ABI_MAJOR, IRIS_PLUGIN_ABI_MINOR, sizeof(struct iris_plugin_descriptor)

/*
 * ABI pins: the sizes and offsets of ABI 1.0 on LP64 (x86_64 and aarch64 Linux, the
 * platforms Lambda runs). A change that moves a field fails the build here instead of
 * breaking every plugin built before it. Appending a field (a new minor) changes a size:
 * update the size pin in the same change, never an offset. Define IRIS_PLUGIN_NO_ABI_PINS
 * to skip them (another data model).
 */
#if !defined(IRIS_PLUGIN_NO_ABI_PINS) && !defined(__cplusplus) && defined(__LP64__) && \
    defined(__STDC_VERSION__) && __STDC_VERSION__ >= 201112L
#define IRIS_PLUGIN__PIN(type, member, off) \
  _Static_assert(offsetof(type, member) == (off), "plugin ABI 1.0: " #type "." #member " moved")
#define IRIS_PLUGIN__SIZE(type, size) \
  _Static_assert(sizeof(type) == (size), "plugin ABI 1.0: size of " #type " changed")
IRIS_PLUGIN__SIZE(struct iris_plugin_kv, 16);
IRIS_PLUGIN__PIN(struct iris_plugin_http_request, method, 8);
IRIS_PLUGIN__PIN(struct iris_plugin_http_request, url, 16);
IRIS_PLUGIN__PIN(struct iris_plugin_http_request, headers, 24);
IRIS_PLUGIN__PIN(struct iris_plugin_http_request, nheaders, 32);
IRIS_PLUGIN__PIN(struct iris_plugin_http_request, body, 40);
IRIS_PLUGIN__PIN(struct iris_plugin_http_request, body_len, 48);
IRIS_PLUGIN__PIN(struct iris_plugin_http_request, basic_user, 56);
IRIS_PLUGIN__PIN(struct iris_plugin_http_request, basic_password, 64);
IRIS_PLUGIN__PIN(struct iris_plugin_http_request, timeout_ms, 72);
IRIS_PLUGIN__SIZE(struct iris_plugin_http_request, 80);
IRIS_PLUGIN__PIN(struct iris_plugin_http_response, transport, 4);
IRIS_PLUGIN__PIN(struct iris_plugin_http_response, status, 8);
IRIS_PLUGIN__PIN(struct iris_plugin_http_response, body, 16);
IRIS_PLUGIN__PIN(struct iris_plugin_http_response, body_len, 24);
IRIS_PLUGIN__PIN(struct iris_plugin_http_response, headers, 32);
IRIS_PLUGIN__PIN(struct iris_plugin_http_response, nheaders, 40);
IRIS_PLUGIN__PIN(struct iris_plugin_http_response, error, 48);
IRIS_PLUGIN__SIZE(struct iris_plugin_http_response, 304);
IRIS_PLUGIN__PIN(struct iris_plugin_host, abi_minor, 4);
IRIS_PLUGIN__PIN(struct iris_plugin_host, struct_size, 8);
IRIS_PLUGIN__PIN(struct iris_plugin_host, data, 16);
IRIS_PLUGIN__PIN(struct iris_plugin_host, log, 24);
IRIS_PLUGIN__PIN(struct iris_plugin_host, http, 32);
IRIS_PLUGIN__PIN(struct iris_plugin_host, http_free, 40);
IRIS_PLUGIN__PIN(struct iris_plugin_host, now_ms, 48);
IRIS_PLUGIN__PIN(struct iris_plugin_host, get_secret, 56);
IRIS_PLUGIN__PIN(struct iris_plugin_host, metric, 64);
IRIS_PLUGIN__PIN(struct iris_plugin_host, free, 72);
IRIS_PLUGIN__SIZE(struct iris_plugin_host, 80);
IRIS_PLUGIN__PIN(struct iris_plugin_message, message_id, 8);
IRIS_PLUGIN__PIN(struct iris_plugin_message, mode, 16);
IRIS_PLUGIN__PIN(struct iris_plugin_message, destinations, 24);
IRIS_PLUGIN__PIN(struct iris_plugin_message, ndestinations, 32);
IRIS_PLUGIN__PIN(struct iris_plugin_message, bcc, 40);
IRIS_PLUGIN__PIN(struct iris_plugin_message, nbcc, 48);
IRIS_PLUGIN__PIN(struct iris_plugin_message, subject, 56);
IRIS_PLUGIN__PIN(struct iris_plugin_message, body, 64);
IRIS_PLUGIN__PIN(struct iris_plugin_message, email_html, 72);
IRIS_PLUGIN__PIN(struct iris_plugin_message, application, 80);
IRIS_PLUGIN__PIN(struct iris_plugin_message, priority, 88);
IRIS_PLUGIN__PIN(struct iris_plugin_message, incident_id, 96);
IRIS_PLUGIN__PIN(struct iris_plugin_message, plan, 104);
IRIS_PLUGIN__PIN(struct iris_plugin_message, target, 112);
IRIS_PLUGIN__PIN(struct iris_plugin_message, extra, 120);
IRIS_PLUGIN__PIN(struct iris_plugin_message, nextra, 128);
IRIS_PLUGIN__SIZE(struct iris_plugin_message, 136);
IRIS_PLUGIN__PIN(struct iris_plugin_result, status, 4);
IRIS_PLUGIN__PIN(struct iris_plugin_result, retry_after_ms, 8);
IRIS_PLUGIN__PIN(struct iris_plugin_result, vendor_message_id, 16);
IRIS_PLUGIN__PIN(struct iris_plugin_result, error, 144);
IRIS_PLUGIN__SIZE(struct iris_plugin_result, 656);
IRIS_PLUGIN__PIN(struct iris_plugin_mode_ops, mode, 8);
IRIS_PLUGIN__PIN(struct iris_plugin_mode_ops, init, 16);
IRIS_PLUGIN__PIN(struct iris_plugin_mode_ops, send, 24);
IRIS_PLUGIN__PIN(struct iris_plugin_mode_ops, destroy, 32);
IRIS_PLUGIN__PIN(struct iris_plugin_mode_ops, health, 40);
IRIS_PLUGIN__SIZE(struct iris_plugin_mode_ops, 48);
IRIS_PLUGIN__PIN(struct iris_plugin_descriptor, abi_minor, 4);
IRIS_PLUGIN__PIN(struct iris_plugin_descriptor, struct_size, 8);
IRIS_PLUGIN__PIN(struct iris_plugin_descriptor, name, 16);
IRIS_PLUGIN__PIN(struct iris_plugin_descriptor, version, 24);
IRIS_PLUGIN__PIN(struct iris_plugin_descriptor, vendor, 32);
IRIS_PLUGIN__PIN(struct iris_plugin_descriptor, modes, 40);
IRIS_PLUGIN__PIN(struct iris_plugin_descriptor, nmodes, 48);
IRIS_PLUGIN__SIZE(struct iris_plugin_descriptor, 56);
#undef IRIS_PLUGIN__PIN
#undef IRIS_PLUGIN__SIZE
#endif

#ifdef __cplusplus
}
#endif

#endif /* IRIS_PLUGIN_H */
