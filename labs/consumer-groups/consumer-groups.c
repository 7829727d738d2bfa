/*
 * Lab 16, consumer groups: a group shares a topic's partitions among its members, and its
 * committed offsets say where each partition resumes.
 * Guide: labs/consumer-groups/README.md. Code: consumer/consumer.h (the member),
 * broker/group_coordinator.h (the coordinator).
 *
 *   part 1  members A, B and C join one after another, then C leaves: every join and leave
 *           is a rebalance, in a new generation, after which every partition has one owner
 *   part 2  records arrive; M processes some of them and commits what it processed, then
 *           stops: the lag per partition is what is left (`minikafka groups --describe`). R
 *           starts in the same group and resumes exactly at the committed offsets
 *   part 3  R processes more records, committing every commit_every of them, and crashes
 *           between two commits: the coordinator notices after session.timeout.ms, E takes
 *           over at the last commits and reads again what R processed after them. At least
 *           once, on the consumer's side (labs/duplicates is the producer's side)
 *
 * Members of part 1 run on threads of their own (a poll() waits through the rebalance,
 * which waits for every member); the lab's thread watches them and prints.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "common/clock.h"
#include "labs/lab.h"

static const struct mk_lab_param params[] = {
    {"partitions", "6", "partitions of the topic the group reads", 1, 24},
    {"records", "10", "records produced to each partition, in part 2 and again in part 3", 1, 500},
    {"processed", "25", "part 2: records M processes (and commits) before it stops", 0, 12000},
    {"commit_every", "10", "part 3: R commits after every this many records it processes", 1,
     12000},
    {"crash_after", "25", "part 3: records R processes before it crashes", 1, 12000},
    {NULL, NULL, NULL, 0, 0},
};

static const char *const TOPIC = "orders";
static const char *const GROUP = "billing";
enum { MAX_PARTITIONS = 24, WAIT_MS = 60000 };

static int64_t now_ms(void) { return mk_now_us() / 1000; }

/* ---- part 1's members: each polls on a thread of its own ------------------------------- */

struct member {
  const char *name;            /* "A": also its client.id, so its member id starts with it */
  struct mk_consumer *c;
  pthread_t thread;
  pthread_mutex_t lock;
  /* under lock: written by the member's thread (rebalance listener), read by the lab */
  int32_t generation;
  int32_t parts[MAX_PARTITIONS];
  int nparts;
  char member_id[256];
  char error[200];
  int stop;                    /* 1: the lab asks it to close */
};

static void on_assigned(void *opaque, struct mk_consumer *c, const struct mk_topic_partition *tp,
                        int n) {
  struct member *m = opaque;
  struct mk_consumer_group_metadata g;
  mk_consumer_group_metadata(c, &g);
  pthread_mutex_lock(&m->lock);
  m->generation = g.generation_id;
  snprintf(m->member_id, sizeof m->member_id, "%s", g.member_id);
  m->nparts = 0;
  for (int i = 0; i < n && m->nparts < MAX_PARTITIONS; i++) m->parts[m->nparts++] = tp[i].partition;
  pthread_mutex_unlock(&m->lock);
}

static void *member_thread(void *arg) {
  struct member *m = arg;
  for (;;) {
    pthread_mutex_lock(&m->lock);
    int stop = m->stop;
    pthread_mutex_unlock(&m->lock);
    if (stop) break;
    struct mk_consumer_records r;
    struct mk_err err = {0};
    if (mk_consumer_poll(m->c, 100, &r, &err)) {
      pthread_mutex_lock(&m->lock);
      snprintf(m->error, sizeof m->error, "%s", err.msg);
      pthread_mutex_unlock(&m->lock);
      break;
    }
  }
  mk_consumer_close(m->c);  /* commits (enable.auto.commit) and leaves the group */
  return NULL;
}

