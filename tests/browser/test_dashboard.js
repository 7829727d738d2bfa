// The dashboard in a real browser (Debian's chromium, headless, driven by puppeteer-core)
// against a real `minikafka broker` with real clients (kcat, minikafka perf):
//
//   1. the page loads from the admin port with its CSP; three brokers, "No topics yet"
//   2. the Topics tab creates a topic (POST /v1/topics, shown as curl)
//   3. kcat (idempotent) and minikafka perf produce; with ?refresh=0 (no polling) the
//      panels, moved by the event stream alone, match GET /v1/cluster: every partition's
//      leader, epoch, high watermark, each replica's log end offset and ISR membership; the
//      producers tab matches GET /v1/producers; the timeline has a lane per client and broker;
//      a drop_response from the fault form makes kcat retry, and the producers tab lights up
//      the batch the broker recognised as a duplicate
//   4. a broker's Stop button: it shows down, its partitions show their new leader
//   5. a click on a follower aims the fault form; follower_pause, then the follower drops
//      out of the ISR on the page as in /v1/cluster; follower_resume brings it back
//   6. the groups and transactions tabs explain themselves while their endpoints are absent
//  6b. the Schemas tab: empty, it names the registry's URL and an Avro produce command; two
//      versions registered through the registry's own REST API (Confluent's POST
//      /subjects/S/versions) appear with ?refresh=0 (moved by _schemas' events), version,
//      id, fields and compatibility as GET /v1/schemas says; an incompatible one (409) does not
//  6c. the Transactions tab with confluent-kafka's transactional producer (Debian's
//      python3-confluent-kafka): Ongoing with its partition while open, then CompleteCommit,
//      as GET /v1/transactions says
//   7. the broker's --trace file: the reducer (in node) replays it to exactly the final
//      GET /v1/cluster (every broker, address, leader, epoch, HW, log start, ISR, each
//      replica's log end offset, paused, lag), GET /v1/producers and GET /v1/faults; the
//      page reaches the same state from the file picker and from "Replay this run" (GET
//      /v1/trace); scrubbing back lands on the same state as replaying that prefix
//      then every fault action of DESIGN 3.2 from the form (all accepted, elect_leader
//      shown), and Clear faults
//   8. 10,000 events/s pushed through the page's event handler for 3 s: it keeps drawing,
//      its memory stays bounded, the timeline switches to density
//   9. Reset (POST /v1/reset): the view empties (no topics, no producers, no faults, every
//      broker up), the broker agrees, and a topic made after it shows as on a fresh broker
//  9b. `minikafka replay` of the whole run (reset included) in a second tab: replay-only,
//      its end state is the broker's final /v1/cluster and /v1/faults
//  10. throughout: no console error, no request to any other host, no horizontal
//      scrolling at 1280x720, no text under 14 px
//
// Screenshots (1280x720) go to ARTIFACT_DIR. Usage:
//   node tests/browser/test_dashboard.js MINIKAFKA ARTIFACT_DIR
// Exit 0 when every check passed, 1 otherwise. Never skips: a missing chromium or
// puppeteer-core fails, naming the command that installs it.

import {spawn, spawnSync} from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {fileURLToPath} from 'node:url';
import {results, pass, fail, check, sleep, waitFor, loadPuppeteer, launch, watchedPage} from './harness.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const reducer = await import(path.join(here, '../../broker/dashboard/reducer.js'));

const [minikafka, artifacts] = process.argv.slice(2);
if (!minikafka || !artifacts) {
  console.error('usage: test_dashboard.js MINIKAFKA ARTIFACT_DIR');
  process.exit(2);
}
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'minikafka-browser-'));
fs.mkdirSync(artifacts, {recursive: true});

let broker = null;
let browser = null;
const brokerLog = [];

async function cleanup() {
  if (browser) await browser.close().catch(() => {});
  browser = null;
  if (broker && broker.exitCode === null) {
    broker.kill('SIGTERM');
    const exited = await Promise.race([new Promise((r) => broker.once('exit', () => r(true))), sleep(10000).then(() => false)]);
    if (!exited) {
      broker.kill('SIGKILL');
      fail('the broker exits on SIGTERM', 'still running after 10 s');
    } else {
      check('the broker exits 0 on SIGTERM', broker.exitCode === 0, `exit ${broker.exitCode} ${broker.signalCode || ''}`);
    }
    const log = brokerLog.join('');
    check('no sanitizer report in the broker\'s log', !/runtime error|Sanitizer/.test(log),
      () => log.split('\n').filter((l) => /runtime error|Sanitizer/.test(l)).slice(0, 3).join(' | '));
  }
  fs.rmSync(tmp, {recursive: true, force: true});
}

const deadline = setTimeout(async () => {
  fail('the whole test', 'took more than 200 s');
  await cleanup();
  process.exit(1);
}, 200000);

// ---- the broker --------------------------------------------------------------------------

const trace = path.join(tmp, 'broker.trace');

async function startBroker() {
  broker = spawn(minikafka, ['broker', '--port', '0', '--brokers', '3', '--admin-port', '0',
    '--schema-registry-port', '0', '--trace', trace, '-o', 'replica.lag.time.max.ms=1500'], {stdio: ['ignore', 'pipe', 'pipe']});
  let out = '';
  broker.stdout.on('data', (d) => { out += d; });
  broker.stderr.on('data', (d) => { brokerLog.push(String(d)); if (brokerLog.length > 400) brokerLog.shift(); });
  await waitFor(() => /schema registry: (http\S+)/.test(out) || broker.exitCode !== null, 15000, 'the broker\'s ready lines');
  if (broker.exitCode !== null) throw new Error(`the broker exited (${broker.exitCode}): ${brokerLog.join('')}`);
  return {bootstrap: out.match(/bootstrap\.servers=(\S+)/)[1], admin: out.match(/admin API: (http\S+)/)[1],
    registry: out.match(/schema registry: (http\S+)/)[1]};
}

let admin = '';
async function api(method, p, body) {
  const res = await fetch(admin + p, {method, body: body === undefined ? undefined : JSON.stringify(body)});
  const text = await res.text();
  return {status: res.status, body: text ? JSON.parse(text) : null, headers: res.headers};
}

function run(cmd, args, input, what) {
  const r = spawnSync(cmd, args, {input, timeout: 60000, encoding: 'utf8'});
  if (r.error || r.status !== 0) throw new Error(`${what} failed (${r.error ? r.error.message : 'exit ' + r.status}): ${(r.stderr || '').slice(0, 600)}`);
  return r.stdout;
}

// ---- comparing the page with the API -----------------------------------------------------

// The cluster panel as the page shows it (its data- attributes).
function readCluster(page) {
  return page.evaluate(() => ({
    brokers: [...document.querySelectorAll('#brokers .broker')].map((b) => ({id: Number(b.dataset.broker), up: b.dataset.up === 'true'})),
    partitions: [...document.querySelectorAll('#cluster .partition')].map((el) => ({
      topic: el.dataset.topic, partition: Number(el.dataset.partition), leader: el.dataset.leader,
      epoch: el.dataset.epoch, hw: el.dataset.hw,
      replicas: [...el.querySelectorAll('.replica')].map((r) => ({broker: Number(r.dataset.broker), leo: r.dataset.leo, isr: r.dataset.isr})),
    })),
  }));
}

