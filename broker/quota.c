/*
 * Quotas: measuring each client's produce rate and turning excess into a pause. See quota.h
 * for the rule and its Kafka sources.
 *
 * A client's samples form a ring: samples[current] is the one being filled, started at
 * start_ms; a request arriving after that second is over starts the next sample, and any
 * sample older than the whole window (11 s) counts as empty, as Kafka's SampledStat purges
 * obsolete samples.
 */
#include "broker/quota.h"
#include "broker/broker_internal.h"

#include <stdlib.h>
#include <string.h>

#include "common/trace.h"

enum {
  SAMPLES = 11,        /* quota.window.num */
  SAMPLE_MS = 1000,    /* quota.window.size.seconds, in ms */
};

struct mk_quota_client {
  char *client_id;
  struct sample {
    int64_t start_ms;  /* when this sample began; 0 = never used */
    int64_t bytes;
  } samples[SAMPLES];
  int current;
  struct mk_quota_client *next;
};

static struct mk_quota_client *find_client(struct mk_listener *l, struct mk_str id) {
  size_t len = id.len > 0 ? (size_t)id.len : 0;  /* a null client id counts as "" */
  for (struct mk_quota_client *c = l->quota_clients; c; c = c->next)
    if (strlen(c->client_id) == len && memcmp(c->client_id, id.ptr, len) == 0) return c;
  struct mk_quota_client *c = calloc(1, sizeof *c);
  if (!c || !(c->client_id = malloc(len + 1))) {
    free(c);
    return NULL;
  }
  if (len) memcpy(c->client_id, id.ptr, len);
  c->client_id[len] = '\0';
  c->next = l->quota_clients;
  l->quota_clients = c;
  return c;
}

/* Add bytes at now_ms, moving to a fresh sample when the current one's second is over. */
static void record(struct mk_quota_client *c, int64_t bytes, int64_t now_ms) {
  struct sample *s = &c->samples[c->current];
  if (s->start_ms == 0) {
    s->start_ms = now_ms;
  } else if (now_ms >= s->start_ms + SAMPLE_MS) {
    c->current = (c->current + 1) % SAMPLES;
    s = &c->samples[c->current];
    s->start_ms = now_ms;
    s->bytes = 0;
  }
  s->bytes += bytes;
}

/* The rate's window (Rate.windowSize): from the oldest live sample's start to now, but at
 * least SAMPLES - 1 whole samples. *total gets the bytes of the live samples. */
static int64_t window_ms(const struct mk_quota_client *c, int64_t now_ms, int64_t *total) {
  int64_t oldest = now_ms;
  *total = 0;
  for (int i = 0; i < SAMPLES; i++) {
    const struct sample *s = &c->samples[i];
    if (s->start_ms == 0 || now_ms - s->start_ms >= (int64_t)SAMPLES * SAMPLE_MS) continue;
    *total += s->bytes;
    if (s->start_ms < oldest) oldest = s->start_ms;
  }
  int64_t elapsed = now_ms - oldest;
  int64_t full = elapsed / SAMPLE_MS;
  if (full < SAMPLES - 1) elapsed += (SAMPLES - 1 - full) * SAMPLE_MS;
  return elapsed;
}

int32_t mk_quota_record_produce(struct mk_broker *b, struct mk_listener *l, struct mk_str client_id,
                                int64_t bytes, int64_t now_ms) {
  int64_t quota = b->cluster.cfg.quota_producer_default;
  if (quota <= 0 || quota == INT64_MAX) return 0;
  struct mk_quota_client *c = find_client(l, client_id);
  if (!c) return 0;  /* out of memory: measure nothing rather than refuse the client */
  record(c, bytes, now_ms);
  int64_t total;
  int64_t window = window_ms(c, now_ms, &total);
  double rate = (double)total * 1000.0 / (double)window;  /* bytes/s */
  if (rate <= (double)quota) return 0;
  /* Not capped: Kafka bounds only request-time quotas' throttle times, not byte rates', so
   * one huge request buys a long pause rather than a way around the quota. */
  double throttle = (rate - (double)quota) / (double)quota * (double)window;
  int32_t ms = throttle >= INT32_MAX ? INT32_MAX : (int32_t)throttle;
  if (ms > 0 && mk_trace_on()) {
    struct mk_trace_event ev;
    mk_trace_begin(&ev, "broker", "throttle");
    mk_trace_int(&ev, "broker", l->node->id);
    mk_trace_str(&ev, "client_id", c->client_id);
    mk_trace_int(&ev, "throttle_ms", ms);
    mk_trace_int(&ev, "rate_bytes_per_s", (int64_t)rate);
    mk_trace_int(&ev, "quota_bytes_per_s", quota);
    mk_trace_end(&ev);
  }
  return ms;
}

void mk_quota_free(struct mk_listener *l) {
  while (l->quota_clients) {
    struct mk_quota_client *c = l->quota_clients;
    l->quota_clients = c->next;
    free(c->client_id);
    free(c);
  }
}
