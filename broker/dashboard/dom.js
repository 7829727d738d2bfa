// Small DOM helpers shared by the panels. Text always goes in as text (never as HTML),
// so names from the broker (topics, client ids) cannot inject markup.

// h('div', {class: 'x', title: 'y'}, child, 'text', ...): an element.
export function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k === 'class') el.className = v;
    else if (k === 'dataset') Object.assign(el.dataset, v);
    else if (k.startsWith('on')) el.addEventListener(k.slice(2), v);
    else el.setAttribute(k, v === true ? '' : String(v));
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const c of children) {
    if (c === undefined || c === null || c === false) continue;
    if (Array.isArray(c)) append(el, c);
    else el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
}

// Set el's text only when it changed (cheap to call every frame).
export function setText(el, text) {
  const s = String(text);
  if (el.textContent !== s) el.textContent = s;
}

// Replace el's children.
export function fill(el, ...children) {
  el.replaceChildren();
  append(el, children);
}

// Restart a CSS animation class on el (it runs again even if it is still running).
export function flash(el, cls) {
  el.classList.remove(cls);
  void el.offsetWidth;  // a reflow, so removing and adding the class restarts the animation
  el.classList.add(cls);
}

// Keep parent's children one element per item, in the items' order: rec = make(item) the
// first time a key is seen (rec.el is its element), update(rec, item) every time, and the
// elements of keys no longer there are removed. map (key -> rec) persists between calls, so
// an element lives as long as its key: its CSS transitions and animations carry on.
export function reconcile(parent, map, items, keyOf, make, update) {
  const seen = new Set();
  let prev = null;
  for (const item of items) {
    const key = keyOf(item);
    seen.add(key);
    let rec = map.get(key);
    if (!rec) {
      rec = make(item);
      map.set(key, rec);
    }
    const next = prev ? prev.nextSibling : parent.firstChild;
    if (next !== rec.el) parent.insertBefore(rec.el, next);
    prev = rec.el;
    update(rec, item);
  }
  for (const [key, rec] of map) {
    if (!seen.has(key)) {
      rec.el.remove();
      map.delete(key);
    }
  }
}

// A block that says what would appear here and how to make it appear.
export function emptyState(title, ...lines) {
  return h('div', {class: 'empty'}, h('h3', {}, title), lines.map((l) => h('p', {}, l)));
}

// "code" inline: h('code', {}, text).
export function code(text) {
  return h('code', {}, text);
}
