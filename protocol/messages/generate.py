#!/usr/bin/env python3
"""Write protocol/messages/*.{c,h} from Kafka's message specs (the JSON files).

The build never runs this: its output is committed, and the JSON is not. Run it by hand when
Kafka adds a version:

    python3 protocol/messages/generate.py ../shared/reference/kafka-protocol/messages \\
        "$KAFKA@1eb7644349cb07139d6a3c1ad1986979647cac99"

($KAFKA: a git clone of apache/kafka; that commit is trunk of 2024-10-25, from before
Kafka 4.0 removed old versions, and the one the committed tables come from.)

Each argument is a place to read specs from, newest first: a folder of *.json files, or a
Kafka git repository (its HEAD, or PATH@REV), whose message folders under clients/, core/,
group-coordinator/ and transaction-coordinator/ are read with `git show`. A message found in
several places is merged (see merge()): Kafka 4.0's specs dropped the versions KIP-896
removed, together with the fields only those versions had, and real clients still send them,
so the older repository supplies the old versions and the newer folder everything it has.

Two kinds of output:
  - for each API, <api>.h (the C structs of its request and response, fields in wire order)
    and <api>.c (the field tables that protocol/schema.c walks);
  - for each group in DATA, one .h/.c pair holding Kafka's "data" messages: messages that
    never travel as a request but are stored or embedded with an int16 version in front
    (record keys and values of __consumer_offsets, a consumer's subscription). Each gets,
    besides its table, a struct mk_data_schema with its version range.
Only the facts of each field are used (name, type, versions, nullability, tag, default); no
text comes across.
"""
import glob, json, os, re, subprocess, sys

HERE = os.path.dirname(os.path.abspath(__file__))
APIS = ["ApiVersions", "Metadata", "Produce", "Fetch", "ListOffsets", "InitProducerId",
        "FindCoordinator", "CreateTopics", "DeleteTopics", "DescribeConfigs", "DescribeCluster",
        "AddPartitionsToTxn", "AddOffsetsToTxn", "EndTxn", "TxnOffsetCommit", "JoinGroup",
        "SyncGroup", "Heartbeat", "LeaveGroup", "OffsetCommit", "OffsetFetch",
        "DescribeGroups", "ListGroups", "DeleteGroups", "OffsetDelete", "CreatePartitions"]
# file -> (what its messages are, the messages)
DATA = {
    "consumer_offsets_records": ("the keys and values of the records in __consumer_offsets",
                                 ["OffsetCommitKey", "OffsetCommitValue",
                                  "GroupMetadataKey", "GroupMetadataValue"]),
    "transaction_state_records": ("the key and value of the records in __transaction_state",
                                  ["TransactionLogKey", "TransactionLogValue"]),
    "consumer_protocol_data": ("what a consumer puts in JoinGroup and SyncGroup (the "
                               "\"consumer\" protocol type)",
                               ["ConsumerProtocolSubscription", "ConsumerProtocolAssignment"]),
}
# Where a Kafka repository keeps its message specs.
GIT_SPEC_DIRS = ["clients/src/main/resources/common/message",
                 "core/src/main/resources/common/message",
                 "group-coordinator/src/main/resources/common/message",
                 "transaction-coordinator/src/main/resources/common/message"]

PRIM = {  # JSON type -> (enum, C type)
    "bool": ("MK_BOOL", "bool"), "int8": ("MK_INT8", "int8_t"), "int16": ("MK_INT16", "int16_t"),
    "uint16": ("MK_UINT16", "uint16_t"), "int32": ("MK_INT32", "int32_t"),
    "uint32": ("MK_UINT32", "uint32_t"), "int64": ("MK_INT64", "int64_t"),
    "float64": ("MK_FLOAT64", "double"), "uuid": ("MK_UUID", "struct mk_uuid"),
    "string": ("MK_STRING", "struct mk_str"), "bytes": ("MK_BYTES", "struct mk_bytes"),
    "records": ("MK_RECORDS", "struct mk_bytes"),
}
C_KEYWORDS = {"default", "int", "char", "long", "short", "struct", "union", "static", "const"}


def parse(text):
    return json.loads(re.sub(r"^\s*//.*$", "", text, flags=re.M))


# ---- reading the specs ------------------------------------------------------------------------

