#!/usr/bin/env node
// kafkajs (npm, pinned in package-lock.json; ./run.sh test installs it with npm ci) against
// minikafka; run by with_broker.sh, which sets BOOTSTRAP.
//
// An idempotent producer (idempotent: true: InitProducerId, then producer id, epoch and
// sequence numbers on every batch; acks -1, one request in flight) with kafkajs's default
// partitioner (Java's murmur2; the partition it picks for each record is recorded) sends keyed
// records with per-record headers (repeated names, empty values), 50 per send(),
// alternating uncompressed and gzip sends. Every send must succeed; each record's offset is
// its send's baseOffset for that partition plus its place in the send. kcat reads every
// partition back (kafkajs's group consumer is test_groups_kafkajs.js), and interop_check.py
// compares: every record once, in order per partition, intact, each key in its murmur2
// partition, each where the producer said. Also run as kafkajs-proxy, through `minikafka
// proxy` in front of librdkafka's mock cluster (see the idempotence note in main()).
'use strict'
const path = require('path')
const fs = require('fs')
const { spawnSync } = require('child_process')

let kafkajs
try {
  kafkajs = require('kafkajs')
} catch (e) {
  console.error(`kafkajs not installed (${e.code || e.message}): run ./run.sh test, which ` +
    `npm-installs it into tests/interop/node_modules (npm ci --prefix tests/interop)`)
  process.exit(1)
}
const { Kafka, Partitioners, CompressionTypes, logLevel } = kafkajs

const here = __dirname
const python = process.env.PYTHON || '/usr/bin/python3'
const checker = path.join(here, 'interop_check.py')
const N = Number(process.env.INTEROP_RECORDS || 500)
const TOPIC = 'interop-kafkajs'
const PER_SEND = 50
const tmp = process.env.INTEROP_TMP
if (!process.env.BOOTSTRAP || !tmp) {
  console.error('run me through with_broker.sh (BOOTSTRAP and INTEROP_TMP unset)')
  process.exit(1)
}

// kafkajs retries an idempotent producer's requests forever: a broker that keeps failing
// them would only show as a meson timeout. Fail with a message first.
const watchdog = setTimeout(() => {
  console.error('kafkajs: FAILED: not done after 90 s (a send retrying forever? see the broker log)')
  process.exit(1)
}, 90000)

function run (cmd, args) {
  const r = spawnSync(cmd, args, { stdio: ['ignore', 'inherit', 'inherit'] })
  if (r.error) throw r.error
  return r.status
}

// [[name, value], ...] -> kafkajs's headers object (a repeated name becomes an array).
function headersObject (list) {
  const h = {}
  for (const [k, v] of list) {
    if (!(k in h)) h[k] = v
    else if (Array.isArray(h[k])) h[k].push(v)
    else h[k] = [h[k], v]
  }
  return h
}

async function main () {
  const genPath = path.join(tmp, 'kafkajs.gen.jsonl')
  // kafkajs 2.2.4 cannot send a null header value (its size computation calls
  // Buffer.byteLength(null) and throws), so these records have none.
  if (run(python, [checker, 'gen', 'kafkajs', 'idempotent', String(N), genPath,
    '--no-null-headers']) !== 0) return 1
  const records = fs.readFileSync(genPath, 'utf8').split('\n').filter(Boolean).map(JSON.parse)

  // The default partitioner, wrapped to record where it put each record.
  const chosen = new Map()
  const createPartitioner = (...a) => {
    const partitioner = Partitioners.DefaultPartitioner(...a)
    return args => {
      const p = partitioner(args)
      chosen.set(args.message.value, p)
      return p
    }
  }
  const kafka = new Kafka({
    clientId: 'minikafka-interop',
    brokers: process.env.BOOTSTRAP.split(','),
    logLevel: logLevel.WARN,
    connectionTimeout: 5000,
    requestTimeout: 15000
  })
  // kafkajs sends a non-transactional InitProducerId to the controller Metadata names.
  // librdkafka 2.0.2's mock cluster (behind `minikafka proxy`, MK_MOCK_CLUSTER) answers
  // controller_id 0 while its brokers are 1..3, and the proxy passes that through untouched,
  // so kafkajs's idempotent producer fails there before sending anything ("Broker 0 not
  // found"), as it does against the mock directly. On such a cluster, and only there, the
  // producer runs without idempotence (acks -1 and one request in flight all the same), and
  // says so; every other check is unchanged.
  let idempotent = true
  if (process.env.MK_MOCK_CLUSTER) {
    const admin = kafka.admin()
    await admin.connect()
    const { brokers, controller } = await admin.describeCluster()
    await admin.disconnect()
    if (!brokers.some(b => b.nodeId === controller)) {
      idempotent = false
      console.log(`not run: idempotence (the cluster's controller ${controller} is none of its ` +
        `brokers ${brokers.map(b => b.nodeId).join(',')}); producing with acks -1 instead`)
    }
  }
  const producer = kafka.producer({ idempotent, maxInFlightRequests: 1, createPartitioner })
  const errors = []
  await producer.connect()
  try {
    for (let i = 0; i < records.length; i += PER_SEND) {
      const chunk = records.slice(i, i + PER_SEND)
      const compression = (i / PER_SEND) % 2 ? CompressionTypes.GZIP : CompressionTypes.None
      let res
      try {
        res = await producer.send({
          topic: TOPIC,
          acks: -1,
          compression,
          messages: chunk.map(r => ({ key: r.key, value: r.value, headers: headersObject(r.headers) }))
        })
      } catch (e) {
        errors.push(`send of records ${i}..${i + chunk.length - 1} failed: ${e.name}: ${e.message}`)
        break
      }
      const base = new Map()
      for (const r of res) {
        if (r.errorCode !== 0) errors.push(`send ${i / PER_SEND}: partition ${r.partition} error ${r.errorCode}`)
        base.set(r.partition, Number(r.baseOffset))
      }
      const next = new Map()
      for (const r of chunk) {
        const p = chosen.get(r.value)
        r.partition = p
        if (!base.has(p)) {
          errors.push(`send ${i / PER_SEND}: no result for partition ${p}`)
          continue
        }
        r.offset = base.get(p) + (next.get(p) || 0)
        next.set(p, (next.get(p) || 0) + 1)
      }
    }
  } finally {
    await producer.disconnect()
  }
  const producedPath = path.join(tmp, 'kafkajs.produced.jsonl')
  fs.writeFileSync(producedPath, records.map(r => JSON.stringify(r)).join('\n') + '\n')
  for (const e of errors) console.log(`  - ${e}`)
  const rc = run(python, [checker, 'verify-kcat',
    `kafkajs ${idempotent ? 'idempotent' : 'acks -1'} producer (none + gzip) -> kcat consumer`,
    TOPIC, producedPath])
  if (errors.length || rc !== 0) {
    console.log('kafkajs: FAILED')
    return 1
  }
  console.log('kafkajs: passed')
  return 0
}

main().then(rc => { clearTimeout(watchdog); process.exit(rc) },
  e => { console.error('kafkajs: FAILED:', e); process.exit(1) })
