/*
 * Tests for producer/client_utils.c: client.dns.lookup as Kafka's ClientUtils does it, with
 * a HostResolver of the test's own (as Kafka's tests replace theirs), so the answers do not
 * depend on this machine's /etc/hosts.
 *   - "host:port" and "[v6]:port" split;
 *   - at connect time only the first address's family is kept (filterPreferredAddresses);
 *   - use_all_dns_ips keeps the bootstrap entries as names, dropping those that resolve to
 *     nothing; none left is refused as Java's ConfigException;
 *   - resolve_canonical_bootstrap_servers_only turns each address into an entry named by its
 *     canonical host name, and leaves out a canonical name that does not resolve;
 *   - the system resolver reads numeric addresses as they are.
 */
#include <arpa/inet.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "producer/client_utils.h"
#include "producer/producer_config.h"

static bool address(const char *text, struct sockaddr_storage *out) {
  memset(out, 0, sizeof *out);
  if (inet_pton(AF_INET, text, &((struct sockaddr_in *)out)->sin_addr) == 1) {
    out->ss_family = AF_INET;
    return true;
  }
  if (inet_pton(AF_INET6, text, &((struct sockaddr_in6 *)out)->sin6_addr) == 1) {
    out->ss_family = AF_INET6;
    return true;
  }
  return false;
}

/* The test's names: name -> addresses; an address's canonical name is "host-<last byte>". */
static const struct {
  const char *name;
  const char *addresses[4];
} NAMES[] = {
    {"mixed", {"::1", "127.0.0.1", "::2", NULL}},
    {"alias", {"10.0.0.1", "10.0.0.2", NULL}},
    {"host-1", {"10.0.0.1", NULL}},
    {"host-2", {"10.0.0.2", NULL}},
    {"lonely", {"10.0.0.3", NULL}},  /* its canonical name, host-3, resolves to nothing */
};

static int resolve(void *opaque, const char *host, struct sockaddr_storage *out, int max,
                   struct mk_err *err) {
  (void)opaque;
  for (size_t i = 0; i < sizeof NAMES / sizeof NAMES[0]; i++)
    if (strcmp(NAMES[i].name, host) == 0) {
      int n = 0;
      for (int k = 0; NAMES[i].addresses[k] && n < max; k++)
        n += address(NAMES[i].addresses[k], &out[n]);
      return n;
    }
  mk_err_set(err, MK_ERR_NETWORK_EXCEPTION, "%s: unknown host", host);
  return -1;
}

static void canonical(void *opaque, const struct sockaddr_storage *a, char *name, size_t size) {
  (void)opaque;
  const uint8_t *bytes = (const uint8_t *)&((const struct sockaddr_in *)a)->sin_addr;
  snprintf(name, size, "host-%u", (unsigned)bytes[3]);
}

static const struct mk_host_resolver RESOLVER = {NULL, resolve, canonical};

static struct mk_producer_config *config(const char *servers, const char *lookup) {
  struct mk_producer_config *cfg = mk_producer_config_new();
  struct mk_err err = {0};
  assert_int_equal(mk_producer_config_set(cfg, "bootstrap.servers", servers, &err), 0);
  assert_int_equal(mk_producer_config_set(cfg, "client.dns.lookup", lookup, &err), 0);
  mk_producer_config_set_host_resolver(cfg, &RESOLVER);
  return cfg;
}

static void free_list(char **list, int n) {
  for (int i = 0; i < n; i++) free(list[i]);
  free(list);
}

static void test_host_and_port_are_split_with_or_without_brackets(void **state) {
  (void)state;
  char host[64];
  int port = 0;
  assert_int_equal(mk_client_split_host_port("broker.lab:9092", host, sizeof host, &port), 0);
  assert_string_equal(host, "broker.lab");
  assert_int_equal(port, 9092);
  assert_int_equal(mk_client_split_host_port("[::1]:9094", host, sizeof host, &port), 0);
  assert_string_equal(host, "::1");
  assert_int_equal(port, 9094);
  assert_int_equal(mk_client_split_host_port("no-port", host, sizeof host, &port), -1);
}

static void test_only_the_first_addresses_family_is_kept(void **state) {
  (void)state;
  struct sockaddr_storage use[MK_CLIENT_MAX_ADDRESSES], all[MK_CLIENT_MAX_ADDRESSES];
  int nall = 0;
  struct mk_err err = {0};
  int n = mk_client_resolve(&RESOLVER, "mixed", use, all, &nall, &err);
  assert_int_equal(nall, 3);
  assert_int_equal(n, 2);  /* ::1 and ::2: 127.0.0.1 is IPv4, the first is IPv6 */
  char text[64];
  mk_client_address_text(&use[0], text, sizeof text);
  assert_string_equal(text, "::1");
  mk_client_address_text(&use[1], text, sizeof text);
  assert_string_equal(text, "::2");
  assert_int_equal(mk_client_resolve(&RESOLVER, "nowhere", use, NULL, NULL, &err), -1);
  assert_non_null(strstr(err.msg, "nowhere"));
}

static void test_use_all_dns_ips_keeps_names_and_drops_the_unresolvable(void **state) {
  (void)state;
  struct mk_producer_config *cfg = config("alias:9092,nowhere:9093,mixed:9094", "use_all_dns_ips");
  char **list;
  int n;
  struct mk_err err = {0};
  assert_int_equal(mk_client_bootstrap_servers(cfg, &list, &n, &err), 0);
  assert_int_equal(n, 2);
  assert_string_equal(list[0], "alias:9092");
  assert_string_equal(list[1], "mixed:9094");
  free_list(list, n);
  mk_producer_config_free(cfg);

  cfg = config("nowhere:9092", "use_all_dns_ips");
  assert_int_equal(mk_client_bootstrap_servers(cfg, &list, &n, &err), MK_ERR__INVALID_ARG);
  assert_non_null(strstr(err.msg, "No resolvable bootstrap urls"));
  mk_producer_config_free(cfg);
}

static void test_canonical_mode_bootstraps_from_each_addresses_canonical_name(void **state) {
  (void)state;
  struct mk_producer_config *cfg =
      config("alias:9092,lonely:9093", "resolve_canonical_bootstrap_servers_only");
  char **list;
  int n;
  struct mk_err err = {0};
  assert_int_equal(mk_client_bootstrap_servers(cfg, &list, &n, &err), 0);
  assert_int_equal(n, 2);  /* lonely's canonical name, host-3, does not resolve: left out */
  assert_string_equal(list[0], "host-1:9092");
  assert_string_equal(list[1], "host-2:9092");
  free_list(list, n);
  mk_producer_config_free(cfg);
}

static void test_the_system_resolver_reads_numeric_addresses(void **state) {
  (void)state;
  struct sockaddr_storage out[MK_CLIENT_MAX_ADDRESSES];
  struct mk_err err = {0};
  assert_int_equal(mk_client_resolve_all(NULL, "127.0.0.1", out, &err), 1);
  char text[64];
  mk_client_address_text(&out[0], text, sizeof text);
  assert_string_equal(text, "127.0.0.1");
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_host_and_port_are_split_with_or_without_brackets),
      cmocka_unit_test(test_only_the_first_addresses_family_is_kept),
      cmocka_unit_test(test_use_all_dns_ips_keeps_names_and_drops_the_unresolvable),
      cmocka_unit_test(test_canonical_mode_bootstraps_from_each_addresses_canonical_name),
      cmocka_unit_test(test_the_system_resolver_reads_numeric_addresses),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
