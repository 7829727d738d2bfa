/*
 * Ctrl-C and SIGTERM for produce and perf: see interrupt.h. The handler only records the
 * signal and writes one byte to a pipe (both async-signal-safe); the watcher thread, woken
 * by the byte, does what a handler may not: take a lock and begin closing the producer.
 */
#define _GNU_SOURCE  /* pipe2 */
#include "cli/interrupt.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "producer/producer.h"

enum { GRACE_MS = 100 };  /* how long a producer call gets to return by itself */

static volatile sig_atomic_t got_signal;
static int wake_pipe[2] = {-1, -1};
static pthread_t watcher;
static bool watching;
static struct sigaction old_int, old_term;

/* Shared by this thread and the watcher. */
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t idle;  /* the main thread left a producer call */
static bool busy;
static struct mk_producer *producer;

static void stop_signals(sigset_t *set) {
  sigemptyset(set);
  sigaddset(set, SIGINT);
  sigaddset(set, SIGTERM);
}

void mk_cli_interrupt_block(void) {
  sigset_t set;
  stop_signals(&set);
  pthread_sigmask(SIG_BLOCK, &set, NULL);
}

static void on_signal(int sig) {
  int saved = errno;
  got_signal = sig;
  char c = 's';
  ssize_t n = write(wake_pipe[1], &c, 1);
  (void)n;  /* a full pipe already holds a wake-up */
  errno = saved;
}

static void *watch(void *arg) {
  (void)arg;
  for (;;) {
    char c;
    ssize_t n = read(wake_pipe[0], &c, 1);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0 || c == 'q') return NULL;
    /* A signal: let a quick call finish; wake a blocked one by beginning to close. */
    struct timespec until;
    clock_gettime(CLOCK_MONOTONIC, &until);
    until.tv_nsec += GRACE_MS * 1000000L;
    until.tv_sec += until.tv_nsec / 1000000000L;
    until.tv_nsec %= 1000000000L;
    pthread_mutex_lock(&lock);
    while (busy && pthread_cond_timedwait(&idle, &lock, &until) == 0) {
    }
    if (busy && producer) mk_producer_begin_close(producer);
    pthread_mutex_unlock(&lock);
  }
}

int mk_cli_interrupt_start(struct mk_producer *p) {
  producer = p;
  got_signal = 0;
  pthread_condattr_t attr;
  pthread_condattr_init(&attr);
  pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
  pthread_cond_init(&idle, &attr);
  pthread_condattr_destroy(&attr);
  if (pipe2(wake_pipe, O_CLOEXEC) != 0 || pthread_create(&watcher, NULL, watch, NULL) != 0) {
    fprintf(stderr, "minikafka: cannot watch for Ctrl-C: %s\n", strerror(errno));
    return -1;
  }
  watching = true;
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_signal;
  sa.sa_flags = SA_RESETHAND;  /* no SA_RESTART: a blocked read returns EINTR */
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, &old_int);
  sigaction(SIGTERM, &sa, &old_term);
  sigset_t set;
  stop_signals(&set);
  pthread_sigmask(SIG_UNBLOCK, &set, NULL);  /* here only: every other thread blocks them */
  return 0;
}

void mk_cli_interrupt_busy(bool b) {
  pthread_mutex_lock(&lock);
  busy = b;
  if (!b) pthread_cond_broadcast(&idle);
  pthread_mutex_unlock(&lock);
}

int mk_cli_interrupted(void) { return got_signal; }

void mk_cli_interrupt_stop(void) {
  if (!watching) return;
  sigset_t set;
  stop_signals(&set);
  pthread_sigmask(SIG_BLOCK, &set, NULL);  /* no handler may write to a closed pipe */
  sigaction(SIGINT, &old_int, NULL);
  sigaction(SIGTERM, &old_term, NULL);
  char c = 'q';
  ssize_t n = write(wake_pipe[1], &c, 1);
  (void)n;
  pthread_join(watcher, NULL);
  close(wake_pipe[0]);
  close(wake_pipe[1]);
  wake_pipe[0] = wake_pipe[1] = -1;
  pthread_cond_destroy(&idle);
  pthread_mutex_lock(&lock);
  producer = NULL;
  pthread_mutex_unlock(&lock);
  watching = false;
  pthread_sigmask(SIG_UNBLOCK, &set, NULL);
}
