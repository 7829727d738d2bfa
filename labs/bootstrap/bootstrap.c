/*
 * Lab 14, bootstrap: how a producer finds the cluster (bootstrap.servers, client.dns.lookup)
 * and what the broker learns of it (client.id).
 * Guide: labs/bootstrap/README.md. Notes: 000 section 2 (bootstrap.servers, client.id as
 * required and optional settings), 002 (the settings table).
 *
 *   part 1  bootstrap.servers with one broker's address of three, client.id set: the producer
 *           asks that broker for Metadata, learns the others and connects to every leader;
 *           every request any broker receives carries the client.id
 *   part 2  client.dns.lookup=use_all_dns_ips (Kafka's default): a name with two addresses,
 *           the first of which refuses, is connected on the second attempt (each attempt
 *           takes the next address); `localhost` answered with ::1 and 127.0.0.1 (IPv6
 *           first, as glibc orders a Debian /etc/hosts) while the broker listens on 127.0.0.1
 *           only: Kafka keeps the first address's family, so every attempt goes to ::1 and
 *           send() gives up after max.block.ms
 *   part 3  client.dns.lookup=resolve_canonical_bootstrap_servers_only: the same `localhost`
 *           becomes one bootstrap entry per address, named by each address's canonical host
 *           name; the entry for 127.0.0.1 reaches the broker
 *
 * Names resolve through the lab's own HostResolver (Kafka's tests replace theirs the same
 * way), so every machine sees the same answers whatever its /etc/hosts holds.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

#include "common/clock.h"
#include "labs/lab.h"

static const struct mk_lab_param params[] = {
    {"wait_ms", "1500", "part 2: max.block.ms of the producer that cannot connect", 100, 60000},
    {NULL, NULL, NULL},
};

static const char *const TOPIC = "bootstrap";

/* ---- the lab's names ------------------------------------------------------------------- */

/* Forward: name -> addresses, in the order the resolver answers; reverse: the first name
 * listed for an address is its canonical name. Numeric addresses stand for themselves. */
static const struct {
  const char *name;
  const char *addresses[3];
} NAMES[] = {
    {"kafka.lab", {"127.0.0.2", "127.0.0.1", NULL}},  /* an alias: an old address, then ours */
    {"localhost", {"::1", "127.0.0.1", NULL}},        /* glibc's order for /etc/hosts */
    {"broker.lab", {"127.0.0.1", NULL}},
    {"old-broker.lab", {"127.0.0.2", NULL}},
    {"localhost6", {"::1", NULL}},
};

static bool parse_address(const char *text, struct sockaddr_storage *out) {
  memset(out, 0, sizeof *out);
  struct sockaddr_in *v4 = (struct sockaddr_in *)out;
  struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)out;
  if (inet_pton(AF_INET, text, &v4->sin_addr) == 1) {
    v4->sin_family = AF_INET;
    return true;
  }
  if (inet_pton(AF_INET6, text, &v6->sin6_addr) == 1) {
    v6->sin6_family = AF_INET6;
    return true;
  }
  return false;
}

static int lab_resolve(void *opaque, const char *host, struct sockaddr_storage *out, int max,
                       struct mk_err *err) {
  (void)opaque;
  if (max > 0 && parse_address(host, &out[0])) return 1;
  for (size_t i = 0; i < sizeof NAMES / sizeof NAMES[0]; i++) {
    if (strcmp(NAMES[i].name, host) != 0) continue;
    int n = 0;
    for (int k = 0; NAMES[i].addresses[k] && n < max; k++)
      if (parse_address(NAMES[i].addresses[k], &out[n])) n++;
    return n;
  }
  mk_err_set(err, MK_ERR_NETWORK_EXCEPTION, "%s: unknown host", host);
  return -1;
}

