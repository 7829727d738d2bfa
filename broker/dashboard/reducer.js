// The cluster as the trace tells it: a reducer from trace events (DESIGN.md 3.4) to state.
//
// The dashboard keeps one state object and folds every event into it:
//
//   live     state = fromSnapshot(GET /v1/cluster, GET /v1/producers), then
//            applyEvent(state, ev) for each event of GET /v1/events (the SSE stream)
//   replay   state = emptyState(), then applyEvent for each line of a --trace file,
//            up to the scrubber's position
//
// toCluster(state) gives the state back in GET /v1/cluster's shape, so the panels draw a
// live broker and a replayed file with the same code, and a test can compare a replay's
// end state with what the broker reported.
//
// Every update sets a value the event carries (an offset, an ISR, a leader), never adds to
// one, so applying an event twice (one the snapshot already included) is harmless.
//
// What a trace does not say stays unknown (null) in a replay rather than guessed. The
// broker's trace says everything /v1/cluster shows: `broker_state` and `partition_state`
// (broker/state_events.h) give the state where a trace starts and each new partition's,
// and every change after has its event. A trace from before those events existed leaves
// a partition's replicas and leader unknown until something changes them.
//
// Pure: no DOM, no network. Runs in the browser and in node (tests/browser/test_reducer.mjs).

export const BATCHES_TO_RETAIN = 5;  // Kafka's ProducerStateEntry.NUM_BATCHES_TO_RETAIN
const FAULTS_KEPT = 50;

export function emptyState() {
  return {
    ts_us: null,       // the last applied event's time
    events: 0,         // events applied
    brokers: {},       // id -> {id, up, host, port}
    topics: {},        // name -> {name, id, partitions: {index -> partition}}
    producers: {},     // "topic/partition" -> {producer_id -> producer}
    groups: {},        // group id -> {group_id, state, generation, protocol, members, offsets}
    transactions: {},  // transactional id -> {transactional_id, producer_id, epoch, state, ...}
    faults: [],        // GET /v1/faults' list as the events tell it, newest first (FAULTS_KEPT)
    counters: {duplicates: 0, out_of_order: 0, dropped: 0, truncated_records: 0},
  };
}

function newPartition(index) {
  return {
    partition: index,
    leader: null,            // broker id; -1 = no leader; null = not known yet
    leader_epoch: null,
    high_watermark: 0,
    log_start_offset: 0,
    last_stable_offset: null,
    log_end_offset: null,    // the leader's, known from appends even when the leader is not
    isr: null,               // [broker ids] or null when not known
    order: [],               // replica broker ids in assignment order (as far as known)
    replicas: {},            // broker id -> {broker, log_end_offset, log_start_offset, paused, lag_ms}
  };
}

function newReplica(broker) {
  return {broker, log_end_offset: null, log_start_offset: null, paused: false, lag_ms: 0};
}

export function ensureBroker(state, id) {
  if (id === undefined || id === null || id < 0) return null;
  let b = state.brokers[id];
  if (!b) b = state.brokers[id] = {id, up: true, host: null, port: null};
  return b;
}

function ensureTopic(state, name) {
  let t = state.topics[name];
  if (!t) t = state.topics[name] = {name, id: null, partitions: {}};
  return t;
}

export function ensurePartition(state, topic, index) {
  if (typeof topic !== 'string' || !Number.isInteger(index) || index < 0) return null;
  const t = ensureTopic(state, topic);
  let p = t.partitions[index];
  if (!p) p = t.partitions[index] = newPartition(index);
  return p;
}

export function findPartition(state, topic, index) {
  const t = state.topics[topic];
  return t ? t.partitions[index] || null : null;
}

function ensureReplica(state, p, broker) {
  if (!Number.isInteger(broker) || broker < 0) return null;
  ensureBroker(state, broker);
  let r = p.replicas[broker];
  if (!r) {
    r = p.replicas[broker] = newReplica(broker);
    p.order.push(broker);
  }
  return r;
}

function setIsr(state, p, isr) {
  if (!Array.isArray(isr)) return;
  p.isr = isr.slice();
  for (const id of isr) ensureReplica(state, p, id);
}

