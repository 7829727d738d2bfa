#!/usr/bin/env node
// kafkajs consumer groups against minikafka (DESIGN.md 3.5); run by with_broker.sh, which sets
// BOOTSTRAP. kafkajs is from npm, pinned in package-lock.json (./run.sh test installs it).
//
// Two consumers of one group (eachMessage) on a 6-partition topic: their GROUP_JOIN events
// show disjoint assignments covering every partition, and together they read every record
// exactly once. One disconnects (LeaveGroup); the other rejoins with all six and reads what
// comes next. The group's committed offsets, read with kafkajs's admin (OffsetFetch), are where
// the reading stopped. Every wait is bounded; prints one line per check.
'use strict'

const { loadKafkajs, bootstrapServers, harness } = require('./kafkajs_support')
const { Kafka, logLevel } = loadKafkajs()
const BROKERS = bootstrapServers()
const TOPIC = 'groups-kafkajs'
const GROUP = 'kafkajs-group'
const { log, check, waitUntil, run } = harness('kafkajs groups', 90000)

const kafka = new Kafka({
  clientId: 'kafkajs-groups',
  brokers: BROKERS,
  logLevel: logLevel.WARN,
  retry: { retries: 10 }
})

// One member: what it read ([partition, value]) and its last assignment.
function member (name) {
  const m = { name, read: [], assigned: null }
  m.consumer = kafka.consumer({ groupId: GROUP, heartbeatInterval: 500, sessionTimeout: 10000,
    maxWaitTimeInMs: 500 })
  m.consumer.on(m.consumer.events.GROUP_JOIN, e => {
    m.assigned = (e.payload.memberAssignment[TOPIC] || []).slice().sort((a, b) => a - b)
  })
  m.start = async () => {
    await m.consumer.connect()
    await m.consumer.subscribe({ topic: TOPIC, fromBeginning: true })
    await m.consumer.run({
      eachMessage: async ({ partition, message }) => {
        m.read.push([partition, message.value.toString()])
      }
    })
  }
  return m
}

async function produce (from, to) {
  const producer = kafka.producer()
  await producer.connect()
  const messages = []
  for (let p = 0; p < 6; p++) {
    for (let i = from; i < to; i++) messages.push({ partition: p, value: `p${p}-${i}` })
  }
  await producer.send({ topic: TOPIC, acks: -1, messages })
  await producer.disconnect()
}

function expected (to) {
  const v = []
  for (let p = 0; p < 6; p++) for (let i = 0; i < to; i++) v.push(`p${p}-${i}`)
  return v.sort()
}

async function main () {
  const admin = kafka.admin()
  await admin.connect()
  await admin.createTopics({ topics: [{ topic: TOPIC, numPartitions: 6, replicationFactor: 3 }] })

  const a = member('a')
  const b = member('b')
  await Promise.all([a.start(), b.start()])
  const split = await waitUntil(() => a.assigned && b.assigned && a.assigned.length &&
    b.assigned.length && a.assigned.length + b.assigned.length === 6, 30000)
  const union = [...(a.assigned || []), ...(b.assigned || [])].sort((x, y) => x - y)
  check('two kafkajs members split the six partitions',
    split && union.join() === '0,1,2,3,4,5',
    `a ${JSON.stringify(a.assigned)}, b ${JSON.stringify(b.assigned)}`)

  await produce(0, 10)
  await waitUntil(() => a.read.length + b.read.length >= 60, 20000)
  const values = [...a.read, ...b.read].map(r => r[1]).sort()
  check('eachMessage saw every record exactly once across both',
    JSON.stringify(values) === JSON.stringify(expected(10)),
    `${values.length} read, ${new Set(values).size} distinct`)
  check('each read only its own partitions',
    a.read.every(r => a.assigned.includes(r[0])) && b.read.every(r => b.assigned.includes(r[0])))

  log('member b disconnects')
  await b.consumer.disconnect()
  const all = await waitUntil(() => a.assigned && a.assigned.join() === '0,1,2,3,4,5', 20000)
  check('the other member takes all six partitions', all, JSON.stringify(a.assigned))
  await produce(10, 12)
  await waitUntil(() => a.read.length + b.read.length >= 72, 20000)
  const after = [...a.read, ...b.read].map(r => r[1]).sort()
  check('what comes next is read once, by the one left',
    JSON.stringify(after) === JSON.stringify(expected(12)),
    `${after.length} read, ${new Set(after).size} distinct`)

  await a.consumer.disconnect()
  const offsets = await admin.fetchOffsets({ groupId: GROUP, topics: [TOPIC] })
  const committed = offsets[0].partitions.map(p => `${p.partition}:${p.offset}`).sort()
  check('the committed offsets are where reading stopped (12 each)',
    committed.join() === '0:12,1:12,2:12,3:12,4:12,5:12', committed.join())
  await admin.disconnect()
}

run(main)
