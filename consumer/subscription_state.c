/*
 * SubscriptionState: see subscription_state.h. Both lists are kept sorted, so the
 * assignment prints, fetches and commits in topic-partition order.
 */
#include "consumer/subscription_state.h"

#include <stdlib.h>
#include <string.h>

#include "protocol/errors.h"

static int cmp_str(const void *a, const void *b) {
  return strcmp(*(char *const *)a, *(char *const *)b);
}

static int cmp_part(const void *a, const void *b) {
  const struct mk_partition_state *x = a, *y = b;
  int c = strcmp(x->topic, y->topic);
  return c ? c : (x->partition > y->partition) - (x->partition < y->partition);
}

static void free_parts(struct mk_subscription_state *s) {
  for (int i = 0; i < s->nparts; i++) free(s->parts[i].topic);
  free(s->parts);
  s->parts = NULL;
  s->nparts = 0;
}

static void free_topics(struct mk_subscription_state *s) {
  for (int i = 0; i < s->ntopics; i++) free(s->topics[i]);
  free(s->topics);
  s->topics = NULL;
  s->ntopics = 0;
}

void mk_subscription_free(struct mk_subscription_state *s) {
  free_parts(s);
  free_topics(s);
}

int mk_subscription_subscribe(struct mk_subscription_state *s, const char *const *topics, int n) {
  free_parts(s);
  free_topics(s);
  s->user_assigned = false;
  s->topics = calloc((size_t)(n > 0 ? n : 1), sizeof *s->topics);
  if (!s->topics) return MK_ERR__NO_MEMORY;
  for (int i = 0; i < n; i++) {
    bool dup = false;
    for (int j = 0; j < s->ntopics && !dup; j++) dup = strcmp(s->topics[j], topics[i]) == 0;
    if (dup) continue;
    if (!(s->topics[s->ntopics] = strdup(topics[i]))) {
      free_topics(s);
      return MK_ERR__NO_MEMORY;
    }
    s->ntopics++;
  }
  if (s->ntopics > 1) qsort(s->topics, (size_t)s->ntopics, sizeof *s->topics, cmp_str);
  return 0;
}

int mk_subscription_assign(struct mk_subscription_state *s, const struct mk_topic_partition *parts,
                           int n, bool in_group, int64_t default_reset) {
  free_parts(s);
  if (n <= 0) return 0;
  s->parts = calloc((size_t)n, sizeof *s->parts);
  if (!s->parts) return MK_ERR__NO_MEMORY;
  for (int i = 0; i < n; i++) {
    if (mk_subscription_find(s, parts[i].topic, parts[i].partition)) continue;
    struct mk_partition_state *p = &s->parts[s->nparts];
    *p = (struct mk_partition_state){
        .topic = strdup(parts[i].topic),
        .partition = parts[i].partition,
        .state = in_group ? MK_AWAIT_COMMITTED : MK_AWAIT_RESET,
        .reset_to = default_reset,
        .position = -1,
        .leader = -1,
        .high_watermark = -1,
    };
    if (!p->topic) {
      free_parts(s);
      return MK_ERR__NO_MEMORY;
    }
    s->nparts++;
  }
  if (s->nparts > 1) qsort(s->parts, (size_t)s->nparts, sizeof *s->parts, cmp_part);
  return 0;
}

struct mk_partition_state *mk_subscription_find(struct mk_subscription_state *s,
                                                const char *topic, int32_t partition) {
  for (int i = 0; i < s->nparts; i++)
    if (s->parts[i].partition == partition && strcmp(s->parts[i].topic, topic) == 0)
      return &s->parts[i];
  return NULL;
}

bool mk_subscription_wants_topic(const struct mk_subscription_state *s, const char *topic) {
  for (int i = 0; i < s->ntopics; i++)
    if (strcmp(s->topics[i], topic) == 0) return true;
  for (int i = 0; i < s->nparts; i++)
    if (strcmp(s->parts[i].topic, topic) == 0) return true;
  return false;
}

void mk_subscription_seek(struct mk_partition_state *p, int64_t offset) {
  p->state = MK_FETCHING;
  p->position = offset;
}

void mk_subscription_request_reset(struct mk_partition_state *p, int64_t reset_to) {
  p->state = MK_AWAIT_RESET;
  p->reset_to = reset_to;
}

int mk_subscription_assignment(const struct mk_subscription_state *s,
                               struct mk_topic_partition *out, int max) {
  for (int i = 0; i < s->nparts && i < max; i++)
    out[i] = (struct mk_topic_partition){s->parts[i].topic, s->parts[i].partition};
  return s->nparts;
}
