// Replay: a --trace file opened in the page and scrubbed. The panels then show the state
// at the scrubber's position, rebuilt from the events by the same reducer the live view
// uses (reducer.js), and the timeline ends at that moment.
//
// Position p means "the first p events applied" (0 = none, N = all). Moving forward applies
// the next events to the current state; moving back starts again from the nearest
// checkpoint (a copy of the state taken every few thousand events while the file loads),
// so a jump anywhere in a long trace costs at most one checkpoint interval.

import {emptyState, applyEvent, parseTrace, findPartition} from './reducer.js';
import {describe} from './events.js';

const MAX_FILE_BYTES = 512 * 1024 * 1024;
const MAX_GAP_MS = 1000;  // real-time play never waits longer than this between two events

export class Replay {
  constructor({onState, onEnter, onLeave, onError}) {
    this.onState = onState;
    this.onEnter = onEnter;
    this.onLeave = onLeave;
    this.onError = onError;
    this.events = null;
    this.playing = false;
    this.speed = 'e5';
    this.el = {
      controls: document.getElementById('r-controls'),
      info: document.getElementById('r-info'),
      scrub: document.getElementById('r-scrub'),
      where: document.getElementById('r-where'),
      play: document.getElementById('r-play'),
      speed: document.getElementById('r-speed'),
    };
    document.getElementById('r-file').addEventListener('change', (e) => {
      const f = e.target.files && e.target.files[0];
      if (f) this.open(f);
    });
    document.getElementById('r-start').addEventListener('click', () => this.seek(0));
    document.getElementById('r-back').addEventListener('click', () => this.seek(this.pos - 1));
    document.getElementById('r-fwd').addEventListener('click', () => this.seek(this.pos + 1));
    document.getElementById('r-end').addEventListener('click', () => this.seek(this.events.length));
    document.getElementById('r-live').addEventListener('click', () => this.leave());
    this.el.play.addEventListener('click', () => this.setPlaying(!this.playing));
    this.el.speed.addEventListener('change', () => { this.speed = this.el.speed.value; });
    this.el.scrub.addEventListener('input', () => this.seek(this.posAtTime(this.scrubTime())));
  }

  get active() { return this.events !== null; }

  async open(file) {
    if (file.size > MAX_FILE_BYTES) {
      this.onError(`${file.name} is ${(file.size / 1048576).toFixed(0)} MB; the replay opens traces up to ${MAX_FILE_BYTES / 1048576} MB`);
      return;
    }
    this.el.info.textContent = `reading ${file.name}…`;
    const text = await file.text();
    this.load(text, file.name);
  }

  // Load a trace's text (also the test's way in). Returns {events, bad}.
  load(text, name) {
    const {events, errors, bad} = parseTrace(text);
    if (!events.length) {
      this.onError(`${name}: no trace events in it` + (errors.length ? ` (line ${errors[0].line}: ${errors[0].message})` : ''));
      this.el.info.textContent = 'A --trace FILE from minikafka broker, a lab, produce or perf.';
      return {events: 0, bad};
    }
    this.setPlaying(false);
    this.name = name;
    this.events = events;
    // One pass: effective times (never going back), each event's leader before it (for the
    // timeline's arrows) and the checkpoints.
    const n = events.length;
    this.times = new Float64Array(n);
    this.every = Math.max(1000, Math.ceil(n / 200));
    this.checkpoints = [];
    const leaders = new Array(n);
    const state = emptyState();
    let t = -Infinity;
    for (let i = 0; i < n; i++) {
      if (i % this.every === 0) this.checkpoints.push(structuredClone(state));
      const ev = events[i];
      if (typeof ev.ts_us === 'number' && ev.ts_us > t) t = ev.ts_us;
      this.times[i] = t === -Infinity ? 0 : t;
      if (ev.topic !== undefined) {
        const p = findPartition(state, ev.topic, ev.partition);
        leaders[i] = p ? p.leader : null;
      }
      applyEvent(state, ev);
    }
    this.final = state;
    this.t0 = this.times[0];
    this.t1 = this.times[n - 1];
    this.state = structuredClone(this.checkpoints[0]);
    this.pos = 0;
    this.el.info.textContent = `${name}: ${n.toLocaleString()} events over ${((this.t1 - this.t0) / 1e6).toFixed(3)} s` +
      (bad ? ` (${bad} lines skipped: line ${errors[0].line}: ${errors[0].message})` : '');
    this.el.controls.hidden = false;
    this.el.scrub.hidden = false;
    this.onEnter(events, (i) => leaders[i] ?? null);
    this.seek(0);
    return {events: n, bad};
  }