static int member_start(struct mk_lab_ctx *ctx, struct member *m, const char *name) {
  memset(m, 0, sizeof *m);
  m->name = name;
  m->generation = -1;
  pthread_mutex_init(&m->lock, NULL);
  char client_id[32];
  snprintf(client_id, sizeof client_id, "client.id=%s", name);
  const char *const kv[] = {"group.id=billing", "session.timeout.ms=6000",
                            "auto.offset.reset=earliest", client_id, NULL};
  int rc = mk_lab_consumer_new(ctx, kv, &m->c);
  if (rc) return rc;
  const char *topics[] = {TOPIC};
  struct mk_consumer_rebalance_listener l = {.opaque = m, .on_partitions_assigned = on_assigned};
  struct mk_err err = {0};
  if ((rc = mk_consumer_subscribe(m->c, topics, 1, &l, &err))) {
    mk_consumer_close(m->c);
    return mk_lab_fail(ctx, rc, "subscribe: %s", err.msg);
  }
  if (pthread_create(&m->thread, NULL, member_thread, m)) {
    mk_consumer_close(m->c);
    return mk_lab_fail(ctx, MK_ERR__NO_MEMORY, "cannot start member %s's thread", name);
  }
  return 0;
}

static void member_stop(struct member *m) {
  pthread_mutex_lock(&m->lock);
  m->stop = 1;
  pthread_mutex_unlock(&m->lock);
  pthread_join(m->thread, NULL);
  pthread_mutex_destroy(&m->lock);
}

/* One generation as the members saw it. */
struct snapshot {
  int32_t generation;
  int nparts[3];
  int32_t parts[3][MAX_PARTITIONS];
  bool one_owner_each;  /* every partition owned by exactly one member */
};

/* Wait until the running members agree on one generation whose shares cover the topic;
 * fill *s. Returns 0, or a failure (a member's error, or no agreement in time). */
static int wait_generation(struct mk_lab_ctx *ctx, struct member *const *m, int n, int32_t after,
                           int32_t partitions, struct snapshot *s) {
  int64_t deadline = now_ms() + WAIT_MS;
  for (;;) {
    memset(s, 0, sizeof *s);
    s->generation = -2;
    bool agree = true;
    int owners[MAX_PARTITIONS] = {0}, total = 0;
    for (int i = 0; i < n; i++) {
      pthread_mutex_lock(&m[i]->lock);
      if (m[i]->error[0]) {
        pthread_mutex_unlock(&m[i]->lock);
        return mk_lab_fail(ctx, MK_ERR__STATE, "member %s: %s", m[i]->name, m[i]->error);
      }
      if (s->generation == -2) s->generation = m[i]->generation;
      agree &= m[i]->generation == s->generation;
      s->nparts[i] = m[i]->nparts;
      for (int k = 0; k < m[i]->nparts; k++) {
        s->parts[i][k] = m[i]->parts[k];
        if (m[i]->parts[k] >= 0 && m[i]->parts[k] < MAX_PARTITIONS) owners[m[i]->parts[k]]++;
        total++;
      }
      pthread_mutex_unlock(&m[i]->lock);
    }
    s->one_owner_each = total == partitions;
    for (int p = 0; p < partitions; p++) s->one_owner_each &= owners[p] == 1;
    if (agree && s->generation > after && s->one_owner_each) return 0;
    if (now_ms() > deadline)
      return mk_lab_fail(ctx, MK_ERR__TIMED_OUT, "the group did not settle within %d s",
                         WAIT_MS / 1000);
    mk_lab_sleep_ms(50);
  }
}

static void print_generation(struct mk_lab_ctx *ctx, const char *what, struct member *const *m,
                             int n, const struct snapshot *s) {
  char line[400];
  int used = snprintf(line, sizeof line, "  %-9s generation %d:", what, s->generation);
  for (int i = 0; i < n; i++) {
    used += snprintf(line + used, sizeof line - (size_t)used, "  %s has", m[i]->name);
    if (!s->nparts[i]) used += snprintf(line + used, sizeof line - (size_t)used, " nothing");
    for (int k = 0; k < s->nparts[i] && used < (int)sizeof line - 8; k++)
      used += snprintf(line + used, sizeof line - (size_t)used, "%s%d", k ? "," : " ",
                       s->parts[i][k]);
  }
  mk_lab_say(ctx, "%s", line);
}

