/*
 * rusage_run: run a command and report the CPU time it used, the same way for any
 * program. producer_bench.sh runs both producers under it (`minikafka perf` and
 * rdkafka_load), so "producer CPU per record" is measured by one method for both.
 *
 *   rusage_run OUT_FILE PROGRAM [ARG]...
 *
 * It forks, execs PROGRAM (stdin, stdout and stderr are inherited), waits for it with
 * wait4() and writes one line to OUT_FILE:
 *
 *   rusage_run cpu_s=0.812345 user_s=0.701234 sys_s=0.111111 wall_s=1.234567 maxrss_kb=9876 exit=0
 *
 * cpu_s is user + system time of the whole process, all its threads, from exec to exit
 * (start-up, connecting and shutting down included), to the microsecond: finer than
 * /usr/bin/time's centiseconds. exit is PROGRAM's exit status, or 128 + the signal that
 * killed it; rusage_run exits with the same status (127 if PROGRAM could not be run).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static double seconds(struct timeval tv) { return (double)tv.tv_sec + (double)tv.tv_usec / 1e6; }

int main(int argc, char **argv) {
  if (argc < 3) {
    fprintf(stderr, "usage: rusage_run OUT_FILE PROGRAM [ARG]...\n");
    return 2;
  }
  FILE *out = fopen(argv[1], "w");
  if (!out) {
    fprintf(stderr, "rusage_run: %s: %s\n", argv[1], strerror(errno));
    return 2;
  }
  struct timespec start, end;
  clock_gettime(CLOCK_MONOTONIC, &start);
  pid_t pid = fork();
  if (pid < 0) {
    fprintf(stderr, "rusage_run: fork: %s\n", strerror(errno));
    return 2;
  }
  if (pid == 0) {
    fclose(out);
    execvp(argv[2], argv + 2);
    fprintf(stderr, "rusage_run: %s: %s\n", argv[2], strerror(errno));
    _exit(127);
  }
  int status;
  struct rusage ru;
  while (wait4(pid, &status, 0, &ru) < 0) {
    if (errno != EINTR) {
      fprintf(stderr, "rusage_run: wait4: %s\n", strerror(errno));
      return 2;
    }
  }
  clock_gettime(CLOCK_MONOTONIC, &end);
  int code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  double user = seconds(ru.ru_utime), sys = seconds(ru.ru_stime);
  double wall = (double)(end.tv_sec - start.tv_sec) + (double)(end.tv_nsec - start.tv_nsec) / 1e9;
  fprintf(out, "rusage_run cpu_s=%.6f user_s=%.6f sys_s=%.6f wall_s=%.6f maxrss_kb=%ld exit=%d\n",
          user + sys, user, sys, wall, ru.ru_maxrss, code);
  fclose(out);
  return code;
}
