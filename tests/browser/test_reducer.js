// The dashboard's replay reducer (broker/dashboard/reducer.js) in node, without a browser:
// snapshots in and out, each trace event's effect, the producer window, and parsing.
// Run: node tests/browser/test_reducer.js   (meson test reducer)
import {test} from 'node:test';
import assert from 'node:assert/strict';

import {
  emptyState, applyEvent, fromSnapshot, toCluster, toProducers, toFaults, parseTrace, replay,
  lastSequence,
} from '../../broker/dashboard/reducer.js';
import {describe as describeEvent, kindOf, KIND} from '../../broker/dashboard/events.js';

// GET /v1/cluster as the broker answers it (DESIGN.md 3.2), one topic of two partitions.
const CLUSTER = {
  cluster_id: 'x',
  brokers: [
    {id: 0, host: '127.0.0.1', port: 9092, up: true},
    {id: 1, host: '127.0.0.1', port: 9093, up: true},
    {id: 2, host: '127.0.0.1', port: 9094, up: false},
  ],
  topics: [{name: 'orders', id: 'abc', partitions: [
    {partition: 0, leader: 1, leader_epoch: 2, high_watermark: 10, log_start_offset: 0, isr: [1, 0],
      replicas: [
        {broker: 1, log_end_offset: 12, caught_up: true, paused: false, lag_ms: 0},
        {broker: 0, log_end_offset: 10, caught_up: false, paused: false, lag_ms: 0},
        {broker: 2, log_end_offset: 4, caught_up: false, paused: true, lag_ms: 0}]},
    {partition: 1, leader: 0, leader_epoch: 0, high_watermark: 0, log_start_offset: 0, isr: [0, 1, 2],
      replicas: [
        {broker: 0, log_end_offset: 0, caught_up: true, paused: false, lag_ms: 0},
        {broker: 1, log_end_offset: 0, caught_up: true, paused: false, lag_ms: 0},
        {broker: 2, log_end_offset: 0, caught_up: true, paused: false, lag_ms: 0}]},
  ]}],
};

const ev = (event, fields) => ({ts_us: 1000, side: 'broker', event, ...fields});

function partition(state, topic, index) {
  return toCluster(state).topics.find((t) => t.name === topic).partitions.find((p) => p.partition === index);
}

test('a /v1/cluster snapshot comes back out in the same shape', () => {
  const out = toCluster(fromSnapshot(CLUSTER));
  assert.deepEqual(out.brokers, CLUSTER.brokers);
  const [t] = out.topics;
  assert.equal(t.name, 'orders');
  assert.equal(t.id, 'abc');
  for (let i = 0; i < 2; i++) {
    const want = CLUSTER.topics[0].partitions[i];
    const got = t.partitions[i];
    for (const k of ['partition', 'leader', 'leader_epoch', 'high_watermark', 'log_start_offset', 'isr'])
      assert.deepEqual(got[k], want[k], `${k} of partition ${i}`);
    assert.deepEqual(got.replicas, want.replicas, `replicas of partition ${i}`);
  }
  assert.equal(t.partitions[0].log_end_offset, 12, 'the leader\'s log end offset is the partition\'s');
});

test('append, replicate and hw_advance move the offsets', () => {
  const s = fromSnapshot(CLUSTER);
  assert.equal(applyEvent(s, ev('append', {topic: 'orders', partition: 1, base_offset: 0, last_offset: 4,
    records: 5, producer_id: -1, producer_epoch: -1, base_sequence: -1})), 'leo');
  let p = partition(s, 'orders', 1);
  assert.equal(p.replicas[0].log_end_offset, 5, 'the leader (broker 0) has offsets 0-4');
  assert.equal(p.replicas[1].caught_up, false);
  applyEvent(s, ev('replicate', {topic: 'orders', partition: 1, broker: 1, from_offset: 0, log_end_offset: 5}));
  applyEvent(s, ev('hw_advance', {topic: 'orders', partition: 1, from: 0, high_watermark: 5}));
  p = partition(s, 'orders', 1);
  assert.equal(p.replicas[1].log_end_offset, 5);
  assert.equal(p.replicas[1].caught_up, true);
  assert.equal(p.replicas[2].log_end_offset, 0, 'broker 2 has not copied yet');
  assert.equal(p.high_watermark, 5);
  assert.deepEqual(toProducers(s).topics, [], 'a non-idempotent batch leaves no producer state');
  assert.equal(s.events, 3);
  assert.equal(s.ts_us, 1000);
});