// The leader's log end offset moved: it is also the partition's.
function setLeaderEnd(state, p, leo) {
  p.log_end_offset = leo;
  if (Number.isInteger(p.leader) && p.leader >= 0) ensureReplica(state, p, p.leader).log_end_offset = leo;
}

// DefaultRecordBatch.incrementSequence: sequences wrap at Integer.MAX_VALUE.
export function lastSequence(base, records) {
  const last = base + records - 1;
  return last > 2147483647 ? last - 2147483648 : last;
}

// ProducerStateEntry: a new epoch forgets the batches; each batch is remembered, five at most.
function producerAppend(state, ev) {
  const pid = ev.producer_id;
  if (!Number.isInteger(pid) || pid < 0 || !Number.isInteger(ev.base_sequence) || ev.base_sequence < 0) return;
  const key = ev.topic + '/' + ev.partition;
  const table = state.producers[key] || (state.producers[key] = {});
  let e = table[pid];
  if (!e) e = table[pid] = {producer_id: pid, epoch: ev.producer_epoch, last_sequence: -1, last_offset: -1, batches: []};
  if (ev.producer_epoch !== e.epoch) {
    e.epoch = ev.producer_epoch;
    e.batches = [];
  }
  const batch = {
    first_sequence: ev.base_sequence,
    last_sequence: lastSequence(ev.base_sequence, ev.records || 1),
    first_offset: ev.base_offset,
    last_offset: ev.last_offset,
  };
  // The same batch twice (an event the snapshot already held) is remembered once.
  if (e.batches.some((b) => b.first_sequence === batch.first_sequence && b.first_offset === batch.first_offset)) return;
  e.batches.push(batch);
  if (e.batches.length > BATCHES_TO_RETAIN) e.batches.shift();
  e.last_sequence = batch.last_sequence;
  e.last_offset = batch.last_offset;
}

const REQUEST_FAULTS = ['drop_response', 'error', 'delay'];

// A fault as GET /v1/faults lists it, from a fault_armed or fault event: the fields the
// event has, in the list's shape (count null = until cleared).
function faultEntry(ev, fired) {
  const f = {id: ev.id, action: ev.action, fired};
  for (const k of ['api', 'error', 'mode', 'ms', 'broker', 'topic', 'partition', 'unclean'])
    if (ev[k] !== undefined) f[k] = ev[k];
  if (REQUEST_FAULTS.includes(ev.action)) {
    f.count = Number.isInteger(ev.count) && ev.count >= 0 ? ev.count : null;
    f.armed = f.count !== 0;
  } else {
    f.result = ev.what;
  }
  return f;
}

// fault_armed adds a request fault; each firing counts on it (or, for a trace that began
// after it was armed, adds it); a cluster action is listed done; faults_clear forgets all.
function rememberFault(state, ev, armed) {
  const known = state.faults.find((f) => f.id === ev.id);
  if (armed || !known || !REQUEST_FAULTS.includes(ev.action)) {
    if (known) state.faults.splice(state.faults.indexOf(known), 1);
    state.faults.unshift(faultEntry(ev, armed ? 0 : 1));
    if (state.faults.length > FAULTS_KEPT) state.faults.pop();
    return;
  }
  known.fired++;
  known.count = Number.isInteger(ev.count) && ev.count >= 0 ? ev.count : null;
  known.armed = known.count !== 0;
}

function setBrokerUp(state, id, up) {
  const b = ensureBroker(state, id);
  if (b) b.up = up;
}

// A broker that copies, rejoins the ISR or takes the lead is up. The broker traces a fault
// after doing it, so a broker_up's isr_expand events come before its `fault` line; this
// keeps a replay from showing a broker down while it rejoins the ISR.
function acts(state, id) {
  if (Number.isInteger(id) && id >= 0) setBrokerUp(state, id, true);
}

// Replicas of partitions the fault names (follower_pause/resume/lag), for their flags.
function replicasNamed(state, ev) {
  const out = [];
  for (const t of Object.values(state.topics)) {
    if (ev.topic && t.name !== ev.topic) continue;
    for (const p of Object.values(t.partitions)) {
      if (Number.isInteger(ev.partition) && p.partition !== ev.partition) continue;
      const r = p.replicas[ev.broker];
      if (r && p.leader !== ev.broker) out.push(r);
    }
  }
  return out;
}

