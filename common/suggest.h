/*
 * "Did you mean ...?": the nearest of a set of names to one that is not among them, by
 * edit distance (Levenshtein: insertions, deletions, substitutions). Kafka's tools do not
 * suggest; ours do, for setting names (producer_config.c), lab names and lab parameters
 * (cli/lab.c, labs/lab.c).
 *
 *   struct mk_suggest s;
 *   mk_suggest_init(&s, "dupliates");
 *   for (...) mk_suggest_consider(&s, names[i]);
 *   if (mk_suggest_best(&s)) ... "did you mean %s?" ...
 *
 * Thread: any (the state is the caller's). Memory: borrows the word and every candidate
 * until the last call.
 */
#ifndef MK_COMMON_SUGGEST_H
#define MK_COMMON_SUGGEST_H

struct mk_suggest {
  const char *word;
  const char *best;  /* the nearest candidate so far that is near enough, or NULL */
  int best_distance;
};

void mk_suggest_init(struct mk_suggest *s, const char *word);
/* Weigh one candidate. */
void mk_suggest_consider(struct mk_suggest *s, const char *candidate);
/* The nearest candidate, if it is a near miss (at most 3 edits, and fewer than half the
 * candidate's length, so "tour" is never suggested for "acks"); else NULL. */
const char *mk_suggest_best(const struct mk_suggest *s);

/* The edit distance of a and b; names longer than 63 bytes count as far from everything. */
int mk_edit_distance(const char *a, const char *b);

#endif
