// The dashboard's entry point: the instructor's live view of one minikafka broker
// (DESIGN.md 3.7). It wires the pieces together:
//
//   GET /v1/cluster, /v1/producers   the state, at load and every REFRESH seconds as a
//                                    safety net (?refresh=N; 0 = only when needed)
//   GET /v1/groups, /v1/transactions, their tabs: at load, with each refresh, and soon after
//       /v1/schemas                  an event says they changed
//   GET /v1/events (SSE)             every trace event: folded into the state (reducer.js),
//                                    so the panels move as things happen, and drawn on
//                                    the timeline (timeline.js)
//   the panels                       redrawn at most REDRAW_MS apart, on animation frames
//   the buttons (controls.js)        admin API calls, each shown as curl
//   replay (replay.js)               a trace file instead of the live state: opened in
//                                    the page, this broker's own (GET /v1/trace, "Replay
//                                    this run"), or with ?replay the only thing the page
//                                    shows (`minikafka replay FILE` serves it that way)
//
// Events arrive at any rate (10,000/s is fine): each costs a JSON.parse, a reducer step
// and a slot in the timeline's ring; drawing happens once per frame at most.
//
// window.mkDashboard exposes the state to the browser tests (tests/browser/).

import {fromSnapshot, applyEvent, toCluster, toProducers, toFaults, emptyState} from './reducer.js';
import {describe} from './events.js';
import {call, errorText} from './api.js';
import {Timeline} from './timeline.js';
import {ClusterView} from './cluster_view.js';
import {ProducersView, renderGroups, renderTransactions, renderSchemas, renderFaults} from './panels.js';
import {Controls} from './controls.js';
import {Replay} from './replay.js';
import {noteCluster, isProxy} from './proxy_mode.js';
import {h, setText} from './dom.js';

const params = new URLSearchParams(window.location.search);
const REFRESH_S = params.has('refresh') ? Math.max(0, Number(params.get('refresh')) || 0) : 5;
// ?replay: a replay server (`minikafka replay FILE`): GET /v1/trace is the page's whole
// content; there is no live broker behind it.
const REPLAY_ONLY = params.has('replay');
const REDRAW_MS = 100;
const $ = (id) => document.getElementById(id);

// ---- state -------------------------------------------------------------------------------

let live = emptyState();
let loaded = false;           // the first snapshot arrived
let clusterDirty = true;
let lastRender = 0;
let faultsList = [];
let groupsResult = {status: null};
let txnsResult = {status: null};
let schemasResult = {status: null};
let refreshTimer = null;
let bannerTimer = null;
const stats = {events: 0, badEvents: 0, renders: 0, frames: 0, snapshots: 0, sseOpens: 0};
const duplicates = [];        // duplicate events waiting for the producers panel to light them

const canvas = $('timeline');
const tooltip = $('tl-tooltip');
const liveTimeline = new Timeline(canvas, tooltip);
let replayTimeline = null;
const timeline = () => replayTimeline || liveTimeline;

const clusterView = new ClusterView($('cluster'), $('brokers'), {
  onSelect: (topic, partition, broker) => {
    clusterView.selected = {topic, partition, broker};
    controls.select(topic, partition, broker);
    selectTab('faults');
    clusterDirty = true;
  },
  onBroker: (id, up) => controls.toggleBroker(id, up),
  onBrokerHover: (id, up) => controls.previewBroker(id, up),
});
const producersView = new ProducersView($('producers'));
const controls = new Controls({
  onChanged: (path) => {
    if (path === '/v1/reset') {
      liveTimeline.clear();
      probeOptional();
    }
    refresh();
  },
  banner,
});
const replay = new Replay({
  onState: () => {
    clusterDirty = true;
    replayTimeline.setCursor(replay.timeAt(replay.pos));
  },
  onEnter: (events, leaderAt) => {
    replayTimeline = new Timeline(canvas, tooltip);
    replayTimeline.setSpan(liveTimeline.spanUs);
    replayTimeline.setReplay(events, (i) => leaderAt(i));
    replayTimeline.setFilter(liveTimeline.filter);
    document.body.classList.add('replaying');
    $('banner').hidden = true;  // a live banner would describe the live broker, not the file
    setStatus('replay', `REPLAY · ${replay.name}`);
    clusterDirty = true;
  },
  onLeave: () => {
    replayTimeline = null;
    liveTimeline.dirty = true;
    document.body.classList.remove('replaying');
    setStatus(es && es.readyState === 1 ? 'live' : 'offline', es && es.readyState === 1 ? 'LIVE' : 'reconnecting…');
    clusterDirty = true;
  },
  onError: (msg) => banner(msg),
});