static void lab_canonical_name(void *opaque, const struct sockaddr_storage *addr, char *name,
                               size_t size) {
  (void)opaque;
  for (size_t i = 2; i < sizeof NAMES / sizeof NAMES[0]; i++) {  /* the hosts' own names */
    struct sockaddr_storage a;
    if (parse_address(NAMES[i].addresses[0], &a) && a.ss_family == addr->ss_family &&
        (a.ss_family == AF_INET
             ? memcmp(&((struct sockaddr_in *)&a)->sin_addr,
                      &((const struct sockaddr_in *)addr)->sin_addr, sizeof(struct in_addr)) == 0
             : memcmp(&((struct sockaddr_in6 *)&a)->sin6_addr,
                      &((const struct sockaddr_in6 *)addr)->sin6_addr,
                      sizeof(struct in6_addr)) == 0)) {
      snprintf(name, size, "%s", NAMES[i].name);
      return;
    }
  }
  const void *in = addr->ss_family == AF_INET6
                       ? (const void *)&((const struct sockaddr_in6 *)addr)->sin6_addr
                       : (const void *)&((const struct sockaddr_in *)addr)->sin_addr;
  if (!inet_ntop(addr->ss_family, in, name, (socklen_t)size)) snprintf(name, size, "?");
}

static const struct mk_host_resolver RESOLVER = {NULL, lab_resolve, lab_canonical_name};

/* ---- helpers ----------------------------------------------------------------------------- */

/* A producer from the scenario's settings (kv) and the user's, resolving with the lab's
 * names. *cfg_out (may be NULL) gets a copy of the config in force; free it. */
static int make_producer(struct mk_lab_ctx *ctx, const char *const *kv, struct mk_producer **out,
                         struct mk_producer_config **cfg_out) {
  struct mk_producer_config *cfg;
  int rc = mk_lab_producer_config(ctx, kv, &cfg);
  if (rc) return rc;
  mk_producer_config_set_host_resolver(cfg, &RESOLVER);
  struct mk_err err = {0};
  rc = mk_producer_new(cfg, out, &err);
  if (rc || !cfg_out)
    mk_producer_config_free(cfg);
  else
    *cfg_out = cfg;
  if (rc) return mk_lab_fail(ctx, rc, "producer: %s", err.msg);
  return 0;
}

/* How many events since mark match, with an integer field equal to value (or any, when
 * field is NULL) and a string field containing text (or any). */
static int count_where(struct mk_lab_ctx *ctx, size_t mark, const char *event, const char *field,
                       const char *text) {
  json_t *evs = mk_lab_events(ctx, mark, "producer", event, NULL);
  int n = 0;
  size_t i;
  json_t *ev;
  json_array_foreach(evs, i, ev) {
    const char *v = field ? json_string_value(json_object_get(ev, field)) : "";
    n += !field || (v && strstr(v, text));
  }
  json_decref(evs);
  return n;
}

static const char *const CONNECTING[] = {"producer:bootstrap",      "producer:resolve",
                                         "producer:connect",        "producer:connected",
                                         "producer:connect_failed", NULL};

/* One record to partition 0 through a new producer made from kv; waits for its fate (up to
 * timeout_ms), closes the producer and draws the connecting events since before it was made
 * under title. *fate gets the send's outcome. */
static int send_through(struct mk_lab_ctx *ctx, const char *const *kv, const char *value,
                        int64_t timeout_ms, const char *title, struct mk_lab_send *fate,
                        size_t *mark) {
  *mark = mk_lab_mark(ctx);  /* the producer starts connecting as soon as it exists */
  struct mk_producer *p;
  int rc = make_producer(ctx, kv, &p, NULL);
  if (rc) return rc;
  struct mk_lab_sends *s = mk_lab_sends_new(1);
  if (!s) {
    mk_producer_close(p, 0);
    return mk_lab_fail(ctx, MK_ERR__NO_MEMORY, "out of memory");
  }
  mk_lab_send(ctx, p, s, TOPIC, 0, NULL, value);
  rc = mk_lab_sends_wait(s, timeout_ms);
  *fate = mk_lab_sends_get(s, 0);
  mk_producer_close(p, 0);
  mk_lab_sends_free(s);
  if (rc) return mk_lab_fail(ctx, rc, "%s: the send did not complete", title);
  mk_lab_sleep_ms(10);
  mk_lab_timeline_focus(ctx, *mark, title, CONNECTING);
  return 0;
}

