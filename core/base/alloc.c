/*
 * alloc.c — the allocation seam (see alloc.h). The only file allowed to call the C
 * library's allocator directly.
 */
#include "alloc.h"

#include <jansson.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* -1: disarmed. Otherwise the number of allocations still allowed to succeed. */
static _Atomic long fail_budget = -1;
static _Atomic long succeeded = 0;
static _Atomic int fault_hit = 0;

static int should_fail(void) {
  long budget = atomic_load(&fail_budget);
  if (budget < 0)
    return 0;
  if (budget == 0) {
    atomic_store(&fault_hit, 1);
    return 1;
  }
  atomic_fetch_sub(&fail_budget, 1);
  atomic_fetch_add(&succeeded, 1);
  return 0;
}

long iris_alloc_fail_after(long n) {
  long prev = atomic_exchange(&succeeded, 0);
  atomic_store(&fault_hit, 0);
  atomic_store(&fail_budget, n);
  return prev;
}

int iris_alloc_fault_hit(void) { return atomic_load(&fault_hit); }

void *iris_malloc(size_t n) {
  if (should_fail())
    return NULL;
  return malloc(n ? n : 1);
}

void *iris_calloc(size_t count, size_t size) {
  if (should_fail())
    return NULL;
  return calloc(count ? count : 1, size ? size : 1);
}

void *iris_realloc(void *p, size_t n) {
  if (should_fail())
    return NULL;
  return realloc(p, n ? n : 1);
}

void iris_free(void *p) { free(p); }

char *iris_strndup(const char *s, size_t n) {
  size_t len = strnlen(s, n);
  char *copy = iris_malloc(len + 1);
  if (copy) {
    memcpy(copy, s, len);
    copy[len] = '\0';
  }
  return copy;
}

char *iris_strdup(const char *s) { return iris_strndup(s, strlen(s)); }

char *iris_vasprintf(const char *fmt, va_list ap) {
  va_list ap2;
  int n;
  char *out;
  va_copy(ap2, ap);
  n = vsnprintf(NULL, 0, fmt, ap2);
  va_end(ap2);
  if (n < 0)
    return NULL;
  out = iris_malloc((size_t)n + 1);
  if (out)
    vsnprintf(out, (size_t)n + 1, fmt, ap);
  return out;
}

char *iris_asprintf(const char *fmt, ...) {
  va_list ap;
  char *out;
  va_start(ap, fmt);
  out = iris_vasprintf(fmt, ap);
  va_end(ap);
  return out;
}

/*
 * jansson allocates through this seam too, so JSON built by core fails cleanly under
 * fault injection and strings from json_dumps() are released with iris_free().
 * A constructor, because the first JSON call may come from any module.
 */
__attribute__((constructor)) static void install_json_allocator(void) {
  json_set_alloc_funcs(iris_malloc, iris_free);
}