/* text with each member id's UUID cut to its first 8 characters ("A-1a0d2e6d…"). */
static void shorten_ids(const char *text, char *out, size_t size) {
  size_t o = 0;
  for (size_t i = 0; text[i] && o + 4 < size;) {
    bool uuid = strlen(text + i) >= 36 && text[i + 8] == '-' && text[i + 13] == '-' &&
                text[i + 18] == '-' && text[i + 23] == '-';
    if (uuid) {
      memcpy(out + o, text + i, 8);
      o += 8;
      memcpy(out + o, "\u2026", 3);  /* … */
      o += 3;
      i += 36;
    } else {
      out[o++] = text[i++];
    }
  }
  out[o] = '\0';
}

/* The broker's rebalance events since mark, one line each. */
static int show_rebalances(struct mk_lab_ctx *ctx, size_t mark) {
  json_t *events = mk_lab_events(ctx, mark, "broker", "rebalance", NULL);
  size_t i, n = 0;
  json_t *ev;
  json_array_foreach(events, i, ev) {
    const char *group = json_string_value(json_object_get(ev, "group"));
    if (!group || strcmp(group, GROUP) != 0) continue;
    n++;
    const char *reason = json_string_value(json_object_get(ev, "reason"));
    char shortened[256];
    shorten_ids(reason ? reason : "", shortened, sizeof shortened);
    mk_lab_note(ctx, "    coordinator: %s -> %s, generation %lld: %s",
                json_string_value(json_object_get(ev, "from")),
                json_string_value(json_object_get(ev, "to")),
                (long long)json_integer_value(json_object_get(ev, "generation")), shortened);
  }
  json_decref(events);
  return (int)n;
}

static int part1(struct mk_lab_ctx *ctx, int32_t partitions) {
  mk_lab_heading(ctx, "Part 1: members join and leave, partitions move");
  mk_lab_say(ctx,
             "Group \"%s\" reads topic \"%s\" (%d partitions). Members A, B and C join one\n"
             "after the other, then C leaves. The coordinator (the broker that leads the\n"
             "group's partition of __consumer_offsets) runs a rebalance each time: every member\n"
             "joins again (JoinGroup), the leader member shares the partitions out with the\n"
             "assignor, and SyncGroup hands each member its share, in a new generation.",
             GROUP, TOPIC, partitions);
  mk_lab_predict(ctx, "who holds which partitions after each step? Can two members hold one?");
  struct member a, b, c;
  struct member *all[3] = {&a, &b, &c};
  struct snapshot s[4];
  const char *steps[4] = {"A joins:", "B joins:", "C joins:", "C leaves:"};
  size_t mark = mk_lab_mark(ctx);
  int rc = member_start(ctx, &a, "A");
  if (!rc && !(rc = wait_generation(ctx, all, 1, -1, partitions, &s[0])))
    print_generation(ctx, steps[0], all, 1, &s[0]);
  bool b_started = false, c_started = false;
  if (!rc && !(rc = member_start(ctx, &b, "B"))) b_started = true;
  if (!rc && !(rc = wait_generation(ctx, all, 2, s[0].generation, partitions, &s[1])))
    print_generation(ctx, steps[1], all, 2, &s[1]);
  if (!rc && !(rc = member_start(ctx, &c, "C"))) c_started = true;
  if (!rc && !(rc = wait_generation(ctx, all, 3, s[1].generation, partitions, &s[2])))
    print_generation(ctx, steps[2], all, 3, &s[2]);
  if (c_started) member_stop(&c);
  if (!rc && !(rc = wait_generation(ctx, all, 2, s[2].generation, partitions, &s[3])))
    print_generation(ctx, steps[3], all, 2, &s[3]);
  if (b_started) member_stop(&b);
  member_stop(&a);  /* the group is empty again: its commits stay */
  if (rc) return rc;
  int rebalances = show_rebalances(ctx, mark);
  bool one_owner = true, up = true, balanced = true;
  for (int k = 0; k < 4; k++) {
    one_owner &= s[k].one_owner_each;
    if (k) up &= s[k].generation > s[k - 1].generation;
    int members = k == 0 ? 1 : k == 2 ? 3 : 2, lo = partitions, hi = 0;
    for (int i = 0; i < members; i++) {
      if (s[k].nparts[i] < lo) lo = s[k].nparts[i];
      if (s[k].nparts[i] > hi) hi = s[k].nparts[i];
    }
    balanced &= hi - lo <= 1;
    mk_lab_figure(ctx, steps[k], "generation", s[k].generation);
  }
  mk_lab_figure(ctx, "part 1", "rebalances", rebalances);
  mk_lab_claim(ctx, one_owner,
               "in every generation each of the %d partitions had exactly one owner", partitions);
  mk_lab_claim(ctx, up, "every join and every leave started a new generation (%d, %d, %d, %d)",
               s[0].generation, s[1].generation, s[2].generation, s[3].generation);
  mk_lab_claim(ctx, balanced,
               "with one topic, the members' shares differed by at most one partition");
  return 0;
}

