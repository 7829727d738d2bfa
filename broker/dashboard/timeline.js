// The timeline: trace events in lanes, one lane per client (by client.id) and one per
// broker, drawn on a canvas. A request is an arrow from its client's lane to the broker's,
// a response one back; appends, copies to followers and high watermark moves sit on the
// brokers' lanes; faults cross every lane in their own colour.
//
// Bounded whatever the rate (the dashboard must survive 10,000 events/s):
//   - the last RING_SIZE events are kept in a ring (older ones fall out);
//   - every event also counts into a 100 ms bin per lane, BIN_COUNT bins (5 minutes);
//   - notable events (faults, leader and ISR changes, duplicates, ...) have a ring of
//     their own, so busy traffic never pushes them out first.
// A frame draws at most DRAW_BUDGET events; when more are in view it draws each lane's
// density from the bins instead, plus every notable event, and says so.
//
// In replay the events come from a trace file (an array, any length) rather than the ring,
// and the right edge is the scrubber's time instead of now.

import {KIND, isNotable, kindOf, describe} from './events.js';

const RING_SIZE = 30000;
const NOTABLE_SIZE = 2000;
const BIN_US = 100000;
const BIN_COUNT = 3000;
const MAX_LANES = 24;
const MAX_CLIENT_LANES = 8;
const DRAW_BUDGET = 600;
const PENDING_MAX = 20000;  // requests waiting for their response, to route the answer

// Okabe & Ito's palette: told apart with any of the common colour-vision deficiencies.
// Shape and labels carry the meaning too, so colour is never the only cue.
export const COLORS = {
  request: '#0072B2', response: '#009E73', append: '#E69F00', replicate: '#56B4E9',
  hw: '#000000', leader: '#CC79A7', fault: '#D55E00', duplicate: '#F0E442', other: '#777777',
};

const AXIS = 26;

function niceStep(spanUs, maxTicks) {
  const steps = [100, 200, 500, 1e3, 2e3, 5e3, 1e4, 2e4, 5e4, 1e5, 2e5, 5e5, 1e6, 2e6, 5e6, 1e7, 2e7, 3e7, 6e7, 12e7, 3e8];
  for (const s of steps) if (spanUs / s <= maxTicks) return s;
  return steps[steps.length - 1];
}

function fmtDuration(us) {
  if (us === 0) return '0';
  const a = Math.abs(us);
  const sign = us < 0 ? '−' : '+';
  if (a >= 1e6) return `${sign}${(a / 1e6).toFixed(a % 1e6 === 0 ? 0 : 1)} s`;
  if (a >= 1e3) return `${sign}${(a / 1e3).toFixed(a % 1e3 === 0 ? 0 : 1)} ms`;
  return `${sign}${a} µs`;
}

// A request and its response share broker, connection and correlation id (two
// connections may use the same correlation ids; a trace without connection ids pairs by
// broker and correlation id alone).
function pendingKey(ev) {
  return ev.broker + ':' + (ev.connection ?? '') + ':' + ev.correlation_id;
}

export class Timeline {
  constructor(canvas, tooltip) {
    this.canvas = canvas;
    this.ctx = canvas.getContext('2d');
    this.tooltip = tooltip;
    this.lanes = [];            // {key, label, kind: 'client'|'broker', id}
    this.laneByKey = new Map();
    this.ring = new Array(RING_SIZE);
    this.ringHead = 0;          // next write position
    this.ringCount = 0;
    this.notables = new Array(NOTABLE_SIZE);
    this.notableHead = 0;
    this.notableCount = 0;
    this.binTimes = new Float64Array(BIN_COUNT).fill(-1);
    this.bins = new Uint32Array(BIN_COUNT * MAX_LANES);
    this.pending = new Map();
    this.lastT = 0;
    this.lastArrival = 0;
    this.total = 0;
    this.paused = false;
    this.pausedAt = 0;
    this.spanUs = 5e6;
    this.filter = {topic: '', partition: '', client: ''};
    this.replayItems = null;    // replay: items in time order
    this.replayNotables = null; // replay: indices of notable items
    this.cursor = 0;
    this.origin = null;         // replay: the trace's first ts_us, for the axis
    this.hits = [];
    this.dirty = true;
    this.mode = '';             // what the last frame drew: 'events' | 'density'
    this.inView = 0;
    this.brokerUp = () => true;
  }