function applyFault(state, ev) {
  rememberFault(state, ev, false);
  switch (ev.action) {
    case 'broker_down': setBrokerUp(state, ev.broker, false); return 'broker';
    case 'broker_up': setBrokerUp(state, ev.broker, true); return 'broker';
    case 'follower_pause':
    case 'follower_resume': {
      const p = findPartition(state, ev.topic, ev.partition);
      const r = p && ensureReplica(state, p, ev.broker);
      if (r) r.paused = ev.action === 'follower_pause';
      return 'replica';
    }
    case 'follower_lag':
      if (Number.isInteger(ev.ms)) for (const r of replicasNamed(state, ev)) r.lag_ms = ev.ms;
      return 'replica';
    default:
      return 'fault';
  }
}

// partition_state: everything about one partition at once (a topic's creation, or the
// state at the start of a trace). Fields as in GET /v1/cluster; replicas may be objects
// ({broker, log_end_offset}) or bare broker ids.
function applyPartitionState(state, ev) {
  const p = ensurePartition(state, ev.topic, ev.partition);
  if (!p) return null;
  if (ev.topic_id) state.topics[ev.topic].id = ev.topic_id;
  if (Array.isArray(ev.replicas)) {
    p.order = [];
    const old = p.replicas;
    p.replicas = {};
    for (const r of ev.replicas) {
      const id = typeof r === 'number' ? r : r.broker;
      const rep = ensureReplica(state, p, id);
      if (!rep) continue;
      const before = old[id];
      if (before) Object.assign(rep, before);
      if (typeof r === 'object') {
        if (Number.isInteger(r.log_end_offset)) rep.log_end_offset = r.log_end_offset;
        if (typeof r.paused === 'boolean') rep.paused = r.paused;
        if (Number.isInteger(r.lag_ms)) rep.lag_ms = r.lag_ms;
      }
    }
  }
  if (Number.isInteger(ev.leader)) p.leader = ev.leader;
  if (Number.isInteger(ev.leader_epoch)) p.leader_epoch = ev.leader_epoch;
  if (Number.isInteger(ev.high_watermark)) p.high_watermark = ev.high_watermark;
  if (Number.isInteger(ev.log_start_offset)) p.log_start_offset = ev.log_start_offset;
  if (Number.isInteger(ev.last_stable_offset)) p.last_stable_offset = ev.last_stable_offset;
  if (Array.isArray(ev.isr)) setIsr(state, p, ev.isr);
  const leader = Number.isInteger(p.leader) && p.leader >= 0 ? p.replicas[p.leader] : null;
  if (leader && leader.log_end_offset !== null) p.log_end_offset = leader.log_end_offset;
  else if (Number.isInteger(ev.log_end_offset)) setLeaderEnd(state, p, ev.log_end_offset);
  return 'topic';
}

function groupOf(state, ev) {
  const id = ev.group_id !== undefined ? ev.group_id : ev.group;
  if (typeof id !== 'string') return null;
  let g = state.groups[id];
  if (!g) g = state.groups[id] = {group_id: id, state: null, generation: null, protocol: null, members: {}, offsets: {}};
  return g;
}

function applyGroupEvent(state, ev) {
  const g = groupOf(state, ev);
  if (!g) return null;
  if (Number.isInteger(ev.generation)) g.generation = ev.generation;
  if (Number.isInteger(ev.generation_id)) g.generation = ev.generation_id;
  if (typeof ev.protocol === 'string') g.protocol = ev.protocol;
  switch (ev.event) {
    case 'group_join':
    case 'group_sync':
      if (typeof ev.member_id === 'string') {
        const m = g.members[ev.member_id] || (g.members[ev.member_id] = {member_id: ev.member_id});
        if (ev.client_id !== undefined) m.client_id = ev.client_id;
        if (ev.assignment !== undefined) m.assignment = ev.assignment;
      }
      if (typeof ev.state === 'string') g.state = ev.state;
      break;
    case 'rebalance':
      if (typeof ev.to === 'string') g.state = ev.to;
      break;
    case 'member_expired':
    case 'group_leave':
      delete g.members[ev.member_id];
      break;
    case 'offset_commit':
      if (typeof ev.topic === 'string' && Number.isInteger(ev.partition))
        g.offsets[ev.topic + '/' + ev.partition] = {topic: ev.topic, partition: ev.partition, offset: ev.offset};
      break;
  }
  return 'group';
}

