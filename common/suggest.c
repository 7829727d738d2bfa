/*
 * "Did you mean": see suggest.h. One row of the edit-distance table at a time, since the
 * names compared are short.
 */
#include "common/suggest.h"

#include <string.h>

enum { MAX_LEN = 63, FAR = 99 };

int mk_edit_distance(const char *a, const char *b) {
  size_t la = strlen(a), lb = strlen(b);
  if (la > MAX_LEN || lb > MAX_LEN) return FAR;
  int row[MAX_LEN + 1];
  for (size_t j = 0; j <= lb; j++) row[j] = (int)j;
  for (size_t i = 1; i <= la; i++) {
    int diag = row[0];  /* the cell up and to the left */
    row[0] = (int)i;
    for (size_t j = 1; j <= lb; j++) {
      int up = row[j];
      int best = diag + (a[i - 1] != b[j - 1]);
      if (up + 1 < best) best = up + 1;
      if (row[j - 1] + 1 < best) best = row[j - 1] + 1;
      row[j] = best;
      diag = up;
    }
  }
  return row[lb];
}

void mk_suggest_init(struct mk_suggest *s, const char *word) {
  s->word = word;
  s->best = NULL;
  s->best_distance = FAR;
}

void mk_suggest_consider(struct mk_suggest *s, const char *candidate) {
  int d = mk_edit_distance(s->word, candidate);
  if (d == 0 || d > 3 || 2 * d >= (int)strlen(candidate) || d >= s->best_distance) return;
  s->best = candidate;
  s->best_distance = d;
}

const char *mk_suggest_best(const struct mk_suggest *s) { return s->best; }
