// The tabs' read-only panels: producers (GET /v1/producers), consumer groups
// (GET /v1/groups, DESIGN.md 3.5), transactions (GET /v1/transactions, 3.6) and the
// faults injected so far (GET /v1/faults). The groups and transactions endpoints come
// later than this page: until the broker serves them, their panels say what would appear
// and how to make it appear.

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

// ---- groups and transactions --------------------------------------------------------------

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

// One panel for an endpoint that may not exist yet. result: {status, body, error} of its
// GET, or {replay: what the reducer gathered}. spec: what it shows and how to fill it.
function renderOptional(el, result, spec) {
  if (result.replay) {
    const items = spec.fromReplay(result.replay);
    return fill(el, items.length ? spec.table(items) : emptyState(`No ${spec.noun} events in this trace`, spec.replayHint));
  }
  if (result.status === 404) {
    return fill(el, emptyState(`${spec.title} appear here`, spec.explain,
      `This broker does not serve GET ${spec.path} yet (404): it arrives with ${spec.arrives}. Then ${spec.how}:`, spec.command));
  }
  if (!result.status || result.status >= 400) return fill(el, emptyState(`${spec.title}: no answer`, `GET ${spec.path}: ${result.error || result.status}`));
  const items = listOf(result.body, spec.key);
  return fill(el, items.length ? spec.table(items) : emptyState(`No ${spec.noun}s yet`, `${spec.how[0].toUpperCase()}${spec.how.slice(1)} and it appears here:`, spec.command));
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
  });
}

export function renderTransactions(el, result, ctx) {
  renderOptional(el, result, {
    title: 'Transactions', noun: 'transaction', path: '/v1/transactions', key: 'transactions',
    explain: 'Each transactional.id with its producer id and epoch, its state (Empty, Ongoing, PrepareCommit, CompleteCommit, ...), its partitions, timeout and age; the cluster panel then marks each partition\'s last stable offset (LSO).',
    arrives: 'the transaction coordinator', how: 'run a transactional producer',
    command: [code(`minikafka perf --bootstrap-server ${ctx.bootstrap || 'BOOTSTRAP'} --topic demo --num-records 1000 --record-size 100 --throughput 50 --transactional-id demo-tx --transaction-duration-ms 2000`)],
    replayHint: 'A trace shows transactions once the broker emits txn_state events (DESIGN.md 3.6).',
    fromReplay: (txns) => Object.values(txns),
    table: txnTable,
  });
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
    h('thead', {}, h('tr', {}, ['transactional.id', 'producer id', 'epoch', 'state', 'partitions', 'timeout', 'age'].map((c) => h('th', {}, c)))),
    h('tbody', {}, txns.map((t) => h('tr', {},
      h('td', {}, h('b', {}, t.transactional_id ?? '?')),
      h('td', {class: 'num'}, t.producer_id ?? '—'),
      h('td', {class: 'num'}, t.epoch ?? t.producer_epoch ?? '—'),
      h('td', {}, t.state ?? '—'),
      h('td', {}, brief(t.partitions)),
      h('td', {class: 'num'}, t.timeout_ms ?? t.timeout ?? '—'),
      h('td', {class: 'num'}, t.age_ms ?? t.age ?? '—')))));
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
