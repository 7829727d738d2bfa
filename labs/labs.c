/*
 * The table of labs, in the order a student takes them (issue "labs": 1 tour, 2 send modes,
 * 3 acks, 4 retries and duplicates, 5 ordering, ...). `minikafka lab` lists it as it is.
 *
 * Adding a lab: labs/NAME/README.md (the guide, STYLE.md section 6) and labs/NAME/NAME.c
 * defining `const struct mk_lab mk_lab_NAME`; its declaration in lab.h; a row here; the
 * file in labs/meson.build; its claim in tests/unit/test_labs.c.
 */
#include <string.h>

#include "labs/lab.h"

const struct mk_lab *const mk_labs[] = {
    &mk_lab_tour, &mk_lab_send_modes, &mk_lab_acks, &mk_lab_duplicates, &mk_lab_ordering,
    &mk_lab_partitioning, &mk_lab_batching, &mk_lab_compression, &mk_lab_timeouts, &mk_lab_isr,
    &mk_lab_headers_interceptors, &mk_lab_serialization, &mk_lab_quotas, &mk_lab_bootstrap,
    &mk_lab_schemas, &mk_lab_consumer_groups, &mk_lab_transactions, NULL,
};

const struct mk_lab *mk_lab_find(const char *name) {
  for (int i = 0; mk_labs[i]; i++)
    if (strcmp(mk_labs[i]->name, name) == 0) return mk_labs[i];
  return NULL;
}