/* ---- part 1: bootstrap.servers and client.id -------------------------------------------- */

static int part_bootstrap(struct mk_lab_ctx *ctx) {
  struct mk_broker *b = mk_lab_broker(ctx);
  mk_lab_heading(ctx, "1. One address is enough: bootstrap.servers and client.id");
  char servers[96], client[96];
  snprintf(servers, sizeof servers, "bootstrap.servers=127.0.0.1:%d", mk_broker_port(b, 2));
  const char *kv[] = {servers, "client.id=lab-bootstrap", NULL};
  struct mk_producer *p;
  struct mk_producer_config *cfg;
  size_t mark = mk_lab_mark(ctx);  /* the producer starts connecting as soon as it exists */
  int rc = make_producer(ctx, kv, &p, &cfg);
  if (rc) return rc;
  snprintf(client, sizeof client, "%s", cfg->client_id ? cfg->client_id : "");
  mk_lab_say(ctx,
             "Three brokers (node ids 0, 1, 2); topic \"%s\" has a partition led by each. The "
             "producer is given one address, broker 2's (%s), and client.id=%s.",
             TOPIC, servers + strlen("bootstrap.servers="), client);
  mk_lab_predict(ctx,
                 "how does the producer reach the leaders on brokers 0 and 1? What does a broker\n"
                 "         know of the producer that sends to it?");
  mk_producer_config_free(cfg);
  struct mk_lab_sends *s = mk_lab_sends_new(3);
  if (!s) {
    mk_producer_close(p, 0);
    return mk_lab_fail(ctx, MK_ERR__NO_MEMORY, "out of memory");
  }
  for (int part = 0; part < 3; part++) mk_lab_send(ctx, p, s, TOPIC, part, NULL, "found-you");
  rc = mk_lab_sends_wait(s, 30000);
  int ok = mk_lab_sends_succeeded(s);
  mk_producer_close(p, 5000);
  mk_lab_sends_free(s);
  if (rc) return mk_lab_fail(ctx, rc, "part 1: the sends did not complete within 30 s");
  mk_lab_sleep_ms(10);
  static const char *const focus[] = {"producer:bootstrap", "producer:connect",
                                      "producer:connected", "broker:request_received", NULL};
  mk_lab_timeline_focus(ctx, mark, "The producer finds the cluster:", focus);

  /* Which brokers it connected to, and what the brokers saw in the request headers. */
  json_t *evs = mk_lab_events(ctx, mark, "producer", "connected", NULL);
  bool to[3] = {false, false, false};
  int bootstrap_conns = 0;
  size_t i;
  json_t *ev;
  json_array_foreach(evs, i, ev) {
    json_int_t node = json_integer_value(json_object_get(ev, "node"));
    if (node < 0) bootstrap_conns++;
    else if (node < 3) to[node] = true;
  }
  json_decref(evs);
  evs = mk_lab_events(ctx, mark, "broker", "request_received", NULL);
  int requests = 0, with_id = 0;
  json_array_foreach(evs, i, ev) {
    const char *id = json_string_value(json_object_get(ev, "client_id"));
    requests++;
    with_id += id && strcmp(id, client) == 0;
  }
  json_decref(evs);
  int brokers = to[0] + to[1] + to[2];
  mk_lab_figure(ctx, "part 1", "bootstrap addresses", 1);
  mk_lab_figure(ctx, "part 1", "brokers connected", brokers);
  mk_lab_figure(ctx, "part 1", "requests", requests);
  mk_lab_figure(ctx, "part 1", "with client.id", with_id);
  mk_lab_say(ctx,
             "\n  node -1 is the bootstrap entry (a negative id: the producer does not know yet "
             "which broker answers there); its Metadata answer named brokers 0, 1 and 2 with "
             "their addresses, and the producer connected to each leader by its own id.");
  mk_lab_claim(ctx, ok == 3 && brokers == 3 && bootstrap_conns >= 1,
               "one bootstrap address was enough: the producer connected to all %d brokers\n"
               "    (and %d record(s) of 3 reached their leaders)",
               brokers, ok);
  mk_lab_claim(ctx, requests > 0 && with_id == requests,
               "every one of the %d requests the brokers received carried client.id=%s: it is\n"
               "    how a broker's logs, quotas and metrics tell clients apart",
               requests, client);
  return 0;
}

