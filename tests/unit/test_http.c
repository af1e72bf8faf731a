/*
 * test_http.c — core/clients/http: URLs in messages lose their credentials, transport
 * failures map to the documented codes with specific messages, answers of any status are
 * IRIS_OK, headers reach the collector, the body cap holds, one connection is reused.
 * Against a real local TCP server (a thread), not a mock.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "alloc.h"
#include "http.h"
#include "log.h"

static void urls_lose_credentials(void **state) {
  char *u;
  (void)state;
  u = iris_http_url_for_log("https://user:pw@example.com:8443/a/b?token=x#f", 0);
  assert_string_equal(u, "https://example.com:8443/a/b");
  iris_free(u);
  u = iris_http_url_for_log("https://hooks.slack.com/services/T0/B0/XXXX", 1);
  assert_string_equal(u, "https://hooks.slack.com/...");
  iris_free(u);
  u = iris_http_url_for_log("http://h/", 1);
  assert_string_equal(u, "http://h/");
  iris_free(u);
  assert_int_equal(iris_log_add_secret("s3cret-host"), IRIS_OK);
  u = iris_http_url_for_log("http://s3cret-host/x", 0);
  assert_null(strstr(u, "s3cret-host"));
  iris_free(u);
  iris_log_clear_secrets();
}

/* A tiny HTTP/1.1 server: answers `count` requests on one accepted connection each time. */
struct server {
  int fd, port, accepted, mode; /* mode 0: 418 + header + body; 1: hang; 2: big body */
  pthread_t thread;
};

/* Read one whole request (headers and Content-Length body); 0 when the peer closed. */
static int read_request(int c) {
  char buf[4096];
  size_t n = 0;
  for (;;) {
    char *end;
    ssize_t r = recv(c, buf + n, sizeof buf - 1 - n, 0);
    if (r <= 0)
      return 0;
    n += (size_t)r;
    buf[n] = '\0';
    end = strstr(buf, "\r\n\r\n");
    if (end) {
      const char *cl = strstr(buf, "Content-Length: ");
      size_t want = (size_t)(end + 4 - buf) +
                    (cl && cl < end ? (size_t)strtoul(cl + 16, NULL, 10) : 0);
      if (n >= want)
        return 1;
    }
    if (n == sizeof buf - 1)
      return 0;
  }
}

static void *serve(void *data) {
  struct server *s = data;
  for (;;) {
    int c = accept(s->fd, NULL, NULL);
    if (c < 0)
      return NULL;
    s->accepted++;
    while (read_request(c)) {
      if (s->mode == 1) {
        struct timespec t = {0, 400L * 1000 * 1000};
        nanosleep(&t, NULL);
        break;
      }
      if (s->mode == 2) {
        static char big[8192];
        char head[128];
        memset(big, 'b', sizeof big);
        snprintf(head, sizeof head, "HTTP/1.1 200 OK\r\nContent-Length: %zu\r\n\r\n", sizeof big);
        (void)!send(c, head, strlen(head), 0);
        (void)!send(c, big, sizeof big, 0);
        continue;
      }
      {
        static const char answer[] = "HTTP/1.1 418 I'm a teapot\r\nX-Thing:  value \r\n"
                                     "Content-Length: 5\r\n\r\nhello";
        (void)!send(c, answer, sizeof answer - 1, 0);
      }
    }
    close(c);
  }
}

static void server_start(struct server *s, int mode) {
  struct sockaddr_in a;
  socklen_t len = sizeof a;
  memset(s, 0, sizeof *s);
  memset(&a, 0, sizeof a);
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  s->mode = mode;
  s->fd = socket(AF_INET, SOCK_STREAM, 0);
  assert_true(s->fd >= 0);
  assert_int_equal(bind(s->fd, (struct sockaddr *)&a, sizeof a), 0);
  assert_int_equal(listen(s->fd, 4), 0);
  assert_int_equal(getsockname(s->fd, (struct sockaddr *)&a, &len), 0);
  s->port = ntohs(a.sin_port);
  assert_int_equal(pthread_create(&s->thread, NULL, serve, s), 0);
}

static void server_stop(struct server *s) {
  shutdown(s->fd, SHUT_RDWR);
  close(s->fd);
  pthread_join(s->thread, NULL);
}

