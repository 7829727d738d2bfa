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

const { loadKafkajs, bootstrapServers, harness } = require('./kafkajs_support')
const { Kafka, logLevel } = loadKafkajs()
const BROKERS = bootstrapServers()
const TOPIC = 'txn-kafkajs'
const { log, check, waitUntil, run } = harness('kafkajs transactions', 90000)

const kafka = new Kafka({
  clientId: 'kafkajs-txn',
  brokers: BROKERS,
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

run(main)
