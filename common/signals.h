/*
 * Signals: why a closed socket must not kill the process.
 *
 * Writing to a TCP connection whose peer has gone raises SIGPIPE, and its default action
 * ends the process. libuv reports the failed write as EPIPE as well, which is all we need,
 * so every thread that runs a loop (the broker's, the producer's Sender) blocks SIGPIPE for
 * itself. Blocking it per thread, rather than ignoring it for the whole process, leaves an
 * application that embeds minikafka in charge of its own signal handling.
 *
 * Thread: any (affects only the calling thread).
 */
#ifndef MK_COMMON_SIGNALS_H
#define MK_COMMON_SIGNALS_H

/* Block SIGPIPE in the calling thread. */
void mk_block_sigpipe(void);

#endif
