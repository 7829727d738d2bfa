/*
 * Partition assignors: the registry by name, Kafka's member order, and the assignment
 * lists both assignors fill. See partition_assignor.h; the assignors themselves are in
 * range_assignor.c and round_robin_assignor.c.
 */
#include "consumer/partition_assignor.h"

#include <stdlib.h>
#include <string.h>

static const struct mk_partition_assignor *const assignors[] = {
    &mk_range_assignor,
    &mk_round_robin_assignor,
    NULL,
};

const struct mk_partition_assignor *mk_partition_assignor_find(const char *name) {
  if (!name) return NULL;
  for (int i = 0; assignors[i]; i++) {
    const struct mk_partition_assignor *a = assignors[i];
    const char *simple = strrchr(a->class_name, '.') + 1;  /* "RangeAssignor" */
    if (strcmp(name, a->name) == 0 || strcmp(name, a->class_name) == 0 ||
        strcmp(name, simple) == 0)
      return a;
  }
  return NULL;
}

int mk_assignment_add(struct mk_assignment *a, const char *topic, int32_t partition) {
  if (a->n == a->cap) {
    int cap = a->cap ? 2 * a->cap : 8;
    struct mk_topic_partition *v = realloc(a->v, sizeof *v * (size_t)cap);
    if (!v) return MK_ERR__NO_MEMORY;
    a->v = v;
    a->cap = cap;
  }
  a->v[a->n++] = (struct mk_topic_partition){topic, partition};
  return 0;
}

void mk_assignment_free(struct mk_assignment *a) {
  free(a->v);
  a->v = NULL;
  a->n = a->cap = 0;
}

int mk_assignor_member_subscribes(const struct mk_assignor_member *m, const char *topic) {
  for (int i = 0; i < m->ntopics; i++)
    if (strcmp(m->topics[i], topic) == 0) return 1;
  return 0;
}

int mk_assignor_member_cmp(const void *pa, const void *pb) {
  const struct mk_assignor_member *a = pa, *b = pb;
  if (a->group_instance_id && b->group_instance_id)
    return strcmp(a->group_instance_id, b->group_instance_id);
  if (a->group_instance_id) return -1;
  if (b->group_instance_id) return 1;
  return strcmp(a->member_id, b->member_id);
}

/* A member and where it was in the caller's array. */
struct indexed {
  struct mk_assignor_member m;  /* first, so mk_assignor_member_cmp reads it */
  int index;
};

int mk_partition_assignor_assign(const struct mk_partition_assignor *a,
                                 const struct mk_assignor_topic *topics, int ntopics,
                                 const struct mk_assignor_member *members, int nmembers,
                                 struct mk_assignment *out) {
  for (int i = 0; i < nmembers; i++) out[i] = (struct mk_assignment){0};
  if (nmembers <= 0) return 0;
  struct indexed *sorted = malloc(sizeof *sorted * (size_t)nmembers);
  struct mk_assignor_member *ms = malloc(sizeof *ms * (size_t)nmembers);
  struct mk_assignment *res = calloc((size_t)nmembers, sizeof *res);
  int rc = sorted && ms && res ? 0 : MK_ERR__NO_MEMORY;
  if (!rc) {
    for (int i = 0; i < nmembers; i++) sorted[i] = (struct indexed){members[i], i};
    if (nmembers > 1) qsort(sorted, (size_t)nmembers, sizeof *sorted, mk_assignor_member_cmp);
    for (int i = 0; i < nmembers; i++) ms[i] = sorted[i].m;
    rc = a->assign(topics, ntopics, ms, nmembers, res);
  }
  for (int i = 0; res && i < nmembers; i++) {
    if (rc)
      mk_assignment_free(&res[i]);
    else
      out[sorted[i].index] = res[i];
  }
  free(sorted);
  free(ms);
  free(res);
  return rc;
}