  // Mouse input, forwarded by the page to whichever timeline (live or replay) is shown.
  wheel(e) {
    e.preventDefault();
    this.setSpan(this.spanUs * (e.deltaY > 0 ? 1.25 : 0.8));
  }

  // ---- lanes ---------------------------------------------------------------------------

  lane(kind, id) {
    const key = kind + ':' + id;
    let i = this.laneByKey.get(key);
    if (i !== undefined) return i;
    const other = '(other clients)';
    if (kind === 'client' && id !== other && this.lanes.filter((l) => l.kind === 'client').length >= MAX_CLIENT_LANES - 1)
      return this.lane('client', other);  // the last client lane gathers the rest
    if (this.lanes.length >= MAX_LANES) return -1;
    i = this.lanes.length;
    this.lanes.push({key, kind, id, label: kind === 'broker' ? `broker ${id}` : String(id)});
    this.laneByKey.set(key, i);
    return i;
  }

  clientLane(name) { return this.lane('client', name || '(no client.id)'); }
  brokerLane(id) { return Number.isInteger(id) && id >= 0 ? this.lane('broker', id) : -1; }

  // The item the timeline keeps for ev: its time, kind, lane and target lane (arrows).
  // leaderOf(topic, partition) names the leader, for events that do not carry it.
  itemFor(ev, leaderOf) {
    const kind = kindOf(ev);
    let from = -1, to = -1;
    switch (ev.event) {
      case 'request_received': {
        from = this.clientLane(ev.client_id);
        to = this.brokerLane(ev.broker);
        const key = pendingKey(ev);
        this.pending.set(key, from);
        if (this.pending.size > PENDING_MAX) this.pending.delete(this.pending.keys().next().value);
        break;
      }
      case 'response_sent':
      case 'response_dropped': {
        from = this.brokerLane(ev.broker);
        const key = pendingKey(ev);
        const c = this.pending.get(key);
        if (c !== undefined) {
          to = c;
          this.pending.delete(key);
        } else if (ev.client_id !== undefined) {
          to = this.clientLane(ev.client_id);  // its request came before the view began
        }
        break;
      }
      case 'request_sent':
        from = this.clientLane(ev.client_id || 'producer');
        to = this.brokerLane(ev.broker);
        break;
      case 'response_received':
        from = this.brokerLane(ev.broker);
        to = this.clientLane(ev.client_id || 'producer');
        break;
      case 'replicate':
        from = this.brokerLane(leaderOf(ev.topic, ev.partition));
        to = this.brokerLane(ev.broker);
        if (from < 0) { from = to; to = -1; }
        break;
      case 'append': case 'hw_advance': case 'lso_advance': case 'duplicate': case 'out_of_order':
        if (ev.side === 'producer') from = this.clientLane(ev.client_id || 'producer');
        else from = this.brokerLane(Number.isInteger(ev.broker) ? ev.broker : leaderOf(ev.topic, ev.partition));
        break;
      case 'leader_change':
        from = this.brokerLane(ev.leader >= 0 ? ev.leader : ev.from);
        break;
      case 'fault': case 'broker_down': case 'broker_up':
        from = -1;  // crosses every lane
        break;
      default:
        if (ev.side === 'producer') from = this.clientLane(ev.client_id || 'producer');
        else if (Number.isInteger(ev.broker)) from = this.brokerLane(ev.broker);
        else if (ev.client_id) from = this.clientLane(ev.client_id);
        else return null;
    }
    if (from < 0 && kind !== KIND.FAULT) return null;
    return {t: ev.ts_us, k: kind, from, to, topic: ev.topic, partition: ev.partition, ev};
  }

  // ---- live ----------------------------------------------------------------------------

  push(ev, leaderOf) {
    if (typeof ev.ts_us !== 'number') return;
    const item = this.itemFor(ev, leaderOf);
    this.total++;
    if (!item) return;
    if (item.t < this.lastT) item.t = this.lastT;  // keep the ring in time order
    this.lastT = item.t;
    this.lastArrival = performance.now();
    this.ring[this.ringHead] = item;
    this.ringHead = (this.ringHead + 1) % RING_SIZE;
    if (this.ringCount < RING_SIZE) this.ringCount++;
    if (isNotable(item.k)) {
      this.notables[this.notableHead] = item;
      this.notableHead = (this.notableHead + 1) % NOTABLE_SIZE;
      if (this.notableCount < NOTABLE_SIZE) this.notableCount++;
    }
    const bin = Math.floor(item.t / BIN_US);
    const slot = bin % BIN_COUNT;
    if (this.binTimes[slot] !== bin) {
      this.binTimes[slot] = bin;
      this.bins.fill(0, slot * MAX_LANES, (slot + 1) * MAX_LANES);
    }
    if (item.from >= 0) this.bins[slot * MAX_LANES + item.from]++;
    if (item.to >= 0) this.bins[slot * MAX_LANES + item.to]++;
    this.dirty = true;
  }