// Differences between the page and GET /v1/cluster, as sentences (none = they agree).
function diffCluster(dom, cluster) {
  const out = [];
  for (const b of cluster.brokers) {
    const d = dom.brokers.find((x) => x.id === b.id);
    if (!d) out.push(`broker ${b.id} not shown`);
    else if (d.up !== b.up) out.push(`broker ${b.id}: page up=${d.up}, API up=${b.up}`);
  }
  for (const t of cluster.topics) {
    for (const p of t.partitions) {
      const name = `${t.name}-${p.partition}`;
      const d = dom.partitions.find((x) => x.topic === t.name && x.partition === p.partition);
      if (!d) { out.push(`${name} not shown`); continue; }
      if (d.leader !== String(p.leader)) out.push(`${name}: leader ${d.leader} vs ${p.leader}`);
      if (d.epoch !== String(p.leader_epoch)) out.push(`${name}: epoch ${d.epoch} vs ${p.leader_epoch}`);
      if (d.hw !== String(p.high_watermark)) out.push(`${name}: HW ${d.hw} vs ${p.high_watermark}`);
      if (d.replicas.map((r) => r.broker).join() !== p.replicas.map((r) => r.broker).join())
        out.push(`${name}: replicas ${d.replicas.map((r) => r.broker)} vs ${p.replicas.map((r) => r.broker)}`);
      for (const r of p.replicas) {
        const dr = d.replicas.find((x) => x.broker === r.broker);
        if (!dr) continue;
        if (dr.leo !== String(r.log_end_offset)) out.push(`${name} replica ${r.broker}: LEO ${dr.leo} vs ${r.log_end_offset}`);
        const inIsr = p.isr.includes(r.broker);
        if (dr.isr !== String(inIsr)) out.push(`${name} replica ${r.broker}: ISR ${dr.isr} vs ${inIsr}`);
      }
    }
  }
  return out;
}

async function expectPageMatches(page, name, ms = 10000) {
  let last = [];
  try {
    await waitFor(async () => {
      const cluster = (await api('GET', '/v1/cluster')).body;
      last = diffCluster(await readCluster(page), cluster);
      return last.length === 0;
    }, ms, name);
    pass(name);
  } catch (e) {
    fail(name, last.slice(0, 8).join('; '));
  }
}

// The replay against the broker's final answers, where the events carry the value.
function diffReplay(rep, cluster, producers) {
  const out = [];
  let checked = 0;
  const unknown = {leader: 0, isr: 0, leo: 0};
  for (const b of rep.brokers) {
    const c = cluster.brokers.find((x) => x.id === b.id);
    checked++;
    if (!c || c.up !== b.up) out.push(`broker ${b.id}: replay up=${b.up}, API ${c && c.up}`);
  }
  for (const t of rep.topics) {
    const ct = cluster.topics.find((x) => x.name === t.name);
    if (!ct) { out.push(`topic ${t.name} only in the replay`); continue; }
    for (const p of t.partitions) {
      const name = `${t.name}-${p.partition}`;
      const cp = ct.partitions.find((x) => x.partition === p.partition);
      if (!cp) { out.push(`${name} only in the replay`); continue; }
      checked++;
      if (p.high_watermark !== cp.high_watermark) out.push(`${name}: HW ${p.high_watermark} vs ${cp.high_watermark}`);
      if (p.leader === null) unknown.leader++;
      else { checked++; if (p.leader !== cp.leader) out.push(`${name}: leader ${p.leader} vs ${cp.leader}`); }
      if (p.leader_epoch !== null) { checked++; if (p.leader_epoch !== cp.leader_epoch) out.push(`${name}: epoch ${p.leader_epoch} vs ${cp.leader_epoch}`); }
      if (p.isr === null) unknown.isr++;
      else { checked++; if ([...p.isr].sort().join() !== [...cp.isr].sort().join()) out.push(`${name}: ISR ${p.isr} vs ${cp.isr}`); }
      for (const r of p.replicas) {
        const cr = cp.replicas.find((x) => x.broker === r.broker);
        if (!cr) { out.push(`${name}: replica ${r.broker} only in the replay`); continue; }
        if (r.log_end_offset === null) { unknown.leo++; continue; }
        checked++;
        if (r.log_end_offset !== cr.log_end_offset) out.push(`${name} replica ${r.broker}: LEO ${r.log_end_offset} vs ${cr.log_end_offset}`);
      }
      unknown.leo += cp.replicas.length - p.replicas.length;
    }
  }
  for (const t of producers.topics) {
    for (const part of t.partitions) {
      for (const pr of part.producers) {
        const rt = rep.producers.topics.find((x) => x.name === t.name);
        const rp = rt && rt.partitions.find((x) => x.partition === part.partition);
        const got = rp && rp.producers.find((x) => x.producer_id === pr.producer_id);
        const name = `producer ${pr.producer_id} on ${t.name}-${part.partition}`;
        checked++;
        if (!got) { out.push(`${name} missing from the replay`); continue; }
        const strip = (b) => ({first_sequence: b.first_sequence, last_sequence: b.last_sequence, first_offset: b.first_offset, last_offset: b.last_offset});
        if (got.epoch !== pr.epoch || got.last_sequence !== pr.last_sequence || got.last_offset !== pr.last_offset ||
            JSON.stringify(got.batches) !== JSON.stringify(pr.batches.map(strip)))
          out.push(`${name}: replay ${JSON.stringify(got)} vs API ${JSON.stringify(pr)}`);
      }
    }
  }
  return {out, checked, unknown};
}

// The broker's trace and its answers at one quiet moment: the trace did not grow while
// GET /v1/cluster, /v1/producers and /v1/faults were asked.
async function quiet() {
  for (let i = 0; i < 20; i++) {
    await sleep(300);
    const before = fs.readFileSync(trace, 'utf8');
    const cluster = (await api('GET', '/v1/cluster')).body;
    const producers = (await api('GET', '/v1/producers')).body;
    const faults = (await api('GET', '/v1/faults')).body;
    const after = fs.readFileSync(trace, 'utf8');
    if (before === after) return {trace: after, cluster, producers, faults};
  }
  throw new Error('the broker\'s trace never stopped growing for a moment');
}

// GET /v1/cluster's fields the page draws (and the reducer rebuilds), in one order.
function clusterShape(c) {
  const byId = (a, b) => a.id - b.id;
  return {
    brokers: c.brokers.map((b) => ({id: b.id, host: b.host, port: b.port, up: b.up})).sort(byId),
    topics: c.topics.map((t) => ({
      name: t.name, id: t.id,
      partitions: t.partitions.map((p) => ({
        partition: p.partition, leader: p.leader, leader_epoch: p.leader_epoch,
        high_watermark: p.high_watermark, log_start_offset: p.log_start_offset,
        isr: p.isr ? [...p.isr].sort((a, b) => a - b) : p.isr,
        replicas: p.replicas.map((r) => ({broker: r.broker, log_end_offset: r.log_end_offset, caught_up: r.caught_up, paused: r.paused, lag_ms: r.lag_ms})),
      })).sort((a, b) => a.partition - b.partition),
    })).sort((a, b) => (a.name < b.name ? -1 : 1)),
  };
}

