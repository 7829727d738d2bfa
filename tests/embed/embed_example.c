/*
 * An embedding program, as a user of the installed library writes one: only the public
 * headers (broker/broker.h, producer/producer.h and what they include) and the pkg-config
 * flags. tests/integration/test_embedding.sh installs the library into a scratch directory
 * and builds this against that copy alone, so a public header that needs an internal one,
 * or a function the tests reach that is not installed, fails the build.
 *
 * It starts a broker, creates a topic, sends 10 records with the producer, and reads the
 * partition's state and records back: exit 0 when all of it agrees.
 */
#include <stdio.h>
#include <string.h>

#include "broker/broker.h"
#include "producer/producer.h"
#include "producer/producer_config.h"

static int fail(const char *what, const struct mk_err *err) {
  fprintf(stderr, "embed_example: %s: %s\n", what, err ? err->msg : "");
  return 1;
}

int main(void) {
  struct mk_err err = {0};
  struct mk_broker_config cfg;
  mk_broker_config_init(&cfg);
  cfg.port = 0;
  cfg.admin_port = -1;
  struct mk_broker *b;
  if (mk_broker_new(&cfg, &b, &err) || mk_broker_start(b, &err)) return fail("broker", &err);
  const char *configs[] = {"retention.ms=3600000", NULL};
  if (mk_broker_create_topic(b, "embedded", 1, 3, configs, &err)) return fail("topic", &err);

  struct mk_producer_config *pc = mk_producer_config_new();
  struct mk_producer *p;
  if (mk_producer_config_set(pc, "bootstrap.servers", mk_broker_bootstrap(b), &err) ||
      mk_producer_config_set(pc, "key.serializer", "StringSerializer", &err) ||
      mk_producer_config_set(pc, "value.serializer", "StringSerializer", &err) ||
      mk_producer_config_finish(pc, &err) || mk_producer_new(pc, &p, &err))
    return fail("producer", &err);
  for (int i = 0; i < 10; i++) {
    char value[16];
    snprintf(value, sizeof value, "v%d", i);
    struct mk_producer_record rec = {.topic = "embedded", .partition = -1,
                                     .key = mk_value_string("k"),
                                     .value = mk_value_string(value), .timestamp = -1};
    if (mk_producer_send(p, &rec, NULL, NULL, NULL, &err)) return fail("send", &err);
  }
  if (mk_producer_flush(p, 10000, &err)) return fail("flush", &err);
  mk_producer_close(p, 5000);
  mk_producer_config_free(pc);

  struct mk_partition_state st;
  if (mk_broker_partition_state(b, "embedded", 0, &st, &err)) return fail("state", &err);
  struct mk_stored_records recs;
  if (mk_broker_read_records(b, "embedded", 0, -1, true, &recs, &err)) return fail("read", &err);
  int ok = st.high_watermark == 10 && st.nreplicas == 3 && recs.n == 10 &&
           strcmp(recs.v[9].value.ptr, "v9") == 0;
  printf("high watermark %lld, %d replicas, %zu records, last \"%s\"\n",
         (long long)st.high_watermark, st.nreplicas, recs.n, recs.n ? recs.v[recs.n - 1].value.ptr : "");
  mk_stored_records_free(&recs);
  mk_broker_stop(b);
  mk_broker_free(b);
  return ok ? 0 : fail("the state does not match what was sent", NULL);
}