  ringAt(i) {  // i-th oldest item in the ring
    return this.ring[(this.ringHead - this.ringCount + i + RING_SIZE) % RING_SIZE];
  }

  stats() {
    return {
      total: this.total, kept: this.ringCount, ringSize: RING_SIZE, notables: this.notableCount,
      lanes: this.lanes.map((l) => l.label), pending: this.pending.size, mode: this.mode,
      inView: this.inView, paused: this.paused, spanUs: this.spanUs,
    };
  }

  clear() {
    this.lanes = [];
    this.laneByKey.clear();
    this.ring = new Array(RING_SIZE);
    this.ringHead = this.ringCount = 0;
    this.notables = new Array(NOTABLE_SIZE);
    this.notableHead = this.notableCount = 0;
    this.binTimes.fill(-1);
    this.pending.clear();
    this.lastT = 0;
    this.dirty = true;
  }

  // ---- replay --------------------------------------------------------------------------

  // events: the whole trace, in order; leaderAt(i, topic, partition): the leader after the
  // first i events (the replay knows it).
  setReplay(events, leaderAt) {
    this.clear();
    const items = [];
    const notables = [];
    let last = -Infinity;
    for (let i = 0; i < events.length; i++) {
      const ev = events[i];
      if (typeof ev.ts_us !== 'number') continue;
      const item = this.itemFor(ev, (topic, partition) => leaderAt(i, topic, partition));
      if (!item) continue;
      if (item.t < last) item.t = last;
      last = item.t;
      item.index = i;
      if (isNotable(item.k)) notables.push(items.length);
      items.push(item);
    }
    this.replayItems = items;
    this.replayNotables = notables;
    this.origin = items.length ? items[0].t : 0;
    this.cursor = this.origin;
    this.dirty = true;
  }

  setCursor(ts) {
    this.cursor = ts;
    this.dirty = true;
  }

  // ---- controls ------------------------------------------------------------------------

  setPaused(p) {
    this.paused = p;
    if (p) this.pausedAt = this.rightEdge();
    this.dirty = true;
  }

  setSpan(us) {
    this.spanUs = Math.min(300e6, Math.max(1000, us));
    this.dirty = true;
  }

  setFilter(f) {
    this.filter = {...this.filter, ...f};
    this.dirty = true;
  }

  pan(fraction) {
    if (this.replayItems) return;
    if (!this.paused) this.setPaused(true);
    this.pausedAt += fraction * this.spanUs;
    this.dirty = true;
  }

  rightEdge() {
    if (this.replayItems) return this.cursor;
    if (this.paused) return this.pausedAt;
    if (!this.lastArrival) return this.lastT;
    return this.lastT + (performance.now() - this.lastArrival) * 1000;
  }

  // Whether the next frame must be drawn (live time moves on by itself).
  needsFrame() {
    return this.dirty || (!this.paused && !this.replayItems && this.ringCount > 0);
  }

  // ---- drawing -------------------------------------------------------------------------

  visibleLanes() {
    const f = this.filter.client;
    return this.lanes.map((l, i) => ({...l, index: i}))
      .filter((l) => !f || l.kind === 'broker' || l.label === f)
      .sort((a, b) => (a.kind === b.kind ? (a.kind === 'broker' ? a.id - b.id : a.index - b.index) : a.kind === 'client' ? -1 : 1));
  }

  passes(item, laneY) {
    const f = this.filter;
    if (f.topic && item.topic !== undefined && item.topic !== f.topic) return false;
    if (f.partition !== '' && item.partition !== undefined && String(item.partition) !== f.partition) return false;
    if (item.from >= 0 && laneY[item.from] === undefined) return false;
    if (item.to >= 0 && laneY[item.to] === undefined && this.lanes[item.to].kind === 'client') return false;
    return true;
  }

