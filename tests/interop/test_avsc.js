#!/usr/bin/env node
// Avro bytes across implementations: minikafka's AvroSerializer/AvroDeserializer (over
// avro-c) and avsc (npm, a JavaScript Avro implementation written from the specification),
// with minikafka's schema registry between them; run by with_broker.sh (BOOTSTRAP,
// SCHEMA_REGISTRY_URL, INTEROP_TMP). argv[2] is the minikafka executable.
//
// 1. ours -> avsc: `minikafka produce --value-serializer AvroSerializer` sends JSON lines in a
//    schema with every Avro type (records, unions, enums, arrays, maps, bytes, fixed, long,
//    float, ...); kcat reads the raw values back; each must be a 0 byte, a 4-byte id, then
//    Avro. avsc fetches the schema by that id from our registry (GET /schemas/ids/{id}),
//    decodes the rest, and must find the value of its line; avsc's own encoding of that
//    value must be the very same bytes.
// 2. avsc -> ours: the schema registered over HTTP; avsc encodes values, framed with the id
//    as Confluent's serializer would; kafkajs produces them; `minikafka consume
//    --value-deserializer AvroDeserializer` must print each as JSON that avsc reads back as
//    the value it encoded.
'use strict'
const http = require('http')
const { spawnSync } = require('child_process')

let avro, kafkajs
try {
  avro = require('avsc')
  kafkajs = require('kafkajs')
} catch (e) {
  console.error(`avsc or kafkajs not installed (${e.code || e.message}): run ./run.sh test, ` +
    'which npm-installs them into tests/interop/node_modules (npm ci --prefix tests/interop)')
  process.exit(1)
}

const minikafka = process.argv[2]
const bootstrap = process.env.BOOTSTRAP
const registry = process.env.SCHEMA_REGISTRY_URL
if (!minikafka || !bootstrap || !registry) {
  console.error('usage: with_broker.sh MINIKAFKA node test_avsc.js MINIKAFKA (BOOTSTRAP, ' +
    'SCHEMA_REGISTRY_URL unset?)')
  process.exit(1)
}
const watchdog = setTimeout(() => {
  console.error('avsc: FAILED: not done after 90 s')
  process.exit(1)
}, 90000)

const failures = []
function check (name, ok, detail) {
  console.log(`${ok ? 'ok  ' : 'FAIL'} ${name}${ok || !detail ? '' : ': ' + detail}`)
  if (!ok) failures.push(name)
  return ok
}

// One request to the registry: [status, parsed JSON].
function registryCall (method, path, body) {
  return new Promise((resolve, reject) => {
    const req = http.request(registry + path, {
      method,
      headers: { 'Content-Type': 'application/vnd.schemaregistry.v1+json' }
    }, (res) => {
      const chunks = []
      res.on('data', (c) => chunks.push(c))
      res.on('end', () => resolve([res.statusCode, JSON.parse(Buffer.concat(chunks).toString())]))
    })
    req.on('error', reject)
    if (body !== undefined) req.write(JSON.stringify(body))
    req.end()
  })
}

// A schema with every kind of Avro type. (avsc takes longs within +-2^52 as JS numbers.)
const SCHEMA = {
  type: 'record',
  name: 'Order',
  namespace: 'interop.avsc',
  fields: [
    { name: 'id', type: 'long' },
    { name: 'customer', type: 'string' },
    { name: 'note', type: ['null', 'string'], default: null },
    { name: 'amount', type: 'double' },
    { name: 'weight', type: 'float' },
    { name: 'count', type: 'int' },
    { name: 'paid', type: 'boolean' },
    { name: 'status', type: { type: 'enum', name: 'Status', symbols: ['NEW', 'PAID', 'SHIPPED'] } },
    { name: 'tags', type: { type: 'array', items: 'string' } },
    { name: 'prices', type: { type: 'map', values: 'long' } },
    { name: 'blob', type: 'bytes' },
    { name: 'digest', type: { type: 'fixed', name: 'Digest', size: 4 } },
    {
      name: 'address',
      type: ['null', {
        type: 'record',
        name: 'Address',
        fields: [{ name: 'city', type: 'string' }, { name: 'zip', type: ['null', 'int', 'string'] }]
      }],
      default: null
    }
  ]
}
const type = avro.Type.forSchema(SCHEMA)
const VALUES = [
  {
    id: 1, customer: 'Ann', note: null, amount: 12.5, weight: 0.25, count: 3, paid: true,
    status: 'PAID', tags: ['a', 'b'], prices: { x: 5, y: -7 }, blob: Buffer.from([0, 1, 255]),
    digest: Buffer.from('abcd'), address: { city: 'Seoul', zip: 4520 }
  },
  {
    id: 4503599627370496, customer: 'Zoë ✓ 서울', note: 'rush', amount: -0.001, weight: -1.5,
    count: -2147483648, paid: false, status: 'NEW', tags: [], prices: {}, blob: Buffer.alloc(0),
    digest: Buffer.from([0xff, 0, 0x7f, 0x80]), address: { city: '', zip: '04520' }
  },
  {
    id: -42, customer: '', note: null, amount: 1e300, weight: 3, count: 2147483647, paid: true,
    status: 'SHIPPED', tags: ['x'], prices: { only: 4503599627370496 }, blob: Buffer.from('\n\t"'),
    digest: Buffer.from('wxyz'), address: null
  }
]

function same (a, b) { return type.toString(a) === type.toString(b) }

