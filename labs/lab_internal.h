/*
 * Labs, internal: the run's context and what the lab_*.c files share. Not for scenarios:
 * they see only lab.h.
 *
 *   lab.c           settings, text, figures, claims, mk_lab_run
 *   lab_broker.c    the embedded broker and what a lab reads from it (on its loop)
 *   lab_cluster.c   the same on a real cluster, through an embedded proxy
 *   lab_producer.c  producer configs from scenario + user settings; sends and their fates
 *   lab_consumer.c  consumer configs from scenario + user settings
 *   lab_trace.c     the collector (a trace sink keeping every line), marks, timelines,
 *                   counting and waiting for events
 *
 * Thread: app, except the collector's sink (any thread that emits an event) and the send
 * callback (Sender); each has its own mutex.
 */
#ifndef MK_LABS_LAB_INTERNAL_H
#define MK_LABS_LAB_INTERNAL_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "labs/lab.h"
#include "labs/timeline.h"

enum {
  MK_LAB_MAX_SETTINGS = 64,
  MK_LAB_MAX_STORED_EVENTS = 2000000,  /* beyond this, events are counted but not kept */
  MK_LAB_TIMELINE_EVENTS = 48,        /* a timeline draws about this many, then summarises */
};

/* Where a --set setting goes (lab.h: lab parameter, producer, consumer or broker setting). */
enum mk_lab_target {
  MK_LAB_TARGET_LAB,
  MK_LAB_TARGET_PRODUCER,
  MK_LAB_TARGET_BROKER,
  MK_LAB_TARGET_CONSUMER,
};

struct mk_lab_setting {
  enum mk_lab_target target;
  char key[128];  /* without its lab./producer./consumer./broker. prefix */
  char value[256];
};

/* The trace sink's store: every line, in the order the trace delivered them. The lines
 * themselves never change once added, so readers copy the pointers and let go of the lock. */
struct mk_lab_collector {
  pthread_mutex_t lock;
  pthread_cond_t grew;  /* a line was added */
  char **lines;
  size_t n, cap;
  size_t dropped;  /* past MK_LAB_MAX_STORED_EVENTS, or out of memory */
};

struct mk_lab_ctx {
  /* Set by mk_lab_run, read-only after. */
  const struct mk_lab *lab;
  const struct mk_lab_options *opts;
  struct mk_lab_result *res;
  FILE *out;
  bool colour;
  bool progress;  /* stderr is a terminal: draw progress lines */
  int width;      /* columns the lab's text and timelines fit (mk_lab_width) */
  struct mk_lab_setting settings[MK_LAB_MAX_SETTINGS];
  int nsettings;
  /* The scenario's (app thread). */
  struct mk_broker *broker;  /* mk_lab_broker_start's, or NULL */
  struct mk_lab_cluster *cluster;  /* the same on a real cluster (lab_cluster.c), or NULL */
  char served_trace[256];    /* --admin-port: the trace file GET /v1/trace serves, or "" */
  bool admin_announced;      /* its URL was printed */
  /* Any thread (its own lock). */
  struct mk_lab_collector col;
};

/* ---- lab.c ---- */
bool mk_lab_parse_int64(const char *s, int64_t *out);
/* ANSI for style when the lab prints in colour, else "". */
const char *mk_lab_ansi_on(struct mk_lab_ctx *ctx, enum mk_timeline_style style);
const char *mk_lab_ansi_off(struct mk_lab_ctx *ctx);

/* ---- lab_broker.c ---- */
/* 0 if a broker is running, else fails the lab. */
int mk_lab_need_broker(struct mk_lab_ctx *ctx);
/* bootstrap.servers for the lab's clients: the broker's, or its proxy's on a real cluster
 * (after mk_lab_need_broker). */
const char *mk_lab_bootstrap_servers(struct mk_lab_ctx *ctx);
/* --admin-port: the URL of the running broker's admin API (the proxy's on a real cluster),
 * or NULL. */
const char *mk_lab_admin_url(struct mk_lab_ctx *ctx);

/* ---- lab_cluster.c: what lab_broker.c does, on a real cluster (ctx->cluster set) ---- */
int mk_lab_cluster_start(struct mk_lab_ctx *ctx);
void mk_lab_cluster_stop(struct mk_lab_ctx *ctx);
const char *mk_lab_cluster_bootstrap(struct mk_lab_ctx *ctx);
const char *mk_lab_cluster_admin_url(struct mk_lab_ctx *ctx);
int mk_lab_cluster_create_topic(struct mk_lab_ctx *ctx, const char *name, int32_t partitions,
                                int32_t replication_factor, const char *const *configs);
int mk_lab_cluster_create_partitions(struct mk_lab_ctx *ctx, const char *topic, int32_t count);
int mk_lab_cluster_fault(struct mk_lab_ctx *ctx, const char *json);
int mk_lab_cluster_partition_state(struct mk_lab_ctx *ctx, const char *topic, int32_t partition,
                                   struct mk_partition_state *out);
int mk_lab_cluster_read_records(struct mk_lab_ctx *ctx, const char *topic, int32_t partition,
                                struct mk_stored_records *out);

/* ---- lab_trace.c ---- */
/* The columns a lab's output fits: MK_TEXT_WIDTH, or a narrower terminal's width. */
int mk_lab_width(FILE *out);
void mk_lab_collector_init(struct mk_lab_collector *c);
void mk_lab_collector_free(struct mk_lab_collector *c);
/* The trace sink (mk_trace_add_sink): keeps a copy of the line. Thread: any. */
void mk_lab_collect(void *opaque, const char *line, size_t len);
/* The lines [from, n) as a new array of borrowed pointers (free() the array only); *count
 * is set. NULL when there are none. Thread: any. */
const char **mk_lab_lines_since(struct mk_lab_collector *c, size_t from, size_t *count);

#endif
