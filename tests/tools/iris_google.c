/*
 * iris-google — core/clients/google.h from the command line, for the tests that run it
 * against tests/fakes/google_fake.py (and for trying credentials by hand):
 *
 *   iris-google --credentials FILE [--token-uri URL] [--api URL] [--scope S] [--subject U]
 *               watch USER TOPIC
 *   iris-google ... push PROJECT TOKEN PLATFORM TITLE BODY INCIDENT_ID [REPEAT]
 *
 * Prints one JSON line: {"rc": "IRIS_OK", "error": "", ...answer}. REPEAT sends that many
 * pushes with one client (the access token is fetched once).
 */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "alloc.h"
#include "google.h"

static char *slurp(const char *path) {
  FILE *f = fopen(path, "rb");
  char *text = NULL;
  long n;
  if (!f)
    return NULL;
  if (fseek(f, 0, SEEK_END) == 0 && (n = ftell(f)) >= 0 && n < 1024 * 1024 &&
      fseek(f, 0, SEEK_SET) == 0 && (text = iris_malloc((size_t)n + 1))) {
    if (fread(text, 1, (size_t)n, f) != (size_t)n) {
      iris_free(text);
      text = NULL;
    } else {
      text[n] = '\0';
    }
  }
  fclose(f);
  return text;
}

int main(int argc, char **argv) {
  struct iris_google_opts o;
  struct iris_google *g = NULL;
  struct iris_err err = {0};
  const char *api = NULL, *creds_path = NULL;
  char *creds = NULL;
  json_t *out = json_object();
  int i, rc;
  memset(&o, 0, sizeof o);
  for (i = 1; i + 1 < argc && strncmp(argv[i], "--", 2) == 0; i += 2) {
    if (strcmp(argv[i], "--credentials") == 0)
      creds_path = argv[i + 1];
    else if (strcmp(argv[i], "--token-uri") == 0)
      o.token_uri = argv[i + 1];
    else if (strcmp(argv[i], "--api") == 0)
      api = argv[i + 1];
    else if (strcmp(argv[i], "--scope") == 0)
      o.scope = argv[i + 1];
    else if (strcmp(argv[i], "--subject") == 0)
      o.subject = argv[i + 1];
    else
      break;
  }
  if (!creds_path || i >= argc || !(creds = slurp(creds_path))) {
    fprintf(stderr, "usage: iris-google --credentials FILE [--token-uri URL] [--api URL]"
                    " [--scope S] [--subject U] watch USER TOPIC | push PROJECT TOKEN PLATFORM"
                    " TITLE BODY INCIDENT_ID [REPEAT]\n");
    return 2;
  }
  o.credentials = creds;
  rc = iris_google_new(&o, &g, &err);
  if (rc == IRIS_OK && strcmp(argv[i], "watch") == 0 && i + 2 < argc) {
    int64_t history = 0, expiration = 0;
    rc = iris_gmail_watch(g, api, argv[i + 1], argv[i + 2], &history, &expiration, &err);
    json_object_set_new(out, "history_id", json_integer(history));
    json_object_set_new(out, "expiration_ms", json_integer(expiration));
  } else if (rc == IRIS_OK && strcmp(argv[i], "push") == 0 && i + 6 < argc) {
    struct iris_fcm_push p =
        {argv[i + 2], argv[i + 3], argv[i + 4], argv[i + 5], strtoll(argv[i + 6], NULL, 10), 0};
    long k, repeat = i + 7 < argc ? strtol(argv[i + 7], NULL, 10) : 1;
    for (k = 0; k < repeat && rc == IRIS_OK; k++)
      rc = iris_fcm_send(g, api, argv[i + 1], &p, &err);
  } else if (rc == IRIS_OK) {
    rc = iris_err_set(&err, IRIS_EINVAL, "unknown command or missing arguments");
  }
  json_object_set_new(out, "rc", json_string(iris_rc_name(rc)));
  json_object_set_new(out, "error", json_string(rc ? err.msg : ""));
  {
    char *text = json_dumps(out, JSON_COMPACT);
    if (text)
      puts(text);
    iris_free(text);
  }
  json_decref(out);
  iris_google_free(g);
  iris_free(creds);
  return rc ? 1 : 0;
}
