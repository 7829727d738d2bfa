/*
 * minikafka broker: run the broker in the foreground (DESIGN.md 3.1).
 *
 *   minikafka broker [--host H] [--advertised-host A] [--port P] [--brokers N]
 *                    [--admin-port P] [--schema-registry-port P] [-o key=value]...
 *                    [--trace FILE] [--faults FILE]
 *
 * Prints one line when every listener is up, then a line with the admin API's URL and
 * one with the schema registry's (lines of their own, so scripts that parse the first
 * are unaffected), then
 * serves until SIGINT or SIGTERM, and exits 0. The signals are blocked before the
 * broker's thread starts (threads inherit the mask), so only this thread receives
 * them, in sigwait(): no async-signal-safety puzzles in a signal handler.
 */
#include <errno.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "broker/broker.h"
#include "cli/cli.h"
#include "common/trace.h"

/* Words of text on lines of at most width columns, each indented by indent. */
static void print_wrapped(FILE *out, const char *text, int indent, int width) {
  int col = 0;
  while (*text) {
    size_t word = strcspn(text, " ");
    if (col > 0 && col + 1 + (int)word > width) {
      fputc('\n', out);
      col = 0;
    }
    if (col == 0) col = fprintf(out, "%*s", indent, "");
    else col += fprintf(out, " ");
    col += fprintf(out, "%.*s", (int)word, text);
    text += word;
    while (*text == ' ') text++;
  }
  if (col > 0) fputc('\n', out);
}

static void usage(FILE *out) {
  fprintf(out,
          "usage: minikafka broker [--host H] [--advertised-host A] [--port P] [--brokers N]\n"
          "                        [--admin-port P] [--schema-registry-port P]\n"
          "                        [-o key=value]... [--trace FILE] [--faults FILE]\n"
          "\n"
          "  --host H          address to listen on (default 127.0.0.1; 0.0.0.0 = every\n"
          "                    interface, which needs --advertised-host)\n"
          "  --advertised-host A\n"
          "                    the name or address clients are told to connect to (Kafka's\n"
          "                    advertised.listeners; default: --host)\n"
          "  --port P          virtual broker i listens on P + i (default 9092; 0 = any free)\n"
          "  --brokers N       number of virtual brokers, node ids 0..N-1 (default 3)\n"
          "  --admin-port P    admin HTTP API port on 127.0.0.1 (default 9644, or any free one\n"
          "                    with --port 0; 0 = any free,\n"
          "                    -1 = off); see README.md, \"The admin HTTP API\"\n"
          "  --schema-registry-port P  Confluent's schema registry REST API on 127.0.0.1,\n"
          "                    its schemas in the topic _schemas (default 8081, or any\n"
          "                    free one with --port 0; 0 = any free, -1 = off); see\n"
          "                    README.md, \"The schema registry\"\n"
          "  -o key=value      a Kafka broker setting, e.g. -o min.insync.replicas=1 (below)\n"
          "  --trace FILE      write trace events as JSON lines (- = stdout); the admin API\n"
          "                    serves FILE at /v1/trace, for the dashboard's replay\n"
          "  --faults FILE     inject faults on cue: one JSON fault per line, each with\n"
          "                    \"at_ms\": N or \"after\": {\"api\": \"Produce\", \"count\": N}\n"
          "\n"
          "Broker settings (-o), with Kafka's names and defaults:\n");
  const struct mk_broker_setting *s;
  for (int i = 0; (s = mk_broker_setting_at(i)); i++) {
    fprintf(out, "  %s=%s  (%s)\n", s->name, s->default_text, s->type);
    print_wrapped(out, s->doc, 6, 92);
    if (s->topic_config) fprintf(out, "      Per topic: %s.\n", s->topic_config);
  }
}

/* The broker's memory is mostly request frames that the log keeps until retention drops
 * them: blocks of up to a megabyte or so, allocated and freed all day long. By default
 * glibc gives such blocks back to the kernel as soon as they are freed (munmap, or a heap
 * trim) and the next frame faults in fresh zeroed pages, one page at a time; measured
 * under load with a retention limit, that was about a quarter of the broker's CPU. This
 * process only runs the broker, so keep freed memory for the next frames instead: the
 * resident size then stays at its high-water mark rather than following it down. */
static void keep_freed_memory(void) {
#ifdef __GLIBC__
  mallopt(M_MMAP_THRESHOLD, 32 << 20);  /* frames up to 32 MiB come from the heap... */
  mallopt(M_TRIM_THRESHOLD, 1 << 30);   /* ...and freed heap memory is not trimmed */
#endif
}

int mk_cli_parse_int(const char *cmd, const char *flag, const char *v, int lo, int hi,
                     int *out) {
  char *end;
  errno = 0;
  long n = strtol(v, &end, 10);
  if (errno || end == v || *end || n < lo || n > hi) {
    fprintf(stderr, "minikafka %s: %s must be a number in [%d, %d], got \"%s\"\n", cmd, flag, lo,
            hi, v);
    return -1;
  }
  *out = (int)n;
  return 0;
}

