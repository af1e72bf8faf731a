/*
 * alloc.h — the one allocation seam of libiris-core.
 *
 * Layer: core, lowest level. All heap memory in core/, lambda/ and tests goes through
 * these calls so that tests can fail the Nth allocation and prove every path returns
 * IRIS_ENOMEM cleanly (SQLite's test_malloc, libuv's uv_replace_allocator). Core never
 * aborts on out-of-memory: a Lambda must record an outcome, not die.
 *
 * Ownership: memory from iris_malloc/iris_calloc/iris_realloc/iris_strdup/iris_strndup/
 * iris_asprintf is owned by the caller and released with iris_free (NULL is a no-op).
 */
#ifndef IRIS_ALLOC_H
#define IRIS_ALLOC_H

#include <stdarg.h>
#include <stddef.h>

void *iris_malloc(size_t n) __attribute__((malloc, warn_unused_result));
void *iris_calloc(size_t count, size_t size) __attribute__((malloc, warn_unused_result));
void *iris_realloc(void *p, size_t n) __attribute__((warn_unused_result));
void iris_free(void *p);

/* Copies of a NUL-terminated string / its first n bytes (always NUL-terminated). */
char *iris_strdup(const char *s) __attribute__((malloc, warn_unused_result));
char *iris_strndup(const char *s, size_t n) __attribute__((malloc, warn_unused_result));
/* printf into a fresh allocation; NULL on failure. */
char *iris_asprintf(const char *fmt, ...)
    __attribute__((format(printf, 1, 2), malloc, warn_unused_result));
char *iris_vasprintf(const char *fmt, va_list ap)
    __attribute__((format(printf, 1, 0), malloc, warn_unused_result));

/* Free *pp and set it to NULL. */
#define IRIS_FREE_NULL(pp) \
  do { \
    iris_free(*(pp)); \
    *(pp) = NULL; \
  } while (0)

/*
 * Fault seam for tests: after `n` more successful allocations, every allocation fails
 * until iris_alloc_fail_after(-1) disarms it. Returns how many allocations have
 * succeeded since the last arming (to drive "fail allocation N, N+1, ..." loops).
 * Process-wide; not for use outside tests.
 */
long iris_alloc_fail_after(long n);
/* True once an armed fault has made at least one allocation fail. */
int iris_alloc_fault_hit(void);

#endif /* IRIS_ALLOC_H */
