#!/usr/bin/env node
// kafkajs transactions against minikafka (DESIGN.md 3.6); run by with_broker.sh, which sets
// BOOTSTRAP. kafkajs is from npm, pinned in package-lock.json (./run.sh test installs it).
//
// A transactional kafkajs producer sends 30 records and commits, then sends 20 and aborts.
// A kafkajs consumer reading committed data only (its default, readUncommitted: false) reads
// exactly the 30; one with readUncommitted: true reads all 50. A second producer with the same
// transactionalId fences the first: the first's next commit fails. Every wait is bounded;
// prints one line per check.
'use strict'

let kafkajs
try {
  kafkajs = require('kafkajs')
} catch (e) {
  console.error(`kafkajs not installed (${e.code || e.message}): run ./run.sh test, which ` +
    `npm-installs it into tests/interop/node_modules (npm ci --prefix tests/interop)`)
  process.exit(1)
}
const { Kafka, logLevel } = kafkajs

if (!process.env.BOOTSTRAP) {
  console.error('run me through with_broker.sh (BOOTSTRAP unset)')
  process.exit(1)
}
const TOPIC = 'txn-kafkajs'
const start = Date.now()
const failures = []

const watchdog = setTimeout(() => {
  console.error('kafkajs transactions: FAILED: not done after 90 s')
  process.exit(1)
}, 90000)

function log (msg) {
  console.log(`[${((Date.now() - start) / 1000).toFixed(1).padStart(5)}s] ${msg}`)
}

function check (name, ok, detail) {
  if (ok) log(`ok   ${name}`)
  else {
    failures.push(name)
    log(`FAIL ${name}${detail ? ': ' + detail : ''}`)
  }
}

async function waitUntil (fn, ms) {
  const deadline = Date.now() + ms
  while (!fn() && Date.now() < deadline) await new Promise(resolve => setTimeout(resolve, 100))
  return fn()
}

const kafka = new Kafka({
  clientId: 'kafkajs-txn',
  brokers: process.env.BOOTSTRAP.split(','),
  logLevel: logLevel.NOTHING,
  retry: { retries: 10 }
})

function txnProducer () {
  return kafka.producer({ transactionalId: 'kafkajs-txn-1', idempotent: true,
    maxInFlightRequests: 1 })
}

// Read every record of TOPIC with a fresh group; stop once `want` are in (then wait a little
// longer for any that should not be there) or after ms.
async function readAll (readUncommitted, want, ms) {
  const values = []
  const consumer = kafka.consumer({ groupId: `reader-${readUncommitted}-${Date.now()}`,
    readUncommitted, maxWaitTimeInMs: 200 })
  await consumer.connect()
  await consumer.subscribe({ topic: TOPIC, fromBeginning: true })
  await consumer.run({ eachMessage: async ({ message }) => { values.push(message.value.toString()) } })
  await waitUntil(() => values.length >= want, ms)
  await new Promise(resolve => setTimeout(resolve, 1000))
  await consumer.disconnect()
  return values
}

async function main () {
  const admin = kafka.admin()
  await admin.connect()
  await admin.createTopics({ topics: [{ topic: TOPIC, numPartitions: 2, replicationFactor: 3 }] })
  await admin.disconnect()

  const producer = txnProducer()
  await producer.connect()
  let txn = await producer.transaction()
  const committed = []
  for (let i = 0; i < 30; i++) committed.push({ partition: i % 2, value: `commit-${i}` })
  await txn.send({ topic: TOPIC, messages: committed })
  await txn.commit()
  log('30 sent and committed')
  txn = await producer.transaction()
  const aborted = []
  for (let i = 0; i < 20; i++) aborted.push({ partition: i % 2, value: `abort-${i}` })
  await txn.send({ topic: TOPIC, messages: aborted })
  await txn.abort()
  log('20 sent and aborted')

  const readCommitted = await readAll(false, 30, 20000)
  check('a read-committed consumer reads exactly the 30 committed records',
    readCommitted.length === 30 && readCommitted.every(v => v.startsWith('commit-')),
    `${readCommitted.length} read: ${readCommitted.filter(v => v.startsWith('abort-')).length} aborted ones`)
  const readAllOfIt = await readAll(true, 50, 20000)
  check('a readUncommitted consumer reads all 50', readAllOfIt.length === 50,
    `${readAllOfIt.length} read`)

  // Fencing: a second producer with the same transactionalId.
  txn = await producer.transaction()
  await txn.send({ topic: TOPIC, messages: [{ partition: 0, value: 'zombie' }] })
  const newer = txnProducer()
  await newer.connect()
  const t2 = await newer.transaction()  // InitProducerId: the first producer is fenced
  let fenced = null
  try {
    await txn.commit()
  } catch (e) {
    fenced = e
  }
  check('the fenced producer cannot commit', fenced !== null, 'it committed')
  if (fenced) log(`  (kafkajs said ${fenced.type || fenced.name}: ${fenced.message})`)
  await t2.send({ topic: TOPIC, messages: [{ partition: 1, value: 'newer' }] })
  await t2.commit()
  const after = await readAll(false, 31, 20000)
  check('read-committed: the newer producer\'s record, not the zombie\'s',
    after.includes('newer') && !after.includes('zombie') && after.length === 31,
    `${after.length} read`)
  await producer.disconnect().catch(() => {})
  await newer.disconnect()
}

main().then(() => {
  clearTimeout(watchdog)
  log(`kafkajs transactions: ${failures.length ? 'FAILED: ' + failures.join(', ') : 'all checks passed'}`)
  process.exit(failures.length ? 1 : 0)
}, e => {
  console.error('kafkajs transactions: FAILED:', e)
  process.exit(1)
})
