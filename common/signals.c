/* Signals: see signals.h. */
#include "common/signals.h"

#include <pthread.h>
#include <signal.h>

void mk_block_sigpipe(void) {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGPIPE);
  pthread_sigmask(SIG_BLOCK, &set, NULL);
}