/* ---- parts 2 and 3: one member at a time, on the lab's thread -------------------------- */

/* What a consumer of parts 2 and 3 did, per partition. */
struct reader {
  struct mk_consumer *c;
  int64_t first[MAX_PARTITIONS];     /* offset of the first record it read, -1 none */
  int64_t next[MAX_PARTITIONS];      /* after the last record it processed */
  int processed;
  char seen[MAX_PARTITIONS][1000];   /* per offset (below 1000): read by this one */
};

/* Where a reader of the group starts partition p: the committed offset, or without one
 * where auto.offset.reset says (the readers' setting, the user's if given). */
static int64_t expected_start(int64_t committed, int64_t end, bool earliest) {
  return committed >= 0 ? committed : earliest ? 0 : end;
}

/* The readers' settings in force (the scenario's, then the user's). */
struct reader_settings {
  bool auto_commit, earliest;
  int32_t session_ms, heartbeat_ms;
};

static const char *const READER_KV[] = {"group.id=billing", "session.timeout.ms=6000",
                                        "auto.offset.reset=earliest", "enable.auto.commit=false",
                                        NULL};

static int reader_settings(struct mk_lab_ctx *ctx, struct reader_settings *out) {
  struct mk_consumer_config *cfg;
  int rc = mk_lab_consumer_config(ctx, READER_KV, &cfg);
  if (rc) return rc;
  out->auto_commit = cfg->enable_auto_commit;
  out->earliest = cfg->auto_offset_reset == MK_OFFSET_RESET_EARLIEST;
  out->session_ms = cfg->session_timeout_ms;
  out->heartbeat_ms = cfg->heartbeat_interval_ms;
  mk_consumer_config_free(cfg);
  return 0;
}

static int reader_new(struct mk_lab_ctx *ctx, struct reader *r, const char *client_id) {
  memset(r, 0, sizeof *r);
  for (int p = 0; p < MAX_PARTITIONS; p++) r->first[p] = r->next[p] = -1;
  char id[32];
  snprintf(id, sizeof id, "client.id=%s", client_id);
  /* The application commits what it has processed itself (commitSync with offsets). */
  const char *kv[8];
  int n = 0;
  for (; READER_KV[n]; n++) kv[n] = READER_KV[n];
  kv[n++] = id;
  kv[n] = NULL;
  int rc = mk_lab_consumer_new(ctx, kv, &r->c);
  if (rc) return rc;
  const char *topics[] = {TOPIC};
  struct mk_err err = {0};
  if ((rc = mk_consumer_subscribe(r->c, topics, 1, NULL, &err))) {
    mk_consumer_close(r->c);
    return mk_lab_fail(ctx, rc, "subscribe: %s", err.msg);
  }
  return 0;
}

/* Commit what r has processed: the next offset of each partition (commitSync(offsets)). */
static int commit_processed(struct mk_lab_ctx *ctx, struct reader *r, int32_t partitions) {
  struct mk_topic_partition tp[MAX_PARTITIONS];
  int64_t offsets[MAX_PARTITIONS];
  int n = 0;
  for (int p = 0; p < partitions; p++)
    if (r->next[p] >= 0) {
      tp[n] = (struct mk_topic_partition){TOPIC, p};
      offsets[n++] = r->next[p];
    }
  struct mk_err err = {0};
  int rc = n ? mk_consumer_commit_offsets(r->c, tp, offsets, n, &err) : 0;
  return rc ? mk_lab_fail(ctx, rc, "commit: %s", err.msg) : 0;
}

/* Process records until `count` more are processed, committing after every commit_every
 * (0: never), or until idle_ms pass without a record once partitions are assigned (nothing
 * more to read), or timeout_ms. A poll's records past `count` are not processed. */
