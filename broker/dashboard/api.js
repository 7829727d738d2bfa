// The admin API (DESIGN.md 3.2), as the page calls it: same origin only, JSON in and out,
// and for every call the curl command that does the same, so a class can repeat it.

export const origin = window.location.origin;

// A JSON object on one line, spaced as people type it: {"action": "broker_down", "broker": 1}.
export function jsonForPeople(value) {
  if (value && typeof value === 'object' && !Array.isArray(value)) {
    return '{' + Object.entries(value).map(([k, v]) => JSON.stringify(k) + ': ' + jsonForPeople(v)).join(', ') + '}';
  }
  return JSON.stringify(value);
}

// The curl command for method path (body: an object, or undefined).
export function curlFor(method, path, body) {
  let s = 'curl -s';
  if (method !== 'GET') s += ' -X ' + method;
  s += ' ' + origin + path;
  if (body !== undefined) s += " -d '" + jsonForPeople(body).replace(/'/g, "'\\''") + "'";
  return s;
}

// Call the API. Resolves to {status, ok, body (parsed JSON or null), text, curl}; a network
// failure is status 0 with text saying so. Never rejects.
export async function call(method, path, body) {
  const curl = curlFor(method, path, body);
  const init = {method, headers: {}};
  if (body !== undefined) {
    init.headers['Content-Type'] = 'application/json';
    init.body = JSON.stringify(body);
  }
  try {
    const res = await fetch(path, init);
    const text = await res.text();
    let parsed = null;
    try { parsed = text ? JSON.parse(text) : null; } catch (e) { parsed = null; }
    return {status: res.status, ok: res.ok, body: parsed, text, curl};
  } catch (e) {
    return {status: 0, ok: false, body: null, text: 'the broker does not answer (' + e.message + ')', curl};
  }
}

// The error text of a failed call: the API's message when it sent one.
export function errorText(r) {
  if (r.body && r.body.message) return `${r.status} ${r.body.error}: ${r.body.message}`;
  return r.status ? `${r.status}: ${r.text.slice(0, 200)}` : r.text;
}