const current = () => (replay.active ? replay.state : live);

function bootstrap() {
  return Object.values(live.brokers).filter((b) => b.port).map((b) => `${b.host}:${b.port}`).join(',');
}

// ---- the banner and the status pill -----------------------------------------------------

function banner(text, cls) {
  const el = $('banner');
  el.textContent = text;
  el.title = text;
  el.className = cls || '';
  el.hidden = false;
  clearTimeout(bannerTimer);
  bannerTimer = setTimeout(() => { el.hidden = true; }, 6000);
}

function setStatus(cls, text) {
  const el = $('status');
  el.className = 'pill ' + cls;
  setText(el, text);
}

// ---- fetching ------------------------------------------------------------------------------

let refreshes = 0;      // refreshes started
let refreshedBy = 0;    // the newest one applied: an older answer arriving late is dropped

async function refresh() {
  clearTimeout(refreshTimer);
  refreshTimer = null;
  const mine = ++refreshes;
  const [c, p, f] = await Promise.all([call('GET', '/v1/cluster'), call('GET', '/v1/producers'), call('GET', '/v1/faults')]);
  if (mine < refreshedBy) return;
  refreshedBy = mine;
  if (!c.ok) {
    setStatus('offline', 'OFFLINE: the broker does not answer');
    return;
  }
  noteCluster(c.body, controls);  // a proxy in front of a real cluster? (proxy_mode.js)
  const fresh = fromSnapshot(c.body, p.ok ? p.body : null);
  fresh.ts_us = live.ts_us;
  fresh.events = live.events;
  fresh.faults = live.faults;
  fresh.counters = live.counters;  // what only events tell (duplicates seen, ...) survives
  live = fresh;
  if (f.ok && Array.isArray(f.body)) faultsList = f.body;
  loaded = true;
  stats.snapshots++;
  clusterDirty = true;
  await refetchOptional();
}

// Soon, once (several events asking for it make one refresh).
function refreshSoon(ms = 300) {
  if (!refreshTimer) refreshTimer = setTimeout(refresh, ms);
}

async function getOptional(path) {
  const r = await call('GET', path);
  return {status: r.status, body: r.body, error: r.ok ? null : r.text.slice(0, 200)};
}

// The endpoints that came later (groups, transactions, schemas): asked once at load and
// after a reset; a 404 means "not on this broker", and the panels say so.
async function probeOptional() {
  [groupsResult, txnsResult, schemasResult] = await Promise.all([getOptional('/v1/groups'),
    getOptional('/v1/transactions'), getOptional('/v1/schemas')]);
  clusterDirty = true;
}

// Those this broker serves, again (a 404 is not asked twice).
async function refetchOptional() {
  if (groupsResult.status === 200) groupsResult = await getOptional('/v1/groups');
  if (txnsResult.status === 200) txnsResult = await getOptional('/v1/transactions');
  if (schemasResult.status === 200) schemasResult = await getOptional('/v1/schemas');
  clusterDirty = true;
}

// Soon, once: their panels show the endpoints' answers, and the events only say that
// something changed (a group or transaction moved, a registration reached _schemas' HW).
let optionalTimer = null;
function refetchOptionalSoon(ms = 200) {
  if (!optionalTimer) optionalTimer = setTimeout(() => { optionalTimer = null; refetchOptional(); }, ms);
}

// ---- the event stream ------------------------------------------------------------------------

let es = null;

function connect() {
  es = new EventSource('/v1/events');
  es.onopen = () => {
    stats.sseOpens++;
    if (!replay.active) setStatus('live', 'LIVE');
    refresh();  // events may have been missed while (re)connecting
  };
  es.onerror = () => {
    if (!replay.active) setStatus('offline', 'reconnecting…');
  };
  es.onmessage = (m) => onEventText(m.data);
}

