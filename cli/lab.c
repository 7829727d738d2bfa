/*
 * minikafka lab: the labs (DESIGN.md 3.1; labs/lab.h runs them, labs/labs.c lists them).
 *
 *   minikafka lab                                 the labs, one per line: name, summary
 *   minikafka lab NAME [--set key=value]... [--trace FILE] [--full] [--all-events] [-v]
 *                 [--admin-port P]              ... with the dashboard on port P (lab.h)
 *                 [--bootstrap-server HOST:PORT]  on a real cluster (labs/lab_cluster.c)
 *   minikafka lab NAME --help                     the lab's parameters and its guide
 *   minikafka lab --timeline FILE                 draw any --trace file (broker, produce,
 *                                                 perf, lab) as the two-lane timeline
 *
 * --set goes to the lab's own parameters, then the producer, the consumer, then the broker
 * (lab.h says how to force one: lab.KEY, producer.KEY, consumer.KEY, broker.KEY). Colour when stdout is a terminal and
 * NO_COLOR is unset.
 *
 * Exit status: 0 the lab ran (its claims are printed with a tick or a cross), 1 it could not
 * run (a broker that would not start, a failed send it needed), 2 bad command line or setting.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "common/suggest.h"
#include "labs/lab.h"
#include "labs/timeline.h"

static void usage(FILE *out) {
  fprintf(
      out,
      "usage: minikafka lab                         list the labs\n"
      "       minikafka lab NAME [options]          run one (NAME is its labs/NAME/ folder)\n"
      "       minikafka lab NAME --help             its parameters\n"
      "       minikafka lab --timeline FILE         draw a --trace file as a timeline\n"
      "\n"
      "  --set key=value   a lab parameter, or a Kafka producer, consumer or broker setting,\n"
      "                    e.g. --set linger.ms=0 (producer), --set session.timeout.ms=10000\n"
      "                    (consumer), --set min.insync.replicas=1 (broker); prefix lab.,\n"
      "                    producer., consumer. or broker. to say which; repeatable\n"
      "  --trace FILE      also write every trace event as a JSON line (- = stdout)\n"
      "  --admin-port P    the admin API and dashboard for the lab's broker (or proxy) on port P\n"
      "                    (0 = any free one); after the lab it stays up until Enter, to replay\n"
      "                    the run\n"
      "  --full            draw every event of a timeline (long runs are summarised)\n"
      "  --all-events      include Metadata and ApiVersions requests in timelines\n"
      "  -v, --verbose     keep the broker's and producer's log lines (stderr)\n"
      "  --bootstrap-server HOST:PORT  run on that real Kafka cluster, through an embedded\n"
      "                    proxy, instead of the embedded broker (README: On a real cluster)\n");
}

static void list_labs(void) {
  int width = 12;  /* the longest name, so the summaries line up */
  for (int i = 0; mk_labs[i]; i++)
    if ((int)strlen(mk_labs[i]->name) > width) width = (int)strlen(mk_labs[i]->name);
  for (int i = 0; mk_labs[i]; i++)
    printf("%-*s %s\n", width, mk_labs[i]->name, mk_labs[i]->summary);
}

static void lab_help(const struct mk_lab *lab) {
  printf("minikafka lab %s: %s\nThe guide: labs/%s/README.md\n\nparameters (--set NAME=VALUE):\n",
         lab->name, lab->summary, lab->name);
  if (!lab->params || !lab->params[0].name) printf("  (none)\n");
  for (const struct mk_lab_param *p = lab->params; p && p->name; p++)
    printf("  %-18s %s (default %s)\n", p->name, p->doc, p->default_value);
  printf(
      "\nand any Kafka producer, consumer or broker setting, e.g. --set linger.ms=0 or\n"
      "--set broker.min.insync.replicas=1; see `minikafka lab --help`.\n");
}

