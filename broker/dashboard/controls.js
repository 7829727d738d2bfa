// The buttons: every fault action of DESIGN.md 3.2, topic creation, clearing the faults and
// Reset. Each is one admin API call, and the command strip under the tabs shows it as curl
// (before it is sent, while the form is filled in, and after, with the answer), so the
// class can do the same from a terminal.

import {call, curlFor, errorText} from './api.js';
import {h, fill, setText} from './dom.js';

// APIs an `error` fault can answer (broker/faults.c); the others may be dropped or delayed.
const ERROR_APIS = ['Produce', 'Fetch', 'Metadata', 'ListOffsets', 'InitProducerId'];
const APIS = ['Produce', 'Fetch', 'Metadata', 'ListOffsets', 'InitProducerId', 'ApiVersions',
  'FindCoordinator', 'CreateTopics', 'DeleteTopics', 'DescribeConfigs', 'JoinGroup', 'SyncGroup',
  'Heartbeat', 'OffsetCommit', 'OffsetFetch', 'AddPartitionsToTxn', 'EndTxn'];
const ERRORS = ['NOT_LEADER_OR_FOLLOWER', 'NOT_ENOUGH_REPLICAS', 'NOT_ENOUGH_REPLICAS_AFTER_APPEND',
  'REQUEST_TIMED_OUT', 'LEADER_NOT_AVAILABLE', 'UNKNOWN_TOPIC_OR_PARTITION',
  'OUT_OF_ORDER_SEQUENCE_NUMBER', 'INVALID_PRODUCER_EPOCH', 'CORRUPT_MESSAGE', 'NETWORK_EXCEPTION',
  'KAFKA_STORAGE_ERROR', 'COORDINATOR_NOT_AVAILABLE', 'NOT_COORDINATOR'];

// Each action: its fields (name -> required?) and what it does, in a sentence.
export const ACTIONS = {
  broker_down: {label: 'Stop a broker', fields: {broker: true},
    help: 'Its listeners close and its replicas stop; every partition it led gets a new leader from the ISR.'},
  broker_up: {label: 'Start a broker', fields: {broker: true},
    help: 'It listens again; its replicas catch up from the leaders and rejoin the ISR.'},
  follower_pause: {label: 'A follower stops copying', fields: {topic: true, partition: true, broker: true},
    help: 'That follower stops fetching; after replica.lag.time.max.ms it drops out of the ISR (click a replica bar to aim).'},
  follower_resume: {label: 'It copies again', fields: {topic: true, partition: true, broker: true},
    help: 'The follower fetches again and rejoins the ISR once it has caught up to the high watermark.'},
  follower_lag: {label: 'A slow follower', fields: {broker: true, ms: true, topic: false, partition: false},
    help: 'That broker\'s follower replicas copy each batch ms after the leader wrote it (ms 0 restores). acks=all waits for them.'},
  drop_response: {label: 'Lose an answer', fields: {api: false, count: false, mode: false, broker: false, topic: false, partition: false},
    help: 'The request is fully processed (records appended) but its response never arrives: "close" drops the connection, "silent" stops it delivering. The client retries: a duplicate unless idempotent.'},
  error: {label: 'Answer with an error', fields: {api: true, error: true, count: false, broker: false, topic: false, partition: false},
    help: 'For errors that mean "written, not replicated in time" (REQUEST_TIMED_OUT, NOT_ENOUGH_REPLICAS_AFTER_APPEND) it appends first.'},
  delay: {label: 'Slow answers', fields: {ms: true, count: false, api: false, broker: false},
    help: 'Responses wait ms before they leave: watch request.timeout.ms and retries.'},
  elect_leader: {label: 'Move leadership', fields: {topic: true, partition: true, broker: true, unclean: false},
    help: 'Leadership moves to that replica (an ISR member; one out of sync only as an unclean election); the others truncate to its log.'},
  hold_markers: {label: 'Hold transaction markers', fields: {ms: false, count: false},
    help: 'The transaction coordinator writes PrepareCommit/PrepareAbort and answers, then waits ms (or until released) before the COMMIT/ABORT markers: read_committed consumers stop at the LSO meanwhile.'},
  release_markers: {label: 'Release the markers', fields: {},
    help: 'Held transactions write their markers now; the LSO moves on.'},
};

const DEFAULTS = {api: 'Produce', count: '1', mode: 'close', ms: '1000', error: 'NOT_LEADER_OR_FOLLOWER'};