  resize() {
    const r = this.canvas.getBoundingClientRect();
    const dpr = window.devicePixelRatio || 1;
    const w = Math.max(1, Math.round(r.width * dpr)), h = Math.max(1, Math.round(r.height * dpr));
    if (this.canvas.width !== w || this.canvas.height !== h) {
      this.canvas.width = w;
      this.canvas.height = h;
      this.dirty = true;
    }
    return {w: r.width, h: r.height, dpr};
  }

  // Items in [t0, t1]: from the replay array or the ring, as an accessor plus a range.
  window(t0, t1) {
    if (this.replayItems) {
      const a = this.replayItems;
      return {get: (i) => a[i], lo: lowerBound(a.length, (i) => a[i].t, t0), hi: lowerBound(a.length, (i) => a[i].t, t1 + 1)};
    }
    const get = (i) => this.ringAt(i);
    return {get, lo: lowerBound(this.ringCount, (i) => get(i).t, t0), hi: lowerBound(this.ringCount, (i) => get(i).t, t1 + 1)};
  }

  draw() {
    this.dirty = false;
    const {w, h, dpr} = this.resize();
    const ctx = this.ctx;
    ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
    ctx.clearRect(0, 0, w, h);
    ctx.font = '16px system-ui, sans-serif';
    ctx.textBaseline = 'middle';
    const lanes = this.visibleLanes();
    this.hits = [];
    if (!lanes.length) {
      ctx.fillStyle = '#333';
      wrapText(ctx, this.replayItems ? 'This trace has no events to draw.'
        : 'Waiting for events: produce something (kcat, minikafka perf) and its requests appear here, one lane per client and per broker.', 16, h / 2 - 20, w - 32, 22);
      this.mode = '';
      return;
    }
    const laneH = Math.min(56, (h - AXIS - 6) / lanes.length);
    const fontOf = (l) => `${l.kind === 'broker' ? 'bold ' : ''}${Math.max(11, Math.min(l.kind === 'broker' ? 17 : 16, laneH - 3))}px system-ui, sans-serif`;
    const labelOf = (l) => l.label + (l.kind === 'broker' && !this.brokerUp(l.id) ? ' DOWN' : '');
    // the gutter fits the longest lane name, within reason
    let widest = 60;
    for (const l of lanes) {
      ctx.font = fontOf(l);
      widest = Math.max(widest, ctx.measureText(labelOf(l)).width);
    }
    const GUTTER = Math.round(Math.min(w * 0.32, widest + 18));
    const plotW = w - GUTTER - 8;
    const laneY = {};
    lanes.forEach((l, i) => { laneY[l.index] = AXIS + laneH * (i + 0.5); });
    const t1 = this.rightEdge();
    const t0 = t1 - this.spanUs;
    const xOf = (t) => GUTTER + ((t - t0) / this.spanUs) * plotW;

    // lanes and their labels
    lanes.forEach((l, i) => {
      const y = AXIS + laneH * i;
      const down = l.kind === 'broker' && !this.brokerUp(l.id);
      ctx.fillStyle = down ? '#e4e4e4' : i % 2 ? '#f4f6f8' : '#ffffff';
      ctx.fillRect(0, y, w, laneH);
      if (down) {
        ctx.fillStyle = '#9a9a9a';
        for (let x = GUTTER - (y % 16); x < w; x += 16) ctx.fillRect(x, y + laneH / 2 - 1, 8, 2);
      }
      ctx.fillStyle = down ? '#a33b00' : l.kind === 'broker' ? '#111' : '#0b3d62';
      ctx.font = fontOf(l);
      ctx.fillText(truncate(ctx, labelOf(l), GUTTER - 12), 8, y + laneH / 2);
    });
    ctx.strokeStyle = '#bbb';
    ctx.beginPath();
    ctx.moveTo(GUTTER - 0.5, AXIS);
    ctx.lineTo(GUTTER - 0.5, h);
    ctx.stroke();

    // time axis
    const step = niceStep(this.spanUs, Math.max(2, Math.floor(plotW / 110)));
    ctx.font = '14px system-ui, sans-serif';
    ctx.fillStyle = '#333';
    ctx.strokeStyle = '#d8d8d8';
    const ref = this.replayItems ? this.origin : t1;
    for (let t = Math.ceil((t0 - ref) / step) * step + ref; t <= t1; t += step) {
      const x = xOf(t);
      ctx.beginPath();
      ctx.moveTo(x + 0.5, AXIS);
      ctx.lineTo(x + 0.5, h);
      ctx.stroke();
      ctx.fillText(fmtDuration(Math.round(t - ref)), x + 3, AXIS / 2);
    }

    ctx.save();
    ctx.beginPath();
    ctx.rect(GUTTER, AXIS, plotW + 8, h - AXIS);
    ctx.clip();
    const win = this.window(t0, t1);
    const n = win.hi - win.lo;
    this.inView = n;
    const slant = Math.max(4, Math.min(14, laneH * 0.3));
    if (n <= DRAW_BUDGET) {
      this.mode = 'events';
      for (let i = win.lo; i < win.hi; i++) {
        const it = win.get(i);
        if (it.k === KIND.FAULT || !this.passes(it, laneY)) continue;
        this.glyph(ctx, it, xOf(it.t), laneY, laneH, slant);
      }
    } else {
      this.mode = 'density';
      this.density(ctx, t0, t1, lanes, laneY, laneH, xOf, win);
      for (const it of this.notablesIn(t0, t1)) {
        if (it.k === KIND.FAULT || !this.passes(it, laneY)) continue;
        this.glyph(ctx, it, xOf(it.t), laneY, laneH, slant);
      }
    }
    // faults last, over everything, across every lane
    this.faults(ctx, this.notablesIn(t0, t1).filter((it) => it.k === KIND.FAULT && this.passes(it, laneY)), xOf, h, w);
    ctx.restore();

    if (this.replayItems) {
      const x = xOf(t1);
      ctx.fillStyle = '#111';
      ctx.fillRect(x - 2, AXIS, 3, h - AXIS);
    }
  }