static int process(struct mk_lab_ctx *ctx, struct reader *r, int count, int commit_every,
                   int32_t partitions, int64_t idle_ms, int64_t timeout_ms) {
  int done = 0;
  int64_t deadline = now_ms() + timeout_ms, last = now_ms();
  while (done < count && now_ms() < deadline) {
    struct mk_consumer_records recs;
    struct mk_err err = {0};
    bool had = mk_consumer_assignment(r->c, NULL, 0) > 0;  /* a poll may wait for a join */
    int rc = mk_consumer_poll(r->c, 200, &recs, &err);
    if (rc) return mk_lab_fail(ctx, rc, "poll: %s", err.msg);
    if (recs.n || !had) last = now_ms();
    else if (now_ms() - last > idle_ms) break;
    for (int i = 0; i < recs.n && done < count; i++) {
      int32_t p = recs.v[i].partition;
      int64_t o = recs.v[i].offset;
      if (p < 0 || p >= partitions) continue;
      if (r->first[p] < 0) r->first[p] = o;
      if (o < 1000) r->seen[p][o] = 1;
      r->next[p] = o + 1;
      r->processed++;
      done++;
      if (commit_every && done % commit_every == 0 && (rc = commit_processed(ctx, r, partitions)))
        return rc;
    }
  }
  return 0;
}

/* The group's committed offsets and the log ends, as `minikafka groups --describe` asks
 * them: through a consumer of the group that never joins it. */
static int describe(struct mk_lab_ctx *ctx, int32_t partitions, int64_t *committed, int64_t *end) {
  struct mk_consumer *viewer;
  const char *const kv[] = {"group.id=billing", "enable.auto.commit=false", NULL};
  int rc = mk_lab_consumer_new(ctx, kv, &viewer);
  if (rc) return rc;
  struct mk_topic_partition tp[MAX_PARTITIONS];
  for (int p = 0; p < partitions; p++) tp[p] = (struct mk_topic_partition){TOPIC, p};
  struct mk_err err = {0};
  rc = mk_consumer_committed(viewer, tp, partitions, committed, &err);
  if (!rc) rc = mk_consumer_list_offsets(viewer, tp, partitions, MK_OFFSET_LATEST, end, &err);
  mk_consumer_close(viewer);
  return rc ? mk_lab_fail(ctx, rc, "describe: %s", err.msg) : 0;
}

static int produce(struct mk_lab_ctx *ctx, int32_t partitions, int records, int round) {
  struct mk_producer *p;
  int rc = mk_lab_producer_new(ctx, NULL, &p);
  if (rc) return rc;
  struct mk_lab_sends *s = mk_lab_sends_new(partitions * records);
  if (!s) {
    mk_producer_close(p, 0);
    return mk_lab_fail(ctx, MK_ERR__NO_MEMORY, "out of memory");
  }
  for (int part = 0; part < partitions; part++)
    for (int i = 0; i < records; i++) {
      char value[48];
      snprintf(value, sizeof value, "order-%d-%d-%d", round, part, i);
      mk_lab_send(ctx, p, s, TOPIC, part, NULL, value);
    }
  rc = mk_lab_sends_wait(s, 60000);
  int ok = mk_lab_sends_succeeded(s);
  mk_producer_close(p, 5000);
  mk_lab_sends_free(s);
  if (rc || ok != partitions * records)
    return mk_lab_fail(ctx, rc ? rc : MK_ERR__STATE, "only %d of %d records were written", ok,
                       partitions * records);
  return 0;
}

static void lag_table(struct mk_lab_ctx *ctx, const char *title, int32_t partitions,
                      const int64_t *committed, const int64_t *end) {
  char rows[MAX_PARTITIONS][32];
  const char *names[MAX_PARTITIONS + 1];
  for (int p = 0; p < partitions; p++) {
    snprintf(rows[p], sizeof rows[p], "%s-%d", TOPIC, p);
    names[p] = rows[p];
    mk_lab_figure(ctx, rows[p], "CURRENT-OFFSET", (double)(committed[p] < 0 ? 0 : committed[p]));
    mk_lab_figure(ctx, rows[p], "LOG-END-OFFSET", (double)end[p]);
    mk_lab_figure(ctx, rows[p], "LAG", (double)(end[p] - (committed[p] < 0 ? 0 : committed[p])));
  }
  names[partitions] = NULL;
  static const char *const cols[] = {"CURRENT-OFFSET", "LOG-END-OFFSET", "LAG", NULL};
  mk_lab_table(ctx, title, names, cols);
}

