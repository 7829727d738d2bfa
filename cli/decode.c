/*
 * minikafka decode: one Kafka frame in, the same frame as JSON out.
 *
 *   minikafka decode [--hex] [--api NAME --version N] [FILE]
 *
 * The frame comes from FILE (or stdin, or "-") as the bytes that travel on the socket,
 * or with --hex as hex digits with any whitespace between them (`xxd -p` prints that).
 * It is decoded in four steps, each of which can fail with one line on stderr:
 *
 *   1. framing   int32 size, then exactly that many bytes; a frame that is cut short or
 *                followed by more bytes is reported as such, before anything is decoded
 *   2. header    a request names its API and version in its header. A response does
 *                not: the client knows what it asked by the correlation id, so the user
 *                says it with --api and --version (layouts in protocol/frame.h)
 *   3. body      mk_schema_decode() fills the API's C struct, as for the broker and the
 *                producer, so what `decode` accepts and refuses is what they do
 *   4. JSON      json.c walks the same schema table over that struct, and opens the record
 *                batches of Produce requests and Fetch responses (a key or value written by
 *                AvroSerializer shows its magic byte and schema id)
 *
 * Byte offsets in errors count from the frame's first byte, the size prefix included.
 * Exit status: 0 decoded, 1 the input is not a good frame (for a bad record batch the JSON
 * is still printed, with an "error" key where it went wrong), 2 the command line is wrong.
 */
#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "cli/cli.h"
#include "protocol/api.h"
#include "protocol/arena.h"
#include "protocol/frame.h"

/* No Kafka frame is near this (socket.request.max.bytes defaults to 100 MiB); a larger
 * input is a mistake, not a frame. */
enum { MAX_INPUT = 256 << 20 };

static void usage(FILE *out) {
  fprintf(out,
          "usage: minikafka decode [--hex] [--api NAME --version N] [FILE]\n"
          "\n"
          "Print one size-prefixed Kafka frame as JSON. The frame is read from FILE, or\n"
          "from stdin when FILE is missing or '-'.\n"
          "\n"
          "  --hex          the input is hex digits (whitespace ignored), not raw bytes\n"
          "  --api NAME     the frame is a response to a NAME request (Produce, Metadata,\n"
          "                 ...; or the numeric api key). Responses do not say which API\n"
          "                 they answer, so they need this and --version.\n"
          "  --version N    the version of that request\n"
          "\n"
          "Without --api the frame is decoded as a request. Byte offsets in error messages\n"
          "count from the frame's first byte, the 4-byte size prefix included.\n"
          "A binary key or value that begins like Confluent's wire format (a 0 byte, then a\n"
          "4-byte schema id: AvroSerializer's output) also shows \"schema_registry\":\n"
          "{\"magic_byte\": 0, \"schema_id\": N, \"payload_bytes\": N}.\n");
}

__attribute__((format(printf, 1, 2))) static int usage_error(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  fprintf(stderr, "minikafka decode: ");
  vfprintf(stderr, fmt, ap);
  va_end(ap);
  fprintf(stderr, "\n(minikafka decode --help shows the arguments)\n");
  return MK_EXIT_USAGE;
}

/* --api takes Kafka's name, in any case, or the api key. */
static const struct mk_api *find_api(const char *arg) {
  char *end;
  long key = strtol(arg, &end, 10);
  if (*arg && !*end) return mk_api_find((int)key);
  for (size_t i = 0; i < mk_api_count; i++)
    if (strcasecmp(mk_apis[i].name, arg) == 0) return &mk_apis[i];
  return NULL;
}

static void list_apis(FILE *out) {
  fprintf(out, "valid APIs (name or key):");
  for (size_t i = 0; i < mk_api_count; i++)
    fprintf(out, "%s %s (%d)", i ? "," : "", mk_apis[i].name, mk_apis[i].key);
  fprintf(out, "\n");
}

/* ---- input -------------------------------------------------------------------------------- */

