// The page served by `minikafka proxy` (proxy/admin.c) instead of a broker.
//
// The proxy stands between clients and a real Kafka cluster. It sees every request and
// answer, so the timeline is as live as on our own broker; but it sees the cluster only as
// a client does, through Metadata: brokers, and each partition's leader, replicas and ISR.
// Offsets, high watermarks, a follower's progress and producer state live inside the real
// brokers, and replication never crosses the proxy. GET /v1/cluster says which of the two
// the page is talking to ("proxy": true, with the upstream's address and a "not_visible"
// sentence); on a proxy, this file makes the page say what it cannot show instead of
// drawing zeros, and offers only what the proxy can do: no Reset, no topic creation, and
// the fault actions that act on the wire (the others act inside a cluster, which the proxy
// cannot reach, and its admin API refuses them).

import {h, fill} from './dom.js';

// The fault actions the proxy takes (proxy/fault_inject.c), each with what it does there.
export const PROXY_ACTIONS = {
  broker_down: 'The proxy\'s listener for that broker refuses and drops connections: clients see a dead broker and move to the others; the real cluster does not notice.',
  broker_up: 'The proxy listens for that broker again.',
  drop_response: 'The real broker did the work (records appended) but the proxy throws the answer away: "close" drops the connection, "silent" holds it. The client retries: a real duplicate on a real cluster, unless idempotent.',
  error: 'The proxy answers with that error itself and forwards nothing to the cluster.',
  delay: 'The proxy holds each answer ms before passing it on: watch request.timeout.ms and retries.',
};

let active = null;  // {upstream, notVisible} once GET /v1/cluster said "proxy"

export function isProxy() { return active !== null; }

// cluster: a GET /v1/cluster answer; controls: the Controls (controls.js). On the first
// answer from a proxy, switch the page over; later answers change nothing.
export function noteCluster(cluster, controls) {
  if (active || !cluster || cluster.proxy !== true) return;
  active = {upstream: String(cluster.upstream || '?'), notVisible: String(cluster.not_visible || '')};
  document.body.classList.add('proxied');
  controls.limitActions(PROXY_ACTIONS);
  const note = document.getElementById('proxy-note');
  fill(note, h('b', {}, 'Through minikafka proxy'), ` to ${active.upstream}: leaders, replicas and ISR as `,
    'Metadata reports them; offsets, high watermarks and replication stay inside the cluster. ',
    'Stop/Start act on the proxy\'s listeners.');
  note.title = active.notVisible;  // the proxy's own account, in full
  note.hidden = false;
}