static void lag_sums(int32_t partitions, const int64_t *committed, const int64_t *end,
                     int64_t *lag, int64_t *written, int64_t *committed_total) {
  *lag = *written = *committed_total = 0;
  for (int p = 0; p < partitions; p++) {
    int64_t c = committed[p] < 0 ? 0 : committed[p];
    *committed_total += c;
    *lag += end[p] - c;
    *written += end[p];
  }
}

/* Whether r started each partition where the group says (committed offset, else
 * auto.offset.reset), and how many records that left it to read. */
static bool started_where_expected(const struct reader *r, int32_t partitions,
                                   const int64_t *committed, const int64_t *end, bool earliest,
                                   int64_t *to_read) {
  bool ok = true;
  *to_read = 0;
  for (int p = 0; p < partitions; p++) {
    int64_t from = expected_start(committed[p], end[p], earliest);
    *to_read += end[p] - from;
    if (end[p] > from) ok &= r->first[p] == from;
  }
  return ok;
}

static int part2(struct mk_lab_ctx *ctx, int32_t partitions, int records, int processed,
                 const struct reader_settings *rs, struct reader *r) {
  mk_lab_heading(ctx, "Part 2: lag, and a restart that resumes at the commits");
  int total = partitions * records;
  int to_process = processed < total ? processed : total;
  mk_lab_say(ctx,
             "%d records arrive (%d per partition). M joins the group, processes %d of them and\n"
             "commits what it processed (commitSync with offsets: for each partition, the\n"
             "offset of the next record to read), then stops. The group's commits outlive M:\n"
             "they are records in __consumer_offsets.",
             total, records, to_process);
  if (rs->auto_commit)
    mk_lab_note(ctx, "enable.auto.commit=true (yours): M's close also commits its position, "
                     "past every record poll() returned, processed or not.");
  int rc = produce(ctx, partitions, records, 1);
  struct reader m;
  if (!rc) rc = reader_new(ctx, &m, "M");
  if (rc) return rc;
  rc = process(ctx, &m, to_process, 0, partitions, 3000, WAIT_MS);
  if (!rc) rc = commit_processed(ctx, &m, partitions);
  mk_consumer_close(m.c);
  if (rc) return rc;
  int64_t committed[MAX_PARTITIONS], end[MAX_PARTITIONS];
  if ((rc = describe(ctx, partitions, committed, end))) return rc;
  mk_lab_say(ctx, "\nWhat `minikafka groups --describe --group %s` shows now (LAG = "
             "LOG-END-OFFSET - CURRENT-OFFSET: records written that the group has not "
             "processed; -1: no commit):", GROUP);
  lag_table(ctx, NULL, partitions, committed, end);
  int64_t lag, written, committed_total;
  lag_sums(partitions, committed, end, &lag, &written, &committed_total);
  mk_lab_figure(ctx, "part 2", "M processed", m.processed);
  mk_lab_figure(ctx, "part 2", "lag", (double)lag);
  if (rs->auto_commit)
    mk_lab_claim(ctx, lag == written - committed_total && committed_total >= m.processed,
                 "the lag, %lld, is the %lld records written minus the %lld the group committed "
                 "(M processed %d; its close committed its whole position)", (long long)lag,
                 (long long)written, (long long)committed_total, m.processed);
  else
    mk_lab_claim(ctx, lag == written - committed_total && committed_total == m.processed,
                 "the lag, %lld, is the %lld records written minus the %lld M processed and "
                 "committed", (long long)lag, (long long)written, (long long)committed_total);

  mk_lab_say(ctx, "\nR starts in group \"%s\". Where does it begin each partition?", GROUP);
  mk_lab_predict(ctx, "at offset 0, at the end of the log, or somewhere else?");
  if ((rc = reader_new(ctx, r, "R"))) return rc;
  int64_t to_read;
  started_where_expected(r, partitions, committed, end, rs->earliest, &to_read);
  if ((rc = process(ctx, r, (int)to_read, 0, partitions, 3000, WAIT_MS))) return rc;
  bool where = started_where_expected(r, partitions, committed, end, rs->earliest, &to_read);
  mk_lab_figure(ctx, "part 2", "R read", r->processed);
  bool all_committed = true;
  for (int p = 0; p < partitions; p++) all_committed &= committed[p] >= 0;
  mk_lab_claim(ctx, where && r->processed == to_read,
               "R began each partition at its CURRENT-OFFSET%s and read exactly what was left: "
               "%d records, none that M had committed",
               all_committed ? "" : rs->earliest ? " (0 where the group had no commit: "
                                                   "auto.offset.reset=earliest)"
                                                 : " (the log end where the group had no "
                                                   "commit: auto.offset.reset=latest)",
               r->processed);
  return commit_processed(ctx, r, partitions);
}

