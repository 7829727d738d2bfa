/*
 * Ctrl-C and SIGTERM for the tools that own a producer (produce, perf). Kafka's tools close
 * their producer from a JVM shutdown hook: a send blocked waiting for metadata (up to
 * max.block.ms, 60 s) fails at once, what was accepted is sent, the tool exits. Here:
 *
 *   mk_cli_interrupt_block()     before mk_producer_new: SIGINT and SIGTERM blocked in this
 *                                thread, so the Sender thread (and any thread made later)
 *                                inherits the block and the signal comes to this thread
 *   mk_cli_interrupt_start(p)    a handler here (without SA_RESTART, so a read() blocked on
 *                                the terminal returns EINTR) and a watcher thread; then the
 *                                signals are unblocked here
 *   mk_cli_interrupt_busy(b)     around a producer call that may block (send, future get)
 *   mk_cli_interrupted()         the signal that came, or 0
 *   mk_cli_interrupt_stop()      the watcher ends, the signals are as before
 *
 * When a signal comes while this thread is inside a producer call, the watcher gives the
 * call 100 ms to return by itself (a send that is merely appending); then it begins closing
 * the producer (mk_producer_begin_close), which wakes a send waiting for metadata or for
 * buffer.memory. The handler resets itself (SA_RESETHAND): a second Ctrl-C kills the
 * process, as a second Ctrl-C kills Kafka's tools.
 *
 * Thread: app (the tool's main thread), one producer per process.
 */
#ifndef MK_CLI_INTERRUPT_H
#define MK_CLI_INTERRUPT_H

#include <stdbool.h>

struct mk_producer;

void mk_cli_interrupt_block(void);
/* Returns 0, or -1 (with a message on stderr) if the watcher could not start. Borrows p
 * until mk_cli_interrupt_stop. */
int mk_cli_interrupt_start(struct mk_producer *p);
void mk_cli_interrupt_busy(bool busy);
int mk_cli_interrupted(void);
void mk_cli_interrupt_stop(void);

#endif