def read_source(src, wanted):
    """name -> spec for the messages in `wanted` that src has (a folder or a git repository)."""
    path, _, rev = src.partition("@")
    specs = {}
    if glob.glob(os.path.join(path, "*.json")):
        for p in glob.glob(os.path.join(path, "*.json")):
            name = os.path.basename(p)[:-5]
            if name in wanted:
                specs[name] = parse(open(p).read())
        return specs
    git = ["git", "-C", path]
    files = subprocess.run(git + ["ls-tree", "-r", "--name-only", rev or "HEAD", "--"]
                           + GIT_SPEC_DIRS, check=True, capture_output=True, text=True).stdout
    for f in files.split():
        name = os.path.basename(f)[:-5]
        if f.endswith(".json") and name in wanted:
            text = subprocess.run(git + ["show", "%s:%s" % (rev or "HEAD", f)], check=True,
                                  capture_output=True, text=True).stdout
            specs[name] = parse(text)
    if not specs:
        sys.exit("%s: no *.json files and no Kafka message specs in git" % src)
    return specs


def versions_of(spec):
    lo, hi = vrange(spec["validVersions"])
    return lo, hi


# The facts of a field that two specs of one message must agree on.
FACTS = ["type", "versions", "nullableVersions", "taggedVersions", "tag", "default", "ignorable"]


def merge_fields(new, old, where):
    """new's fields, plus old's fields that new no longer has, each inserted after the field
    that precedes it in old (so wire order holds). A field in both must have the same facts:
    Kafka never changes a field's versions, it only drops versions, so a difference means
    the specs are not two releases of one message."""
    out = [dict(f) for f in new]
    names = [f["name"] for f in out]
    prev = None
    for f in old:
        if f["name"] in names:
            i = names.index(f["name"])
            for k in FACTS:
                if out[i].get(k) != f.get(k):
                    sys.exit("%s.%s: %s is %r in one spec, %r in the other" % (
                        where, f["name"], k, out[i].get(k), f.get(k)))
            if "fields" in f:
                out[i]["fields"] = merge_fields(out[i]["fields"], f["fields"],
                                                where + "." + f["name"])
            prev = f["name"]
            continue
        at = names.index(prev) + 1 if prev else 0
        out.insert(at, dict(f))
        names.insert(at, f["name"])
        prev = f["name"]
    return out


def merge(new, old):
    """One spec describing every version of new and of old (see merge_fields)."""
    name = new["name"]
    (nlo, nhi), (olo, ohi) = versions_of(new), versions_of(old)
    if olo > nhi + 1 or nlo > ohi + 1:
        sys.exit("%s: versions %d-%d and %d-%d leave a gap" % (name, nlo, nhi, olo, ohi))
    if new.get("flexibleVersions") != old.get("flexibleVersions"):
        sys.exit("%s: flexible versions differ: %s, %s" % (
            name, new.get("flexibleVersions"), old.get("flexibleVersions")))
    out = dict(new)
    out["validVersions"] = "%d-%d" % (min(nlo, olo), max(nhi, ohi))
    out["fields"] = merge_fields(new["fields"], old["fields"], name)
    common = {c["name"]: c for c in old.get("commonStructs", [])}
    merged = []
    for c in new.get("commonStructs", []):
        c = dict(c)
        if c["name"] in common:
            c["fields"] = merge_fields(c["fields"], common.pop(c["name"])["fields"],
                                       name + "." + c["name"])
        merged.append(c)
    out["commonStructs"] = merged + list(common.values())
    return out


def load_all(sources, wanted):
    specs = {}
    for src in sources:  # newest first
        for name, spec in read_source(src, wanted).items():
            specs[name] = merge(specs[name], spec) if name in specs else spec
    missing = sorted(set(wanted) - set(specs))
    if missing:
        sys.exit("no spec for: " + ", ".join(missing))
    return specs


# ---- field facts ------------------------------------------------------------------------------

def snake(name):
    s = re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", name)
    s = re.sub(r"([A-Z]+)([A-Z][a-z])", r"\1_\2", s)
    return s.lower()


def vrange(spec):
    """'3+' -> (3, 'MK_V_ANY'); '0-5' -> (0, 5); 'none' -> None."""
    if spec is None or spec == "none":
        return None
    if spec.endswith("+"):
        return int(spec[:-1]), "MK_V_ANY"
    if "-" in spec:
        a, b = spec.split("-")
        return int(a), int(b)
    return int(spec), int(spec)


def default_of(f):
    t, d = f["type"], f.get("default")
    if t in ("string", "bytes", "records"):
        if d == "null" or (d is None and t == "records"):
            return "-1"
        return "0"
    if d is None:
        return "0"
    if isinstance(d, bool) or d in ("true", "false"):
        return "1" if d in (True, "true") else "0"
    v = int(str(d), 0)
    return "INT64_C(%d)" % v if abs(v) > 2**31 else str(v)