  notablesIn(t0, t1) {
    const out = [];
    if (this.replayItems) {
      const idx = this.replayNotables, a = this.replayItems;
      let i = lowerBound(idx.length, (j) => a[idx[j]].t, t0);
      for (; i < idx.length && a[idx[i]].t <= t1; i++) out.push(a[idx[i]]);
      return out;
    }
    for (let i = 0; i < this.notableCount; i++) {
      const it = this.notables[(this.notableHead - this.notableCount + i + NOTABLE_SIZE) % NOTABLE_SIZE];
      if (it.t >= t0 && it.t <= t1) out.push(it);
    }
    return out;
  }

  // Busy traffic: per lane, a bar per few pixels as tall as the (log) number of events.
  density(ctx, t0, t1, lanes, laneY, laneH, xOf, win) {
    const plotW = xOf(t1) - xOf(t0);
    const cols = Math.max(1, Math.floor(plotW / 4));
    const colUs = (t1 - t0) / cols;
    const counts = new Float64Array(cols * MAX_LANES);
    if (this.replayItems) {
      const n = win.hi - win.lo;
      const stride = Math.max(1, Math.floor(n / 40000));
      for (let i = win.lo; i < win.hi; i += stride) {
        const it = win.get(i);
        const c = Math.min(cols - 1, Math.floor((it.t - t0) / colUs));
        if (it.from >= 0) counts[c * MAX_LANES + it.from] += stride;
        if (it.to >= 0) counts[c * MAX_LANES + it.to] += stride;
      }
    } else {
      for (let bin = Math.floor(t0 / BIN_US); bin <= Math.floor(t1 / BIN_US); bin++) {
        const slot = ((bin % BIN_COUNT) + BIN_COUNT) % BIN_COUNT;
        if (this.binTimes[slot] !== bin) continue;
        const c = Math.min(cols - 1, Math.max(0, Math.floor((bin * BIN_US + BIN_US / 2 - t0) / colUs)));
        for (let l = 0; l < this.lanes.length; l++) counts[c * MAX_LANES + l] += this.bins[slot * MAX_LANES + l];
      }
    }
    let max = 1;
    for (let i = 0; i < counts.length; i++) if (counts[i] > max) max = counts[i];
    const scale = Math.log(1 + max);
    for (const l of lanes) {
      const y = laneY[l.index];
      ctx.fillStyle = l.kind === 'broker' ? COLORS.append : COLORS.request;
      for (let c = 0; c < cols; c++) {
        const v = counts[c * MAX_LANES + l.index];
        if (!v) continue;
        const bh = Math.max(2, (Math.log(1 + v) / scale) * (laneH - 8));
        ctx.fillRect(xOf(t0 + c * colUs), y - bh / 2, 3, bh);
      }
    }
  }

