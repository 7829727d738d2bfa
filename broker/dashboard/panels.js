// The tabs' read-only panels: producers (GET /v1/producers), consumer groups
// (GET /v1/groups, DESIGN.md 3.5), transactions (GET /v1/transactions, 3.6), the schema
// registry's subjects (GET /v1/schemas, 3.8) and the faults injected so far (GET /v1/faults).
// The groups, transactions and schemas endpoints came later than this page: on a broker
// without them (404), their panels say what would appear and how to make it appear.

import {h, setText, fill, flash, emptyState, code, reconcile} from './dom.js';
import {BATCHES_TO_RETAIN} from './reducer.js';

// ---- producers ----------------------------------------------------------------------------

export class ProducersView {
  constructor(el) {
    this.el = el;
    this.rows = new Map();  // "topic/partition/pid" -> row record
    this.table = null;
    this.tbody = null;
  }

  // view: GET /v1/producers' shape (reducer.js toProducers); ctx: {replay, bootstrap}
  render(view, ctx) {
    const rows = [];
    for (const t of view.topics) {
      for (const p of t.partitions) {
        for (const pr of p.producers) rows.push({topic: t.name, partition: p.partition, pr});
      }
    }
    if (!rows.length) {
      this.rows.clear();
      this.table = null;
      fill(this.el, ctx.replay
        ? emptyState('No idempotent producer has written yet at this point of the trace')
        : ctx.proxy
        ? emptyState('Not visible through the proxy',
          'Each partition\'s producer ids, epochs and last five batches live inside the real cluster\'s brokers; the proxy sees requests and answers only (the timeline).')
        : emptyState('No idempotent producers yet',
          'Each partition remembers, per producer id, its epoch and its last five batches: that is how a retried batch is recognised as a duplicate. Produce idempotently to see it:',
          [code(`kcat -P -b ${ctx.bootstrap || 'BOOTSTRAP'} -t demo -X enable.idempotence=true`)],
          [code(`minikafka perf --bootstrap-server ${ctx.bootstrap || 'BOOTSTRAP'} --topic demo --num-records 100 --record-size 100 --throughput 10 --producer-props enable.idempotence=true`)]));
      return;
    }
    if (!this.table) {
      const head = h('tr', {}, h('th', {}, 'partition'), h('th', {}, 'producer'), h('th', {}, 'epoch'),
        h('th', {}, 'last seq'), h('th', {}, 'last offset'),
        h('th', {}, `its last ${BATCHES_TO_RETAIN} batches: sequences → first offset (oldest first)`));
      this.tbody = h('tbody');
      this.table = h('table', {class: 'grid producers'}, h('thead', {}, head), this.tbody);
      fill(this.el, this.table);
      this.rows.clear();
    }
    reconcile(this.tbody, this.rows, rows, (r) => `${r.topic}/${r.partition}/${r.pr.producer_id}`,
      (r) => this.makeRow(r.topic, r.partition, r.pr.producer_id), (row, {pr}) => {
        setText(row.epoch, pr.epoch);
        setText(row.seq, pr.last_sequence);
        setText(row.offset, pr.last_offset);
        for (let i = 0; i < BATCHES_TO_RETAIN; i++) {
          const b = pr.batches[i];
          const slot = row.slots[i];
          slot.classList.toggle('empty', !b);
          slot.classList.toggle('newest', !!b && i === pr.batches.length - 1);
          slot.dataset.firstSequence = b ? b.first_sequence : '';
          setText(slot, b ? `${range(b.first_sequence, b.last_sequence)} → ${b.first_offset}` : 'empty');
          slot.title = b ? `sequences ${range(b.first_sequence, b.last_sequence)} were written at offsets ${range(b.first_offset, b.last_offset)}` : '';
        }
      });
  }

  makeRow(topic, partition, pid) {
    const slots = [];
    for (let i = 0; i < BATCHES_TO_RETAIN; i++) slots.push(h('span', {class: 'slot empty'}, 'empty'));
    const epoch = h('td', {class: 'num'});
    const seq = h('td', {class: 'num'});
    const offset = h('td', {class: 'num'});
    const el = h('tr', {dataset: {topic, partition, producerId: pid}},
      h('td', {}, `${topic}-${partition}`), h('td', {class: 'num'}, pid), epoch, seq, offset,
      h('td', {}, h('div', {class: 'window'}, slots)));
    return {el, epoch, seq, offset, slots};
  }

  // A duplicate event: light up the batch the broker recognised.
  duplicate(ev) {
    const row = this.rows.get(`${ev.topic}/${ev.partition}/${ev.producer_id}`);
    if (!row) return;
    for (const slot of row.slots) if (slot.dataset.firstSequence === String(ev.base_sequence)) flash(slot, 'hit');
  }
}