function onEventText(text) {
  let ev;
  try {
    ev = JSON.parse(text);
  } catch (e) {
    stats.badEvents++;
    return;
  }
  if (!ev || typeof ev !== 'object') return;
  stats.events++;
  // A topic the page does not know: fetch its replicas, unless the event says them itself.
  if (typeof ev.topic === 'string' && !live.topics[ev.topic] && !/^(partition_state|topic_delete)$/.test(ev.event)) refreshSoon();
  const change = applyEvent(live, ev);
  liveTimeline.push(ev, leaderOf);  // also during a replay: the live view carries on behind it
  if (change) clusterDirty = true;
  if (ev.event === 'response_sent' && /^(CreateTopics|DeleteTopics|CreatePartitions)$/.test(ev.api)) refreshSoon(100);
  if (change === 'duplicate' && duplicates.length < 100) duplicates.push(ev);
  if (ev.event === 'fault' && !replay.active) {
    banner(describe(ev).replace(/^FAULT /, ''));  // the banner's colour says "fault"
    refreshSoon(200);
  }
  if (/^(fault_armed|faults_clear|reset)$/.test(ev.event)) refreshSoon(100);  // the fault list
  if (ev.event === 'reset') liveTimeline.clear();
  if (change === 'group' || change === 'transaction' || (ev.topic === '_schemas' && ev.event === 'hw_advance')) refetchOptionalSoon();
}

function leaderOf(topic, partition) {
  const t = live.topics[topic];
  const p = t && t.partitions[partition];
  return p ? p.leader : null;
}

// ---- drawing ---------------------------------------------------------------------------------

let filterKey = '';

// The timeline's filters: one select for a topic or one of its partitions, one for a client.
function updateFilters(view) {
  const t = timeline();
  const clients = t.lanes.filter((l) => l.kind === 'client').map((l) => l.label);
  const places = [];
  for (const x of view.topics) {
    places.push([x.name, x.name]);
    for (const p of x.partitions) places.push([`${x.name}\u0000${p.partition}`, `${x.name}-${p.partition}`]);
  }
  const key = places.map((p) => p[0]).join(',') + '|' + clients.join(',');
  if (key === filterKey) return;
  filterKey = key;
  const keep = (el, options, all) => {
    const v = el.value;
    el.replaceChildren(h('option', {value: ''}, all), options.map(([value, label]) => h('option', {value}, label)));
    el.value = options.some(([value]) => value === v) ? v : '';
  };
  keep($('tl-topic'), places, 'all topics');
  keep($('tl-client'), clients.map((c) => [c, c]), 'all clients');
}

function render() {
  const st = current();
  const view = toCluster(st);
  const ctx = {replay: replay.active, bootstrap: bootstrap(), proxy: isProxy()};
  clusterView.renderBrokers(view.brokers, ctx);
  if (loaded || replay.active) clusterView.render(view, ctx);
  controls.update(view);
  producersView.render(toProducers(st), ctx);
  while (duplicates.length) producersView.duplicate(duplicates.shift());
  renderGroups($('groups'), replay.active ? {replay: st.groups} : groupsResult, ctx);
  renderTransactions($('transactions'), replay.active ? {replay: st.transactions} : txnsResult, ctx);
  renderSchemas($('schemas'), replay.active ? {replay: {}} : schemasResult, ctx);
  renderFaults($('faults-list'), replay.active ? toFaults(st) : faultsList, ctx);
  setText($('bootstrap-help'), ctx.bootstrap ? `bootstrap.servers for your clients: ${ctx.bootstrap}` : '');
  updateFilters(view);
  const t = timeline();
  t.brokerUp = (id) => !st.brokers[id] || st.brokers[id].up !== false;
  t.dirty = true;
  stats.renders++;
}

function frame(now) {
  stats.frames++;
  if (clusterDirty && now - lastRender >= REDRAW_MS) {
    clusterDirty = false;
    lastRender = now;
    render();
  }
  const t = timeline();
  if (t.needsFrame()) t.draw();
  setText($('tl-span'), `${fmtSpan(t.spanUs)} · ${t.inView.toLocaleString()} events${t.mode === 'density' ? ' · busy: density (zoom in)' : ''}`);
  requestAnimationFrame(frame);
}

