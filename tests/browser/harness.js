// What the dashboard's browser tests share (test_dashboard.js against a broker,
// test_dashboard_proxy.js against `minikafka proxy`): named checks that are counted, bounded
// waits, and a page in headless chromium (puppeteer-core) held to the dashboard's rules: it
// reaches no other host, and logs no console error but the 404s of the endpoints it probes
// and explains (GET /v1/groups and /v1/transactions).

import fs from 'node:fs';

export const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
export const results = {failures: 0};

export function pass(name) { console.log(`ok   ${name}`); }
export function fail(name, detail) {
  results.failures++;
  console.log(`FAIL ${name}${detail ? ': ' + detail : ''}`);
}
// detail: a string, or a function called only on failure.
export function check(name, cond, detail) {
  if (cond) pass(name); else fail(name, typeof detail === 'function' ? detail() : detail);
  return !!cond;
}
export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// fn() every 100 ms until it returns something true, which is returned; throws after ms.
export async function waitFor(fn, ms, what) {
  const end = Date.now() + ms;
  let last;
  while (Date.now() < end) {
    last = await fn();
    if (last) return last;
    await sleep(100);
  }
  throw new Error(`timed out after ${ms} ms waiting for ${what}`);
}

// puppeteer-core, once chromium is known to be there; null (a failed check naming the
// install command) when either is missing. Nothing skips.
export async function loadPuppeteer() {
  let puppeteer;
  try {
    puppeteer = (await import('puppeteer-core')).default;
  } catch (e) {
    fail('puppeteer-core is installed', `${e.message}: run ./run.sh test (npm ci --prefix tests/browser)`);
    return null;
  }
  if (!fs.existsSync(CHROMIUM)) {
    fail('chromium is installed', `${CHROMIUM} not found: run ./run.sh test (apt-get install chromium)`);
    return null;
  }
  return puppeteer;
}

// Headless chromium at 1280x720 (the projector the dashboard is made for).
export function launch(puppeteer) {
  return puppeteer.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--window-size=1280,720', '--no-first-run', '--disable-extensions'],
  });
}

// A new 1280x720 page of browser that may reach origin only. Returns {page, external (the
// URLs it tried elsewhere, aborted), consoleErrors}; both lists grow as the page runs.
export async function watchedPage(browser, origin) {
  const page = await browser.newPage();
  await page.setViewport({width: 1280, height: 720});
  const external = [];
  const consoleErrors = [];
  await page.setRequestInterception(true);
  page.on('request', (req) => {
    const u = req.url();
    if (u.startsWith('data:') || new URL(u).origin === origin) req.continue();
    else {
      external.push(u);
      req.abort();
    }
  });
  // Endpoints that come in later tasks (or never on a proxy) answer 404; the page asks once
  // and explains.
  const optional = /\/v1\/(groups|transactions|schemas)$/;
  page.on('console', (m) => {
    if (m.type() !== 'error') return;
    const where = m.location() && m.location().url;
    if (where && optional.test(where) && /404/.test(m.text())) return;
    consoleErrors.push(`${m.text()} (${where || '?'})`);
  });
  page.on('pageerror', (e) => consoleErrors.push(`page error: ${e.message}`));
  return {page, external, consoleErrors};
}