test('transactions: the LSO from hw_advance, lso_advance and leader_change; txn_state', () => {
  const s = fromSnapshot(CLUSTER);
  // A transaction holds the LSO at 2 while the HW moves on; hw_advance says where it is.
  applyEvent(s, ev('hw_advance', {topic: 'orders', partition: 1, from: 0, high_watermark: 5,
    last_stable_offset: 2}));
  assert.equal(partition(s, 'orders', 1).last_stable_offset, 2);
  assert.equal(partition(s, 'orders', 1).high_watermark, 5);
  // The marker replicated: both move.
  assert.equal(applyEvent(s, ev('lso_advance', {topic: 'orders', partition: 1, from: 2,
    last_stable_offset: 7, high_watermark: 7})), 'hw');
  assert.equal(partition(s, 'orders', 1).last_stable_offset, 7);
  applyEvent(s, ev('leader_change', {topic: 'orders', partition: 1, from: 0, leader: 1,
    leader_epoch: 1, unclean: false, isr: [1, 2], high_watermark: 6, last_stable_offset: 4}));
  assert.equal(partition(s, 'orders', 1).last_stable_offset, 4, 'a new leader brings its own LSO');
  assert.equal(applyEvent(s, ev('txn_state', {transactional_id: 'tx', from: 'Ongoing',
    to: 'PrepareCommit', producer_id: 1000, producer_epoch: 3, partitions: ['orders-1']})), 'transaction');
  assert.deepEqual(s.transactions.tx, {transactional_id: 'tx', state: 'PrepareCommit',
    producer_id: 1000, epoch: 3, partitions: ['orders-1']});
  assert.match(describeEvent(ev('txn_marker', {topic: 'orders', partition: 1, offset: 6,
    result: 'commit', producer_id: 1000})), /COMMIT marker of producer 1000 at offset 6/);
  assert.match(describeEvent(ev('txn_state', {transactional_id: 'tx', from: 'Ongoing',
    to: 'PrepareEpochFence', producer_id: 1000, producer_epoch: 4})), /tx: Ongoing → PrepareEpochFence/);
});

test('ISR changes, a leader change and a truncation', () => {
  const s = fromSnapshot(CLUSTER);
  assert.equal(applyEvent(s, ev('isr_shrink', {topic: 'orders', partition: 1, broker: 2, isr: [0, 1]})), 'isr');
  assert.deepEqual(partition(s, 'orders', 1).isr, [0, 1]);
  applyEvent(s, ev('isr_expand', {topic: 'orders', partition: 1, broker: 2, isr: [0, 1, 2]}));
  assert.deepEqual(partition(s, 'orders', 1).isr, [0, 1, 2]);
  assert.equal(applyEvent(s, ev('leader_change', {topic: 'orders', partition: 0, from: 1, leader: 0,
    leader_epoch: 3, unclean: false, isr: [0]})), 'leader');
  let p = partition(s, 'orders', 0);
  assert.equal(p.leader, 0);
  assert.equal(p.leader_epoch, 3);
  assert.deepEqual(p.isr, [0]);
  assert.equal(p.log_end_offset, 10, 'the new leader\'s log is now the partition\'s');
  applyEvent(s, ev('truncate', {topic: 'orders', partition: 0, broker: 1, from: 12, to: 10, lost_records: 2}));
  p = partition(s, 'orders', 0);
  assert.equal(p.replicas.find((r) => r.broker === 1).log_end_offset, 10);
  assert.equal(p.replicas.find((r) => r.broker === 1).caught_up, true);
  assert.equal(s.counters.truncated_records, 2);
  applyEvent(s, ev('leader_change', {topic: 'orders', partition: 0, from: 0, leader: -1, leader_epoch: 4, isr: [0]}));
  assert.equal(partition(s, 'orders', 0).leader, -1, 'no leader at all is -1, as the broker says');
});