function range(a, b) {
  return a === b ? `${a}` : `${a}–${b}`;
}

// ---- groups, transactions, schemas ---------------------------------------------------------

// A value of unknown shape, shortly: what the endpoints will answer is not fixed to the field.
function brief(v) {
  if (v === null || v === undefined) return '—';
  if (Array.isArray(v)) return v.map(brief).join(', ');
  if (typeof v === 'object') return Object.entries(v).map(([k, x]) => `${k}: ${brief(x)}`).join('; ');
  return String(v);
}

function listOf(body, key) {
  if (Array.isArray(body)) return body;
  if (body && Array.isArray(body[key])) return body[key];
  if (body && typeof body[key] === 'object' && body[key]) return Object.values(body[key]);
  return [];
}

// What each panel last drew from (el -> key): the panels are redrawn with the cluster, many
// times a second, and rebuilding an unchanged table would close a <details> the instructor
// opened and drop the tooltip under the mouse.
const drawnFrom = new WeakMap();

// One panel for an endpoint that may not exist yet. result: {status, body, error} of its
// GET, or {replay: what the reducer gathered}. spec: what it shows and how to fill it;
// spec.command is a list of lines (each a <code>); optional: spec.off(body), an empty state
// when the endpoint answers but the feature is turned off, and spec.note(body), a line above
// the table (or the empty state) about the whole.
function renderOptional(el, result, spec, ctx) {
  const key = JSON.stringify([result, ctx.bootstrap]);
  if (drawnFrom.get(el) === key) return;
  drawnFrom.set(el, key);
  if (result.replay) {
    const items = spec.fromReplay(result.replay);
    return fill(el, items.length ? spec.table(items) : emptyState(`No ${spec.noun} events in this trace`, spec.replayHint));
  }
  if (result.status === 404) {
    return fill(el, emptyState(`${spec.title} appear here`, spec.explain,
      `This broker does not serve GET ${spec.path} yet (404): it arrives with ${spec.arrives}. Then ${spec.how}:`, ...spec.command));
  }
  if (!result.status || result.status >= 400) return fill(el, emptyState(`${spec.title}: no answer`, `GET ${spec.path}: ${result.error || result.status}`));
  const off = spec.off && spec.off(result.body);
  if (off) return fill(el, off);
  const items = listOf(result.body, spec.key);
  return fill(el, spec.note && spec.note(result.body),
    items.length ? spec.table(items) : emptyState(`No ${spec.noun}s yet`, `${spec.how[0].toUpperCase()}${spec.how.slice(1)} and it appears here:`, ...spec.command));
}

export function renderGroups(el, result, ctx) {
  renderOptional(el, result, {
    title: 'Consumer groups', noun: 'consumer group', path: '/v1/groups', key: 'groups',
    explain: 'Each group\'s state (Empty, PreparingRebalance, CompletingRebalance, Stable), generation, members and the partitions assigned to them, committed offsets and lag.',
    arrives: 'the group coordinator', how: 'start a consumer in a group',
    command: [code(`minikafka consume --bootstrap-server ${ctx.bootstrap || 'BOOTSTRAP'} --topic demo --group demo-group`)],
    replayHint: 'A trace shows groups once the broker emits group_join, rebalance and offset_commit events (DESIGN.md 3.5).',
    fromReplay: (groups) => Object.values(groups).map((g) => ({...g, members: Object.values(g.members), offsets: Object.values(g.offsets)})),
    table: groupTable,
  }, ctx);
}

export function renderTransactions(el, result, ctx) {
  renderOptional(el, result, {
    title: 'Transactions', noun: 'transaction', path: '/v1/transactions', key: 'transactions',
    explain: 'Each transactional.id with its producer id and epoch, its state (Empty, Ongoing, PrepareCommit, CompleteCommit, ...), its partitions, timeout and age; the cluster panel then marks each partition\'s last stable offset (LSO).',
    arrives: 'the transaction coordinator', how: 'run a transactional producer (minikafka perf, or confluent-kafka\'s)',
    command: [
      code(`minikafka perf --bootstrap-server ${ctx.bootstrap || 'BOOTSTRAP'} --topic demo --num-records 1000 --record-size 100 --throughput 50 --transactional-id demo-tx --transaction-duration-ms 2000`),
      code(`python3 -c "from confluent_kafka import Producer; p = Producer({'bootstrap.servers': '${ctx.bootstrap || 'BOOTSTRAP'}', 'transactional.id': 'demo-tx'}); p.init_transactions(); p.begin_transaction(); p.produce('demo', b'hello'); p.commit_transaction()"`)],
    note: (body) => (body && body.markers_hold
      ? h('p', {class: 'help'}, h('b', {}, 'Markers are held'), ' (the hold_markers fault): a commit or abort stays in PrepareCommit / PrepareAbort, its partitions\' LSO stuck, until release_markers.')
      : null),
    replayHint: 'A trace shows transactions once the broker emits txn_state events (DESIGN.md 3.6).',
    fromReplay: (txns) => Object.values(txns),
    table: txnTable,
  }, ctx);
}