int mk_cli_broker(int argc, char **argv) {
  bool admin_port_given = false, registry_port_given = false;
  struct mk_broker_config cfg;
  mk_broker_config_init(&cfg);
  struct mk_err err = {0};
  const char *trace = NULL;
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    const char *v = i + 1 < argc ? argv[i + 1] : NULL;
    if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
      usage(stdout);
      return MK_EXIT_OK;
    }
    if (!v) {
      fprintf(stderr, "minikafka broker: %s needs a value\n", a);
      usage(stderr);
      return MK_EXIT_USAGE;
    }
    i++;
    if (strcmp(a, "--host") == 0) {
      if (strlen(v) >= sizeof cfg.host) {
        fprintf(stderr, "minikafka broker: --host is too long\n");
        return MK_EXIT_USAGE;
      }
      strcpy(cfg.host, v);
    } else if (strcmp(a, "--advertised-host") == 0) {
      if (!*v || strlen(v) >= sizeof cfg.advertised_host || strpbrk(v, " :/,\"")) {
        fprintf(stderr, "minikafka broker: --advertised-host must be a host name or IPv4 "
                        "address of at most %zu characters, got \"%.80s\"\n",
                sizeof cfg.advertised_host - 1, v);
        return MK_EXIT_USAGE;
      }
      strcpy(cfg.advertised_host, v);
    } else if (strcmp(a, "--port") == 0) {
      if (mk_cli_parse_int("broker", a, v, 0, 65535, &cfg.port)) return MK_EXIT_USAGE;
    } else if (strcmp(a, "--brokers") == 0) {
      if (mk_cli_parse_int("broker", a, v, 1, 16, &cfg.brokers)) return MK_EXIT_USAGE;
    } else if (strcmp(a, "--admin-port") == 0) {
      if (mk_cli_parse_int("broker", a, v, -1, 65535, &cfg.admin_port)) return MK_EXIT_USAGE;
      admin_port_given = true;
    } else if (strcmp(a, "--schema-registry-port") == 0) {
      if (mk_cli_parse_int("broker", a, v, -1, 65535, &cfg.schema_registry_port))
        return MK_EXIT_USAGE;
      registry_port_given = true;
    } else if (strcmp(a, "-o") == 0) {
      char key[128];
      const char *eq = strchr(v, '=');
      if (!eq || eq == v || (size_t)(eq - v) >= sizeof key) {
        fprintf(stderr, "minikafka broker: -o takes key=value, got \"%s\"\n", v);
        return MK_EXIT_USAGE;
      }
      memcpy(key, v, (size_t)(eq - v));
      key[eq - v] = '\0';
      if (mk_broker_config_set(&cfg, key, eq + 1, &err)) {
        fprintf(stderr, "minikafka broker: %s\n", err.msg);
        return MK_EXIT_USAGE;
      }
    } else if (strcmp(a, "--trace") == 0) {
      trace = v;
      if (strcmp(v, "-") != 0) cfg.trace_file = v;  /* GET /v1/trace serves it */
    } else if (strcmp(a, "--faults") == 0) {
      cfg.faults_file = v;
    } else {
      fprintf(stderr, "minikafka broker: unknown option %s\n", a);
      usage(stderr);
      return MK_EXIT_USAGE;
    }
  }

  /* --port 0 asks for free ports: the admin API and the schema registry follow unless
   * their ports were given. The registry is on by default here (DESIGN.md 3.8), not in
   * mk_broker_config_init (an embedded broker asks for it). */
  if (cfg.port == 0 && !admin_port_given) cfg.admin_port = 0;
  if (!registry_port_given) cfg.schema_registry_port = cfg.port == 0 ? 0 : 8081;

  int trace_sink = -1;
  if (trace && (trace_sink = mk_trace_open_file(trace, &err)) < 0) {
    fprintf(stderr, "minikafka broker: %s\n", err.msg);
    return MK_EXIT_FAILED;
  }
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop_signals, NULL);

  keep_freed_memory();
  struct mk_broker *b;
  if (mk_broker_new(&cfg, &b, &err) || mk_broker_start(b, &err)) {
    fprintf(stderr, "minikafka broker: %s\n", err.msg);
    mk_trace_remove_sink(trace_sink);
    return MK_EXIT_FAILED;
  }
  printf("minikafka broker ready: %d brokers, bootstrap.servers=%s\n", cfg.brokers,
         mk_broker_bootstrap(b));
  if (mk_broker_admin_url(b)) printf("minikafka admin API: %s\n", mk_broker_admin_url(b));
  if (mk_broker_schema_registry_url(b))
    printf("minikafka schema registry: %s\n", mk_broker_schema_registry_url(b));
  fflush(stdout);

  int sig = 0;
  sigwait(&stop_signals, &sig);
  fprintf(stderr, "minikafka broker: %s, stopping\n", sig == SIGINT ? "SIGINT" : "SIGTERM");
  mk_broker_stop(b);
  mk_broker_free(b);
  mk_trace_remove_sink(trace_sink);
  return MK_EXIT_OK;
}