// GET /v1/faults' entries with their keys in one order.
function faultsShape(list) {
  return list.map((f) => Object.fromEntries(Object.entries(f).sort(([a], [b]) => (a < b ? -1 : 1))));
}

// Equal as JSON, or the first places they differ.
function sameAs(name, got, want) {
  const a = JSON.stringify(got), b = JSON.stringify(want);
  if (a === b) return pass(name);
  let i = 0;
  while (i < a.length && a[i] === b[i]) i++;
  fail(name, `first difference at ${i}: got …${a.slice(Math.max(0, i - 120), i + 120)}… want …${b.slice(Math.max(0, i - 120), i + 120)}…`);
}

// ---- 6b, 6c: the schemas and transactions tabs with real data ------------------------------

// The registry's REST API, as a Confluent client calls it.
async function registryPost(registry, p, body) {
  const res = await fetch(registry + p, {method: 'POST', body: JSON.stringify(body),
    headers: {'Content-Type': 'application/vnd.schemaregistry.v1+json'}});
  return {status: res.status, body: await res.json()};
}

function readSchemas(page) {
  return page.$$eval('#schemas tr[data-subject]', (rows) => rows.map((r) => ({
    subject: r.dataset.subject,
    versions: r.querySelector('td.versions').textContent,
    version: r.querySelector('td.latest-version').textContent,
    id: r.querySelector('td.latest-id').textContent,
    schema: r.querySelector('td.schema summary') ? r.querySelector('td.schema summary').textContent : '',
    full: r.querySelector('td.schema pre') ? r.querySelector('td.schema pre').textContent : '',
    compatibility: r.lastElementChild.textContent,
  })));
}

async function schemasTab(page, shot, registry, bootstrap) {
  await page.click('#tab-schemas');
  const empty = await waitFor(() => page.$eval('#schemas', (el) => el.textContent).then((t) => (/No subjects yet/.test(t) ? t : null)), 5000, 'the empty Schemas tab').catch(() => '');
  check('the schemas tab, empty, shows how to register one (the registry\'s URL, an Avro producer)',
    empty.includes(`${registry}/subjects/demo-value/versions`) && /--value-serializer AvroSerializer/.test(empty) && empty.includes(`schema.registry.url=${registry}`) && empty.includes(bootstrap),
    empty.slice(0, 300));
  await shot('06b-schemas-empty.png');

  const v1 = {type: 'record', name: 'User', fields: [{name: 'name', type: 'string'}, {name: 'age', type: 'int'}]};
  const v2 = {...v1, fields: [...v1.fields, {name: 'email', type: ['null', 'string'], default: null}]};
  const r1 = await registryPost(registry, '/subjects/users-value/versions', {schema: JSON.stringify(v1)});
  const r2 = await registryPost(registry, '/subjects/users-value/versions', {schema: JSON.stringify(v2)});
  check('the registry takes two compatible versions of users-value', r1.status === 200 && r2.status === 200 && r2.body.id !== r1.body.id,
    `${r1.status} ${JSON.stringify(r1.body)}, ${r2.status} ${JSON.stringify(r2.body)}`);
  let row = null;
  try {
    row = await waitFor(async () => (await readSchemas(page)).find((x) => x.subject === 'users-value' && x.version === '2'), 5000, 'users-value version 2 on the page');
  } catch (e) {
    fail('the schemas tab shows users-value\'s second version (moved by events: ?refresh=0)', e.message);
  }
  if (row) {
    const view = (await api('GET', '/v1/schemas')).body;
    const s = view.subjects.find((x) => x.subject === 'users-value');
    check('the schemas tab shows users-value as GET /v1/schemas: versions, the latest version and id, compatibility',
      row.versions === '1, 2' && row.version === String(s.latest.version) && row.id === String(r2.body.id) &&
      row.id === String(s.latest.id) && row.compatibility === `${s.compatibility} (global)` && s.compatibility === view.compatibility,
      `page ${JSON.stringify(row)} vs API ${JSON.stringify(s)}`);
    check('... and the latest schema, in short (record name, fields) and in full',
      row.schema === 'User { name: string, age: int, email: null | string = null }' && JSON.stringify(JSON.parse(row.full)) === JSON.stringify(v2),
      `${row.schema} | ${row.full.slice(0, 100)}`);
  }
  const bad = await registryPost(registry, '/subjects/users-value/versions',
    {schema: JSON.stringify({...v1, fields: [{name: 'name', type: 'int'}, v1.fields[1]]})});
  await sleep(800);
  const after = (await readSchemas(page)).find((x) => x.subject === 'users-value');
  check('an incompatible version (a type change) is refused (409) and the page stays at version 2',
    bad.status === 409 && after && after.version === '2' && after.versions === '1, 2', `${bad.status}, ${JSON.stringify(after)}`);
  const note = await page.$eval('#schemas .schemas-note', (el) => el.textContent).catch(() => '');
  check('the schemas tab names the registry and its global level', note.includes(registry) && /global compatibility BACKWARD/.test(note), note);
  await shot('06b-schemas.png');
}

// A transactional producer that stops with its transaction open until told to commit.
const TXN_PRODUCER = `
import sys
from confluent_kafka import Producer
p = Producer({'bootstrap.servers': sys.argv[1], 'transactional.id': 'dash-tx', 'client.id': 'dash-tx'})
p.init_transactions(15)
p.begin_transaction()
for i in range(5):
    p.produce('orders', value=b'tx%d' % i, partition=0)
p.flush(15)
print('open', flush=True)
sys.stdin.readline()
p.commit_transaction(15)
print('committed', flush=True)
`;