test('fault events: brokers down and up, followers paused and lagging', () => {
  const s = fromSnapshot(CLUSTER);
  assert.equal(applyEvent(s, ev('fault', {id: 1, action: 'broker_down', broker: 0, what: 'broker 0 is down'})), 'broker');
  assert.equal(toCluster(s).brokers[0].up, false);
  applyEvent(s, ev('fault', {id: 2, action: 'broker_up', broker: 2, what: 'broker 2 is up'}));
  assert.equal(toCluster(s).brokers[2].up, true);
  applyEvent(s, ev('fault', {id: 3, action: 'follower_resume', broker: 2, topic: 'orders', partition: 0}));
  assert.equal(partition(s, 'orders', 0).replicas[2].paused, false);
  applyEvent(s, ev('fault', {id: 4, action: 'follower_pause', broker: 2, topic: 'orders', partition: 1}));
  assert.equal(partition(s, 'orders', 1).replicas[2].paused, true);
  applyEvent(s, ev('fault', {id: 5, action: 'follower_lag', broker: 2, ms: 500}));
  assert.equal(partition(s, 'orders', 0).replicas[2].lag_ms, 500);
  assert.equal(partition(s, 'orders', 1).replicas[2].lag_ms, 500);
  assert.equal(partition(s, 'orders', 1).replicas[0].lag_ms, 0, 'a leader does not lag');
  assert.equal(applyEvent(s, ev('fault', {id: 6, action: 'drop_response', api: 'Produce', what: 'x'})), 'fault');
  assert.deepEqual(toFaults(s).map((f) => f.id), [6, 5, 4, 3, 2, 1], 'newest first, as GET /v1/faults');
  // a broker that copies, rejoins the ISR or leads is up, whatever order the lines came in
  applyEvent(s, ev('fault', {id: 7, action: 'broker_down', broker: 1, what: 'broker 1 is down'}));
  applyEvent(s, ev('isr_expand', {topic: 'orders', partition: 0, broker: 1, isr: [0, 1]}));
  assert.equal(toCluster(s).brokers[1].up, true, 'isr_expand');
  applyEvent(s, ev('fault', {id: 8, action: 'broker_down', broker: 1, what: 'broker 1 is down'}));
  applyEvent(s, ev('replicate', {topic: 'orders', partition: 0, broker: 1, from_offset: 0, log_end_offset: 12}));
  assert.equal(toCluster(s).brokers[1].up, true, 'replicate');
  applyEvent(s, ev('fault', {id: 9, action: 'broker_down', broker: 1, what: 'broker 1 is down'}));
  applyEvent(s, ev('leader_change', {topic: 'orders', partition: 0, from: 0, leader: 1, leader_epoch: 9, isr: [1]}));
  assert.equal(toCluster(s).brokers[1].up, true, 'leader_change');
  // broker_down / broker_up, written before their effects
  applyEvent(s, ev('broker_down', {broker: 1}));
  assert.equal(toCluster(s).brokers[1].up, false);
  applyEvent(s, ev('broker_up', {broker: 1}));
  assert.equal(toCluster(s).brokers[1].up, true);
});

test('the fault list as GET /v1/faults shows it: armed, fired, spent, cleared, reset', () => {
  const s = fromSnapshot(CLUSTER);
  applyEvent(s, ev('fault_armed', {id: 1, action: 'drop_response', api: 'Produce', count: 2, mode: 'close'}));
  applyEvent(s, ev('fault_armed', {id: 2, action: 'delay', api: 'Fetch', ms: 300, count: -1}));
  assert.deepEqual(toFaults(s), [
    {id: 2, action: 'delay', fired: 0, api: 'Fetch', ms: 300, count: null, armed: true},
    {id: 1, action: 'drop_response', fired: 0, api: 'Produce', mode: 'close', count: 2, armed: true},
  ]);
  applyEvent(s, ev('fault', {id: 1, action: 'drop_response', api: 'Produce', count: 1, mode: 'close', what: 'Produce request, correlation id 4'}));
  applyEvent(s, ev('fault', {id: 1, action: 'drop_response', api: 'Produce', count: 0, mode: 'close', what: 'Produce request, correlation id 5'}));
  applyEvent(s, ev('fault', {id: 2, action: 'delay', api: 'Fetch', ms: 300, count: -1, what: 'Fetch request, correlation id 9'}));
  applyEvent(s, ev('fault', {id: 3, action: 'follower_lag', broker: 2, ms: 400, what: 'broker 2 copies 1 follower replica(s) 400 ms late'}));
  assert.deepEqual(toFaults(s), [
    {id: 3, action: 'follower_lag', fired: 1, broker: 2, ms: 400, result: 'broker 2 copies 1 follower replica(s) 400 ms late'},
    {id: 2, action: 'delay', fired: 1, api: 'Fetch', ms: 300, count: null, armed: true},
    {id: 1, action: 'drop_response', fired: 2, api: 'Produce', mode: 'close', count: 0, armed: false},
  ]);
  // a firing of a fault armed before the trace began: listed from its firing
  applyEvent(s, ev('fault', {id: 7, action: 'error', api: 'Produce', error: 'NOT_LEADER_OR_FOLLOWER', count: 3, what: 'x'}));
  assert.deepEqual(toFaults(s)[0], {id: 7, action: 'error', fired: 1, api: 'Produce', error: 'NOT_LEADER_OR_FOLLOWER', count: 3, armed: true});
  assert.equal(applyEvent(s, ev('faults_clear', {cleared: 4})), 'fault');
  assert.deepEqual(toFaults(s), []);
  applyEvent(s, ev('fault_armed', {id: 8, action: 'delay', ms: 5, count: 1}));
  applyEvent(s, ev('reset', {}));
  assert.deepEqual(toFaults(s), [], 'a reset forgets faults too');
});