/* ---- part 2: use_all_dns_ips ------------------------------------------------------------- */

static int part_all_ips(struct mk_lab_ctx *ctx, int64_t wait_ms, const char *lookup_override) {
  struct mk_broker *b = mk_lab_broker(ctx);
  int port = mk_broker_port(b, 0);
  mk_lab_heading(ctx, "2. client.dns.lookup=use_all_dns_ips: a name, its addresses, one per try");
  mk_lab_say(ctx,
             "The lab's resolver answers kafka.lab with 127.0.0.2 then 127.0.0.1 (an alias that "
             "still lists an old address: nothing listens on 127.0.0.2), and localhost with ::1 "
             "then 127.0.0.1 (IPv6 first, as glibc orders a Debian /etc/hosts). The brokers "
             "listen on 127.0.0.1 only.");
  mk_lab_predict(ctx,
                 "bootstrap.servers=kafka.lab:%d: which address does the first connection try,\n"
                 "         and the second? And with localhost:%d?",
                 port, port);
  char servers[96];
  snprintf(servers, sizeof servers, "bootstrap.servers=kafka.lab:%d", port);
  const char *kv[] = {servers, "client.dns.lookup=use_all_dns_ips", NULL};
  struct mk_lab_send one;
  size_t mark;
  int rc = send_through(ctx, kv, "via-kafka.lab", 30000,
                        "bootstrap.servers=kafka.lab, use_all_dns_ips:", &one, &mark);
  if (rc) return rc;
  int ok = one.done && one.error == 0;
  int failed_old = count_where(ctx, mark, "connect_failed", "address", "127.0.0.2");
  int reached = count_where(ctx, mark, "connected", "address", "127.0.0.1:");
  mk_lab_figure(ctx, "kafka.lab", "refused attempts", failed_old);
  mk_lab_figure(ctx, "kafka.lab", "connections", reached);
  mk_lab_figure(ctx, "kafka.lab", "delivered", ok);
  mk_lab_claim_unless(ctx, ok == 1 && failed_old >= 1 && reached >= 1, lookup_override,
                      "the first attempt took kafka.lab's first address and was refused; the next\n"
                      "    took its second (reconnect.backoff.ms later) and reached the broker");

  /* localhost: the first address's family only. */
  snprintf(servers, sizeof servers, "bootstrap.servers=localhost:%d", port);
  char block[48];
  snprintf(block, sizeof block, "max.block.ms=%lld", (long long)wait_ms);
  const char *kv2[] = {servers, "client.dns.lookup=use_all_dns_ips", block, NULL};
  int64_t start = mk_now_us();
  rc = send_through(ctx, kv2, "via-localhost", 30000 + wait_ms,
                    "bootstrap.servers=localhost, use_all_dns_ips:", &one, &mark);
  if (rc) return rc;
  int64_t took_ms = (one.done_us - start) / 1000;
  int tries = count_where(ctx, mark, "connect", NULL, NULL);
  int to_v6 = count_where(ctx, mark, "connect", "address", "[::1]");
  mk_lab_figure(ctx, "localhost", "attempts", tries);
  mk_lab_figure(ctx, "localhost", "to ::1", to_v6);
  mk_lab_figure(ctx, "localhost", "delivered", one.error == 0);
  mk_lab_say(ctx, "\n  the send %s after %lld ms (%s)",
             one.error ? "failed" : "succeeded", (long long)took_ms,
             one.error ? mk_err_name(one.error) : "delivered");
  mk_lab_claim_unless(
      ctx, one.error != 0 && tries > 0 && to_v6 == tries, lookup_override,
      "all %d attempts went to ::1: Kafka keeps only the first address's family, so 127.0.0.1\n"
      "    was never tried, and send() gave up after max.block.ms (%lld ms)",
      tries, (long long)wait_ms);
  return 0;
}