struct seen {
  int starts;
  char value[64];
};

static int collect(void *data, const char *name, size_t nl, const char *value, size_t vl) {
  struct seen *s = data;
  if (!name)
    s->starts++;
  else if (nl == 7 && strncmp(name, "X-Thing", 7) == 0)
    snprintf(s->value, sizeof s->value, "%.*s", (int)vl, value);
  return 0;
}

static void answers_and_reuse(void **state) {
  struct server srv;
  struct iris_http *h = NULL;
  struct iris_http_request req = {0};
  struct iris_err err = {0};
  struct iris_buf body;
  struct seen seen = {0};
  const char *hdrs[] = {"Authorization: Bearer never-logged", NULL};
  char url[64];
  long status;
  (void)state;
  server_start(&srv, 0);
  snprintf(url, sizeof url, "http://127.0.0.1:%d/x?token=t", srv.port);
  assert_int_equal(iris_http_new(NULL, &h, &err), IRIS_OK);
  iris_buf_init(&body, 0);
  req.method = "POST";
  req.url = url;
  req.headers = hdrs;
  req.nheaders = 2;
  req.body = "{}";
  req.body_len = 2;
  req.on_header = collect;
  req.header_data = &seen;
  assert_int_equal(iris_http_perform(h, &req, &status, &body, &err), IRIS_OK);
  assert_int_equal(status, 418);
  assert_string_equal(iris_buf_ptr(&body), "hello");
  assert_string_equal(seen.value, "value");
  assert_int_equal(seen.starts, 1);
  iris_buf_reset(&body);
  req.method = "GET";
  req.body = NULL;
  assert_int_equal(iris_http_perform(h, &req, &status, &body, &err), IRIS_OK);
  assert_int_equal(status, 418);
  assert_int_equal(srv.accepted, 1); /* the second request reused the connection */
  iris_buf_cleanup(&body);
  iris_http_free(h);
  server_stop(&srv);
}

static void failures_are_mapped(void **state) {
  struct server srv;
  struct iris_http *h = NULL;
  struct iris_http_opts opts = {0};
  struct iris_http_request req = {0};
  struct iris_err err = {0};
  struct iris_buf body;
  char url[64];
  long status;
  int port;
  (void)state;
  opts.timeout_ms = 150;
  assert_int_equal(iris_http_new(&opts, &h, &err), IRIS_OK);
  iris_buf_init(&body, 1024);
  req.method = "GET";
  req.url = "ftp://example.com/";
  assert_int_equal(iris_http_perform(h, &req, &status, &body, &err), IRIS_EINVAL);

  server_start(&srv, 1); /* hangs */
  snprintf(url, sizeof url, "http://127.0.0.1:%d/slow?key=k", srv.port);
  req.url = url;
  assert_int_equal(iris_http_perform(h, &req, &status, &body, &err), IRIS_ETIMEOUT);
  assert_non_null(strstr(err.msg, "no answer within 150 ms"));
  assert_non_null(strstr(err.msg, "/slow"));
  assert_null(strstr(err.msg, "key=k"));
  port = srv.port;
  server_stop(&srv);

  snprintf(url, sizeof url, "http://127.0.0.1:%d/gone", port);
  assert_int_equal(iris_http_perform(h, &req, &status, &body, &err), IRIS_ECONN);
  assert_int_equal(status, 0);

  server_start(&srv, 2); /* 8 KiB body against a 1 KiB cap */
  snprintf(url, sizeof url, "http://127.0.0.1:%d/big", srv.port);
  req.timeout_ms = 2000;
  assert_int_equal(iris_http_perform(h, &req, &status, &body, &err), IRIS_ETOOBIG);
  assert_non_null(strstr(err.msg, "exceeds its limit of 1024 bytes"));
  server_stop(&srv);
  iris_buf_cleanup(&body);
  iris_http_free(h);
}

int main(void) {
  const struct CMUnitTest tests[] = {cmocka_unit_test(urls_lose_credentials),
                                     cmocka_unit_test(answers_and_reuse),
                                     cmocka_unit_test(failures_are_mapped)};
  return cmocka_run_group_tests(tests, NULL, NULL);
}