function fmtSpan(us) {
  return us >= 1e6 ? `${+(us / 1e6).toFixed(1)} s` : `${+(us / 1e3).toFixed(1)} ms`;
}

// ---- tabs and timeline controls ------------------------------------------------------------

function selectTab(name) {
  for (const tab of document.querySelectorAll('[role="tab"]')) {
    const on = tab.id === 'tab-' + name;
    tab.setAttribute('aria-selected', on ? 'true' : 'false');
    $(tab.getAttribute('aria-controls')).hidden = !on;
  }
  if (name === 'topics') controls.topicPreview();
  const fetched = {groups: groupsResult, transactions: txnsResult, schemas: schemasResult}[name];
  if (fetched && fetched.status === 200) refresh();
}

for (const tab of document.querySelectorAll('[role="tab"]')) {
  tab.addEventListener('click', () => selectTab(tab.id.slice(4)));
}

$('tl-pause').addEventListener('click', () => {
  const t = timeline();
  t.setPaused(!t.paused);
  $('tl-pause').setAttribute('aria-pressed', t.paused ? 'true' : 'false');
  setText($('tl-pause'), t.paused ? 'Resume' : 'Pause');
});
$('tl-zoom-in').addEventListener('click', () => timeline().setSpan(timeline().spanUs / 2));
$('tl-zoom-out').addEventListener('click', () => timeline().setSpan(timeline().spanUs * 2));
function setFilter(f) {
  liveTimeline.setFilter(f);
  if (replayTimeline) replayTimeline.setFilter(f);
}
$('tl-topic').addEventListener('change', () => {
  const [topic, partition] = $('tl-topic').value.split('\u0000');
  setFilter({topic: topic || '', partition: partition ?? ''});
});
$('tl-client').addEventListener('change', () => setFilter({client: $('tl-client').value}));
canvas.addEventListener('mousemove', (e) => timeline().hover(e));
canvas.addEventListener('mouseleave', () => { tooltip.hidden = true; });
canvas.addEventListener('wheel', (e) => timeline().wheel(e), {passive: false});
window.addEventListener('resize', () => { timeline().dirty = true; });
window.addEventListener('keydown', (e) => {
  if (!replay.active || /^(INPUT|SELECT|TEXTAREA)$/.test(document.activeElement.tagName)) return;
  if (e.key === 'ArrowRight') replay.seek(replay.pos + 1);
  else if (e.key === 'ArrowLeft') replay.seek(replay.pos - 1);
});

// ---- start -----------------------------------------------------------------------------------

window.mkDashboard = {
  stats,
  live: () => toCluster(live),
  liveProducers: () => toProducers(live),
  replayCluster: () => (replay.active ? toCluster(replay.state) : null),
  replayProducers: () => (replay.active ? toProducers(replay.state) : null),
  replayFinal: () => (replay.active ? toCluster(replay.final) : null),
  replayFaults: () => (replay.active ? toFaults(replay.state) : null),
  replay,
  timeline: () => timeline().stats(),
  inject: (lines) => { for (const l of lines) onEventText(l); },
  loaded: () => loaded,
  lastTs: () => live.ts_us || 0,
  counters: () => ({...live.counters}),
  groupsStatus: () => groupsResult.status,
  schemas: () => schemasResult,
};

// The trace a server holds (GET /v1/trace), into the replay.
async function replayServed(name) {
  const r = await call('GET', '/v1/trace');
  if (!r.ok) {
    banner(`Replay this run: ${errorText(r)}`);
    return false;
  }
  return replay.load(r.text, name).events > 0;
}

$('r-this-run').addEventListener('click', () => replayServed('this run (GET /v1/trace)'));

if (REPLAY_ONLY) {
  document.body.classList.add('replay-only');
  selectTab('replay');
  replayServed(params.get('replay') || 'trace').then((ok) => {
    if (!ok) setStatus('offline', 'REPLAY: no trace');
  });
} else {
  connect();
  refresh();
  probeOptional();
  if (REFRESH_S > 0) setInterval(() => { if (!replay.active) refresh(); }, REFRESH_S * 1000);
}
requestAnimationFrame(frame);