export class Controls {
  constructor({onChanged, banner}) {
    this.onChanged = onChanged;  // after a successful call: refresh what it changed
    this.banner = banner;
    this.view = {brokers: [], topics: []};
    this.values = {...DEFAULTS};
    this.action = 'broker_down';
    this.form = document.getElementById('fault-form');
    this.actionSel = document.getElementById('f-action');
    this.fieldsEl = document.getElementById('f-fields');
    this.helpEl = document.getElementById('f-help');
    this.cmdText = document.getElementById('command-text');
    this.cmdResult = document.getElementById('command-result');
    this.lastFieldsKey = '';
    this.helpOverride = null;  // {action: help} when only those are offered (limitActions)
    for (const [name, a] of Object.entries(ACTIONS)) this.actionSel.append(h('option', {value: name, title: a.label}, name));
    this.actionSel.value = this.action;
    this.actionSel.addEventListener('change', () => {
      this.action = this.actionSel.value;
      this.renderFields(true);
    });
    this.form.addEventListener('submit', (e) => {
      e.preventDefault();
      this.send('POST', '/v1/faults', this.faultBody());
    });
    this.form.addEventListener('input', () => this.preview());
    document.getElementById('f-clear').addEventListener('click', () => this.send('DELETE', '/v1/faults'));
    document.getElementById('f-clear').addEventListener('mouseenter', () => this.show(curlFor('DELETE', '/v1/faults'), 'clears every fault'));
    this.initTopicForm();
    this.initReset();
    document.getElementById('command-copy').addEventListener('click', () => this.copy());
    this.renderFields(true);
  }

  // ---- the command strip ---------------------------------------------------------------

  show(curl, result, cls) {
    this.previewing = false;
    setText(this.cmdText, curl);
    setText(this.cmdResult, result || '');
    this.cmdResult.className = cls || 'muted';
  }

  async copy() {
    const text = this.cmdText.textContent;
    try {
      await navigator.clipboard.writeText(text);
      setText(this.cmdResult, 'copied');
    } catch (e) {
      const range = document.createRange();
      range.selectNodeContents(this.cmdText);
      const sel = window.getSelection();
      sel.removeAllRanges();
      sel.addRange(range);
      setText(this.cmdResult, 'selected: press Ctrl+C');
    }
  }

  // One API call from a button: show it, send it, show the answer.
  async send(method, path, body) {
    const curl = curlFor(method, path, body);
    this.show(curl, 'sending…');
    const r = await call(method, path, body);
    if (r.ok) {
      const answer = r.body && r.body.result ? r.body.result : r.text.trim().slice(0, 160);
      this.show(curl, `${r.status} ${answer}`, 'ok');
      this.onChanged(path, r);
    } else {
      this.show(curl, errorText(r), 'error');
    }
    return r;
  }

  // ---- faults --------------------------------------------------------------------------

  // The cluster changed: brokers and topics for the selects.
  update(view) {
    this.view = view;
    const key = view.brokers.map((b) => b.id).join(',') + '|' + view.topics.map((t) => t.name + ':' + t.partitions.length).join(',');
    if (key !== this.lastFieldsKey) this.renderFields(false);
  }

  // Aim the form at one replica (a click on its bar).
  select(topic, partition, broker) {
    Object.assign(this.values, {topic, partition: String(partition), broker: String(broker)});
    // a replica's bar aims the actions about one replica; any other becomes follower_pause
    if (!['follower_pause', 'follower_resume', 'follower_lag', 'elect_leader'].includes(this.action) &&
        (!this.helpOverride || 'follower_pause' in this.helpOverride)) {
      this.action = 'follower_pause';
      this.actionSel.value = this.action;
    }
    this.renderFields(true);
  }

  // Offer only the actions in helpByAction ({action: what it does here}): a proxy takes
  // fewer than a broker (proxy_mode.js).
  limitActions(helpByAction) {
    this.helpOverride = helpByAction;
    for (const o of [...this.actionSel.options]) if (!(o.value in helpByAction)) o.remove();
    if (!(this.action in helpByAction)) this.action = this.actionSel.options[0].value;
    this.actionSel.value = this.action;
    this.renderFields(true);
  }

  renderFields(force) {
    const spec = ACTIONS[this.action];
    this.lastFieldsKey = this.view.brokers.map((b) => b.id).join(',') + '|' + this.view.topics.map((t) => t.name + ':' + t.partitions.length).join(',');
    if (!force && this.fieldsEl.contains(document.activeElement)) return;  // not under the user's fingers
    const els = [];
    for (const [name, required] of Object.entries(spec.fields)) els.push(this.field(name, required));
    fill(this.fieldsEl, els);
    setText(this.helpEl, `${spec.label}. ${this.helpOverride ? this.helpOverride[this.action] : spec.help}`);
    // The strip follows the form when the user changed it, or when it still shows the form's
    // preview (the brokers and topics arrived); a sent command's answer stays.
    if (force || this.previewing) this.preview();
  }