/* ---- part 3: resolve_canonical_bootstrap_servers_only ----------------------------------- */

static int part_canonical(struct mk_lab_ctx *ctx, const char *lookup_override) {
  int port = mk_broker_port(mk_lab_broker(ctx), 0);
  mk_lab_heading(ctx, "3. client.dns.lookup=resolve_canonical_bootstrap_servers_only");
  mk_lab_say(ctx,
             "The same localhost:%d, now resolved when the producer is created: every address "
             "(both families) becomes a bootstrap entry named by its canonical host name (a "
             "reverse lookup; the lab's resolver names ::1 localhost6 and 127.0.0.1 broker.lab). "
             "Kafka added this mode for Kerberos, whose service principals carry the brokers' "
             "own names, not an alias's.",
             port);
  mk_lab_predict(ctx, "which entries does the producer bootstrap from now, and does it connect?");
  char servers[96];
  snprintf(servers, sizeof servers, "bootstrap.servers=localhost:%d", port);
  const char *kv[] = {servers, "client.dns.lookup=resolve_canonical_bootstrap_servers_only",
                      NULL};
  struct mk_lab_send one;
  size_t mark;
  int rc = send_through(ctx, kv, "via-broker.lab", 30000,
                        "bootstrap.servers=localhost, canonical names:", &one, &mark);
  if (rc) return rc;
  int ok = one.done && one.error == 0;
  int via_name = count_where(ctx, mark, "connected", "host", "broker.lab");
  int entries = 0;
  json_t *evs = mk_lab_events(ctx, mark, "producer", "bootstrap", NULL);
  if (json_array_size(evs))
    entries = (int)json_array_size(json_object_get(json_array_get(evs, 0), "bootstrap_servers"));
  json_decref(evs);
  mk_lab_figure(ctx, "canonical", "bootstrap entries", entries);
  mk_lab_figure(ctx, "canonical", "connected as broker.lab", via_name);
  mk_lab_figure(ctx, "canonical", "delivered", ok);
  mk_lab_claim_unless(ctx, ok == 1 && entries == 2 && via_name >= 1, lookup_override,
                      "localhost became two bootstrap entries, localhost6 and broker.lab; the\n"
                      "    producer reached the broker as broker.lab, and the record arrived");
  return 0;
}

static int run(struct mk_lab_ctx *ctx) {
  int rc = mk_lab_broker_start(ctx, NULL);
  if (!rc) rc = mk_lab_create_topic(ctx, TOPIC, 3, 3);
  if (rc) return rc;
  /* Your --set client.dns.lookup wins over each part's: then parts 2 and 3 run the same. */
  const char *override =
      mk_lab_user_set(ctx, "client.dns.lookup")
          ? "your --set client.dns.lookup replaced the part's own, so it shows the other mode"
          : NULL;
  rc = part_bootstrap(ctx);
  if (!rc) rc = part_all_ips(ctx, mk_lab_param(ctx, "wait_ms"), override);
  if (!rc) rc = part_canonical(ctx, override);
  if (rc) return rc;
  mk_lab_table(ctx, "What this run measured:", NULL, NULL);
  mk_lab_say(ctx,
             "\nNext: labs/timeouts (max.block.ms and delivery.timeout.ms: what a producer does "
             "while no broker answers).");
  return 0;
}

const struct mk_lab mk_lab_bootstrap = {
    "bootstrap",
    "bootstrap.servers, client.id and client.dns.lookup: how a producer finds the cluster",
    params,
    run,
    "It hands the producer addresses of its own making (one broker's port of three, and\n"
    "names its own resolver answers with ::1 and 127.0.0.1 for the brokers' ports) and\n"
    "watches which broker each attempt reaches. Through a proxy every address the producer\n"
    "is given or learns is the proxy's, on this machine: the lab would show the proxy being\n"
    "found, not the cluster. On a real cluster, run `minikafka perf --trace - --producer-props\n"
    "client.dns.lookup=use_all_dns_ips ...`: each connection attempt is a trace event\n"
    "(resolve, connect, connected) naming the node and the address.",
};
