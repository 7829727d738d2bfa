/*
 * chaos_producer: minikafka's own producer (producer/producer.h) under test_chaos.py, which
 * needs what `minikafka perf` does not say: which record was acknowledged, and where.
 *
 *   chaos_producer BOOTSTRAP TOPIC RECORDS RATE PREFIX [-X key=value]...
 *
 * Sends RECORDS records at about RATE per second (values "PREFIX-<i>", keys "k<i mod 6>",
 * so each key keeps to one partition and its records can be checked for order), then
 * flushes and closes. Every completion is one line on stdout, from the Sender thread:
 *
 *   ack <value> <partition> <offset>
 *   fail <value> <error name> <message>
 *
 * and at the end "done <acked> <failed>". -X sets any producer setting by Kafka's name
 * (acks, enable.idempotence, request.timeout.ms, ...). Exit status 0 (each record completed
 * exactly once, whatever the outcome), 2 on bad arguments.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "producer/producer.h"
#include "producer/producer_config.h"

static pthread_mutex_t out_lock = PTHREAD_MUTEX_INITIALIZER;
static atomic_long acked, failed;

struct sent {
  char value[64];
};

static void on_done(const struct mk_record_metadata *md, const struct mk_err *err, void *opaque) {
  struct sent *s = opaque;
  pthread_mutex_lock(&out_lock);
  if (err->code == 0) {
    printf("ack %s %d %lld\n", s->value, md->partition, (long long)md->offset);
    atomic_fetch_add(&acked, 1);
  } else {
    printf("fail %s %s %s\n", s->value, mk_err_name(err->code), err->msg);
    atomic_fetch_add(&failed, 1);
  }
  fflush(stdout);
  pthread_mutex_unlock(&out_lock);
}

static void sleep_until(const struct timespec *start, double seconds) {
  struct timespec t = *start;
  t.tv_sec += (time_t)seconds;
  t.tv_nsec += (long)((seconds - (double)(time_t)seconds) * 1e9);
  if (t.tv_nsec >= 1000000000L) {
    t.tv_sec++;
    t.tv_nsec -= 1000000000L;
  }
  while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &t, NULL) != 0) {
  }
}

int main(int argc, char **argv) {
  if (argc < 6) {
    fprintf(stderr, "usage: chaos_producer BOOTSTRAP TOPIC RECORDS RATE PREFIX [-X key=value]...\n");
    return 2;
  }
  const char *topic = argv[2];
  long records = atol(argv[3]);
  double rate = atof(argv[4]);
  const char *prefix = argv[5];
  struct mk_producer_config *cfg = mk_producer_config_new();
  struct mk_err err = {0};
  if (!cfg || mk_producer_config_set(cfg, "bootstrap.servers", argv[1], &err) ||
      mk_producer_config_set(cfg, "key.serializer", "StringSerializer", &err) ||
      mk_producer_config_set(cfg, "value.serializer", "StringSerializer", &err)) {
    fprintf(stderr, "chaos_producer: %s\n", err.msg);
    return 2;
  }
  for (int i = 6; i < argc; i += 2) {
    char *eq = i + 1 < argc && strcmp(argv[i], "-X") == 0 ? strchr(argv[i + 1], '=') : NULL;
    if (!eq) {
      fprintf(stderr, "chaos_producer: expected -X key=value, got '%s'\n", argv[i]);
      return 2;
    }
    *eq = '\0';
    if (mk_producer_config_set(cfg, argv[i + 1], eq + 1, &err)) {
      fprintf(stderr, "chaos_producer: %s\n", err.msg);
      return 2;
    }
  }
  struct mk_producer *p;
  if (mk_producer_config_finish(cfg, &err) || mk_producer_new(cfg, &p, &err)) {
    fprintf(stderr, "chaos_producer: %s\n", err.msg);
    return 2;
  }
  mk_producer_config_free(cfg);
  struct sent *sent = calloc((size_t)records, sizeof *sent);
  if (!sent) return 2;
  struct timespec start;
  clock_gettime(CLOCK_MONOTONIC, &start);
  for (long i = 0; i < records; i++) {
    if (rate > 0) sleep_until(&start, (double)i / rate);
    char key[16];
    snprintf(key, sizeof key, "k%ld", i % 6);
    snprintf(sent[i].value, sizeof sent[i].value, "%s-%ld", prefix, i);
    struct mk_producer_record rec = {.topic = topic, .partition = -1, .timestamp = -1,
                                     .key = mk_value_string(key),
                                     .value = mk_value_string(sent[i].value)};
    mk_producer_send(p, &rec, on_done, &sent[i], NULL, &err);  /* the callback says how */
  }
  mk_producer_close(p, 120000);
  printf("done %ld %ld\n", atomic_load(&acked), atomic_load(&failed));
  free(sent);
  return 0;
}