  field(name, required) {
    const v = this.values;
    const opt = (value, label, cur) => h('option', {value, selected: String(cur) === String(value)}, label);
    const any = required ? null : opt('', '(any)', v[name] ?? '');
    let input;
    switch (name) {
      case 'broker':
        input = h('select', {name}, any, this.view.brokers.map((b) => opt(b.id, `${b.id}${b.up ? '' : ' (down)'}`, v.broker)));
        break;
      case 'topic':
        input = h('select', {name}, any, this.view.topics.filter((t) => !t.name.startsWith('__') || t.name === v.topic)
          .map((t) => opt(t.name, t.name, v.topic)));
        if (!this.view.topics.length) input.append(h('option', {value: ''}, '(no topics yet)'));
        break;
      case 'partition': {
        const t = this.view.topics.find((x) => x.name === (v.topic || (this.view.topics[0] || {}).name));
        const n = t ? t.partitions.length : 0;
        const opts = [];
        for (let i = 0; i < n; i++) opts.push(opt(i, String(i), v.partition));
        input = h('select', {name}, any, opts);
        break;
      }
      case 'api': {
        const list = this.action === 'error' ? ERROR_APIS : APIS;
        input = h('select', {name}, any, list.map((a) => opt(a, a, v.api)));
        break;
      }
      case 'error':
        input = h('select', {name}, ERRORS.map((e) => opt(e, e, v.error)));
        break;
      case 'mode':
        input = h('select', {name}, opt('close', 'close the connection', v.mode), opt('silent', 'silent: stop delivering', v.mode));
        break;
      case 'count':
        input = h('input', {name, type: 'number', min: 1, value: v.count ?? '', placeholder: 'every', title: 'how many requests it fires for; empty = every one until cleared'});
        break;
      case 'ms':
        input = h('input', {name, type: 'number', min: 0, step: 100, value: v.ms ?? ''});
        break;
      case 'unclean':
        input = h('input', {name, type: 'checkbox', checked: v.unclean === true});
        break;
    }
    input.addEventListener('change', () => {
      v[name] = input.type === 'checkbox' ? input.checked : input.value;
      if (name === 'topic') this.renderFields(true);
    });
    input.addEventListener('input', () => { v[name] = input.type === 'checkbox' ? input.checked : input.value; });
    return h('label', {}, name, input);
  }

  // The POST /v1/faults body the form describes: only the fields set.
  faultBody() {
    const body = {action: this.action};
    const v = this.values;
    for (const name of Object.keys(ACTIONS[this.action].fields)) {
      const raw = v[name];
      if (name === 'unclean') {
        if (raw === true) body.unclean = true;
        continue;
      }
      if (raw === undefined || raw === null || raw === '') continue;
      body[name] = ['broker', 'partition', 'count', 'ms'].includes(name) ? Number(raw) : raw;
    }
    // The selects show their first choice when nothing was picked yet: send that one.
    for (const el of this.fieldsEl.querySelectorAll('select')) {
      if (body[el.name] === undefined && el.value !== '') {
        body[el.name] = ['broker', 'partition'].includes(el.name) ? Number(el.value) : el.value;
      }
    }
    return body;
  }

  preview() {
    this.show(curlFor('POST', '/v1/faults', this.faultBody()), 'not sent yet: press Inject');
    this.previewing = true;
  }

  // A broker chip's Stop/Start, and its curl while the pointer is on it.
  toggleBroker(id, up) {
    return this.send('POST', '/v1/faults', {action: up ? 'broker_down' : 'broker_up', broker: id});
  }

  previewBroker(id, up) {
    this.show(curlFor('POST', '/v1/faults', {action: up ? 'broker_down' : 'broker_up', broker: id}), 'not sent yet: click to send');
  }

  // ---- topics --------------------------------------------------------------------------

  initTopicForm() {
    const form = document.getElementById('topic-form');
    const body = () => {
      const b = {name: document.getElementById('t-name').value.trim()};
      const parts = document.getElementById('t-partitions').value;
      const rf = document.getElementById('t-rf').value;
      const minIsr = document.getElementById('t-minisr').value;
      if (parts) b.partitions = Number(parts);
      if (rf) b.replication_factor = Number(rf);
      if (minIsr) b.configs = {'min.insync.replicas': minIsr};
      return b;
    };
    form.addEventListener('input', () => this.show(curlFor('POST', '/v1/topics', body()), 'not sent yet: press Create topic'));
    form.addEventListener('submit', (e) => {
      e.preventDefault();
      this.send('POST', '/v1/topics', body());
    });
    this.topicPreview = () => this.show(curlFor('POST', '/v1/topics', body()), 'not sent yet: press Create topic');
  }

  // ---- reset ---------------------------------------------------------------------------

  initReset() {
    const button = document.getElementById('reset');
    const confirm = document.getElementById('reset-confirm');
    button.addEventListener('click', () => {
      button.hidden = true;
      confirm.hidden = false;
      this.show(curlFor('POST', '/v1/reset'), 'not sent yet');
    });
    document.getElementById('reset-no').addEventListener('click', () => {
      button.hidden = false;
      confirm.hidden = true;
    });
    document.getElementById('reset-yes').addEventListener('click', async () => {
      button.hidden = false;
      confirm.hidden = true;
      const curl = curlFor('POST', '/v1/reset');
      this.show(curl, 'sending…');
      const r = await call('POST', '/v1/reset');
      if (r.ok) {
        this.show(curl, `${r.status}: the broker is as just started`, 'ok');
        this.banner('Reset: every topic, fault and producer is gone; all brokers are up.', 'info');
        this.onChanged('/v1/reset', r);
      } else if (r.status === 404) {
        this.show(curl, '404: this broker has no /v1/reset', 'error');
        this.banner('No reset on this broker yet (POST /v1/reset answered 404): restart it to start over.');
      } else {
        this.show(curl, errorText(r), 'error');
      }
    });
  }
}