test('a new leader brings its own high watermark and log start', () => {
  const s = fromSnapshot(CLUSTER);
  applyEvent(s, ev('retention', {topic: 'orders', partition: 0, broker: 0, batches_deleted: 1, from_offset: 0, log_start_offset: 3}));
  assert.equal(partition(s, 'orders', 0).log_start_offset, 0, 'a follower\'s retention is not the partition\'s');
  applyEvent(s, ev('leader_change', {topic: 'orders', partition: 0, from: 1, leader: 0, leader_epoch: 3, isr: [0], high_watermark: 8}));
  const p = partition(s, 'orders', 0);
  assert.equal(p.high_watermark, 8, 'below the old leader\'s 10');
  assert.equal(p.log_start_offset, 3);
  assert.equal(p.leader_epoch, 3);
});

test('the producer window: five batches, a new epoch clears it, a replayed event counts once', () => {
  const s = emptyState();
  const append = (seq, off, n, epoch = 0) => ev('append', {topic: 't', partition: 0, base_offset: off,
    last_offset: off + n - 1, records: n, producer_id: 1000, producer_epoch: epoch, base_sequence: seq});
  for (let i = 0; i < 7; i++) applyEvent(s, append(i * 2, i * 2, 2));
  let [pr] = toProducers(s).topics[0].partitions[0].producers;
  assert.equal(pr.producer_id, 1000);
  assert.equal(pr.last_sequence, 13);
  assert.equal(pr.last_offset, 13);
  assert.deepEqual(pr.batches.map((b) => b.first_sequence), [4, 6, 8, 10, 12], 'the last five, oldest first');
  assert.deepEqual(pr.batches[4], {first_sequence: 12, last_sequence: 13, first_offset: 12, last_offset: 13});
  applyEvent(s, append(12, 12, 2));  // the same event again (the snapshot already had it)
  [pr] = toProducers(s).topics[0].partitions[0].producers;
  assert.equal(pr.batches.length, 5);
  assert.equal(applyEvent(s, ev('duplicate', {topic: 't', partition: 0, producer_id: 1000, base_sequence: 12,
    base_offset: 12, last_offset: 13})), 'duplicate');
  assert.equal(s.counters.duplicates, 1);
  applyEvent(s, append(0, 14, 3, 1));
  [pr] = toProducers(s).topics[0].partitions[0].producers;
  assert.equal(pr.epoch, 1);
  assert.deepEqual(pr.batches, [{first_sequence: 0, last_sequence: 2, first_offset: 14, last_offset: 16}]);
  assert.equal(lastSequence(2147483646, 3), 0, 'sequences wrap after 2^31 - 1');
});

test('partition_state gives a replay what a bare trace lacks; reset and topic_delete clear', () => {
  const s = emptyState();
  applyEvent(s, ev('broker_state', {broker: 0, up: true, host: '127.0.0.1', port: 9092}));
  applyEvent(s, ev('broker_state', {broker: 1, up: false, host: '127.0.0.1', port: 9093}));
  assert.equal(applyEvent(s, ev('partition_state', {topic: 'x', partition: 0, leader: 0, leader_epoch: 1,
    high_watermark: 3, log_start_offset: 0, isr: [0],
    replicas: [{broker: 0, log_end_offset: 3}, {broker: 1, log_end_offset: 2}]})), 'topic');
  const c = toCluster(s);
  assert.deepEqual(c.brokers, [{id: 0, host: '127.0.0.1', port: 9092, up: true}, {id: 1, host: '127.0.0.1', port: 9093, up: false}]);
  assert.deepEqual(c.topics[0].partitions[0].replicas.map((r) => [r.broker, r.log_end_offset, r.caught_up]),
    [[0, 3, true], [1, 2, false]]);
  applyEvent(s, ev('topic_delete', {topic: 'x'}));
  assert.deepEqual(toCluster(s).topics, []);
  applyEvent(s, ev('partition_state', {topic: 'y', partition: 0, leader: 1, replicas: [1]}));
  applyEvent(s, ev('reset', {}));
  assert.deepEqual(toCluster(s).topics, []);
  assert.equal(toCluster(s).brokers.every((b) => b.up), true, 'a reset brings every broker up');
});