function applyTxnState(state, ev) {
  const id = ev.transactional_id;
  if (typeof id !== 'string') return null;
  const t = state.transactions[id] || (state.transactions[id] = {transactional_id: id, state: null, producer_id: null, epoch: null, partitions: []});
  if (typeof ev.to === 'string') t.state = ev.to;
  if (Number.isInteger(ev.producer_id)) t.producer_id = ev.producer_id;
  if (Number.isInteger(ev.producer_epoch)) t.epoch = ev.producer_epoch;
  if (Array.isArray(ev.partitions)) t.partitions = ev.partitions.slice();
  return 'transaction';
}

// Fold one event into state (changing it). Returns what kind of thing changed, for the
// panels' animations ('hw', 'leo', 'leader', 'isr', 'broker', 'topic', 'producer',
// 'duplicate', 'fault', ...), or null when the event changes no state (requests,
// responses, the producer's own events).
export function applyEvent(state, ev) {
  if (!ev || typeof ev !== 'object' || typeof ev.event !== 'string') return null;
  if (typeof ev.ts_us === 'number') state.ts_us = ev.ts_us;
  state.events++;
  if (ev.side === 'producer') return null;  // the client's view; the broker's events carry the state
  switch (ev.event) {
    case 'append': {
      const p = ensurePartition(state, ev.topic, ev.partition);
      if (!p || !Number.isInteger(ev.last_offset)) return null;
      if (Number.isInteger(ev.broker) && ev.broker >= 0 && p.leader === null) p.leader = ev.broker;
      setLeaderEnd(state, p, ev.last_offset + 1);
      producerAppend(state, ev);
      return 'leo';
    }
    case 'duplicate':
      state.counters.duplicates++;
      return 'duplicate';
    case 'out_of_order':
      state.counters.out_of_order++;
      return 'out_of_order';
    case 'replicate': {
      const p = ensurePartition(state, ev.topic, ev.partition);
      const r = p && ensureReplica(state, p, ev.broker);
      if (!r || !Number.isInteger(ev.log_end_offset)) return null;
      r.log_end_offset = ev.log_end_offset;
      acts(state, ev.broker);
      return 'leo';
    }
    case 'hw_advance': {
      const p = ensurePartition(state, ev.topic, ev.partition);
      if (!p || !Number.isInteger(ev.high_watermark)) return null;
      p.high_watermark = ev.high_watermark;
      // The LSO follows the HW unless a transaction holds it; the broker says where it is.
      if (Number.isInteger(ev.last_stable_offset)) p.last_stable_offset = ev.last_stable_offset;
      return 'hw';
    }
    case 'lso_advance': {
      const p = ensurePartition(state, ev.topic, ev.partition);
      const lso = Number.isInteger(ev.last_stable_offset) ? ev.last_stable_offset : ev.offset;
      if (!p || !Number.isInteger(lso)) return null;
      p.last_stable_offset = lso;
      return 'hw';
    }
    case 'isr_shrink':
    case 'isr_expand': {
      const p = ensurePartition(state, ev.topic, ev.partition);
      if (!p) return null;
      ensureReplica(state, p, ev.broker);
      setIsr(state, p, ev.isr);
      if (ev.event === 'isr_expand') acts(state, ev.broker);
      return 'isr';
    }
    case 'leader_change': {
      const p = ensurePartition(state, ev.topic, ev.partition);
      if (!p) return null;
      if (Number.isInteger(ev.from)) ensureReplica(state, p, ev.from);
      if (Number.isInteger(ev.leader)) {
        p.leader = ev.leader;
        acts(state, ev.leader);
        if (ev.leader >= 0) {
          const r = ensureReplica(state, p, ev.leader);
          if (r.log_end_offset !== null) p.log_end_offset = r.log_end_offset;
        }
      }
      if (Number.isInteger(ev.leader_epoch)) p.leader_epoch = ev.leader_epoch;
      // A new leader's high watermark is its own, which may be below the old leader's.
      if (Number.isInteger(ev.high_watermark)) p.high_watermark = ev.high_watermark;
      if (Number.isInteger(ev.last_stable_offset)) p.last_stable_offset = ev.last_stable_offset;
      if (Number.isInteger(ev.leader) && ev.leader >= 0) {
        const r = p.replicas[ev.leader];
        if (r && r.log_start_offset !== null) p.log_start_offset = r.log_start_offset;
      }
      setIsr(state, p, ev.isr);
      return 'leader';
    }
    case 'truncate': {
      const p = ensurePartition(state, ev.topic, ev.partition);
      const r = p && ensureReplica(state, p, ev.broker);
      if (!r || !Number.isInteger(ev.to)) return null;
      r.log_end_offset = ev.to;
      if (p.leader === ev.broker) p.log_end_offset = ev.to;
      if (Number.isInteger(ev.lost_records)) state.counters.truncated_records += ev.lost_records;
      return 'leo';
    }
    case 'retention': {
      const p = ensurePartition(state, ev.topic, ev.partition);
      const r = p && ensureReplica(state, p, ev.broker);
      if (!r || !Number.isInteger(ev.log_start_offset)) return null;
      r.log_start_offset = ev.log_start_offset;
      if (p.leader === ev.broker || p.leader === null) p.log_start_offset = ev.log_start_offset;
      return 'leo';
    }
    case 'response_dropped':
      state.counters.dropped++;
      return 'fault';
    case 'fault':
      return applyFault(state, ev);
    case 'fault_armed':
      rememberFault(state, ev, true);
      return 'fault';
    case 'faults_clear':
      state.faults = [];
      return 'fault';
    // The broker's state as it is (broker/state_events.h), and the events that make a
    // replay exact where it could otherwise only infer (broker/dashboard/README.md).
    case 'broker_down': setBrokerUp(state, ev.broker, false); return 'broker';
    case 'broker_up': setBrokerUp(state, ev.broker, true); return 'broker';
    case 'broker_state': {
      const b = ensureBroker(state, ev.broker);
      if (!b) return null;
      if (typeof ev.up === 'boolean') b.up = ev.up;
      if (typeof ev.host === 'string') b.host = ev.host;
      if (Number.isInteger(ev.port)) b.port = ev.port;
      return 'broker';
    }
    case 'partition_state':
      return applyPartitionState(state, ev);
    case 'topic_delete':
      if (typeof ev.topic !== 'string') return null;
      delete state.topics[ev.topic];
      for (const key of Object.keys(state.producers)) if (key.startsWith(ev.topic + '/')) delete state.producers[key];
      return 'topic';
    case 'reset': {
      const brokers = state.brokers;
      const fresh = emptyState();
      Object.assign(state, fresh, {ts_us: state.ts_us, events: state.events, brokers});
      for (const b of Object.values(brokers)) b.up = true;
      return 'topic';
    }
    case 'group_join': case 'group_sync': case 'rebalance': case 'member_expired':
    case 'group_leave': case 'offset_commit':
      return applyGroupEvent(state, ev);
    case 'txn_state':
      return applyTxnState(state, ev);
    default:
      return null;
  }
}

