/*
 * minikafka: the one executable. `minikafka <command> [args]` looks the command up in the
 * `commands` table below and hands it the rest of the command line; command NAME lives in
 * cli/NAME.c as mk_cli_NAME().
 *
 * Adding a subcommand is one row in `commands` (plus its mk_cli_<name> in cli.h and its
 * file in cli/meson.build); the usage text is printed from the same table, so it cannot
 * forget a command.
 */
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"

#ifndef MK_VERSION
#define MK_VERSION "unknown"
#endif

struct command {
  const char *name;                  /* what the user types: "decode" */
  int (*run)(int argc, char **argv); /* gets argv[0] = name, then the arguments after it */
  const char *summary;               /* one line for the usage text */
};

static const struct command commands[] = {
  {"broker", mk_cli_broker, "run the broker: several virtual Kafka brokers in one process"},
  {"consume", mk_cli_consume, "print a topic's records, like kafka-console-consumer.sh"},
  {"decode", mk_cli_decode, "print one Kafka request or response frame as JSON"},
  {"groups", mk_cli_groups, "manage consumer groups, like kafka-consumer-groups.sh"},
  {"lab", mk_cli_lab, "run a lab: watch what the producer notes describe, step by step"},
  {"perf", mk_cli_perf, "measure the producer, like kafka-producer-perf-test.sh"},
  {"produce", mk_cli_produce, "send lines of stdin as records, like kafka-console-producer.sh"},
  {"proxy", mk_cli_proxy, "faults and the trace in front of a real Kafka cluster"},
  {"replay", mk_cli_replay, "serve the dashboard with a --trace file to play, step and scrub"},
  {"timeline", mk_cli_timeline, "a trace as the two-lane timeline: a file, or live from a broker"},
  {"topics", mk_cli_topics, "create, list, describe and delete topics, like kafka-topics.sh"},
};

enum { NCOMMANDS = sizeof commands / sizeof commands[0] };

static void usage(FILE *out) {
  fprintf(out,
          "usage: minikafka <command> [args]\n"
          "\n"
          "A Kafka-compatible teaching broker and producer.\n"
          "\n"
          "commands:\n");
  for (int i = 0; i < NCOMMANDS; i++)
    fprintf(out, "  %-10s %s\n", commands[i].name, commands[i].summary);
  fprintf(out, "\n'minikafka <command> --help' describes a command's arguments.\n");
}

int main(int argc, char **argv) {
  if (argc < 2) {  /* asked for nothing: show what there is, but a script should notice */
    usage(stderr);
    return MK_EXIT_USAGE;
  }
  const char *name = argv[1];
  if (strcmp(name, "--help") == 0 || strcmp(name, "-h") == 0 || strcmp(name, "help") == 0) {
    usage(stdout);
    return MK_EXIT_OK;
  }
  if (strcmp(name, "--version") == 0) {
    printf("minikafka %s\n", MK_VERSION);
    return MK_EXIT_OK;
  }
  for (int i = 0; i < NCOMMANDS; i++)
    if (strcmp(name, commands[i].name) == 0) return commands[i].run(argc - 1, argv + 1);

  fprintf(stderr, "minikafka: unknown command '%s'\n\n", name);
  usage(stderr);
  return MK_EXIT_USAGE;
}
