// The dashboard served by `minikafka proxy` in front of librdkafka's mock cluster (another
// Kafka implementation, 3 brokers), in Debian's chromium, headless, driven by puppeteer-core.
// Run by tests/interop/with_broker.sh with MK_MOCK_CLUSTER set, which starts the mock and the
// proxy and exports BOOTSTRAP (the proxy's listeners), MK_PROXY_ADMIN and MOCK_BOOTSTRAP.
//
//   1. the page loads from the proxy's admin port and knows it is a proxy's (GET /v1/cluster
//      says "proxy"): the note names the upstream; Reset and the topic form are gone; the
//      fault form offers exactly the proxy's actions (proxy/fault_inject.c)
//   2. kcat produces through the proxy: the timeline draws kcat's lane and the brokers'
//      (the live lane works on a real cluster); the cluster panel matches the proxy's GET
//      /v1/cluster (brokers, each partition's leader, replicas, ISR), and shows "?" for the
//      HW and the epoch the proxy cannot see rather than 0 / -1
//   3. a broker chip's Stop: broker_down on the proxy, the chip and /v1/cluster agree it is
//      down; Start brings it back
//   4. drop_response from the fault form, then kcat without idempotence: the fault reaches
//      the timeline and the fault list, and every record is read back twice
//   5. the producers tab says producer state is not visible through the proxy
//   6. throughout: no console error (but the page's probes of /v1/groups and
//      /v1/transactions, which answer 404 on a proxy), no request to another host, no
//      horizontal scrolling at 1280x720
//
// Usage (with_broker.sh sets the environment): node test_dashboard_proxy.js ARTIFACT_DIR
// Screenshots go to ARTIFACT_DIR. Exit 0 when every check passed, 1 otherwise; never skips.

import {spawnSync} from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import {results, pass, fail, check, sleep, waitFor, loadPuppeteer, launch, watchedPage} from './harness.js';

const [artifacts] = process.argv.slice(2);
const admin = process.env.MK_PROXY_ADMIN;
const bootstrap = process.env.BOOTSTRAP;
const upstream = process.env.MOCK_BOOTSTRAP;
if (!artifacts || !admin || !bootstrap || !upstream) {
  console.error('usage: with_broker.sh MINIKAFKA node test_dashboard_proxy.js ARTIFACT_DIR, with MK_MOCK_CLUSTER set');
  process.exit(2);
}
fs.mkdirSync(artifacts, {recursive: true});

let browser = null;
async function api(method, p, body) {
  const res = await fetch(admin + p, {method, body: body === undefined ? undefined : JSON.stringify(body)});
  const text = await res.text();
  return {status: res.status, body: text ? JSON.parse(text) : null};
}
function kcat(args, input) {
  const r = spawnSync('kcat', ['-b', bootstrap, ...args], {input, timeout: 60000, encoding: 'utf8'});
  if (r.error || r.status !== 0) throw new Error(`kcat ${args.join(' ')} failed (${r.error ? r.error.message : 'exit ' + r.status}): ${(r.stderr || '').slice(0, 400)}`);
  return r.stdout;
}

const deadline = setTimeout(async () => {
  fail('the whole test', 'took more than 150 s');
  if (browser) await browser.close().catch(() => {});
  process.exit(1);
}, 150000);

// The cluster panel as the page shows it (its data- attributes and texts).
function readCluster(page) {
  return page.evaluate(() => ({
    brokers: [...document.querySelectorAll('#brokers .broker')].map((b) => ({id: Number(b.dataset.broker), up: b.dataset.up === 'true'})),
    partitions: [...document.querySelectorAll('#cluster .partition')].map((el) => ({
      topic: el.dataset.topic, partition: Number(el.dataset.partition), leader: el.dataset.leader,
      hwText: el.querySelector('.p-hw').textContent, epochText: el.querySelector('.p-epoch').textContent,
      replicas: [...el.querySelectorAll('.replica')].map((r) => ({broker: Number(r.dataset.broker), isr: r.dataset.isr})),
    })),
  }));
}