class Struct:
    def __init__(self, jname, fields, cname):
        self.jname, self.fields, self.cname = jname, fields, cname


def struct_cname(prefix_name, prefix, t):
    """C name of a nested struct: mk_<prefix>_<struct>, without repeating the prefix's name
    (MetadataRequestTopic in Metadata is mk_metadata_request_topic)."""
    if t.startswith(prefix_name) and t[len(prefix_name):][:1].isupper():
        t = t[len(prefix_name):]
    return "mk_%s_%s" % (prefix, snake(t))


def collect(msg, prefix_name, prefix):
    """All structs of a message, children before parents (C needs that order)."""
    common = {c["name"]: c["fields"] for c in msg.get("commonStructs", [])}
    out, seen = [], {}

    def visit(jname, fields, cname):
        for f in fields:
            t = f["type"].removeprefix("[]")
            if t in PRIM:
                continue
            sub = f.get("fields") or common.get(t)
            if sub is None:
                sys.exit("%s: no definition for struct %s" % (msg["name"], t))
            if t not in seen:
                seen[t] = struct_cname(prefix_name, prefix, t)
                visit(t, sub, seen[t])
        out.append(Struct(jname, fields, cname))

    visit(msg["name"], msg["fields"], "mk_" + snake(msg["name"]))
    return out, seen


def ctype(f, names):
    t = f["type"].removeprefix("[]")
    return PRIM[t][1] if t in PRIM else "struct " + names[t]


# ---- writing C --------------------------------------------------------------------------------

def emit_message(msg, structs, names, h, c):
    """Append one message's structs to h and their field tables to c."""
    for s in structs:
        h.append("struct %s {" % s.cname)
        rows = []
        for f in s.fields:
            m = snake(f["name"])
            if m in C_KEYWORDS:
                m += "_"
            t = f["type"]
            if t.startswith("[]"):
                h.append("  %s *%s;" % (ctype(f, names), m))
                h.append("  int32_t %s_count;" % m)
            else:
                h.append("  %s %s;" % (ctype(f, names), m))
            tagged = "tag" in f
            since, until = vrange(f["taggedVersions"] if tagged else f["versions"])
            nullable = vrange(f.get("nullableVersions"))
            base = t.removeprefix("[]")
            if t.startswith("[]"):
                typ, elem = "MK_ARRAY", (PRIM[base][0] if base in PRIM else "MK_STRUCT")
            else:
                typ, elem = (PRIM[base][0] if base in PRIM else "MK_STRUCT"), "0"
            sub = "&%s_schema" % names[base] if base not in PRIM else "NULL"
            row = ('  {"%s", %s, %s, %s, %s, %s, %d, %s,\n'
                   '   offsetof(struct %s, %s), %s, %s, %s},') % (
                m, typ, elem, since, until, nullable[0] if nullable else "MK_V_NEVER",
                f["tag"] if tagged else -1, "true" if f.get("ignorable") else "false",
                s.cname, m,
                "offsetof(struct %s, %s_count)" % (s.cname, m) if typ == "MK_ARRAY" else "0",
                sub, default_of(f))
            rows.append(row)
        h.append("};")
        if not s.cname == "mk_" + snake(msg["name"]):
            h.append("extern const struct mk_schema %s_schema;" % s.cname)
        h.append("")
        tags = [f["tag"] for f in s.fields if "tag" in f]
        assert tags == sorted(tags), (s.jname, tags)
        c.append("static const struct mk_field %s_fields[] = {" % s.cname)
        c.append("  /* name, type, element type, since, until, nullable since, tag, ignorable,")
        c.append("     offset, count offset, nested schema, default */")
        c += rows
        c.append("};")
        c.append("const struct mk_schema %s_schema = {" % s.cname)
        c.append('  "%s", sizeof(struct %s), %d, %s_fields};' % (
            s.jname, s.cname, len(s.fields), s.cname))
        c.append("")


def versions_comment(msg):
    lo, hi = versions_of(msg)
    flex = vrange(msg["flexibleVersions"])
    v = "version %d" % lo if lo == hi else "versions %d-%d" % (lo, hi)
    return "/* %s: %s in Kafka's specs, %s. */" % (
        msg["name"], v, "flexible from %d" % flex[0] if flex else "never flexible")


