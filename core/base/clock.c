/* clock.c — wall and monotonic time with a test override (see clock.h). */
#include "clock.h"

#include <errno.h>
#include <stdatomic.h>
#include <time.h>

static _Atomic int64_t offset_ms;
static _Atomic int64_t fake_ms;

static int64_t ts_ms(clockid_t id) {
  struct timespec ts;
  clock_gettime(id, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t iris_clock_now_ms(void) {
  int64_t fake = atomic_load(&fake_ms);
  return fake ? fake : ts_ms(CLOCK_REALTIME) + atomic_load(&offset_ms);
}

int64_t iris_clock_mono_ms(void) { return ts_ms(CLOCK_MONOTONIC); }

int64_t iris_clock_mono_us(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

void iris_clock_sleep_ms(int64_t ms) {
  struct timespec ts;
  if (ms <= 0)
    return;
  ts.tv_sec = (time_t)(ms / 1000);
  ts.tv_nsec = (long)(ms % 1000) * 1000000L;
  while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
  }
}

void iris_clock_set_offset_ms(int64_t ms) { atomic_store(&offset_ms, ms); }
void iris_clock_set_fake_ms(int64_t ms) { atomic_store(&fake_ms, ms); }