  leave() {
    this.setPlaying(false);
    this.events = this.state = this.checkpoints = this.final = null;
    this.el.controls.hidden = true;
    this.el.scrub.hidden = true;
    this.el.where.textContent = '';
    this.el.info.textContent = 'A --trace FILE from minikafka broker, a lab, produce or perf.';
    document.getElementById('r-file').value = '';
    this.onLeave();
  }

  // The number of events with a time <= t.
  posAtTime(t) {
    let lo = 0, hi = this.times.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (this.times[mid] <= t) lo = mid + 1; else hi = mid;
    }
    return lo;
  }

  scrubTime() {
    return this.t0 + ((this.t1 - this.t0) * Number(this.el.scrub.value)) / Number(this.el.scrub.max);
  }

  timeAt(pos) {
    return pos === 0 ? this.t0 : this.times[pos - 1];
  }

  seek(pos, fromPlay) {
    if (!this.events) return;
    pos = Math.max(0, Math.min(this.events.length, pos));
    if (pos < this.pos || pos - this.pos > this.every) {
      const c = Math.floor(pos / this.every);
      this.state = structuredClone(this.checkpoints[Math.min(c, this.checkpoints.length - 1)]);
      this.pos = Math.min(c, this.checkpoints.length - 1) * this.every;
    }
    for (; this.pos < pos; this.pos++) applyEvent(this.state, this.events[this.pos]);
    if (!fromPlay) this.playTime = null;
    const t = this.timeAt(pos);
    if (document.activeElement !== this.el.scrub && this.t1 > this.t0)
      this.el.scrub.value = String(Math.round(((t - this.t0) / (this.t1 - this.t0)) * Number(this.el.scrub.max)));
    const last = pos > 0 ? this.events[pos - 1] : null;
    this.el.where.replaceChildren(
      document.createTextNode(`event ${pos.toLocaleString()} of ${this.events.length.toLocaleString()} · +${((t - this.t0) / 1e6).toFixed(6)} s · `),
      Object.assign(document.createElement('b'), {textContent: last ? describe(last) : 'before the first event'}),
      Object.assign(document.createElement('div'), {className: 'ev', textContent: last ? JSON.stringify(last) : ''}));
    this.onState(this.state, {pos, time: t, event: last});
  }

  setPlaying(p) {
    this.playing = p && !!this.events;
    this.el.play.textContent = this.playing ? '■ pause' : '▶ play';
    if (!this.playing) return;
    if (this.pos >= this.events.length) this.seek(0);
    this.playTime = null;
    this.carry = 0;
    let lastFrame = performance.now();
    const tick = (now) => {
      if (!this.playing || !this.events) return;
      const dt = Math.min(250, now - lastFrame);
      lastFrame = now;
      const mode = this.speed[0], rate = Number(this.speed.slice(1));
      let target = this.pos;
      if (mode === 'e') {
        this.carry += (dt / 1000) * rate;
        const steps = Math.floor(this.carry);
        this.carry -= steps;
        target = this.pos + steps;
      } else {
        if (this.playTime === null) this.playTime = this.timeAt(this.pos);
        this.playTime += dt * 1000 * rate;
        const next = this.times[Math.min(this.pos, this.times.length - 1)];
        if (next - this.playTime > MAX_GAP_MS * 1000 * rate) this.playTime = next - MAX_GAP_MS * 1000 * rate;
        target = Math.max(this.pos, this.posAtTime(this.playTime));
      }
      if (target !== this.pos) this.seek(target, true);
      if (this.pos >= this.events.length) {
        this.setPlaying(false);
        return;
      }
      requestAnimationFrame(tick);
    };
    requestAnimationFrame(tick);
  }
}