// The registry's subjects. GET /v1/schemas answers {"url": null, "subjects": []} when the
// broker runs with --schema-registry-port -1. A trace holds no schema events: the registry's
// records are the _schemas topic's, whose appends the trace shows only as offsets.
export function renderSchemas(el, result, ctx) {
  const url = (result.body && result.body.url) || 'http://127.0.0.1:8081';
  const bootstrap = ctx.bootstrap || 'BOOTSTRAP';
  const example = '{"type":"record","name":"User","fields":[{"name":"name","type":"string"},{"name":"age","type":"int"}]}';
  const command = [
    code(`curl -s -X POST ${url}/subjects/demo-value/versions -d '${JSON.stringify({schema: example})}'`),
    code(`echo '{"name":"Ann","age":30}' | minikafka produce --bootstrap-server ${bootstrap} --topic demo --value-serializer AvroSerializer --property value.schema='${example}' --property schema.registry.url=${url}`),
  ];
  renderOptional(el, result, {
    title: 'Schemas', noun: 'subject', path: '/v1/schemas', key: 'subjects',
    explain: 'Each subject of the schema registry (usually a topic\'s value or key: demo-value) with its versions, the latest schema\'s id and fields, and the compatibility level a new version must pass.',
    arrives: 'the schema registry', how: 'register a schema (by curl, or let an Avro producer register it)',
    command,
    off: (body) => (body && body.url === null
      ? emptyState('The schema registry is off',
        'This broker runs with --schema-registry-port -1: it serves no registry, and GET /v1/schemas lists no subjects.',
        'Start it without that flag (the registry listens on port 8081 by default; 0 picks a free port and prints it), then register a schema:',
        ...command)
      : null),
    note: (body) => (body && body.url
      ? h('p', {class: 'help schemas-note'}, 'Registry ', code(body.url), ` · global compatibility `, h('b', {}, body.compatibility ?? '—'),
        ` · ${body.subject_count ?? '?'} live subject(s), ${body.schema_count ?? '?'} schema(s) · kept in ${body.topic ?? '_schemas'}-0`,
        body.partition ? ` (leader ${body.partition.leader}, HW ${body.partition.high_watermark})` : '')
      : null),
    replayHint: 'A trace holds no schema registry events (the registry keeps its subjects as records of the _schemas topic, and the trace shows only their offsets); GET /v1/schemas on the live broker lists them.',
    fromReplay: () => [],
    table: schemaTable,
  }, ctx);
}

function groupTable(groups) {
  return h('table', {class: 'grid groups'},
    h('thead', {}, h('tr', {}, ['group', 'state', 'protocol', 'generation', 'members', 'offsets and lag'].map((c) => h('th', {}, c)))),
    h('tbody', {}, groups.map((g) => h('tr', {dataset: {group: g.group_id ?? g.group ?? g.name}},
      h('td', {}, h('b', {}, g.group_id ?? g.group ?? g.name ?? '?')),
      h('td', {}, g.state ?? '—'),
      h('td', {}, g.protocol ?? g.protocol_type ?? '—'),
      h('td', {class: 'num'}, g.generation ?? g.generation_id ?? '—'),
      h('td', {}, brief((g.members || []).map((m) => `${m.client_id || m.member_id}${m.assignment || m.assignments ? ' ← ' + brief(m.assignment || m.assignments) : ''}`))),
      h('td', {}, brief((g.offsets || []).map((o) => `${o.topic}-${o.partition}: ${o.committed_offset ?? o.offset}${o.lag !== undefined ? ` (lag ${o.lag})` : ''}`)))))));
}

function txnTable(txns) {
  return h('table', {class: 'grid transactions'},
    h('thead', {}, h('tr', {}, ['transactional.id', 'producer id', 'epoch', 'state', 'partitions', 'markers to write', 'timeout', 'age'].map((c) => h('th', {}, c)))),
    h('tbody', {}, txns.map((t) => h('tr', {dataset: {transactionalId: t.transactional_id}},
      h('td', {}, h('b', {}, t.transactional_id ?? '?')),
      h('td', {class: 'num'}, t.producer_id ?? '—'),
      h('td', {class: 'num'}, t.epoch ?? t.producer_epoch ?? '—'),
      h('td', {class: 'txn-state'}, t.state ?? '—', t.pending_state ? ` → ${t.pending_state}` : ''),
      h('td', {class: 'txn-partitions'}, brief(t.partitions) || '—'),
      h('td', {}, brief(t.markers_pending) || '—', t.markers_held ? h('b', {}, ' held') : ''),
      h('td', {class: 'num'}, seconds(t.timeout_ms ?? t.timeout)),
      h('td', {class: 'num', title: 'since the transaction began, when the page last asked'}, seconds(t.age_ms ?? t.age))))));
}