// Differences between the page and the proxy's GET /v1/cluster, as sentences.
function diffCluster(dom, cluster, topic) {
  const out = [];
  for (const b of cluster.brokers) {
    const d = dom.brokers.find((x) => x.id === b.id);
    if (!d) out.push(`broker ${b.id} not shown`);
    else if (d.up !== b.up) out.push(`broker ${b.id}: page up=${d.up}, API up=${b.up}`);
  }
  const t = cluster.topics.find((x) => x.name === topic);
  if (!t) return out.concat(`${topic} not in GET /v1/cluster`);
  for (const p of t.partitions) {
    const name = `${t.name}-${p.partition}`;
    const d = dom.partitions.find((x) => x.topic === t.name && x.partition === p.partition);
    if (!d) { out.push(`${name} not shown`); continue; }
    if (d.leader !== String(p.leader)) out.push(`${name}: leader ${d.leader} vs ${p.leader}`);
    if (d.replicas.map((r) => r.broker).join() !== p.replicas.map((r) => r.broker).join())
      out.push(`${name}: replicas ${d.replicas.map((r) => r.broker)} vs ${p.replicas.map((r) => r.broker)}`);
    for (const r of d.replicas) {
      if (r.isr !== String(p.isr.includes(r.broker))) out.push(`${name} replica ${r.broker}: ISR ${r.isr} vs ${p.isr}`);
    }
    if (d.hwText !== 'HW ?') out.push(`${name}: shows "${d.hwText}", the proxy cannot see a HW`);
    const epoch = p.leader_epoch >= 0 ? String(p.leader_epoch) : '?';
    if (d.epochText !== `epoch ${epoch}`) out.push(`${name}: shows "${d.epochText}", Metadata said ${p.leader_epoch}`);
  }
  return out;
}