// Build a state from GET /v1/cluster (and optionally GET /v1/producers) answers.
export function fromSnapshot(cluster, producers) {
  const state = emptyState();
  for (const b of (cluster && cluster.brokers) || []) {
    state.brokers[b.id] = {id: b.id, up: b.up !== false, host: b.host ?? null, port: b.port ?? null};
  }
  for (const t of (cluster && cluster.topics) || []) {
    const topic = ensureTopic(state, t.name);
    topic.id = t.id ?? null;
    for (const part of t.partitions || []) {
      applyPartitionState(state, {...part, topic: t.name, topic_id: t.id});
    }
  }
  if (producers) applyProducerSnapshot(state, producers);
  return state;
}

// Replace the producer tables with a GET /v1/producers answer.
export function applyProducerSnapshot(state, producers) {
  state.producers = {};
  for (const t of producers.topics || []) {
    for (const part of t.partitions || []) {
      if (!part.producers || !part.producers.length) continue;
      const table = state.producers[t.name + '/' + part.partition] = {};
      for (const pr of part.producers) {
        table[pr.producer_id] = {
          producer_id: pr.producer_id, epoch: pr.epoch, last_sequence: pr.last_sequence,
          last_offset: pr.last_offset,
          batches: (pr.batches || []).map((b) => ({
            first_sequence: b.first_sequence, last_sequence: b.last_sequence,
            first_offset: b.first_offset, last_offset: b.last_offset,
          })),
        };
      }
    }
  }
}

