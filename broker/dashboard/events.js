// Trace events in words and in classes: one sentence per event for people (the timeline's
// tooltips, the replay's "this event" line, the fault banner), and a kind for the timeline's
// colours and shapes. Pure, like reducer.js.

export const KIND = {
  REQUEST: 1,    // a request reaches a broker (or leaves the producer)
  RESPONSE: 2,   // a response leaves a broker (or reaches the producer)
  DROPPED: 3,    // a response the drop_response fault swallowed
  APPEND: 4,     // the leader wrote a batch
  REPLICATE: 5,  // a follower copied batches
  HW: 6,         // the high watermark (or last stable offset) moved
  LEADER: 7,     // a new leader
  ISR: 8,        // a replica left or rejoined the ISR
  TRUNCATE: 9,   // a follower cut its log back to the new leader's
  FAULT: 10,     // a fault fired
  DUPLICATE: 11, // a retried batch recognised (or refused as out of order)
  RETRY: 12,     // the producer retries, or a record failed
  OTHER: 13,
};

// Kinds worth keeping even when the timeline has to thin out busy traffic.
export function isNotable(kind) {
  return kind === KIND.DROPPED || kind === KIND.LEADER || kind === KIND.ISR ||
    kind === KIND.TRUNCATE || kind === KIND.FAULT || kind === KIND.DUPLICATE || kind === KIND.RETRY;
}

export function kindOf(ev) {
  switch (ev.event) {
    case 'request_received': case 'request_sent': return KIND.REQUEST;
    case 'response_sent': case 'response_received': return ev.error ? KIND.RETRY : KIND.RESPONSE;
    case 'response_dropped': return KIND.DROPPED;
    case 'append': return ev.side === 'producer' ? KIND.OTHER : KIND.APPEND;
    case 'replicate': return KIND.REPLICATE;
    case 'hw_advance': case 'lso_advance': return KIND.HW;
    case 'leader_change': return KIND.LEADER;
    case 'isr_shrink': case 'isr_expand': return KIND.ISR;
    case 'truncate': return KIND.TRUNCATE;
    case 'fault': case 'broker_down': case 'broker_up': case 'reset': return KIND.FAULT;
    case 'duplicate': case 'out_of_order': return KIND.DUPLICATE;
    case 'retry': return KIND.RETRY;
    case 'complete': return ev.error ? KIND.RETRY : KIND.OTHER;
    default: return KIND.OTHER;
  }
}

function tp(ev) {
  return ev.topic !== undefined ? `${ev.topic}-${ev.partition ?? '*'}` : '';
}

function range(a, b) {
  return a === b ? `${a}` : `${a}–${b}`;
}