// Milliseconds as seconds, shortly ("60 s", "6.6 s"); "—" when unknown.
function seconds(ms) {
  return Number.isFinite(ms) ? `${+(ms / 1000).toFixed(ms < 10000 ? 1 : 0)} s` : '—';
}

function schemaTable(subjects) {
  return h('table', {class: 'grid schemas'},
    h('thead', {}, h('tr', {}, ['subject', 'versions', 'latest', 'id', 'schema (hover or open for all of it)', 'compatibility'].map((c) => h('th', {}, c)))),
    h('tbody', {}, subjects.map((s) => {
      const latest = s.latest || null;
      const versions = s.versions || [];
      return h('tr', {dataset: {subject: s.subject}},
        h('td', {}, h('b', {}, s.subject ?? '?')),
        h('td', {class: 'versions'}, versions.map((v, i) => [i ? ', ' : '',
          h('span', {class: v.deleted ? 'version-deleted' : null, title: `version ${v.version}: schema id ${v.id}${v.deleted ? ' (soft-deleted)' : ''}`}, v.version)])),
        h('td', {class: 'num latest-version'}, latest ? latest.version : '—'),
        h('td', {class: 'num latest-id'}, latest ? latest.id : '—'),
        h('td', {class: 'schema'}, latest ? schemaCell(latest.schema) : h('span', {class: 'muted'}, 'every version deleted')),
        h('td', {}, s.compatibility ?? '—', h('span', {class: 'muted'}, s.compatibility_own ? ' (its own)' : ' (global)')));
    })));
}

// An Avro schema in one line (a record's name and its fields' names and types), the whole
// of it, indented, on hover and in a <details>.
function schemaCell(text) {
  let parsed;
  try {
    parsed = JSON.parse(text);
  } catch (e) {
    return h('span', {title: text}, String(text).slice(0, 120));
  }
  const full = JSON.stringify(parsed, null, 2);
  return h('details', {title: full}, h('summary', {}, avroBrief(parsed, 0)), h('pre', {}, full));
}

function avroBrief(t, depth) {
  if (typeof t === 'string') return t;
  if (Array.isArray(t)) return t.map((x) => avroBrief(x, depth)).join(' | ');
  if (!t || typeof t !== 'object') return String(t);
  const logical = t.logicalType ? ` (${t.logicalType})` : '';
  switch (t.type) {
    case 'record': case 'error':
      return depth > 0 ? t.name : `${t.name} { ${(t.fields || []).map((f) => `${f.name}: ${avroBrief(f.type, depth + 1)}${f.default !== undefined ? ' = ' + JSON.stringify(f.default) : ''}`).join(', ')} }`;
    case 'enum': return `enum ${t.name}`;
    case 'fixed': return `fixed ${t.name}[${t.size}]${logical}`;
    case 'array': return `array<${avroBrief(t.items, depth + 1)}>`;
    case 'map': return `map<${avroBrief(t.values, depth + 1)}>`;
    default: return `${avroBrief(t.type, depth)}${logical}`;
  }
}

// ---- faults -------------------------------------------------------------------------------

// list: GET /v1/faults (live), or the same list as the trace tells it (replay: the
// reducer's toFaults); newest first, drawn oldest first.
export function renderFaults(el, list, {replay}) {
  if (!list || !list.length) {
    fill(el, h('span', {class: 'muted'}, replay ? 'No fault injected yet at this point of the trace.' : 'No faults injected. Pick one above: its curl command is shown below.'));
    return;
  }
  fill(el, list.slice().reverse().map((f) => {
    const where = [f.api, f.broker !== undefined && f.broker !== null ? `broker ${f.broker}` : null,
      f.topic ? `${f.topic}${f.partition !== undefined && f.partition !== null ? '-' + f.partition : ''}` : null, f.error, f.mode,
      f.ms !== undefined ? `${f.ms} ms` : null].filter(Boolean).join(', ');
    const spent = f.armed === false || f.result !== undefined;
    const status = f.result !== undefined ? f.result
      : `fired ${f.fired}×${f.count === null ? ', armed until cleared' : f.armed ? `, ${f.count} more to go` : ', spent'}`;
    return h('span', {class: 'fault-item' + (spent ? ' spent' : '')},
      h('b', {}, `${f.id !== undefined ? '#' + f.id + ' ' : ''}${f.action}`), where ? ` (${where})` : '', status ? ` — ${status}` : '');
  }));
}