  glyph(ctx, it, x, laneY, laneH, slant) {
    const y = laneY[it.from];
    const y2 = it.to >= 0 ? laneY[it.to] : undefined;
    const r = Math.max(4, Math.min(8, laneH * 0.18));
    switch (it.k) {
      case KIND.REQUEST:
        if (y2 !== undefined) arrow(ctx, x - slant, y, x, y2, COLORS.request, 2);
        else dot(ctx, x, y, r * 0.7, COLORS.request);
        break;
      case KIND.RESPONSE:
        if (y2 !== undefined) arrow(ctx, x, y, x + slant, y2, COLORS.response, 2);
        else dot(ctx, x, y, r * 0.7, COLORS.response);
        break;
      case KIND.DROPPED: {
        const yEnd = y2 !== undefined ? y + (y2 - y) * 0.3 : y - laneH / 2;  // lost on the way
        ctx.setLineDash([4, 3]);
        line(ctx, x, y, x + slant / 2, yEnd, COLORS.fault, 3);
        ctx.setLineDash([]);
        cross(ctx, x + slant / 2, yEnd, r, COLORS.fault);
        break;
      }
      case KIND.APPEND:
        ctx.fillStyle = COLORS.append;
        ctx.fillRect(x - r, y - r, 2 * r, 2 * r);
        ctx.strokeStyle = '#7a5200';
        ctx.lineWidth = 1;
        ctx.strokeRect(x - r, y - r, 2 * r, 2 * r);
        break;
      case KIND.REPLICATE:
        if (y2 !== undefined) arrow(ctx, x - slant, y, x, y2, COLORS.replicate, 2);
        else dot(ctx, x, y, r * 0.8, COLORS.replicate);
        break;
      case KIND.HW:
        line(ctx, x, y - laneH * 0.42, x, y + laneH * 0.42, COLORS.hw, 3);
        break;
      case KIND.LEADER:
        diamond(ctx, x, y, r * 1.6, COLORS.leader);
        break;
      case KIND.ISR:
        circle(ctx, x, y, r * 1.2, null, COLORS.leader, 3);
        ctx.fillStyle = COLORS.leader;
        ctx.fillRect(x - r * 0.7, y - 1.5, r * 1.4, 3);
        if (it.ev.event === 'isr_expand') ctx.fillRect(x - 1.5, y - r * 0.7, 3, r * 1.4);
        break;
      case KIND.TRUNCATE:
        triangle(ctx, x, y, r * 1.5, COLORS.fault);
        break;
      case KIND.DUPLICATE:
        circle(ctx, x, y, r * 1.3, COLORS.duplicate, '#000', 2);
        break;
      case KIND.RETRY:
        triangle(ctx, x, y, r * 1.4, COLORS.append);
        break;
      default:
        dot(ctx, x, y, 3, COLORS.other);
    }
    this.hits.push({x, y: y2 !== undefined ? (y + y2) / 2 : y, it});
  }

  // Faults: a dashed band across every lane and a label, stacked in up to three rows so
  // labels never cover each other (a label that finds no room is left out; hover shows it).
  faults(ctx, items, xOf, h, w) {
    const rows = [-Infinity, -Infinity, -Infinity];
    ctx.font = 'bold 15px system-ui, sans-serif';
    let lastLabel = null, lastX = -Infinity;
    for (const it of items) {
      const x = xOf(it.t);
      // broker_down and its `fault` line (the same moment, the same words) get one label
      const label = it.ev.action || it.ev.event;
      const same = label === lastLabel && Math.abs(x - lastX) < 12;
      lastLabel = label;
      lastX = x;
      if (same) continue;
      ctx.fillStyle = 'rgba(213, 94, 0, 0.16)';
      ctx.fillRect(x - 5, AXIS, 10, h - AXIS);
      ctx.setLineDash([8, 5]);
      line(ctx, x, AXIS, x, h, COLORS.fault, 3);
      ctx.setLineDash([]);
      this.hits.push({x, y: h / 2, it});
      const tw = ctx.measureText(label).width + 10;
      const left = x + 3 + tw > w ? x - 3 - tw : x + 3;
      const row = rows.findIndex((end) => end < left - 4);
      if (row < 0) continue;
      rows[row] = left + tw;
      const y = AXIS + 2 + row * 24;
      ctx.fillStyle = COLORS.fault;
      ctx.fillRect(left, y, tw, 22);
      ctx.fillStyle = '#fff';
      ctx.fillText(label, left + 5, y + 11);
      this.hits.push({x: left + tw / 2, y: y + 11, it});
    }
  }

