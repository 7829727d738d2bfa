// The cluster panel and the broker chips: GET /v1/cluster's shape (reducer.js toCluster)
// drawn as one bar per replica.
//
// Each partition shows its leader (★), leader epoch and high watermark; each replica a bar
// as long as its log end offset, solid up to the high watermark and striped above it (not
// committed yet), blue when in the ISR and striped orange with "OUT OF SYNC" when not, grey
// when its broker is down. The HW is a black line across the replicas' bars. Bars and the
// HW line glide to their new place (CSS transitions); a leader change, an ISR change and a
// HW move flash.
//
// The DOM is kept per topic, partition and replica and only changed where values changed,
// so redrawing many times a second costs little.

import {h, setText, fill, flash, emptyState, code, reconcile} from './dom.js';

export class ClusterView {
  constructor(container, brokersEl, {onSelect, onBroker, onBrokerHover}) {
    this.el = container;
    this.brokersEl = brokersEl;
    this.onSelect = onSelect;
    this.onBroker = onBroker;
    this.onBrokerHover = onBrokerHover;
    this.topics = new Map();     // name -> {el, parts: Map}
    this.internalTopics = new Map();
    this.brokerChips = new Map();
    this.selected = null;        // {topic, partition, broker}
    this.emptyEl = null;
    this.internalEl = null;
  }

  // ---- broker chips ---------------------------------------------------------------------

  renderBrokers(brokers, {replay}) {
    reconcile(this.brokersEl, this.brokerChips, brokers, (b) => b.id, (b) => {
      const chip = {up: null};
      const hover = () => this.onBrokerHover(b.id, chip.up);
      chip.name = h('span', {class: 'name'}, `broker ${b.id}`);
      chip.state = h('span', {class: 'state'});
      chip.button = h('button', {type: 'button', onclick: () => this.onBroker(b.id, chip.up), onmouseenter: hover, onfocus: hover});
      chip.el = h('div', {class: 'broker', dataset: {broker: b.id}}, chip.name, chip.state, chip.button);
      return chip;
    }, (chip, b) => {
      if (chip.up !== null && chip.up !== b.up) flash(chip.el, 'flash');
      chip.up = b.up;
      chip.el.classList.toggle('down', !b.up);
      chip.el.dataset.up = b.up ? 'true' : 'false';
      setText(chip.state, b.up ? 'up' : 'DOWN');
      setText(chip.button, b.up ? 'Stop' : 'Start');
      chip.button.hidden = replay;
      chip.button.title = b.up ? `broker_down: stop broker ${b.id}` : `broker_up: start broker ${b.id} again`;
      chip.el.title = b.port ? `${b.host}:${b.port}` : '';
    });
  }

  // ---- partitions -----------------------------------------------------------------------

  // view: {brokers, topics} as toCluster gives; ctx: {replay, bootstrap}
  render(view, ctx) {
    this.proxy = !!ctx.proxy;  // through minikafka proxy: offsets are not visible (proxy_mode.js)
    const up = new Map(view.brokers.map((b) => [b.id, b.up]));
    const topics = view.topics.filter((t) => !t.name.startsWith('__'));
    const internal = view.topics.filter((t) => t.name.startsWith('__'));
    if (!view.topics.length) {
      if (!this.emptyEl) this.emptyEl = h('div');
      fill(this.emptyEl, ctx.replay
        ? emptyState('No partitions yet at this point of the trace',
          'Step or play forward: partitions appear with the first event that names them.')
        : emptyState('No topics yet',
          ['Create one in the Topics tab below, or produce to a new topic and the broker creates it:'],
          [code(`kcat -P -b ${ctx.bootstrap || 'BOOTSTRAP'} -t demo`)],
          [code(`minikafka perf --bootstrap-server ${ctx.bootstrap || 'BOOTSTRAP'} --topic demo --num-records 1000 --record-size 100 --throughput 100`)]));
    } else if (this.emptyEl) {
      this.emptyEl.remove();
      this.emptyEl = null;
    }
    // Smaller rows once the replicas would not fit the panel at full size.
    const rows = topics.reduce((n, t) => n + t.partitions.reduce((m, p) => m + p.replicas.length, 0), 0);
    this.el.classList.toggle('compact', rows > 12);
    const draw = (rec, t) => {
      const rf = t.partitions.length ? t.partitions[0].replicas.length : 0;
      setText(rec.meta, `${t.partitions.length} partition${t.partitions.length === 1 ? '' : 's'} · ${rf} replica${rf === 1 ? '' : 's'} each`);
      reconcile(rec.partsEl, rec.parts, t.partitions, (p) => p.partition, (p) => this.makePartition(t.name, p.partition),
        (pr, p) => this.updatePartition(pr, t.name, p, up));
    };
    reconcile(this.el, this.topics, topics, (t) => t.name, (t) => this.makeTopic(t.name), draw);
    // Internal topics (__consumer_offsets, ...) fold away below the others.
    if (!this.internalEl) {
      this.internalList = h('div');
      this.internalEl = h('details', {class: 'internal'}, h('summary', {}, ''), this.internalList);
    }
    reconcile(this.internalList, this.internalTopics, internal, (t) => t.name, (t) => this.makeTopic(t.name), draw);
    this.internalEl.hidden = internal.length === 0;
    setText(this.internalEl.firstChild, `${internal.length} internal topic${internal.length === 1 ? '' : 's'} (__…)`);
    if (this.emptyEl) this.el.append(this.emptyEl);
    this.el.append(this.internalEl);
  }