// One short sentence about ev.
export function describe(ev) {
  if (!ev || typeof ev !== 'object') return '';
  const b = ev.broker;
  switch (ev.event) {
    case 'request_received':
      return `broker ${b} got ${ev.api} v${ev.api_version} #${ev.correlation_id} from ${ev.client_id || 'a client'}`;
    case 'response_sent':
      return `broker ${b} answered ${ev.api} #${ev.correlation_id} (${ev.latency_us} µs)`;
    case 'response_dropped':
      return `broker ${b} dropped the ${ev.api} #${ev.correlation_id} response (${ev.why || 'fault'})`;
    case 'append':
      if (ev.side === 'producer')
        return `producer added a record to batch ${ev.batch_id} of ${tp(ev)} (${ev.records} records)`;
      return `${tp(ev)}: leader wrote offsets ${range(ev.base_offset, ev.last_offset)}` +
        (ev.producer_id >= 0 ? ` (producer ${ev.producer_id}, seq ${ev.base_sequence})` : '');
    case 'duplicate':
      return `${tp(ev)}: duplicate from producer ${ev.producer_id} seq ${ev.base_sequence}: ` +
        `already at offset ${ev.base_offset}, not written again`;
    case 'out_of_order':
      return `${tp(ev)}: producer ${ev.producer_id} seq ${ev.base_sequence} out of order` +
        (ev.error ? `: ${ev.error}` : '');
    case 'replicate':
      return `${tp(ev)}: broker ${b} copied up to offset ${ev.log_end_offset}`;
    case 'hw_advance':
      return `${tp(ev)}: high watermark ${ev.from} → ${ev.high_watermark}`;
    case 'lso_advance':
      return `${tp(ev)}: last stable offset → ${ev.last_stable_offset ?? ev.offset}`;
    case 'isr_shrink':
      return `${tp(ev)}: broker ${b} fell out of the ISR; ISR now [${(ev.isr || []).join(', ')}]`;
    case 'isr_expand':
      return `${tp(ev)}: broker ${b} is back in the ISR; ISR now [${(ev.isr || []).join(', ')}]`;
    case 'leader_change':
      return `${tp(ev)}: leader ${ev.from < 0 ? 'none' : ev.from} → ${ev.leader < 0 ? 'none' : ev.leader}` +
        ` (epoch ${ev.leader_epoch})${ev.unclean ? ', UNCLEAN' : ''}`;
    case 'truncate':
      return `${tp(ev)}: broker ${b} truncated its log ${ev.from} → ${ev.to}` +
        (ev.lost_records ? ` (${ev.lost_records} records gone)` : '');
    case 'retention':
      return `${tp(ev)}: broker ${b} deleted ${ev.batches_deleted} old batches; log starts at ${ev.log_start_offset}`;
    case 'throttle':
      return `broker ${b} throttles ${ev.client_id} for ${ev.throttle_ms} ms`;
    case 'fault':
      return `FAULT ${ev.action}: ${ev.what || ''}`.trim();
    case 'broker_down': return `broker ${b} is down`;
    case 'broker_up': return `broker ${b} is up`;
    case 'partition_state':
      return `${tp(ev)}: leader ${ev.leader}, ISR [${(ev.isr || []).join(', ')}], HW ${ev.high_watermark}`;
    case 'broker_state':
      return `broker ${b} at ${ev.host}:${ev.port} is ${ev.up ? 'up' : 'down'}`;
    case 'topic_delete': return `topic ${ev.topic} deleted`;
    case 'txn_state':
      return `transaction ${ev.transactional_id}: ${ev.from} → ${ev.to}` +
        (ev.side === 'producer' ? '' : ` (producer ${ev.producer_id}, epoch ${ev.producer_epoch})`);
    case 'txn_marker':
      return `${tp(ev)}: ${String(ev.result || '').toUpperCase()} marker of producer ${ev.producer_id} at offset ${ev.offset}`;
    case 'reset': return 'RESET: back to a just-started broker (no topics, no faults, every broker up)';
    case 'fault_armed':
      return `fault ${ev.action}${ev.api ? ' on ' + ev.api : ''} armed` +
        (ev.count >= 0 ? ` for ${ev.count} request${ev.count === 1 ? '' : 's'}` : ' until cleared');
    case 'faults_clear': return `faults cleared (${ev.cleared} forgotten)`;
    case 'send': return `producer send to ${ev.topic}${ev.partition !== undefined ? '-' + ev.partition : ''}`;
    case 'partition': return `producer picked ${tp(ev)} (${ev.reason})`;
    case 'batch_ready': return `${tp(ev)}: batch ${ev.batch_id} ready (${ev.reason}, ${ev.records} records)`;
    case 'request_sent': return `producer sent Produce #${ev.correlation_id} to broker ${b} (acks=${ev.acks})`;
    case 'response_received':
      return `producer got the answer from broker ${b}` + (ev.error ? `: ${ev.error}` : ` (${ev.latency_ms} ms)`);
    case 'retry':
      return `${tp(ev)}: producer retries batch ${ev.batch_id} after ${ev.error} (attempt ${ev.attempt}, ${ev.backoff_ms} ms)`;
    case 'complete':
      return ev.error ? `${tp(ev)}: record FAILED: ${ev.error}` : `${tp(ev)}: record acknowledged at offset ${ev.offset}`;
    default: {
      const extra = tp(ev);
      return `${ev.event}${extra ? ' ' + extra : ''}`;
    }
  }
}