// The state in GET /v1/cluster's shape (brokers by id, topics by name, partitions by
// index, replicas in assignment order). Unknown values are null.
export function toCluster(state) {
  const brokers = Object.values(state.brokers).sort((a, b) => a.id - b.id)
    .map((b) => ({id: b.id, host: b.host, port: b.port, up: b.up}));
  const topics = Object.values(state.topics).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))
    .map((t) => ({
      name: t.name,
      id: t.id,
      partitions: Object.values(t.partitions).sort((a, b) => a.partition - b.partition).map((p) => {
        const leader = Number.isInteger(p.leader) && p.leader >= 0 ? p.replicas[p.leader] : null;
        const leaderEnd = leader && leader.log_end_offset !== null ? leader.log_end_offset : p.log_end_offset;
        const out = {
          partition: p.partition,
          leader: p.leader,
          leader_epoch: p.leader_epoch,
          high_watermark: p.high_watermark,
          log_start_offset: p.log_start_offset,
          log_end_offset: leaderEnd,
          isr: p.isr ? p.isr.slice() : null,
          replicas: p.order.map((id) => {
            const r = p.replicas[id];
            return {
              broker: id,
              log_end_offset: r.log_end_offset,
              caught_up: r.log_end_offset !== null && leaderEnd !== null && r.log_end_offset === leaderEnd,
              paused: r.paused,
              lag_ms: r.lag_ms,
            };
          }),
        };
        if (p.last_stable_offset !== null) out.last_stable_offset = p.last_stable_offset;
        return out;
      }),
    }));
  return {brokers, topics};
}

// The faults in GET /v1/faults' shape (newest first), as far as the events told them.
export function toFaults(state) {
  return state.faults.map((f) => ({...f}));
}

// The producer tables in GET /v1/producers' shape (only partitions that have producers).
export function toProducers(state) {
  const topics = {};
  for (const [key, table] of Object.entries(state.producers)) {
    const slash = key.lastIndexOf('/');
    const name = key.slice(0, slash), partition = Number(key.slice(slash + 1));
    const t = topics[name] || (topics[name] = {name, partitions: []});
    t.partitions.push({
      partition,
      producers: Object.values(table).sort((a, b) => a.producer_id - b.producer_id).map((e) => ({
        producer_id: e.producer_id, epoch: e.epoch, last_sequence: e.last_sequence,
        last_offset: e.last_offset, batches: e.batches.map((b) => ({...b})),
      })),
    });
  }
  return {
    topics: Object.values(topics).sort((a, b) => (a.name < b.name ? -1 : 1)).map((t) => ({
      name: t.name, partitions: t.partitions.sort((a, b) => a.partition - b.partition),
    })),
  };
}

// Parse a --trace file's text: one JSON object per line; blank lines are skipped. A saved
// event stream (curl -N .../v1/events > FILE) works too: "data: " is stripped and SSE
// comments (": ...") are skipped. Returns {events, errors: [{line, message}], bad} (at most
// 20 errors are kept; bad counts them all).
export function parseTrace(text) {
  const events = [];
  const errors = [];
  let bad = 0;
  let start = 0;
  let line = 0;
  while (start <= text.length) {
    let end = text.indexOf('\n', start);
    if (end < 0) end = text.length;
    line++;
    let s = text.slice(start, end).trim();
    start = end + 1;
    if (!s || s[0] === ':') continue;
    if (s.startsWith('data:')) s = s.slice(5).trim();
    try {
      const ev = JSON.parse(s);
      if (ev && typeof ev === 'object' && typeof ev.event === 'string') events.push(ev);
      else throw new Error('not a trace event (no "event" field)');
    } catch (e) {
      bad++;
      if (errors.length < 20) errors.push({line, message: e.message});
    }
  }
  return {events, errors, bad};
}

// The state after the first n events (all of them by default).
export function replay(events, n = events.length) {
  const state = emptyState();
  for (let i = 0; i < n && i < events.length; i++) applyEvent(state, events[i]);
  return state;
}
