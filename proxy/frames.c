/*
 * Frames off a stream: the int32 size, then that many bytes, however TCP cuts them up.
 * Kafka: NetworkReceive.java. The broker reads its requests the same way
 * (broker/network.c); here both directions of every connection do, and the discovery at
 * start. See mk_frame_read in proxy_internal.h.
 */
#include <stdlib.h>
#include <string.h>

#include "proxy/proxy_internal.h"

int mk_frame_read(struct mk_frame_reader *r, const uint8_t **p, size_t *n, int32_t min,
                  int32_t max, struct mk_buffer **out, struct mk_err *err) {
  *out = NULL;
  if (!r->frame) {
    while (r->size_len < 4 && *n > 0) {
      r->size_buf[r->size_len++] = *(*p)++;
      (*n)--;
    }
    if (r->size_len < 4) return 0;
    int32_t size = (int32_t)mk_load_u32(r->size_buf);
    if (size < min || size > max)
      return mk_err_set(err, MK_ERR__DECODE, "a frame of %d bytes (the proxy takes %d to %d)",
                        size, min, max);
    if (!(r->frame = mk_buffer_new((size_t)size)))
      return mk_err_set(err, MK_ERR__NO_MEMORY, "out of memory for a frame of %d bytes", size);
    r->frame_len = 0;
  }
  size_t take = r->frame->size - r->frame_len;
  if (take > *n) take = *n;
  memcpy(r->frame->data + r->frame_len, *p, take);
  r->frame_len += take;
  *p += take;
  *n -= take;
  if (r->frame_len < r->frame->size) return 0;
  *out = r->frame;
  r->frame = NULL;
  r->size_len = 0;
  return 1;
}

void mk_frame_reader_free(struct mk_frame_reader *r) {
  mk_buffer_unref(r->frame);
  r->frame = NULL;
}