/* Read all of f into a new buffer (free it). Returns NULL with errno set, or EFBIG. */
static uint8_t *read_all(FILE *f, size_t *len) {
  size_t cap = 4096, n = 0;
  uint8_t *buf = malloc(cap);
  while (buf) {
    n += fread(buf + n, 1, cap - n, f);
    if (ferror(f)) break;
    if (n < cap) {  /* fread stops short only at end of file (or error, checked above) */
      *len = n;
      return buf;
    }
    if (cap >= MAX_INPUT) {
      errno = EFBIG;
      break;
    }
    uint8_t *bigger = realloc(buf, cap * 2);
    if (!bigger) break;
    buf = bigger;
    cap *= 2;
  }
  int saved = errno;
  free(buf);
  errno = saved;
  return NULL;
}

static int hex_value(int c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

/* Turn hex text into bytes, in place (the bytes are never longer than the text).
 * Returns 0, or -1 after printing where the text went wrong. */
static int unhex(const char *source, uint8_t *buf, size_t *len) {
  size_t out = 0, digits = 0, line = 1, column = 0;
  int high = 0;
  for (size_t i = 0; i < *len; i++) {
    int c = buf[i];
    column++;
    if (c == '\n') {
      line++;
      column = 0;
    }
    if (isspace(c)) continue;
    int v = hex_value(c);
    if (v < 0) {
      fprintf(stderr, "minikafka decode: %s: bad hex: '%c' (0x%02x) at line %zu, column %zu\n",
              source, isprint(c) ? c : '?', c, line, column);
      return -1;
    }
    if (digits++ % 2 == 0)
      high = v;
    else
      buf[out++] = (uint8_t)(high << 4 | v);
  }
  if (digits % 2) {
    fprintf(stderr, "minikafka decode: %s: bad hex: odd number of hex digits (%zu)\n", source,
            digits);
    return -1;
  }
  *len = out;
  return 0;
}

/* ---- decoding ----------------------------------------------------------------------------- */

/* One size-prefixed frame, exactly: the connection code reads the prefix to know how much to
 * wait for, so a wrong prefix is the first thing to rule out. */
static int check_framing(const uint8_t *buf, size_t len, struct mk_err *err) {
  if (len < 4)
    return mk_err_set(err, MK_ERR__DECODE, "%zu bytes is too short for a frame (a frame "
                      "starts with a 4-byte size)", len);
  int32_t size = (int32_t)mk_load_u32(buf);
  if (size < 0) return mk_err_set(err, MK_ERR__DECODE, "negative size %d in the size prefix", size);
  if ((size_t)size > len - 4)
    return mk_err_set(err, MK_ERR__DECODE, "frame cut short: the size prefix says %d bytes "
                      "follow, the input has %zu after it", size, len - 4);
  if ((size_t)size < len - 4)
    return mk_err_set(err, MK_ERR__DECODE, "%zu extra bytes after the frame: the size prefix "
                      "says %d bytes follow, the input has %zu after it (decode reads one "
                      "frame)", len - 4 - (size_t)size, size, len - 4);
  return 0;
}

/* Skip a header's tagged-field section: Kafka defines no header tags worth showing. */
static void skip_tagged_fields(struct mk_reader *r) {
  uint32_t n = mk_read_uvarint(r);
  for (uint32_t i = 0; i < n && !r->err; i++) {
    (void)mk_read_uvarint(r);             /* tag */
    mk_read_skip(r, mk_read_uvarint(r));  /* size, then the value */
  }
}

static int header_failed(const struct mk_reader *r, const char *what, struct mk_err *err) {
  return mk_err_set(err, MK_ERR__DECODE, "%s at byte %zu: %s", what, r->err_pos,
                    mk_reader_strerror(r->err));
}

/* Decode the frame buf[0..len), already checked by check_framing, into *out as {"size",
 * "header", "body"}. api is NULL for a request, else the API whose response this is.
 *
 * This is what mk_request_decode() and mk_response_decode() do (the header layouts of
 * frame.h, then mk_schema_decode), but with one reader over the whole frame: that way every
 * byte offset in an error counts from the size prefix, as in a hex dump of the input, and
 * the bytes left after the body are known for responses too. *trailing gets their count.
 * Returns 0, or an error with err naming the field and byte offset. */
static int decode_frame(const uint8_t *buf, size_t len, const struct mk_api *api, int version,
                        struct mk_arena *arena, struct mk_json_walk *walk, json_t **out,
                        size_t *trailing, struct mk_err *err) {
  struct mk_reader r;
  mk_reader_init(&r, buf, len);
  int32_t size = mk_read_i32(&r);
  bool request = api == NULL;
  json_t *header;
  if (request) {  /* the header says which API and version follow */
    int16_t key = mk_read_i16(&r);
    int16_t v = mk_read_i16(&r);
    int32_t correlation_id = mk_read_i32(&r);
    struct mk_str client_id = mk_read_string(&r, false);  /* int16 length in v1 and v2 alike */
    if (r.err) return header_failed(&r, "request header", err);
    api = mk_api_find(key);
    if (!api)
      return mk_err_set(err, MK_ERR_UNSUPPORTED_VERSION, "request header: unknown api key %d "
                        "(version %d)", key, v);
    if (!mk_api_supports(api, v))
      return mk_err_set(err, MK_ERR_UNSUPPORTED_VERSION, "request header: %s v%d is not "
                        "supported (minikafka speaks v%d-%d)", api->name, v, api->min_version,
                        api->max_version);
    version = v;
    header = json_pack("{s:I, s:s, s:I, s:I, s:o, s:I}", "api_key", (json_int_t)key,
                       "api_name", api->name, "api_version", (json_int_t)version,
                       "correlation_id", (json_int_t)correlation_id,
                       "client_id", mk_json_str(client_id),
                       "header_version", (json_int_t)mk_request_header_version(key, version));
  } else {  /* a response header holds only the correlation id */
    int32_t correlation_id = mk_read_i32(&r);
    header = json_pack("{s:I, s:I}", "correlation_id", (json_int_t)correlation_id,
                       "header_version", (json_int_t)mk_response_header_version(api->key, version));
  }
  if (request ? mk_request_header_version(api->key, version) == 2
              : mk_response_header_version(api->key, version) == 1)
    skip_tagged_fields(&r);
  if (r.err) {
    json_decref(header);
    return header_failed(&r, "header tagged fields", err);
  }

  const struct mk_schema *schema = request ? api->request : api->response;
  void *msg = mk_arena_alloc(arena, schema->size);
  int rc = msg ? mk_schema_decode(schema, version, mk_api_is_flexible(api, version), &r, msg,
                                  arena, err)
               : mk_err_set(err, MK_ERR__NO_MEMORY, "out of memory");
  if (rc) {
    json_decref(header);
    return rc;
  }
  walk->frame = buf;
  walk->partial_batch_ok = !request;  /* a Fetch response may end with a cut-off batch */
  *out = json_pack("{s:I, s:o, s:o}", "size", (json_int_t)size, "header", header, "body",
                   mk_json_message(schema, version, msg, walk));
  *trailing = len - r.pos;
  if (*trailing && *out)
    json_object_set_new(*out, "trailing_bytes", json_integer((json_int_t)*trailing));
  return *out ? 0 : mk_err_set(err, MK_ERR__NO_MEMORY, "out of memory");
}

int mk_cli_decode(int argc, char **argv) {
  static const struct option options[] = {
    {"hex", no_argument, NULL, 'x'},
    {"api", required_argument, NULL, 'a'},
    {"version", required_argument, NULL, 'v'},
    {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0},
  };
  bool hex = false;
  const char *api_arg = NULL, *version_arg = NULL;
  int c;
  opterr = 0;  /* we print our own messages, prefixed with the command */
  while ((c = getopt_long(argc, argv, ":h", options, NULL)) != -1) {
    switch (c) {
      case 'x': hex = true; break;
      case 'a': api_arg = optarg; break;
      case 'v': version_arg = optarg; break;
      case 'h': usage(stdout); return MK_EXIT_OK;
      case ':': return usage_error("option '%s' needs a value", argv[optind - 1]);
      default: return usage_error("unknown option '%s'", argv[optind - 1]);
    }
  }
  if (argc - optind > 1) return usage_error("one FILE at most (got also '%s')", argv[optind + 1]);
  const char *path = optind < argc ? argv[optind] : "-";

  const struct mk_api *api = NULL;
  int version = 0;
  if (!api_arg != !version_arg)
    return usage_error("%s", "--api and --version go together (they say which request a "
                             "response answers)");
  if (api_arg) {
    api = find_api(api_arg);
    if (!api) {
      fprintf(stderr, "minikafka decode: unknown API '%s'\n", api_arg);
      list_apis(stderr);
      return MK_EXIT_USAGE;
    }
    char *end;
    long v = strtol(version_arg, &end, 10);
    if (!*version_arg || *end) return usage_error("--version wants a number, not '%s'", version_arg);
    if (!mk_api_supports(api, (int)v)) {
      fprintf(stderr, "minikafka decode: %s v%ld is not supported (minikafka speaks v%d-%d)\n",
              api->name, v, api->min_version, api->max_version);
      return MK_EXIT_USAGE;
    }
    version = (int)v;
  }

  /* Read the input. */
  bool from_stdin = strcmp(path, "-") == 0;
  const char *source = from_stdin ? "stdin" : path;
  if (from_stdin && isatty(STDIN_FILENO)) {  /* nothing piped in: the user wants help */
    usage(stderr);
    return MK_EXIT_USAGE;
  }
  FILE *f = from_stdin ? stdin : fopen(path, "rb");
  if (!f) {
    fprintf(stderr, "minikafka decode: cannot open %s: %s\n", path, strerror(errno));
    return MK_EXIT_FAILED;
  }
  size_t len;
  uint8_t *buf = read_all(f, &len);
  int saved = errno;
  if (!from_stdin) fclose(f);
  if (!buf) {
    fprintf(stderr, "minikafka decode: cannot read %s: %s\n", source, strerror(saved));
    return MK_EXIT_FAILED;
  }
  if (hex && unhex(source, buf, &len)) {
    free(buf);
    return MK_EXIT_FAILED;
  }

  /* Check the framing, decode, print. */
  struct mk_arena arena;
  mk_arena_init(&arena);
  struct mk_json_walk walk = {0};
  struct mk_err err = {0};
  json_t *out = NULL;
  size_t trailing = 0;
  int status = MK_EXIT_OK;
  if (check_framing(buf, len, &err) ||
      decode_frame(buf, len, api, version, &arena, &walk, &out, &trailing, &err)) {
    fprintf(stderr, "minikafka decode: %s: %s\n", source, err.msg);
    status = MK_EXIT_FAILED;
  } else {
    json_dumpf(out, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    fputc('\n', stdout);
    json_decref(out);
    /* Kafka ignores bytes after a body, so they are no error; but they usually mean a
     * hand-made frame is wrong, or that a response was decoded as the wrong API or version. */
    if (trailing)
      fprintf(stderr, "minikafka decode: %s: note: %zu bytes after the body were not decoded "
              "(\"trailing_bytes\")%s\n", source, trailing,
              api ? "; is --api/--version the request's?" : "");
    if (walk.problems) {
      fprintf(stderr, "minikafka decode: %s: %s\n", source, walk.first_problem);
      if (walk.problems > 1)
        fprintf(stderr, "minikafka decode: %s: and %d more bad record batches (see the "
                "\"error\" keys)\n", source, walk.problems - 1);
      status = MK_EXIT_FAILED;
    }
  }
  mk_arena_free(&arena);
  free(buf);
  if (fflush(stdout) != 0) status = MK_EXIT_FAILED;
  return status;
}