async function transactionsTab(page, shot, bootstrap) {
  await page.click('#tab-transactions');
  const py = spawn('/usr/bin/python3', ['-c', TXN_PRODUCER, bootstrap], {stdio: ['pipe', 'pipe', 'pipe']});
  let out = '';
  let err = '';
  py.stdout.on('data', (d) => { out += d; });
  py.stderr.on('data', (d) => { err += d; });
  const rowOf = () => page.$eval('#transactions tr[data-transactional-id="dash-tx"]', (r) => ({
    state: r.querySelector('.txn-state').textContent, partitions: r.querySelector('.txn-partitions').textContent,
    producerId: r.children[1].textContent})).catch(() => null);
  try {
    await waitFor(() => /open/.test(out) || py.exitCode !== null, 20000, 'the transactional producer');
    if (!/open/.test(out)) throw new Error(`confluent-kafka's producer exited ${py.exitCode}: ${err.slice(-400)} (./run.sh test installs python3-confluent-kafka)`);
    const open = await waitFor(async () => {
      const r = await rowOf();
      return r && r.state === 'Ongoing' && r.partitions === 'orders-0' ? r : null;
    }, 5000, 'dash-tx Ongoing on orders-0 on the page');
    const t = (await api('GET', '/v1/transactions')).body.transactions.find((x) => x.transactional_id === 'dash-tx');
    check('an open transaction shows Ongoing with its partition and producer id, as GET /v1/transactions',
      t && t.state === 'Ongoing' && open.producerId === String(t.producer_id), `page ${JSON.stringify(open)} vs API ${JSON.stringify(t)}`);
    await shot('06c-transaction-open.png');
    py.stdin.write('\n');
    await waitFor(() => /committed/.test(out) || py.exitCode !== null, 20000, 'the commit');
    const done = await waitFor(async () => {
      const r = await rowOf();
      return r && r.state === 'CompleteCommit' ? r : null;
    }, 5000, 'dash-tx CompleteCommit on the page');
    const t2 = (await api('GET', '/v1/transactions')).body.transactions.find((x) => x.transactional_id === 'dash-tx');
    check('after commit_transaction the page shows CompleteCommit, as GET /v1/transactions', done && t2 && t2.state === 'CompleteCommit',
      `page ${JSON.stringify(done)} vs API ${JSON.stringify(t2)}`);
    await shot('06c-transaction-committed.png');
  } catch (e) {
    fail('the transactions tab follows confluent-kafka\'s transactional producer', e.message);
  } finally {
    if (py.exitCode === null) {
      py.kill('SIGKILL');
      await new Promise((r) => py.once('exit', r));
    }
  }
}

// ---- the test ------------------------------------------------------------------------------

