/* bad_plugin.c — one source, one defect per build (KIND_*), for the loader's tests. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "iris_plugin.h"

static int init(const struct iris_plugin_host *host, const char *name,
                const struct iris_plugin_kv *config, size_t nconfig, void **instance, char *error,
                size_t error_size) {
  size_t i;
  (void)host;
  (void)name;
  for (i = 0; i < nconfig; i++)
    if (strcmp(config[i].key, "refuse") == 0) {
      snprintf(error, error_size, "refusing: %s", config[i].value);
      return -1;
    }
  *instance = malloc(1);
  return *instance ? 0 : -1;
}

__attribute__((unused)) static void send_msg(void *instance, const struct iris_plugin_message *m,
                                             struct iris_plugin_result *r) {
  (void)instance;
  (void)m;
#if defined(KIND_WILD)
  /* Returns exactly what the message's extra fields say, raw: the host must bound it. */
  size_t i;
  r->status = IRIS_PLUGIN_SENT;
  for (i = 0; i < m->nextra; i++) {
    const char *k = m->extra[i].key, *v = m->extra[i].value;
    if (strcmp(k, "status") == 0)
      r->status = (enum iris_plugin_status)strtol(v, NULL, 10);
    else if (strcmp(k, "retry_after_ms") == 0)
      r->retry_after_ms = strtoll(v, NULL, 10);
    else if (strcmp(k, "vendor_message_id") == 0)
      memcpy(r->vendor_message_id, v,
             strlen(v) < sizeof r->vendor_message_id ? strlen(v) + 1 : sizeof r->vendor_message_id);
    else if (strcmp(k, "error") == 0)
      memcpy(r->error, v, strlen(v) < sizeof r->error ? strlen(v) + 1 : sizeof r->error);
  }
#elif defined(KIND_BAD_STATUS)
  r->status = (enum iris_plugin_status)42;
  memset(r->error, 'x', sizeof r->error); /* not terminated */
  memset(r->vendor_message_id, 'y', sizeof r->vendor_message_id);
#else
  r->status = IRIS_PLUGIN_SENT;
  snprintf(r->vendor_message_id, sizeof r->vendor_message_id, "test-1");
#endif
}

static void destroy(void *instance) { free(instance); }

#ifdef KIND_NULL_SEND
static const struct iris_plugin_mode_ops ops = {sizeof ops, "sms", init, NULL, destroy, NULL};
#else
static const struct iris_plugin_mode_ops ops = {sizeof ops, "sms", init, send_msg, destroy, NULL};
#endif
#ifdef KIND_DUP_MODE
static const struct iris_plugin_mode_ops *const modes[] = {&ops, &ops};
#else
static const struct iris_plugin_mode_ops *const modes[] = {&ops};
#endif

#if defined(KIND_WILD)
#define NAME "wild"
#elif defined(KIND_DUP_NAME) || defined(KIND_GOOD)
#define NAME "good"
#else
#define NAME "bad"
#endif

__attribute__((unused)) static struct iris_plugin_descriptor d =
    {IRIS_PLUGIN_DESCRIPTOR_HEAD, NAME, "0.1", "tests", modes, sizeof modes / sizeof modes[0]};

#ifndef KIND_NO_ENTRY
IRIS_PLUGIN_EXPORT const struct iris_plugin_descriptor *iris_plugin_entry(void) {
#ifdef KIND_NULL_DESC
  return NULL;
#endif
#ifdef KIND_WRONG_MAJOR
  d.abi_major = 2;
#endif
#ifdef KIND_NEWER_MINOR
  d.abi_minor = 7;
  d.name = "newer";
#endif
#ifdef KIND_SMALL_DESC
  d.struct_size = 12;
#endif
#ifdef KIND_NO_MODES
  d.nmodes = 0;
#endif
  return &d;
}
#endif
