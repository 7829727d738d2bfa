// What the kafkajs interop scripts share: loading kafkajs (npm, pinned in package-lock.json,
// installed by ./run.sh test), the broker's address from with_broker.sh, and a run's
// harness — timestamped log lines, named checks, a bounded wait, a watchdog, and the exit
// status that says whether every check passed.
'use strict'

function loadKafkajs () {
  try {
    return require('kafkajs')
  } catch (e) {
    console.error(`kafkajs not installed (${e.code || e.message}): run ./run.sh test, which ` +
      `npm-installs it into tests/interop/node_modules (npm ci --prefix tests/interop)`)
    process.exit(1)
  }
}

function bootstrapServers () {
  if (!process.env.BOOTSTRAP) {
    console.error('run me through with_broker.sh (BOOTSTRAP unset)')
    process.exit(1)
  }
  return process.env.BOOTSTRAP.split(',')
}

// A run named `name` (for its last line) that fails if not done after timeoutMs.
function harness (name, timeoutMs) {
  const start = Date.now()
  const failures = []
  const watchdog = setTimeout(() => {
    console.error(`${name}: FAILED: not done after ${timeoutMs / 1000} s`)
    process.exit(1)
  }, timeoutMs)
  const log = (msg) => console.log(`[${((Date.now() - start) / 1000).toFixed(1).padStart(5)}s] ${msg}`)
  return {
    log,
    check (what, ok, detail) {
      if (ok) log(`ok   ${what}`)
      else {
        failures.push(what)
        log(`FAIL ${what}${detail ? ': ' + detail : ''}`)
      }
    },
    // fn() polled every 100 ms until true or ms have passed; its last value.
    async waitUntil (fn, ms) {
      const deadline = Date.now() + ms
      while (!fn() && Date.now() < deadline) await new Promise(resolve => setTimeout(resolve, 100))
      return fn()
    },
    // Runs main and exits: 0 when every check passed.
    run (main) {
      main().then(() => {
        clearTimeout(watchdog)
        log(`${name}: ${failures.length ? 'FAILED: ' + failures.join(', ') : 'all checks passed'}`)
        process.exit(failures.length ? 1 : 0)
      }, e => {
        console.error(`${name}: FAILED:`, e)
        process.exit(1)
      })
    }
  }
}

module.exports = { loadKafkajs, bootstrapServers, harness }