  makeTopic(name) {
    const meta = h('span', {class: 'meta'});
    const parts = h('div', {class: 'partitions'});
    const el = h('div', {class: 'topic', dataset: {topic: name}}, h('h3', {}, h('span', {}, name), meta), parts);
    return {el, meta, partsEl: parts, parts: new Map()};
  }

  makePartition(topic, index) {
    const leader = h('span', {class: 'p-leader'});
    const epoch = h('span', {class: 'p-epoch'});
    const hw = h('span', {class: 'p-hw'});
    const lso = h('span', {class: 'p-lso'});
    const from = h('span', {class: 'p-from', hidden: true});
    const reps = h('div', {class: 'replicas'});
    const el = h('div', {class: 'partition', dataset: {topic, partition: index}},
      h('div', {class: 'p-info'}, h('span', {class: 'p-name'}, `P${index}`), hw, lso, epoch, leader, from), reps);
    return {el, leader, epoch, hw, lso, from, reps, replicas: new Map(), last: null};
  }

  updatePartition(pr, topic, p, up) {
    const last = pr.last;
    const leaderKnown = p.leader !== null && p.leader !== undefined;
    const noLeader = leaderKnown && p.leader < 0;
    pr.el.dataset.leader = leaderKnown ? p.leader : '';
    pr.el.dataset.epoch = p.leader_epoch ?? '';
    pr.el.dataset.hw = p.high_watermark;
    // The leader is the replica marked ★; only its absence needs words here.
    pr.leader.hidden = leaderKnown && !noLeader;
    setText(pr.leader, noLeader ? 'NO LEADER' : 'leader ?');
    pr.leader.classList.toggle('none', noLeader);
    const epochKnown = p.leader_epoch !== null && p.leader_epoch !== undefined && !(this.proxy && p.leader_epoch < 0);
    fill(pr.epoch, 'epoch ', h('b', {}, epochKnown ? p.leader_epoch : '?'));
    fill(pr.hw, 'HW ', h('b', {}, this.proxy ? '?' : p.high_watermark));
    pr.lso.hidden = p.last_stable_offset === undefined || p.last_stable_offset === null;
    if (!pr.lso.hidden) fill(pr.lso, 'LSO ', h('b', {}, p.last_stable_offset));
    if (last) {
      if (last.leader !== p.leader || last.epoch !== p.leader_epoch) flash(pr.el, 'flash-leader');
      if (last.hw !== p.high_watermark) flash(pr.hw, 'flash');
    }

    // The bars' scale: offsets 0 to the largest. When the replicas differ by a sliver of a
    // long log (3 records behind out of 100,000), the bars start further along, so the
    // difference is as wide as a quarter of the bar; the partition then says where they start.
    const leaderEnd = p.log_end_offset ?? null;
    const known = p.replicas.map((r) => r.log_end_offset).filter((v) => v !== null);
    const hi = Math.max(1, p.high_watermark, leaderEnd || 0, ...known);
    const lo0 = Math.min(p.high_watermark, ...known);
    const lo = hi > lo0 && lo0 - 3 * (hi - lo0) > 0 ? lo0 - 3 * (hi - lo0) : 0;
    const pct = (v) => `${(100 * (Math.max(lo, Math.min(v, hi)) - lo)) / (hi - lo)}%`;
    pr.from.hidden = lo === 0;
    if (lo) setText(pr.from, `bars from ${lo}`);
    const isr = p.isr ? new Set(p.isr) : null;
    reconcile(pr.reps, pr.replicas, p.replicas, (r) => r.broker, (r) => this.makeReplica(topic, p.partition, r.broker), (rr, r) => {

      const down = up.get(r.broker) === false;
      const isLeader = p.leader === r.broker;
      const inIsr = isr ? isr.has(r.broker) : null;
      const leo = r.log_end_offset;
      const cls = rr.el.classList;
      cls.toggle('leader', isLeader);
      cls.toggle('down', down);
      cls.toggle('isr', inIsr === true && !down);
      cls.toggle('oos', inIsr === false && !down);
      cls.toggle('selected', !!this.selected && this.selected.topic === topic &&
        this.selected.partition === p.partition && this.selected.broker === r.broker);
      rr.el.dataset.leo = leo ?? '';
      rr.el.dataset.isr = inIsr === null ? '' : inIsr ? 'true' : 'false';
      if (rr.inIsr !== undefined && rr.inIsr !== inIsr) flash(rr.el, 'flash');
      rr.inIsr = inIsr;

      rr.track.classList.toggle('zoomed', lo > 0);
      const committed = leo === null ? 0 : Math.min(leo, p.high_watermark);
      rr.fill.style.width = pct(committed);
      rr.above.style.left = pct(committed);
      rr.above.style.width = leo === null ? '0%' : pct(Math.max(0, leo - committed));
      rr.deleted.style.width = pct(p.log_start_offset || 0);
      rr.hwMark.style.left = pct(p.high_watermark);
      rr.lsoMark.hidden = pr.lso.hidden;
      if (!pr.lso.hidden) rr.lsoMark.style.left = pct(p.last_stable_offset);

      const behind = leo !== null && leaderEnd !== null && !isLeader ? leaderEnd - leo : 0;
      setText(rr.leo, leo === null ? '?' : String(leo));
      const tags = [];
      if (down) tags.push('broker down');
      else if (isLeader) tags.push(inIsr === false ? 'leader, OUT OF SYNC' : 'leader');
      else if (inIsr === true) tags.push('in sync');
      else if (inIsr === false) tags.push('OUT OF SYNC');
      if (behind > 0) tags.push(`${behind} behind`);
      if (r.paused) tags.push('paused');
      if (r.lag_ms > 0) tags.push(`lag ${r.lag_ms} ms`);
      fill(rr.tag, tags.map((t, i) => h('span', {class: i ? 'extra' : ''}, t)));
      rr.track.title = `broker ${r.broker}: log end offset ${leo ?? '?'}; HW ${this.proxy ? '?' : p.high_watermark}` +
        `${inIsr === null ? '' : inIsr ? '; in the ISR' : '; out of the ISR'}. Click to aim the fault form here.`;
    });
    pr.last = {leader: p.leader, epoch: p.leader_epoch, hw: p.high_watermark};
  }

  makeReplica(topic, partition, broker) {
    const fillEl = h('div', {class: 'fill'});
    const above = h('div', {class: 'above-hw'});
    const deleted = h('div', {class: 'deleted'});
    const hwMark = h('div', {class: 'hw-mark'});
    const lsoMark = h('div', {class: 'lso-mark'});
    const track = h('div', {class: 'track', role: 'button', tabindex: '0',
      onclick: () => this.onSelect(topic, partition, broker),
      onkeydown: (e) => { if (e.key === 'Enter' || e.key === ' ') { e.preventDefault(); this.onSelect(topic, partition, broker); } }},
    deleted, fillEl, above, hwMark, lsoMark);
    const leo = h('span', {class: 'r-leo'});
    const tag = h('span', {class: 'r-tag'});
    const el = h('div', {class: 'replica', dataset: {broker}}, h('span', {class: 'r-label'}, `B${broker}`), track, leo, tag);
    return {el, track, fill: fillEl, above, deleted, hwMark, lsoMark, leo, tag};
  }
}
