/*
 * Clock: the two times minikafka uses.
 *   mk_now_us()  monotonic microseconds: for durations, timeouts and trace ts_us.
 *                Never jumps when the wall clock is set.
 *   mk_wall_ms() milliseconds since the Unix epoch: for record timestamps, which
 *                Kafka defines as wall-clock time (CreateTime / LogAppendTime).
 * Thread: any.
 */
#ifndef MK_COMMON_CLOCK_H
#define MK_COMMON_CLOCK_H

#include <stdint.h>

int64_t mk_now_us(void);
int64_t mk_wall_ms(void);

#endif