test('what a bare broker trace leaves unknown stays unknown, not guessed', () => {
  const s = emptyState();
  applyEvent(s, ev('append', {topic: 'd', partition: 0, base_offset: 0, last_offset: 2, records: 3,
    producer_id: 7, producer_epoch: 0, base_sequence: 0}));
  applyEvent(s, ev('replicate', {topic: 'd', partition: 0, broker: 2, from_offset: 0, log_end_offset: 3}));
  const p = partition(s, 'd', 0);
  assert.equal(p.leader, null);
  assert.equal(p.leader_epoch, null);
  assert.equal(p.isr, null);
  assert.equal(p.log_end_offset, 3, 'the leader wrote up to offset 2, whoever it is');
  assert.deepEqual(p.replicas.map((r) => r.broker), [2]);
  assert.equal(p.replicas[0].caught_up, true);
  applyEvent(s, ev('append', {topic: 'd', partition: 0, base_offset: 3, last_offset: 3, records: 1, broker: 1,
    producer_id: -1, producer_epoch: -1, base_sequence: -1}));
  assert.equal(partition(s, 'd', 0).leader, 1, 'an append that names its broker names the leader');
});

test('producer-side events and requests change no state', () => {
  const s = fromSnapshot(CLUSTER);
  const before = JSON.stringify(toCluster(s));
  for (const e of [
    {ts_us: 1, side: 'producer', event: 'append', topic: 'orders', partition: 0, batch_id: 1, records: 1},
    {ts_us: 2, side: 'producer', event: 'request_sent', broker: 0, correlation_id: 3, batches: []},
    ev('request_received', {broker: 0, api: 'Produce', correlation_id: 3, client_id: 'c'}),
    ev('response_sent', {broker: 0, api: 'Produce', correlation_id: 3, bytes: 10, latency_us: 5}),
    ev('no_such_event', {}),
  ]) assert.equal(applyEvent(s, e), null, e.event);
  assert.equal(JSON.stringify(toCluster(s)), before);
  assert.equal(applyEvent(s, null), null);
  assert.equal(applyEvent(s, {ts_us: 1}), null, 'an object without "event"');
});

test('parseTrace: JSON lines or a saved event stream; bad lines are counted with their numbers', () => {
  const text = [
    '{"ts_us":1,"side":"broker","event":"hw_advance","topic":"t","partition":0,"from":0,"high_watermark":1}',
    '',
    ': minikafka trace events, one per data line',
    'data: {"ts_us":2,"side":"broker","event":"hw_advance","topic":"t","partition":0,"from":1,"high_watermark":2}',
    '{"ts_us":3, broken',
    '[1, 2]',
    '{"ts_us":4,"side":"broker","event":"hw_advance","topic":"t","partition":0,"from":2,"high_watermark":4}',
  ].join('\n');
  const {events, errors, bad} = parseTrace(text);
  assert.equal(events.length, 3);
  assert.equal(bad, 2);
  assert.deepEqual(errors.map((e) => e.line), [5, 6]);
  assert.equal(partition(replay(events), 't', 0).high_watermark, 4);
  assert.equal(partition(replay(events, 2), 't', 0).high_watermark, 2, 'a prefix of the events');
  assert.deepEqual(toCluster(replay(events, 0)).topics, []);
});

test('events in words and kinds, for the timeline', () => {
  const f = ev('fault', {action: 'broker_down', broker: 1, what: 'broker 1 is down'});
  assert.equal(kindOf(f), KIND.FAULT);
  assert.equal(describeEvent(f), 'FAULT broker_down: broker 1 is down');
  assert.equal(kindOf(ev('request_received', {})), KIND.REQUEST);
  assert.equal(kindOf({side: 'producer', event: 'append'}), KIND.OTHER);
  assert.match(describeEvent(ev('duplicate', {topic: 't', partition: 0, producer_id: 5, base_sequence: 3,
    base_offset: 9})), /duplicate from producer 5 seq 3: already at offset 9/);
  assert.match(describeEvent(ev('leader_change', {topic: 't', partition: 1, from: 0, leader: 2, leader_epoch: 4, unclean: true})),
    /t-1: leader 0 → 2 \(epoch 4\), UNCLEAN/);
});
