/*
 * minikafka proxy: minikafka's faults and trace in front of a real Kafka cluster
 * (proxy/proxy.h).
 *
 *   minikafka proxy --bootstrap-server HOST:PORT [--host H] [--port P] [--admin-port P]
 *                   [--trace FILE] [--faults FILE]
 *
 * Asks the cluster for its brokers, listens once for each (P, P + 1, ...), prints one line
 * with the bootstrap string clients should use instead of the cluster's, a second with the
 * admin API's URL, then forwards until SIGINT or SIGTERM and exits 0. As `minikafka broker`,
 * the signals are blocked before the proxy's thread starts and taken here with sigwait().
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "common/trace.h"
#include "proxy/proxy.h"

static void usage(FILE *out) {
  fprintf(out,
          "usage: minikafka proxy --bootstrap-server HOST:PORT [--host H] [--port P]\n"
          "                       [--admin-port P] [--trace FILE] [--faults FILE]\n"
          "\n"
          "Sits between unmodified Kafka clients and a real Kafka cluster: clients connect to\n"
          "the proxy, which forwards every request to the cluster and every answer back, with\n"
          "the brokers' addresses rewritten to its own, so that faults and the trace work on a\n"
          "real cluster as on `minikafka broker`.\n"
          "\n"
          "  --bootstrap-server HOST:PORT[,HOST:PORT...]  the real cluster (required)\n"
          "  --host H          address to listen on and give clients (default 127.0.0.1)\n"
          "  --port P          the cluster's i-th broker is reached at P + i (default 19092;\n"
          "                    0 = any free ports)\n"
          "  --admin-port P    admin HTTP API on loopback (default 19644, or any free one with\n"
          "                    --port 0; 0 = any free, -1 = off): /v1/cluster, /v1/events,\n"
          "                    /v1/faults (drop_response, error, delay, broker_down, broker_up)\n"
          "  --trace FILE      write trace events as JSON lines (- = stdout); the admin API\n"
          "                    serves FILE at /v1/trace, for the dashboard's replay\n"
          "  --faults FILE     faults on cue, in `minikafka broker --faults` format\n");
}

int mk_cli_proxy(int argc, char **argv) {
  struct mk_proxy_config cfg;
  mk_proxy_config_init(&cfg);
  bool admin_port_given = false;
  const char *trace = NULL;
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
    if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
      usage(stdout);
      return MK_EXIT_OK;
    }
    if (!v) {
      fprintf(stderr, "minikafka proxy: %s needs a value\n", a);
      usage(stderr);
      return MK_EXIT_USAGE;
    }
    i++;
    if (strcmp(a, "--bootstrap-server") == 0) {
      cfg.bootstrap_servers = v;
    } else if (strcmp(a, "--host") == 0) {
      cfg.host = v;
    } else if (strcmp(a, "--port") == 0) {
      if (mk_cli_parse_int("proxy", a, v, 0, 65535, &cfg.port)) return MK_EXIT_USAGE;
    } else if (strcmp(a, "--admin-port") == 0) {
      if (mk_cli_parse_int("proxy", a, v, -1, 65535, &cfg.admin_port)) return MK_EXIT_USAGE;
      admin_port_given = true;
    } else if (strcmp(a, "--trace") == 0) {
      trace = v;
      if (strcmp(v, "-") != 0) cfg.trace_file = v;  /* GET /v1/trace serves it */
    } else if (strcmp(a, "--faults") == 0) {
      cfg.faults_file = v;
    } else {
      fprintf(stderr, "minikafka proxy: unknown option %s\n", a);
      usage(stderr);
      return MK_EXIT_USAGE;
    }
  }
  if (!cfg.bootstrap_servers) {
    fprintf(stderr, "minikafka proxy: --bootstrap-server HOST:PORT (the real cluster) is "
                    "required\n");
    usage(stderr);
    return MK_EXIT_USAGE;
  }
  /* --port 0 asks for free ports: the admin API follows unless its port was given. */
  if (cfg.port == 0 && !admin_port_given) cfg.admin_port = 0;

  struct mk_err err = {0};
  int trace_sink = -1;
  if (trace && (trace_sink = mk_trace_open_file(trace, &err)) < 0) {
    fprintf(stderr, "minikafka proxy: %s\n", err.msg);
    return MK_EXIT_FAILED;
  }
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop_signals, NULL);

  struct mk_proxy *p = NULL;
  if (mk_proxy_new(&cfg, &p, &err) || mk_proxy_start(p, &err)) {
    fprintf(stderr, "minikafka proxy: %s\n", err.msg);
    mk_proxy_free(p);
    mk_trace_remove_sink(trace_sink);
    return MK_EXIT_FAILED;
  }
  printf("minikafka proxy ready: %d brokers of %s, bootstrap.servers=%s\n",
         mk_proxy_broker_count(p), cfg.bootstrap_servers, mk_proxy_bootstrap(p));
  if (mk_proxy_admin_url(p)) printf("minikafka admin API: %s\n", mk_proxy_admin_url(p));
  fflush(stdout);

  int sig = 0;
  sigwait(&stop_signals, &sig);
  fprintf(stderr, "minikafka proxy: %s, stopping\n", sig == SIGINT ? "SIGINT" : "SIGTERM");
  mk_proxy_free(p);
  mk_trace_remove_sink(trace_sink);
  return MK_EXIT_OK;
}
