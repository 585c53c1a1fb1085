/*
 * clock.h - time arithmetic shared by every module's waiting threads.
 * Depends on nothing; every module may include it.
 */
#ifndef AV_CLOCK_H
#define AV_CLOCK_H

#include <stdint.h>
#include <time.h>

/* *ts = now + ms on CLOCK_REALTIME, the clock pthread_cond_timedwait reads
 * by default; ms < 0 counts as 0. */
void av_clock_deadline(struct timespec *ts, int64_t ms);

#endif