async function main() {
  const puppeteer = await loadPuppeteer();
  if (!puppeteer) return;
  for (const tool of ['kcat']) {
    if (spawnSync('sh', ['-c', `command -v ${tool}`]).status !== 0) {
      fail(`${tool} is installed`, 'run ./run.sh test');
      return;
    }
  }

  const {bootstrap, admin: url, registry} = await startBroker();
  admin = url;
  const origin = new URL(admin).origin;
  pass(`broker up: ${bootstrap}, admin ${admin}`);

  browser = await launch(puppeteer);
  const {page, external, consoleErrors} = await watchedPage(browser, origin);
  const shot = async (name) => {
    await sleep(450);  // let the transitions finish
    await page.screenshot({path: path.join(artifacts, name)});
  };

  // 1. the page
  const res = await page.goto(`${admin}/?refresh=0`, {waitUntil: 'load'});
  check('GET / is the dashboard: 200 text/html', res.status() === 200 && /^text\/html/.test(res.headers()['content-type']),
    () => `${res.status()} ${res.headers()['content-type']}`);
  const csp = res.headers()['content-security-policy'] || '';
  check('it carries a CSP that allows only its own origin', /default-src 'none'/.test(csp) && /connect-src 'self'/.test(csp) && !/\*/.test(csp), csp);
  await waitFor(() => page.evaluate(() => window.mkDashboard && window.mkDashboard.loaded() && window.mkDashboard.stats.sseOpens > 0), 10000, 'the page to load and open /v1/events');
  await waitFor(async () => (await readCluster(page)).brokers.length === 3, 5000, 'three broker chips');
  const first = await readCluster(page);
  check('three brokers shown, all up', first.brokers.every((b) => b.up), JSON.stringify(first.brokers));
  check('no topics yet: the empty state says how to make one', await page.$eval('#cluster', (el) => /No topics yet/.test(el.textContent) && el.textContent.includes('kcat -P -b')));
  const preview = await page.$eval('#command-text', (el) => el.textContent);
  check('the command strip starts with the fault form\'s curl, broker included', preview === `curl -s -X POST ${admin}/v1/faults -d '{"action": "broker_down", "broker": 0}'`, preview);
  await shot('01-empty.png');

  // 2. a topic from the Topics tab
  await page.click('#tab-topics');
  await page.$eval('#t-name', (el) => { el.value = ''; });
  await page.type('#t-name', 'orders');
  await page.$eval('#t-partitions', (el) => { el.value = '3'; });
  await page.$eval('#t-rf', (el) => { el.value = '3'; });
  await page.click('#topic-form button[type="submit"]');
  await waitFor(() => page.$eval('#command-result', (el) => /^201/.test(el.textContent)), 5000, 'POST /v1/topics to answer 201');
  const curl = await page.$eval('#command-text', (el) => el.textContent);
  check('the Topics tab shows its curl command', curl === `curl -s -X POST ${admin}/v1/topics -d '{"name": "orders", "partitions": 3, "replication_factor": 3}'`, curl);
  await waitFor(async () => (await readCluster(page)).partitions.filter((p) => p.topic === 'orders').length === 3, 5000, 'orders-0..2 on the page');
  pass('the new topic appears with its three partitions');

  // 3. traffic; the page follows the event stream alone (?refresh=0). The new topic's events
  // asked for a refresh of their own (refreshSoon, up to 300 ms): let it land first, or it
  // counts as a snapshot taken during the traffic.
  const snapshotCount = () => page.evaluate(() => window.mkDashboard.stats.snapshots);
  for (let settled = 0, tries = 0, last = await snapshotCount(); settled < 3 && tries < 30; tries++) {
    await sleep(300);
    const now = await snapshotCount();
    settled = now === last ? settled + 1 : 0;
    last = now;
  }
  const snapshotsBefore = await snapshotCount();
  const lines = Array.from({length: 60}, (_, i) => `key-${i}:value-${i}`).join('\n') + '\n';
  run('kcat', ['-P', '-b', bootstrap, '-t', 'orders', '-K:', '-X', 'enable.idempotence=true', '-X', 'client.id=kcat-test'], lines, 'kcat');
  const perfOut = run(minikafka, ['perf', '--bootstrap-server', bootstrap, '--topic', 'orders', '--num-records', '3000',
    '--record-size', '100', '--throughput', '1500', '--producer-props', 'client.id=perf-test', 'acks=all'], '', 'minikafka perf');
  check('minikafka perf sent its records', /3000 records sent/.test(perfOut), perfOut.trim());
  await expectPageMatches(page, 'after kcat and perf, the page shows what /v1/cluster says (leaders, epochs, HW, every LEO, ISR)');
  const snapshotsAfter = await snapshotCount();
  check('... moved by the event stream, with no new GET /v1/cluster', snapshotsAfter === snapshotsBefore, `${snapshotsBefore} -> ${snapshotsAfter} snapshots`);
  const lanes = (await page.evaluate(() => window.mkDashboard.timeline())).lanes;
  check('the timeline has a lane for each client and each broker', ['kcat-test', 'perf-test', 'broker 0', 'broker 1', 'broker 2'].every((l) => lanes.includes(l)), lanes.join(', '));
  await page.click('#tab-producers');
  const producers = (await api('GET', '/v1/producers')).body;
  const want = [];
  for (const t of producers.topics) for (const p of t.partitions) for (const pr of p.producers) want.push(`${t.name}-${p.partition} ${pr.producer_id} ${pr.epoch} ${pr.last_sequence} ${pr.last_offset}`);
  const shown = await page.$$eval('#producers tbody tr', (rows) => rows.map((r) => [...r.children].slice(0, 5).map((td) => td.textContent).join(' ')));
  check('the producers tab lists what /v1/producers says (id, epoch, last sequence and offset)', want.length >= 4 && JSON.stringify(shown.sort()) === JSON.stringify(want.sort()), `page ${JSON.stringify(shown)} vs API ${JSON.stringify(want)}`);
  const slots = await page.$$eval('#producers tbody tr:first-child .slot:not(.empty)', (s) => s.length);
  check('each producer row shows its batch window', slots >= 1 && slots <= 5, `${slots} slots`);
  await shot('02-traffic-producers.png');

  // 3b. the duplicates demo: a lost answer, kcat's retry, the broker recognises the batch
  await page.click('#tab-faults');
  await page.select('#f-action', 'drop_response');
  const dropCurl = await page.$eval('#command-text', (el) => el.textContent);
  check('the fault form shows drop_response\'s curl before it is sent',
    dropCurl === `curl -s -X POST ${admin}/v1/faults -d '{"action": "drop_response", "api": "Produce", "count": 1, "mode": "close"}'`, dropCurl);
  await page.click('#fault-form button[type="submit"]');
  await waitFor(async () => (await api('GET', '/v1/faults')).body.some((f) => f.action === 'drop_response'), 5000, 'the drop_response fault');
  await page.click('#tab-producers');
  run('kcat', ['-P', '-b', bootstrap, '-t', 'orders', '-p', '0', '-X', 'enable.idempotence=true', '-X', 'client.id=kcat-test',
    '-X', 'message.timeout.ms=20000'], 'again-1\nagain-2\n', 'kcat (through a dropped answer)');
  const dup = await waitFor(() => page.evaluate(() => window.mkDashboard.counters().duplicates > 0 &&
    document.querySelectorAll('#producers .slot.hit').length > 0), 10000, 'a duplicate on the page').catch(() => false);
  check('drop_response + kcat\'s retry: the page lights up the batch the broker recognised as a duplicate', dup);
  await shot('03-duplicate.png');
  await page.click('#tab-faults');

  // 4. a broker's Stop button
  let cluster = (await api('GET', '/v1/cluster')).body;
  const victim = cluster.topics[0].partitions[0].leader;
  const led = cluster.topics[0].partitions.filter((p) => p.leader === victim).map((p) => p.partition);
  await page.click(`#brokers .broker[data-broker="${victim}"] button`);
  await waitFor(async () => (await readCluster(page)).brokers.find((b) => b.id === victim).up === false, 5000, `broker ${victim} shown down`);
  pass(`broker ${victim}'s Stop button: shown down`);
  const moved = await waitFor(async () => {
    const d = await readCluster(page);
    const parts = d.partitions.filter((p) => p.topic === 'orders' && led.includes(p.partition));
    return parts.every((p) => p.leader !== String(victim) && p.leader !== '') && parts;
  }, 5000, 'new leaders');
  cluster = (await api('GET', '/v1/cluster')).body;
  check(`the partitions it led (${led.join(', ')}) show their new leader, as /v1/cluster says`,
    moved.every((p) => p.leader === String(cluster.topics[0].partitions[p.partition].leader)),
    JSON.stringify(moved.map((p) => [p.partition, p.leader])));
  const cmd = await page.$eval('#command-text', (el) => el.textContent);
  check('the command strip shows the curl for it', cmd === `curl -s -X POST ${admin}/v1/faults -d '{"action": "broker_down", "broker": ${victim}}'`, cmd);
  check('a banner names the fault', await page.$eval('#banner', (el) => !el.hidden && /broker_down/.test(el.textContent)));
  await expectPageMatches(page, 'after broker_down the whole page agrees with /v1/cluster');
  await shot('04-broker-down.png');

  // ... and its Start button
  await page.click(`#brokers .broker[data-broker="${victim}"] button`);
  await waitFor(async () => (await readCluster(page)).brokers.find((b) => b.id === victim).up === true, 5000, `broker ${victim} shown up again`);
  pass(`broker ${victim}'s Start button: shown up again`);
  await expectPageMatches(page, 'after broker_up its replicas catch up on the page as in /v1/cluster');

  // 5. aim at a follower, pause it, see it leave the ISR; resume it
  cluster = (await api('GET', '/v1/cluster')).body;
  const target = cluster.topics[0].partitions.find((p) => p.leader >= 0 && p.replicas.some((r) => r.broker !== p.leader && r.broker !== victim));
  const follower = target.replicas.find((r) => r.broker !== target.leader && r.broker !== victim).broker;
  await page.click(`#cluster .partition[data-topic="orders"][data-partition="${target.partition}"] .replica[data-broker="${follower}"] .track`);
  const aimed = await page.$eval('#command-text', (el) => el.textContent);
  check('a click on a follower aims the fault form at it',
    aimed.includes(`{"action": "follower_pause", "topic": "orders", "partition": ${target.partition}, "broker": ${follower}}`), aimed);
  await page.click('#fault-form button[type="submit"]');
  await waitFor(async () => (await api('GET', '/v1/faults')).body.some((f) => f.action === 'follower_pause' && f.broker === follower), 5000, 'the follower_pause fault');
  pass('Inject posts follower_pause');
  // records appended after the pause are what the follower then misses
  run('kcat', ['-P', '-b', bootstrap, '-t', 'orders', '-p', String(target.partition), '-X', 'client.id=kcat-test',
    '-X', 'acks=1', '-X', 'message.timeout.ms=10000'], 'a\nb\nc\n', 'kcat');
  const oos = await waitFor(async () => {
    const d = await readCluster(page);
    const p = d.partitions.find((x) => x.topic === 'orders' && x.partition === target.partition);
    return p.replicas.find((r) => r.broker === follower).isr === 'false';
  }, 10000, 'the paused follower out of the ISR').catch(() => false);
  check(`orders-${target.partition}: the paused follower ${follower} is shown out of sync`, oos);
  await expectPageMatches(page, '... and the page agrees with /v1/cluster');
  await shot('05-follower-out-of-sync.png');
  await page.select('#f-action', 'follower_resume');
  await page.click('#fault-form button[type="submit"]');
  await waitFor(async () => (await api('GET', '/v1/faults')).body.some((f) => f.action === 'follower_resume'), 5000, 'follower_resume');
  const back = await waitFor(async () => {
    const d = await readCluster(page);
    const p = d.partitions.find((x) => x.topic === 'orders' && x.partition === target.partition);
    return p.replicas.find((r) => r.broker === follower).isr === 'true';
  }, 10000, 'the follower back in the ISR').catch(() => false);
  check('follower_resume (picked in the action list, same target): it rejoins the ISR', back);
  await expectPageMatches(page, 'after the resume the page agrees with /v1/cluster');

  // 6. the endpoints that come later
  await page.click('#tab-groups');
  const groupsStatus = (await api('GET', '/v1/groups')).status;
  const groupsText = await page.$eval('#groups', (el) => el.textContent);
  check(`the groups tab explains itself (GET /v1/groups is ${groupsStatus})`,
    groupsStatus === 404 ? /does not serve GET \/v1\/groups yet/.test(groupsText) && /--group/.test(groupsText) : /group/.test(groupsText), groupsText.slice(0, 200));
  await page.click('#tab-transactions');
  const txnStatus = (await api('GET', '/v1/transactions')).status;
  const txnText = await page.$eval('#transactions', (el) => el.textContent);
  check(`the transactions tab explains itself (GET /v1/transactions is ${txnStatus})`,
    txnStatus === 404 ? /does not serve GET \/v1\/transactions yet/.test(txnText) && /--transactional-id/.test(txnText) : /transactional/.test(txnText), txnText.slice(0, 200));
  await shot('06-transactions-empty.png');

  await schemasTab(page, shot, registry, bootstrap);
  await transactionsTab(page, shot, bootstrap);

  // 7. replay the broker's own trace: exactly what the API says at the end
  const end = await quiet();
  const replayed = path.join(artifacts, 'replayed.trace');
  fs.writeFileSync(replayed, end.trace);
  const {events, bad} = reducer.parseTrace(end.trace);
  check(`the broker's trace parses (${events.length} events)`, events.length > 100 && bad === 0, `${bad} bad lines`);
  const finalState = reducer.replay(events);
  const expected = reducer.toCluster(finalState);
  const expectedProducers = reducer.toProducers(finalState);
  sameAs('replayed in node, the trace ends in the state GET /v1/cluster reports (brokers, addresses, leaders, epochs, HW, log starts, ISRs, every replica)',
    clusterShape(expected), clusterShape(end.cluster));
  sameAs('... and in GET /v1/faults\' list', faultsShape(reducer.toFaults(finalState)), faultsShape(end.faults));
  const vs = diffReplay({...expected, producers: expectedProducers}, end.cluster, end.producers);
  check(`... and in GET /v1/producers (${vs.checked} values compared, nothing unknown: ${JSON.stringify(vs.unknown)})`,
    vs.out.length === 0 && vs.unknown.leader + vs.unknown.isr + vs.unknown.leo === 0, vs.out.slice(0, 8).join('; '));

  await page.click('#tab-replay');
  const input = await page.$('#r-file');
  await input.uploadFile(replayed);
  await waitFor(() => page.$eval('#r-controls', (el) => !el.hidden), 10000, 'the replay controls');
  check('the page says it is a replay', await page.$eval('#status', (el) => /REPLAY/.test(el.textContent)));
  await page.click('#r-end');
  await sleep(300);
  const atEnd = await page.evaluate(() => window.mkDashboard.replayCluster());
  check('Replay, jump to the end: the page\'s state is the reducer\'s (node) from the same file',
    JSON.stringify(atEnd) === JSON.stringify(expected), () => `page ${JSON.stringify(atEnd).slice(0, 400)} vs node ${JSON.stringify(expected).slice(0, 400)}`);
  const atEndProducers = await page.evaluate(() => window.mkDashboard.replayProducers());
  check('... and so are its producers', JSON.stringify(atEndProducers) === JSON.stringify(expectedProducers));
  await page.waitForFunction(() => document.querySelectorAll('#cluster .partition').length > 0, {timeout: 5000});
  const domEnd = await readCluster(page);
  sameAs('... and its cluster panel draws what GET /v1/cluster said at the end (leaders, epochs, HW, LEOs, ISR)',
    diffCluster(domEnd, end.cluster), []);
  await page.click('#r-start');
  await sleep(200);
  check('Replay, jump to the start: no partitions yet', await page.$eval('#cluster', (el) => /No partitions yet/.test(el.textContent)));
  await page.click('#r-fwd');
  await page.click('#r-fwd');
  check('step twice: event 2', await page.evaluate(() => window.mkDashboard.replay.pos) === 2);
  // scrub to the middle by the slider, then back a little: checkpoints must give the same state
  await page.$eval('#r-scrub', (el) => { el.value = '6000'; el.dispatchEvent(new Event('input')); });
  const pos = await page.evaluate(() => window.mkDashboard.replay.pos);
  const mid = await page.evaluate(() => window.mkDashboard.replayCluster());
  check(`scrubbed to event ${pos}: the state of the first ${pos} events`, pos > 0 && pos < events.length &&
    JSON.stringify(mid) === JSON.stringify(reducer.toCluster(reducer.replay(events, pos))));
  await page.click('#r-back');
  const back1 = await page.evaluate(() => window.mkDashboard.replayCluster());
  check('one step back: the state of one event fewer', JSON.stringify(back1) === JSON.stringify(reducer.toCluster(reducer.replay(events, pos - 1))));
  // stop at the broker_down, for the picture
  const downAt = events.findIndex((e) => e.event === 'broker_down');
  await page.evaluate((n) => window.mkDashboard.replay.seek(n), downAt + 1);
  const atDown = await page.evaluate(() => window.mkDashboard.replayCluster());
  check('at the broker_down event the replay shows that broker down', atDown.brokers.find((b) => b.id === events[downAt].broker).up === false);
  await shot('07-replay.png');
  // "Replay this run": the same file, from GET /v1/trace
  await page.click('#r-live');
  await page.click('#r-this-run');
  await waitFor(() => page.evaluate(() => window.mkDashboard.replay.active), 10000, 'the served trace in the replay');
  await page.click('#r-end');
  await sleep(300);
  const served = await page.evaluate(() => window.mkDashboard.replayCluster());
  const servedEvents = await page.evaluate(() => window.mkDashboard.replay.events.length);
  check(`"Replay this run" (GET /v1/trace, ${servedEvents} events) reaches the same end state`,
    servedEvents >= events.length && JSON.stringify(clusterShape(served)) === JSON.stringify(clusterShape(expected)),
    () => `${servedEvents} events; ${JSON.stringify(served).slice(0, 300)}`);
  await page.click('#r-live');
  check('Back to live', await page.$eval('#status', (el) => /LIVE/.test(el.textContent)));
  await expectPageMatches(page, 'back to live, the page agrees with /v1/cluster again');

  // 7b. every fault action from the form, aimed at one follower; then Clear faults
  await page.click('#tab-faults');
  cluster = (await api('GET', '/v1/cluster')).body;
  // orders by name: _schemas (6b) is a topic too now
  const ordersOf = (c) => c.topics.find((t) => t.name === 'orders');
  const p1 = ordersOf(cluster).partitions[1];
  const aim = p1.replicas.find((r) => r.broker !== p1.leader && p1.isr.includes(r.broker)).broker;
  await page.click(`#cluster .partition[data-topic="orders"][data-partition="1"] .replica[data-broker="${aim}"] .track`);
  const inject = async (action, fields = {}) => {
    await page.select('#f-action', action);
    for (const [name, value] of Object.entries(fields)) {
      await page.$eval(`#f-fields [name="${name}"]`, (el, v) => { el.value = v; el.dispatchEvent(new Event('input', {bubbles: true})); }, value);
    }
    await page.$eval('#command-result', (el) => { el.textContent = ''; });
    await page.click('#fault-form button[type="submit"]');
    return waitFor(() => page.$eval('#command-result', (el) => /^\d{3}/.test(el.textContent) && el.textContent), 5000, `the answer to ${action}`);
  };
  const answers = {};
  answers.follower_pause = await inject('follower_pause');
  answers.follower_resume = await inject('follower_resume');
  answers.follower_lag = await inject('follower_lag', {ms: '400'});
  answers['follower_lag 0'] = await inject('follower_lag', {ms: '0'});
  await waitFor(async () => ordersOf((await api('GET', '/v1/cluster')).body).partitions[1].isr.includes(aim), 10000, 'the follower in sync');
  answers.elect_leader = await inject('elect_leader');
  const led1 = await waitFor(async () => (await readCluster(page)).partitions.find((x) => x.topic === 'orders' && x.partition === 1).leader === String(aim), 5000, 'the elected leader').catch(() => false);
  check(`elect_leader: the page shows broker ${aim} leading orders-1`, led1);
  answers.drop_response = await inject('drop_response', {count: '1'});
  answers.error = await inject('error');
  answers.delay = await inject('delay', {ms: '300'});
  answers.broker_down = await inject('broker_down');
  answers.broker_up = await inject('broker_up');
  answers.hold_markers = await inject('hold_markers', {ms: '500'});
  answers.release_markers = await inject('release_markers');
  const refused = Object.entries(answers).filter(([, a]) => !/^201/.test(a));
  check(`every fault action from the form is accepted (${Object.keys(answers).join(', ')})`, refused.length === 0, JSON.stringify(refused));
  const listed = (await api('GET', '/v1/faults')).body.map((f) => f.action);
  check('... and listed by GET /v1/faults', ['follower_pause', 'follower_resume', 'follower_lag', 'elect_leader', 'drop_response', 'error', 'delay', 'broker_down', 'broker_up', 'hold_markers', 'release_markers'].every((a) => listed.includes(a)), listed.join(', '));
  await page.click('#f-clear');
  await waitFor(async () => (await api('GET', '/v1/faults')).body.length === 0, 5000, 'no faults').catch(() => {});
  check('Clear faults: DELETE /v1/faults, the list is empty', (await api('GET', '/v1/faults')).body.length === 0 &&
    await page.$eval('#command-text', (el) => el.textContent) === `curl -s -X DELETE ${admin}/v1/faults`);
  await expectPageMatches(page, 'after all that, the page agrees with /v1/cluster');

  // 8. 10,000 events/s through the event handler
  const heapBefore = (await page.metrics()).JSHeapUsedSize;
  const load = await page.evaluate(async (t0) => {
    const clients = Array.from({length: 20}, (_, i) => `load-client-${i}`);
    let ts = t0, corr = 0, sent = 0, offset = 1000000;
    const gaps = [];
    let lastFrame = performance.now(), frames = 0, stop = false;
    const onFrame = (now) => { gaps.push(now - lastFrame); lastFrame = now; frames++; if (!stop) requestAnimationFrame(onFrame); };
    requestAnimationFrame(onFrame);
    const start = performance.now();
    await new Promise((resolve) => {
      const iv = setInterval(() => {
        const lines = [];
        const due = Math.floor((performance.now() - start) * 10) - sent;  // 10 per ms
        for (let i = 0; i < due; i++) {
          ts += 100;
          const b = corr % 3, c = clients[corr % 20];
          switch (i % 5) {
            case 0: lines.push(JSON.stringify({ts_us: ts, side: 'broker', event: 'request_received', broker: b, api: 'Produce', api_key: 0, api_version: 9, correlation_id: ++corr, client_id: c})); break;
            case 1: lines.push(JSON.stringify({ts_us: ts, side: 'broker', event: 'append', topic: 'load', partition: b, base_offset: offset, last_offset: offset + 9, records: 10, bytes: 900, producer_id: 5000 + (corr % 20), producer_epoch: 0, base_sequence: offset})); offset += 10; break;
            case 2: lines.push(JSON.stringify({ts_us: ts, side: 'broker', event: 'replicate', topic: 'load', partition: b, broker: (b + 1) % 3, from_offset: offset - 10, log_end_offset: offset})); break;
            case 3: lines.push(JSON.stringify({ts_us: ts, side: 'broker', event: 'hw_advance', topic: 'load', partition: b, from: offset - 10, high_watermark: offset})); break;
            default: lines.push(JSON.stringify({ts_us: ts, side: 'broker', event: 'response_sent', broker: b, api: 'Produce', correlation_id: corr, bytes: 60, latency_us: 80}));
          }
        }
        window.mkDashboard.inject(lines);
        sent += lines.length;
        if (performance.now() - start >= 3000) { clearInterval(iv); resolve(); }
      }, 5);
    });
    const elapsed = performance.now() - start;
    await new Promise((r) => setTimeout(r, 300));
    stop = true;
    return {sent, elapsed, frames, maxGap: Math.max(...gaps), timeline: window.mkDashboard.timeline()};
  }, await page.evaluate(() => window.mkDashboard.lastTs()));
  const rate = Math.round(load.sent / (load.elapsed / 1000));
  const fps = Math.round(load.frames / ((load.elapsed + 300) / 1000));
  check(`10,000 events/s: the page took ${rate.toLocaleString()} events/s for 3 s`, rate >= 9000, `${load.sent} events in ${Math.round(load.elapsed)} ms`);
  check(`... and kept drawing: ${fps} frames/s, longest frame ${Math.round(load.maxGap)} ms`, fps >= 10 && load.maxGap < 1000);
  check('... with the timeline bounded (ring full, older events in bins) and showing density',
    load.timeline.kept <= load.timeline.ringSize && load.timeline.mode === 'density', JSON.stringify(load.timeline));
  await shot('08-load-density.png');
  const heapAfter = (await page.metrics()).JSHeapUsedSize;
  check(`... its memory stays bounded (JS heap ${Math.round(heapBefore / 1e6)} -> ${Math.round(heapAfter / 1e6)} MB)`, heapAfter - heapBefore < 80e6);
  await page.click('#tl-pause');
  check('... and answers a click right after (Pause)', await page.evaluate(() => window.mkDashboard.timeline().paused));
  await page.click('#tl-pause');

  // 9. Reset
  await page.click('#reset');
  await page.click('#reset-yes');
  const resetResult = await waitFor(() => page.$eval('#command-result', (el) => /^\d{3}/.test(el.textContent) && el.textContent), 5000, 'the reset answer');
  check(`Reset: POST /v1/reset answers 200 (${resetResult})`, /^200/.test(resetResult));
  const emptied = await waitFor(async () => {
    const d = await readCluster(page);
    return /No topics yet/.test(await page.$eval('#cluster', (el) => el.textContent)) && d.partitions.length === 0 &&
      d.brokers.length === 3 && d.brokers.every((b) => b.up);
  }, 5000, 'an empty view').catch(() => false);
  check('Reset: the view is empty again (no topics, every broker up)', emptied);
  const afterReset = await page.evaluate(() => ({producers: window.mkDashboard.liveProducers(), faults: document.querySelector('#faults-list').textContent}));
  check('... no producers and no faults on the page', afterReset.producers.topics.length === 0 && /No faults injected/.test(afterReset.faults),
    JSON.stringify(afterReset));
  const resetCluster = (await api('GET', '/v1/cluster')).body;
  check('... as the broker says: GET /v1/cluster has no topics and every broker up, GET /v1/faults is empty',
    resetCluster.topics.length === 0 && resetCluster.brokers.every((b) => b.up) && (await api('GET', '/v1/faults')).body.length === 0);
  await shot('09-reset.png');
  // after the reset: a topic placed as on a fresh broker, shown as the API says
  await api('POST', '/v1/topics', {name: 'again', partitions: 3, replication_factor: 3});
  run('kcat', ['-P', '-b', bootstrap, '-t', 'again', '-K:', '-X', 'enable.idempotence=true', '-X', 'client.id=kcat-after-reset'],
    Array.from({length: 20}, (_, i) => `k${i}:v${i}`).join('\n') + '\n', 'kcat after the reset');
  await expectPageMatches(page, 'after the reset, a new topic and its records show as /v1/cluster says');
  const again = (await api('GET', '/v1/cluster')).body.topics[0];
  check('... placed as on a fresh broker (partition 0 led by broker 0)', again.partitions[0].leader === 0 && again.partitions[0].replicas[0].broker === 0);
  const pids = (await api('GET', '/v1/producers')).body.topics.flatMap((t) => t.partitions.flatMap((p) => p.producers.map((x) => x.producer_id)));
  check(`... and producer ids start at 1000 again (${[...new Set(pids)].join(', ')})`, pids.length > 0 && pids.every((x) => x === 1000));

  // 9b. minikafka replay of the whole run, in a second tab
  const whole = await quiet();
  const wholeFile = path.join(artifacts, 'whole-run.trace');
  fs.writeFileSync(wholeFile, whole.trace);
  const replayServer = spawn(minikafka, ['replay', wholeFile], {stdio: ['ignore', 'pipe', 'pipe']});
  let replayOut = '';
  replayServer.stdout.on('data', (d) => { replayOut += d; });
  try {
    await waitFor(() => /minikafka replay: (http\S+)/.test(replayOut) || replayServer.exitCode !== null, 10000, 'minikafka replay\'s URL');
    const replayUrl = replayOut.match(/minikafka replay: (http\S+)/)[1];
    check(`minikafka replay prints its URL (${replayUrl})`, /^http:\/\/127\.0\.0\.1:\d+\/\?replay=whole-run\.trace$/.test(replayUrl));
    const tab = await browser.newPage();
    await tab.setViewport({width: 1280, height: 720});
    const replayOrigin = new URL(replayUrl).origin;
    await tab.setRequestInterception(true);
    tab.on('request', (req) => {
      const u = req.url();
      if (u.startsWith('data:') || new URL(u).origin === replayOrigin) req.continue();
      else { external.push(u); req.abort(); }
    });
    tab.on('console', (m) => { if (m.type() === 'error') consoleErrors.push(`replay tab: ${m.text()}`); });
    tab.on('pageerror', (e) => consoleErrors.push(`replay tab: page error: ${e.message}`));
    const bare = await tab.goto(replayOrigin + '/', {waitUntil: 'load'});
    check('minikafka replay: GET / leads to the replay page', bare.status() === 200 && /[?]replay=/.test(tab.url()), tab.url());
    await waitFor(() => tab.evaluate(() => window.mkDashboard && window.mkDashboard.replay.active), 10000, 'the replay in the second tab');
    check('... which is a replay and nothing else (no Reset, no fault form, no way back to a live view)',
      await tab.evaluate(() => /REPLAY/.test(document.getElementById('status').textContent) &&
        [...document.querySelectorAll('#reset, #fault-form, #r-live')].every((el) => el.offsetParent === null)));
    await tab.click('#r-end');
    await sleep(300);
    const tabEnd = await tab.evaluate(() => window.mkDashboard.replayCluster());
    sameAs('... and at its end shows what GET /v1/cluster said at the end of the run', clusterShape(tabEnd), clusterShape(whole.cluster));
    sameAs('... and GET /v1/faults', faultsShape(await tab.evaluate(() => window.mkDashboard.replayFaults())), faultsShape(whole.faults));
    await tab.click('#tab-faults');
    await sleep(450);
    await tab.screenshot({path: path.join(artifacts, '09b-replay-server.png')});
    // just before the reset deleted the first topic: the run as it was
    const wholeEvents = reducer.parseTrace(whole.trace).events;
    const resetAt = wholeEvents.findIndex((e) => e.event === 'reset');
    let before = resetAt;
    while (before > 0 && /^(topic_delete|broker_up)$/.test(wholeEvents[before - 1].event)) before--;  // the reset's own steps
    await tab.evaluate((n) => window.mkDashboard.replay.seek(n), before);
    const beforeReset = await tab.evaluate(() => window.mkDashboard.replayCluster());
    check('... and just before the reset, the run as it was (the orders topic)', beforeReset.topics.some((t) => t.name === 'orders'));
    await tab.click('#tab-replay');
    await sleep(450);
    await tab.screenshot({path: path.join(artifacts, '09c-replay-before-reset.png')});
    await tab.close();
  } finally {
    replayServer.kill('SIGINT');
    const code = await Promise.race([new Promise((r) => replayServer.once('exit', (c) => r(c))), sleep(5000).then(() => 'still running')]);
    check('minikafka replay exits 0 on Ctrl-C', code === 0, String(code));
  }

  // 10. throughout
  const layout = await page.evaluate(() => {
    let min = 100, where = '';
    for (const el of document.querySelectorAll('body *')) {
      if (!el.offsetParent || ![...el.childNodes].some((n) => n.nodeType === 3 && n.textContent.trim())) continue;
      const size = parseFloat(getComputedStyle(el).fontSize);
      if (size < min) { min = size; where = `${el.tagName}.${el.className}: ${el.textContent.trim().slice(0, 30)}`; }
    }
    return {scroll: document.documentElement.scrollWidth, width: document.documentElement.clientWidth, min, where};
  });
  check('no horizontal scrolling at 1280x720', layout.scroll <= layout.width, `${layout.scroll} > ${layout.width}`);
  check(`no text under 14 px at 1280x720 (smallest: ${layout.min}px)`, layout.min >= 14, layout.where);
  await page.setViewport({width: 820, height: 900});
  await sleep(300);
  const narrow = await page.evaluate(() => document.documentElement.scrollWidth <= document.documentElement.clientWidth);
  check('no horizontal scrolling in a narrow window (820 px)', narrow);
  await page.screenshot({path: path.join(artifacts, '10-narrow.png'), fullPage: true});
  check('no request to any other host', external.length === 0, external.slice(0, 5).join(', '));
  check('no console errors', consoleErrors.length === 0, consoleErrors.slice(0, 5).join(' | '));
}

try {
  await main();
} catch (e) {
  fail('the test ran to the end', e.stack || e.message);
} finally {
  await cleanup();
  clearTimeout(deadline);
}
const failures = results.failures;
if (failures) console.log('--- the broker\'s log (last lines):\n' + brokerLog.join('').split('\n').slice(-30).join('\n'));
console.log(failures ? `${failures} check(s) failed; screenshots in ${artifacts}` : `all checks passed; screenshots in ${artifacts}`);
process.exit(failures ? 1 : 0);