def gen_api(api_name, req, resp):
    api = snake(api_name)
    h, c = [], []
    guard = "MK_PROTOCOL_MESSAGES_%s_H" % api.upper()
    h += ["/* %s: the request and response of Kafka's %s API (api key %d), as C structs." % (
              api_name, api_name, req["apiKey"]),
          " * Generated by protocol/messages/generate.py from Kafka's message specs; the field",
          " * tables that give each field's versions are in %s.c. Fields are in wire order;" % api,
          " * an array field is a pointer plus a `<name>_count` (-1 = null). The version",
          " * ranges below are Kafka's; protocol/api.c says which of them we speak. */",
          "#ifndef " + guard, "#define " + guard, "",
          "#include <stdbool.h>", "#include <stdint.h>", "",
          '#include "protocol/schema.h"', ""]
    c += ["/* %s: field tables for the %s API (api key %d). Generated by generate.py. */" % (
              api_name, api_name, req["apiKey"]),
          '#include "protocol/messages/%s.h"' % api, "", "#include <stddef.h>", ""]
    if versions_of(req) != versions_of(resp):
        sys.exit("%s: request and response versions differ" % api_name)
    req_names = set()
    for msg in (req, resp):
        structs, names = collect(msg, api_name, api)
        # struct names must not collide across messages of the same file
        if msg is resp:
            for s in structs:
                if s.cname in req_names:
                    s.cname = s.cname.replace("mk_%s_" % api, "mk_%s_response_" % api, 1)
            for t in list(names):
                if names[t] in req_names:
                    names[t] = names[t].replace("mk_%s_" % api, "mk_%s_response_" % api, 1)
        else:
            req_names = {s.cname for s in structs}
        emit_message(msg, structs, names, h, c)
        h.append(versions_comment(msg))
        h.append("extern const struct mk_schema mk_%s_schema;" % snake(msg["name"]))
        h.append("")
    h.append("#endif")
    return "\n".join(h) + "\n", "\n".join(c)


def gen_data(fname, what, msgs):
    """One file of data messages. Nested structs are named after their message
    (mk_group_metadata_value_member_metadata), so two messages may nest structs of one name."""
    h, c = [], []
    guard = "MK_PROTOCOL_MESSAGES_%s_H" % fname.upper()
    h += ["/* %s and %s:" % (", ".join(m["name"] for m in msgs[:-1]), msgs[-1]["name"]),
          " * %s, as C structs." % what,
          " * Generated by protocol/messages/generate.py from Kafka's \"data\" message specs; the",
          " * field tables are in %s.c. Each message is stored as an int16" % fname,
          " * version, then its fields (mk_data_encode / mk_data_decode in schema.h). Fields are",
          " * in wire order; an array field is a pointer plus a `<name>_count` (-1 = null). */",
          "#ifndef " + guard, "#define " + guard, "",
          "#include <stdbool.h>", "#include <stdint.h>", "",
          '#include "protocol/schema.h"', ""]
    c += ["/* Field tables for %s.h. Generated by generate.py. */" % fname,
          '#include "protocol/messages/%s.h"' % fname, "", "#include <stddef.h>", ""]
    for msg in msgs:
        if msg.get("type") != "data":
            sys.exit("%s: not a data spec" % msg["name"])
        top = snake(msg["name"])
        structs, names = collect(msg, msg["name"], top)
        emit_message(msg, structs, names, h, c)
        lo, hi = versions_of(msg)
        flex = vrange(msg["flexibleVersions"])
        h.append(versions_comment(msg))
        h.append("extern const struct mk_schema mk_%s_schema;" % top)
        h.append("extern const struct mk_data_schema mk_%s_data;" % top)
        h.append("")
        c.append("const struct mk_data_schema mk_%s_data = {&mk_%s_schema, %d, %d, %s};" % (
            top, top, lo, hi, flex[0] if flex else "MK_V_NEVER"))
        c.append("")
    h.append("#endif")
    return "\n".join(h) + "\n", "\n".join(c)


def write(name, h, c):
    open(os.path.join(HERE, name + ".h"), "w").write(h)
    open(os.path.join(HERE, name + ".c"), "w").write(c)
    print("wrote", name)


def main():
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    wanted = {a + k for a in APIS for k in ("Request", "Response")}
    wanted |= {m for _, msgs in DATA.values() for m in msgs}
    specs = load_all(sys.argv[1:], wanted)
    for name in APIS:
        h, c = gen_api(name, specs[name + "Request"], specs[name + "Response"])
        write(snake(name), h, c)
    for fname, (what, msgs) in DATA.items():
        h, c = gen_data(fname, what, [specs[m] for m in msgs])
        write(fname, h, c)


if __name__ == "__main__":
    main()