static int part3(struct mk_lab_ctx *ctx, int32_t partitions, int records, int commit_every,
                 int crash_after, const struct reader_settings *rs, struct reader *r) {
  mk_lab_heading(ctx, "Part 3: a crash between processing and committing");
  int total = partitions * records;
  int to_process = crash_after < total ? crash_after : total;
  mk_lab_say(ctx,
             "%d more records arrive. R processes them one by one and commits after every %d;\n"
             "after %d it crashes: no commit, no LeaveGroup, its connections just close.\n"
             "E starts in the group to take over.",
             total, commit_every, to_process);
  mk_lab_predict(ctx, "how long until E gets R's partitions? Which records does E read?");
  int rc = produce(ctx, partitions, records, 2);
  int64_t start_of_part[MAX_PARTITIONS];
  for (int p = 0; p < partitions; p++) start_of_part[p] = r->next[p];
  int before = r->processed;
  if (!rc) rc = process(ctx, r, to_process, commit_every, partitions, 3000, WAIT_MS);
  if (rc) {
    mk_consumer_close(r->c);
    return rc;
  }
  int processed3 = r->processed - before;
  struct mk_consumer_group_metadata g;
  mk_consumer_group_metadata(r->c, &g);
  char crashed_member[256];
  snprintf(crashed_member, sizeof crashed_member, "%s", g.member_id);
  size_t mark = mk_lab_mark(ctx);
  int64_t crash_ms = now_ms();
  mk_consumer_abandon(r->c);  /* the crash */

  int64_t committed[MAX_PARTITIONS], end[MAX_PARTITIONS];
  if ((rc = describe(ctx, partitions, committed, end))) return rc;
  /* What R processed in this part at or past the commits: processed, not committed. */
  int uncommitted = 0;
  for (int p = 0; p < partitions; p++)
    for (int64_t o = committed[p] < 0 ? 0 : committed[p]; o < r->next[p] && o < 1000; o++)
      if (o >= start_of_part[p] && r->seen[p][o]) uncommitted++;

  struct reader e;
  if ((rc = reader_new(ctx, &e, "E"))) return rc;
  int64_t to_read;
  started_where_expected(&e, partitions, committed, end, rs->earliest, &to_read);
  int64_t assigned_ms = -1, deadline = now_ms() + WAIT_MS;
  /* Until E has the partitions (even with nothing left to read) and has read what is left. */
  while (!rc && now_ms() < deadline && (assigned_ms < 0 || e.processed < to_read)) {
    int64_t left = to_read - e.processed;  /* 0: poll all the same, to be assigned */
    rc = process(ctx, &e, left > 0 ? (int)left : 1, 0, partitions, WAIT_MS, 200);
    if (assigned_ms < 0 && mk_consumer_assignment(e.c, NULL, 0) > 0) assigned_ms = now_ms();
  }
  if (!rc) rc = commit_processed(ctx, &e, partitions);
  mk_consumer_close(e.c);
  if (rc) return rc;
  bool where = started_where_expected(&e, partitions, committed, end, rs->earliest, &to_read);
  int again = 0;
  for (int p = 0; p < partitions; p++)
    for (int o = 0; o < 1000; o++) again += r->seen[p][o] && e.seen[p][o];
  json_t *expired = mk_lab_events(ctx, mark, "broker", "member_expired", NULL);
  bool r_expired = false;
  size_t i;
  json_t *ev;
  json_array_foreach(expired, i, ev) {
    const char *id = json_string_value(json_object_get(ev, "member_id"));
    r_expired |= id && strcmp(id, crashed_member) == 0;
  }
  json_decref(expired);

  int64_t waited = assigned_ms < 0 ? -1 : assigned_ms - crash_ms;
  mk_lab_say(ctx, "  R processed %d records in this part; the group's commits cover %d of them.",
             processed3, processed3 - uncommitted);
  mk_lab_say(ctx, "  E got the partitions %lld ms after the crash and read %d records, %d of\n"
             "  them ones R had processed.", (long long)waited, e.processed, again);
  mk_lab_figure(ctx, "part 3", "R processed", processed3);
  mk_lab_figure(ctx, "part 3", "not committed", uncommitted);
  mk_lab_figure(ctx, "part 3", "read again", again);
  mk_lab_figure(ctx, "part 3", "takeover ms", (double)waited);
  mk_lab_claim(ctx, r_expired && waited >= rs->session_ms - rs->heartbeat_ms - 500,
               "the coordinator learned of the crash only when R's session expired "
               "(session.timeout.ms=%d, R's last heartbeat up to heartbeat.interval.ms=%d "
               "before the crash): member_expired, then a rebalance",
               rs->session_ms, rs->heartbeat_ms);
  mk_lab_claim(ctx, where && e.processed == to_read,
               "E began each partition at the group's committed offset and read the %d records "
               "from there to the end", e.processed);
  if (uncommitted > 0)
    mk_lab_claim(ctx, again == uncommitted,
                 "the %d records R processed after its last commit were read again by E: "
                 "processed twice, at least once", uncommitted);
  else
    mk_lab_claim(ctx, again == 0,
                 "nothing was read twice: R's last commit came right after its last record "
                 "(%d processed, a commit every %d%s)", processed3, commit_every,
                 rs->auto_commit ? ", and enable.auto.commit=true" : "");
  return 0;
}