  hover(e) {
    const r = this.canvas.getBoundingClientRect();
    const mx = e.clientX - r.left, my = e.clientY - r.top;
    let best = null, bestD = 14 * 14;
    for (const h of this.hits) {
      const d = (h.x - mx) ** 2 + (h.y - my) ** 2;
      if (d < bestD) { bestD = d; best = h; }
    }
    if (!best) {
      this.tooltip.hidden = true;
      return;
    }
    const rel = this.replayItems ? fmtDuration(best.it.t - this.origin) : fmtDuration(best.it.t - this.rightEdge());
    this.tooltip.textContent = `${rel}  ${describe(best.it.ev)}`;
    this.tooltip.hidden = false;
    const tw = this.tooltip.offsetWidth;
    this.tooltip.style.left = Math.max(0, Math.min(r.width - tw, mx + 12)) + 'px';
    this.tooltip.style.top = (my + 16) + 'px';
  }
}

// The first index in [0, n) whose key is >= t (keys ascending).
function lowerBound(n, key, t) {
  let lo = 0, hi = n;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (key(mid) < t) lo = mid + 1; else hi = mid;
  }
  return lo;
}

function wrapText(ctx, text, x, y, width, lineH) {
  let line = '';
  for (const word of text.split(' ')) {
    if (line && ctx.measureText(line + ' ' + word).width > width) {
      ctx.fillText(line, x, y);
      y += lineH;
      line = word;
    } else {
      line = line ? line + ' ' + word : word;
    }
  }
  if (line) ctx.fillText(line, x, y);
}

function truncate(ctx, text, width) {
  if (ctx.measureText(text).width <= width) return text;
  let s = text;
  while (s.length > 1 && ctx.measureText(s + '…').width > width) s = s.slice(0, -1);
  return s + '…';
}

function line(ctx, x1, y1, x2, y2, color, width) {
  ctx.strokeStyle = color;
  ctx.lineWidth = width;
  ctx.beginPath();
  ctx.moveTo(x1, y1);
  ctx.lineTo(x2, y2);
  ctx.stroke();
}

function arrow(ctx, x1, y1, x2, y2, color, width) {
  line(ctx, x1, y1, x2, y2, color, width);
  const a = Math.atan2(y2 - y1, x2 - x1), s = 7;
  ctx.fillStyle = color;
  ctx.beginPath();
  ctx.moveTo(x2, y2);
  ctx.lineTo(x2 - s * Math.cos(a - 0.45), y2 - s * Math.sin(a - 0.45));
  ctx.lineTo(x2 - s * Math.cos(a + 0.45), y2 - s * Math.sin(a + 0.45));
  ctx.closePath();
  ctx.fill();
}

// A circle, filled with fill and/or outlined with stroke (either may be null).
function circle(ctx, x, y, r, fill, stroke, width) {
  ctx.beginPath();
  ctx.arc(x, y, r, 0, Math.PI * 2);
  if (fill) {
    ctx.fillStyle = fill;
    ctx.fill();
  }
  if (stroke) {
    ctx.strokeStyle = stroke;
    ctx.lineWidth = width;
    ctx.stroke();
  }
}

function dot(ctx, x, y, r, color) {
  circle(ctx, x, y, r, color, null, 0);
}

function diamond(ctx, x, y, r, color) {
  ctx.fillStyle = color;
  ctx.strokeStyle = '#000';
  ctx.lineWidth = 1.5;
  ctx.beginPath();
  ctx.moveTo(x, y - r);
  ctx.lineTo(x + r, y);
  ctx.lineTo(x, y + r);
  ctx.lineTo(x - r, y);
  ctx.closePath();
  ctx.fill();
  ctx.stroke();
}

function triangle(ctx, x, y, r, color) {
  ctx.strokeStyle = color;
  ctx.lineWidth = 3;
  ctx.beginPath();
  ctx.moveTo(x, y - r);
  ctx.lineTo(x + r, y + r * 0.8);
  ctx.lineTo(x - r, y + r * 0.8);
  ctx.closePath();
  ctx.stroke();
}

function cross(ctx, x, y, r, color) {
  line(ctx, x - r, y - r, x + r, y + r, color, 3);
  line(ctx, x - r, y + r, x + r, y - r, color, 3);
}