async function main() {
  const puppeteer = await loadPuppeteer();
  if (!puppeteer) return;
  browser = await launch(puppeteer);
  const {page, external, consoleErrors} = await watchedPage(browser, new URL(admin).origin);
  const shot = async (name) => {
    await sleep(450);
    await page.screenshot({path: path.join(artifacts, name)});
  };

  // 1. the page, in proxy mode
  const res = await page.goto(`${admin}/?refresh=0`, {waitUntil: 'load'});
  check('the proxy serves the dashboard at GET /: 200 text/html', res.status() === 200 && /^text\/html/.test(res.headers()['content-type']),
    () => `${res.status()} ${res.headers()['content-type']}`);
  await waitFor(() => page.evaluate(() => window.mkDashboard && window.mkDashboard.loaded() && window.mkDashboard.stats.sseOpens > 0), 10000, 'the page to load and open /v1/events');
  const mode = await page.evaluate(() => ({
    proxied: document.body.classList.contains('proxied'),
    note: document.getElementById('proxy-note').hidden ? '' : document.getElementById('proxy-note').textContent,
    reset: getComputedStyle(document.getElementById('reset')).display,
    topicForm: getComputedStyle(document.getElementById('topic-form')).display,
    actions: [...document.querySelectorAll('#f-action option')].map((o) => o.value),
  }));
  check('the page knows it is a proxy\'s', mode.proxied);
  check('its note names the real cluster and what stays inside it', mode.note.includes(upstream) && /high watermarks/.test(mode.note), mode.note);
  check('no Reset and no topic form on a proxy', mode.reset === 'none' && mode.topicForm === 'none', JSON.stringify(mode));
  const want = ['broker_down', 'broker_up', 'drop_response', 'error', 'delay'];
  check(`the fault form offers the proxy's actions only (${mode.actions})`, mode.actions.join() === want.join());

  // 2. kcat through the proxy: the timeline and the cluster panel
  const topic = 'dashboard-proxy';
  kcat(['-P', '-t', topic, '-K:', '-X', 'acks=all'], Array.from({length: 40}, (_, i) => `k${i}:v${i}`).join('\n') + '\n');
  try {
    await waitFor(async () => {
      const s = await page.evaluate(() => window.mkDashboard.timeline());
      return s.lanes.includes('rdkafka') && s.lanes.filter((l) => /^broker \d$/.test(l)).length >= 1 && s.total > 0 ? s : null;
    }, 10000, 'lanes for kcat and the brokers');
    const s = await page.evaluate(() => window.mkDashboard.timeline());
    pass(`the timeline draws the proxy's events live: lanes ${s.lanes.join(', ')}; ${s.total} events`);
  } catch (e) {
    fail('the timeline draws the proxy\'s events live', `${e.message}: ${JSON.stringify(await page.evaluate(() => window.mkDashboard.timeline()))}`);
  }
  let last = [];
  try {
    await waitFor(async () => {
      last = diffCluster(await readCluster(page), (await api('GET', '/v1/cluster')).body, topic);
      return last.length === 0;
    }, 10000, 'the panel to match /v1/cluster');
    pass('the cluster panel matches the proxy\'s /v1/cluster (leaders, replicas, ISR; HW and unknown epochs as "?")');
  } catch (e) {
    fail('the cluster panel matches the proxy\'s /v1/cluster', last.slice(0, 6).join('; '));
  }
  await shot('proxy-1-produced.png');

  // 3. a broker chip's Stop and Start act on the proxy's listener
  await page.click('#brokers .broker[data-broker="2"] button');
  try {
    await waitFor(async () => {
      const c = (await api('GET', '/v1/cluster')).body;
      const dom = await readCluster(page);
      return c.brokers.find((b) => b.id === 2).up === false && dom.brokers.find((b) => b.id === 2).up === false;
    }, 8000, 'broker 2 down on the page and in /v1/cluster');
    pass('Stop on broker 2: the proxy\'s listener is down, the chip says so');
  } catch (e) {
    fail('Stop on broker 2', e.message);
  }
  await shot('proxy-2-broker-down.png');
  await page.click('#brokers .broker[data-broker="2"] button');
  try {
    await waitFor(async () => (await api('GET', '/v1/cluster')).body.brokers.every((b) => b.up) &&
      (await readCluster(page)).brokers.every((b) => b.up), 8000, 'every broker up again');
    pass('Start on broker 2: up again');
  } catch (e) {
    fail('Start on broker 2', e.message);
  }

  // 4. drop_response from the form; kcat without idempotence produces every record twice
  const notablesBefore = (await page.evaluate(() => window.mkDashboard.timeline())).notables;
  await page.select('#f-action', 'drop_response');
  await page.evaluate(() => {
    const set = (name, v) => {
      const el = document.querySelector(`#f-fields [name="${name}"]`);
      if (el) { el.value = v; el.dispatchEvent(new Event('input', {bubbles: true})); }
    };
    set('api', 'Produce');
    set('count', '1');
    set('mode', 'close');
  });
  await page.click('#fault-form button[type="submit"]');
  await waitFor(async () => (await api('GET', '/v1/faults')).body.some((f) => JSON.stringify(f).includes('drop_response')), 5000, 'the fault armed');
  const dtopic = 'dashboard-proxy-dups';
  kcat(['-P', '-t', dtopic, '-p', '0', '-X', 'enable.idempotence=false', '-X', 'acks=all',
    '-X', 'linger.ms=100', '-X', 'retry.backoff.ms=50'], 'd1\nd2\nd3\n');
  const read = kcat(['-C', '-t', dtopic, '-e', '-q', '-f', '%s\n']).split('\n').filter(Boolean).sort();
  check(`kcat read every record twice after the lost answer (${read.join(',')})`, read.join() === 'd1,d1,d2,d2,d3,d3');
  try {
    await waitFor(() => page.evaluate(() => /drop_response/.test(document.getElementById('faults-list').textContent)), 8000, 'the fault list');
    pass('the fault list shows the drop_response');
  } catch (e) {
    fail('the fault list shows the drop_response', await page.$eval('#faults-list', (el) => el.textContent.slice(0, 200)));
  }
  const tl = await page.evaluate(() => window.mkDashboard.timeline());
  check(`the lost answer reached the timeline (notable events ${notablesBefore} -> ${tl.notables})`,
    tl.notables > notablesBefore, JSON.stringify(tl));
  await shot('proxy-3-drop-response.png');

  // 5. producers tab
  await page.click('#tab-producers');
  const producersText = await page.$eval('#producers', (el) => el.textContent);
  check('the producers tab says producer state is not visible through the proxy', /Not visible through the proxy/.test(producersText), producersText.slice(0, 200));
  await shot('proxy-4-producers.png');

  // 6. throughout
  const scroll = await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
  check('no horizontal scrolling at 1280x720', scroll <= 0, `${scroll} px`);
  check('no request to any other host', external.length === 0, external.slice(0, 3).join(' '));
  check('no console error', consoleErrors.length === 0, consoleErrors.slice(0, 3).join(' | '));
}

try {
  await main();
} catch (e) {
  fail('the test ran to its end', e.stack || e.message);
}
clearTimeout(deadline);
if (browser) await browser.close().catch(() => {});
const failures = results.failures;
console.log(failures ? `dashboard-browser-proxy: ${failures} check(s) failed` : 'dashboard-browser-proxy: all checks passed');
process.exit(failures ? 1 : 0);