static int run(struct mk_lab_ctx *ctx) {
  int32_t partitions = (int32_t)mk_lab_param(ctx, "partitions");
  int records = (int)mk_lab_param(ctx, "records");
  int processed = (int)mk_lab_param(ctx, "processed");
  int commit_every = (int)mk_lab_param(ctx, "commit_every");
  int crash_after = (int)mk_lab_param(ctx, "crash_after");
  struct reader_settings rs;
  int rc = mk_lab_broker_start(ctx, NULL);
  if (!rc) rc = reader_settings(ctx, &rs);
  if (!rc) rc = mk_lab_create_topic(ctx, TOPIC, partitions, -1);
  if (!rc) rc = part1(ctx, partitions);
  struct reader *r = calloc(1, sizeof *r);
  if (!rc && !r) rc = mk_lab_fail(ctx, MK_ERR__NO_MEMORY, "out of memory");
  if (!rc) rc = part2(ctx, partitions, records, processed, &rs, r);
  if (!rc) rc = part3(ctx, partitions, records, commit_every, crash_after, &rs, r);
  free(r);
  if (rc) return rc;
  mk_lab_say(ctx,
             "\nThe producer's duplicates (labs/duplicates) are two copies in the log, and\n"
             "idempotence removes them. These are one copy read twice: the fix is on the\n"
             "consumer's side, committing together with what processing changed (one\n"
             "transaction: read-process-write with sendOffsetsToTransaction), or processing\n"
             "that can run twice without harm.");
  return 0;
}

const struct mk_lab mk_lab_consumer_groups = {
    "consumer-groups",
    "consumer groups: rebalances, lag, commits across a restart, a crash read twice",
    params,
    run,
    "It reads the group coordinator's own account of the group (its rebalance and\n"
    "member_expired events: generations, who joined, who was dropped and when), which lives\n"
    "inside the brokers; a proxy in front of a real cluster sees JoinGroup and Heartbeat go\n"
    "by but not the coordinator's decisions. On a real cluster, run `minikafka consume\n"
    "--group G` in two terminals and watch `minikafka groups --describe --group G --members`\n"
    "between steps.",
};