int mk_cli_lab(int argc, char **argv) {
  enum { OPT_SET = 1000, OPT_TRACE, OPT_FULL, OPT_ALL, OPT_TIMELINE, OPT_ADMIN, OPT_BOOTSTRAP };
  static const struct option longopts[] = {
      {"set", required_argument, NULL, OPT_SET},
      {"trace", required_argument, NULL, OPT_TRACE},
      {"full", no_argument, NULL, OPT_FULL},
      {"all-events", no_argument, NULL, OPT_ALL},
      {"timeline", required_argument, NULL, OPT_TIMELINE},
      {"admin-port", required_argument, NULL, OPT_ADMIN},
      {"bootstrap-server", required_argument, NULL, OPT_BOOTSTRAP},
      {"verbose", no_argument, NULL, 'v'},
      {"help", no_argument, NULL, 'h'},
      {NULL, 0, NULL, 0},
  };
  const char **settings = calloc((size_t)argc + 1, sizeof *settings);
  if (!settings) return MK_EXIT_FAILED;
  struct mk_lab_options opts = {.settings = settings, .colour = -1};
  bool help = false;
  const char *timeline = NULL;
  int c;
  optind = 1;
  while ((c = getopt_long(argc, argv, "vh", longopts, NULL)) != -1) {
    switch (c) {
      case OPT_SET:
        settings[opts.nsettings++] = optarg;
        break;
      case OPT_TRACE:
        opts.trace_path = optarg;
        break;
      case OPT_FULL:
        opts.full = true;
        break;
      case OPT_ALL:
        opts.all_events = true;
        break;
      case OPT_TIMELINE:
        timeline = optarg;
        break;
      case OPT_BOOTSTRAP:
        opts.bootstrap_server = optarg;
        break;
      case OPT_ADMIN:
        if (mk_cli_parse_int("lab", "--admin-port", optarg, 0, 65535, &opts.admin_port)) {
          free(settings);
          return MK_EXIT_USAGE;
        }
        opts.admin = true;
        break;
      case 'v':
        opts.verbose = true;
        break;
      case 'h':
        help = true;
        break;
      default:
        usage(stderr);
        free(settings);
        return MK_EXIT_USAGE;
    }
  }
  int rc = MK_EXIT_OK;
  if (timeline) {
    rc = mk_cli_timeline_file(timeline, opts.full, opts.all_events);
  } else if (optind == argc) {
    if (help)
      usage(stdout);
    else
      list_labs();
  } else if (optind + 1 < argc) {
    fprintf(stderr, "minikafka lab: one lab at a time (got '%s' and '%s')\n", argv[optind],
            argv[optind + 1]);
    rc = MK_EXIT_USAGE;
  } else {
    const struct mk_lab *lab = mk_lab_find(argv[optind]);
    if (!lab) {
      struct mk_suggest near;
      mk_suggest_init(&near, argv[optind]);
      for (int i = 0; mk_labs[i]; i++) mk_suggest_consider(&near, mk_labs[i]->name);
      if (mk_suggest_best(&near)) {
        fprintf(stderr, "minikafka lab: no lab named '%s' (did you mean %s?)\n", argv[optind],
                mk_suggest_best(&near));
      } else {
        fprintf(stderr, "minikafka lab: no lab named '%s'; the labs are:\n", argv[optind]);
        for (int i = 0; mk_labs[i]; i++) fprintf(stderr, "  %s\n", mk_labs[i]->name);
      }
      rc = MK_EXIT_USAGE;
    } else if (help) {
      lab_help(lab);
    } else {
      struct mk_lab_result res;
      int err = mk_lab_run(lab, &opts, &res);
      if (res.bad_setting) {
        fprintf(stderr, "minikafka lab %s: %s\n", lab->name, res.err.msg);
        rc = MK_EXIT_USAGE;
      } else if (err) {
        rc = MK_EXIT_FAILED;
      }
    }
  }
  free(settings);
  return rc;
}
