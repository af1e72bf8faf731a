/*
 * clock.h — the one source of time for libiris-core, with a test seam.
 *
 * Layer: core, lowest level. Escalation waits, lease expiry, deadlines and backoff all read
 * time here, so tests can run a plan on a compressed or frozen clock without sleeping
 * (iris_clock_set_offset_ms moves wall time; iris_clock_set_fake_ms freezes it).
 * Thread-safe: the override is one atomic value.
 */
#ifndef IRIS_CLOCK_H
#define IRIS_CLOCK_H

#include <stdint.h>

/* Wall-clock time in milliseconds since the Unix epoch (UTC), after any test override. */
int64_t iris_clock_now_ms(void);
/* Monotonic milliseconds (for durations; never overridden). */
int64_t iris_clock_mono_ms(void);
/* Monotonic microseconds (for short measurements such as plugin load times). */
int64_t iris_clock_mono_us(void);
/* Sleep for ms milliseconds (restarting on EINTR). */
void iris_clock_sleep_ms(int64_t ms);

/* Tests: shift wall time by offset_ms (0 = real time). */
void iris_clock_set_offset_ms(int64_t offset_ms);
/* Tests: freeze wall time at ms (0 = unfreeze). */
void iris_clock_set_fake_ms(int64_t ms);

#endif /* IRIS_CLOCK_H */