// kcat's raw values: -f '%S:%s' gives each value's size, ':', then its bytes.
function kcatValues (topic, count) {
  const r = spawnSync('kcat', ['-C', '-b', bootstrap, '-t', topic, '-p', '0', '-o', 'beginning',
    '-c', String(count), '-e', '-q', '-f', '%S:%s'], { timeout: 30000 })
  if (r.error || r.status !== 0) throw new Error(`kcat: ${r.error || r.stderr}`)
  const out = r.stdout
  const values = []
  for (let at = 0; at < out.length;) {
    const colon = out.indexOf(0x3a, at)
    const size = Number(out.slice(at, colon).toString())
    values.push(out.slice(colon + 1, colon + 1 + size))
    at = colon + 1 + size
  }
  return values
}

async function oursToAvsc () {
  const topic = 'interop-avsc-ours'
  const lines = VALUES.map((v) => type.toString(v))  // Avro's JSON encoding, one per line
  const t = spawnSync(minikafka, ['topics', '--bootstrap-server', bootstrap, '--create',
    '--topic', topic, '--partitions', '1'], { timeout: 30000 })  // one partition: in order
  check('a topic of one partition', t.status === 0, String(t.stderr))
  const p = spawnSync(minikafka, ['produce', '--bootstrap-server', bootstrap, '--topic', topic,
    '--value-serializer', 'AvroSerializer', '--property', 'value.schema=' + JSON.stringify(SCHEMA),
    '--property', 'schema.registry.url=' + registry],
  { input: lines.join('\n') + '\n', timeout: 60000 })
  check('minikafka produce --value-serializer AvroSerializer', p.status === 0, String(p.stderr))
  const values = kcatValues(topic, lines.length)
  check(`kcat read ${lines.length} values`, values.length === lines.length, String(values.length))
  const schemas = new Map()
  for (let i = 0; i < values.length; i++) {
    const buf = values[i]
    if (!check(`value ${i}: magic byte 0 and a schema id`, buf.length > 5 && buf[0] === 0)) continue
    const id = buf.readInt32BE(1)
    if (!schemas.has(id)) {
      const [status, body] = await registryCall('GET', `/schemas/ids/${id}`)
      check(`value ${i}: id ${id} is in the registry`, status === 200, JSON.stringify(body))
      schemas.set(id, avro.Type.forSchema(JSON.parse(body.schema)))
    }
    const writer = schemas.get(id)
    let decoded
    try {
      decoded = writer.fromBuffer(buf.slice(5))
    } catch (e) {
      check(`value ${i}: avsc decodes our Avro`, false, e.message)
      continue
    }
    // The values are in the order of the lines (one partition).
    check(`value ${i}: avsc decodes our Avro to the value of its line`, same(decoded, VALUES[i]),
      `${writer.toString(decoded)} vs ${lines[i]}`)
    check(`value ${i}: avsc's encoding of it is the same bytes`,
      Buffer.compare(type.toBuffer(VALUES[i]), buf.slice(5)) === 0,
      `${type.toBuffer(VALUES[i]).toString('hex')} vs ${buf.slice(5).toString('hex')}`)
  }
}

async function avscToOurs () {
  const topic = 'interop-avsc-theirs'
  const [status, body] = await registryCall('POST', `/subjects/${topic}-value/versions`,
    { schema: JSON.stringify(SCHEMA) })
  check('the schema registers over HTTP', status === 200 && Number.isInteger(body.id),
    JSON.stringify(body))
  const header = Buffer.alloc(5)
  header.writeInt32BE(body.id, 1)
  const kafka = new kafkajs.Kafka({ brokers: bootstrap.split(','), logLevel: kafkajs.logLevel.NOTHING })
  const producer = kafka.producer({ createPartitioner: kafkajs.Partitioners.DefaultPartitioner })
  await producer.connect()
  await producer.send({
    topic,
    messages: VALUES.map((v) => ({ partition: 0, value: Buffer.concat([header, type.toBuffer(v)]) }))
  })
  await producer.disconnect()
  const c = spawnSync(minikafka, ['consume', '--bootstrap-server', bootstrap, '--topic', topic,
    '--partition', '0', '--offset', 'earliest', '--max-messages', String(VALUES.length),
    '--timeout-ms', '10000', '--value-deserializer', 'AvroDeserializer', '--property',
    'schema.registry.url=' + registry], { timeout: 60000 })
  check('minikafka consume --value-deserializer AvroDeserializer', c.status === 0, String(c.stderr))
  const printed = c.stdout.toString().split('\n').filter((l) => l.length)
  check(`it printed ${VALUES.length} lines`, printed.length === VALUES.length, printed.join(' | '))
  for (let i = 0; i < printed.length; i++) {
    let back
    try {
      back = type.fromString(printed[i])
    } catch (e) {
      check(`line ${i}: avsc reads our JSON`, false, `${e.message}: ${printed[i]}`)
      continue
    }
    check(`line ${i}: our JSON is the value avsc encoded`, same(back, VALUES[i]),
      `${printed[i]} vs ${type.toString(VALUES[i])}`)
  }
}

(async () => {
  try {
    await oursToAvsc()
    await avscToOurs()
  } catch (e) {
    check('no exception', false, e.stack)
  }
  clearTimeout(watchdog)
  if (failures.length) {
    console.error(`${failures.length} check(s) failed`)
    process.exit(1)
  }
  console.log('avsc interop: all checks passed')
})()
