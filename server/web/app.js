// The afterhours fleet page: plain ES2020, no framework, no build step.
// Everything the server sends is inserted as text (textContent), never as
// HTML; the plan drawing, which the server generates and escapes
// (Plan.WriteSVG), is parsed with DOMParser as SVG and imported as nodes.
'use strict';

const TOKEN_KEY = 'afterhours-token';
const REFRESH_MS = 15000;
const SVG_NS = 'http://www.w3.org/2000/svg';

const $ = (id) => document.getElementById(id);

let timer = null;
let selected = '';
let loadDay = ''; // the UTC date of the load charts; '' for the fleet's today

// Unauthorized is thrown when the server answers 401: the page asks for a
// token again.
class Unauthorized extends Error {}

function token() {
  return sessionStorage.getItem(TOKEN_KEY) || '';
}

// api fetches a path of the API with the token. It returns the parsed JSON
// (or the text when asText), null for a 404 when optional, and throws
// otherwise.
async function api(path, {optional = false, asText = false} = {}) {
  const resp = await fetch(path, {
    headers: {'Authorization': 'Bearer ' + token()},
    credentials: 'omit',
    cache: 'no-store',
  });
  if (resp.status === 401) {
    throw new Unauthorized('the server refused the token');
  }
  if (optional && resp.status === 404) {
    return null;
  }
  if (!resp.ok) {
    let msg = resp.status + ' ' + resp.statusText;
    try {
      const body = await resp.json();
      if (body && body.error) {
        msg = body.error;
      }
    } catch (e) { /* not JSON */ }
    throw new Error(path + ': ' + msg);
  }
  return asText ? resp.text() : resp.json();
}

function el(tag, text, cls) {
  const e = document.createElement(tag);
  if (text !== undefined && text !== null) {
    e.textContent = String(text);
  }
  if (cls) {
    e.className = cls;
  }
  return e;
}

function svgEl(tag, attrs) {
  const e = document.createElementNS(SVG_NS, tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    e.setAttribute(k, String(v));
  }
  return e;
}

function row(cells) {
  const tr = document.createElement('tr');
  for (const c of cells) {
    tr.appendChild(c instanceof Node ? wrapCell(c) : el('td', c));
  }
  return tr;
}

function wrapCell(node) {
  const td = document.createElement('td');
  td.appendChild(node);
  return td;
}

// when formats an RFC 3339 instant as "2026-11-24 23:00:00Z", or "—".
function when(s) {
  if (!s) {
    return '—';
  }
  const d = new Date(s);
  if (isNaN(d.getTime()) || d.getUTCFullYear() <= 1) {
    return '—';
  }
  return d.toISOString().replace('T', ' ').replace(/\.\d+Z$/, 'Z');
}

function showLogin(message) {
  stopTimer();
  $('app').hidden = true;
  $('refresh').hidden = true;
  $('signout').hidden = true;
  $('login').hidden = false;
  $('login-error').textContent = message || '';
  $('token').value = '';
  $('token').focus();
}

function showApp() {
  $('login').hidden = true;
  $('app').hidden = false;
  $('refresh').hidden = false;
  $('signout').hidden = false;
}

function stopTimer() {
  if (timer !== null) {
    clearTimeout(timer);
    timer = null;
  }
}

// state is a client's state, from its status line.
function state(s) {
  const last = s.last;
  if (!last) {
    return s.last_seen ? 'no report' : 'never seen';
  }
  if (last.killed) {
    return 'killed';
  }
  if (last.failed && last.failed.length > 0) {
    return 'failed';
  }
  return last.closed ? 'cycle done' : 'in cycle';
}

function renderStatus(status) {
  const counts = new Map();
  for (const s of status) {
    const st = state(s);
    counts.set(st, (counts.get(st) || 0) + 1);
  }
  const ul = $('states');
  ul.replaceChildren();
  const total = el('li');
  total.append(el('b', status.length), ' clients');
  ul.appendChild(total);
  for (const name of ['in cycle', 'cycle done', 'failed', 'killed', 'no report', 'never seen']) {
    if (counts.has(name)) {
      const li = el('li');
      li.dataset.state = name;
      li.append(el('b', counts.get(name)), ' ' + name);
      ul.appendChild(li);
    }
  }

  const tbody = $('clients').tBodies[0];
  tbody.replaceChildren();
  for (const s of status) {
    const last = s.last || {};
    const c = last.counts || {};
    const countText = Object.keys(c).sort().map((k) => k + ' ' + c[k]).join(', ') || '—';
    const nFailed = (last.failed || []).length;
    const btn = el('button', 'show', 'link');
    btn.type = 'button';
    btn.dataset.client = s.client;
    btn.addEventListener('click', () => selectClient(s.client));
    const tr = row([s.client, s.site, when(s.last_seen), last.cycle || '—', countText,
      last.killed ? 'yes' : 'no', nFailed, btn]);
    tr.dataset.client = s.client;
    tr.dataset.state = state(s);
    if (nFailed > 0) {
      tr.classList.add('failed');
    }
    if (s.client === selected) {
      tr.classList.add('selected');
    }
    tbody.appendChild(tr);
  }
}

function renderFailed(failed) {
  const tbody = $('failed').tBodies[0];
  tbody.replaceChildren();
  for (const cf of failed) {
    for (const f of cf.failed) {
      const tr = row([cf.client, cf.cycle, f.task, f.kind, f.error || '—', f.exit_code, when(f.start), when(f.end)]);
      tr.dataset.client = cf.client;
      tr.dataset.task = f.task;
      tbody.appendChild(tr);
    }
  }
  const any = tbody.rows.length > 0;
  $('failed').hidden = !any;
  $('failed-none').hidden = any;
}

// Load charts: one per token, 2 px a minute... scaled to 960 px for a day.
const CHART = {left: 36, top: 8, width: 960, height: 120, bottom: 22};

function renderLoad(load) {
  $('load-date').textContent = 'on ' + load.date + ' (UTC)';
  if (document.activeElement !== $('load-day')) {
    $('load-day').value = load.date;
  }
  const box = $('load');
  box.replaceChildren();
  if (load.tokens.length === 0) {
    box.appendChild(el('p', 'The config shares no resource.', 'muted'));
    return;
  }
  for (const t of load.tokens) {
    const div = el('div', null, 'chart');
    div.dataset.token = t.token;
    const head = el('p');
    head.append(el('b', t.token), ' — zone ' + t.zone + ', capacity ' + (t.capacity || 'unlimited') +
      (t.lan_capacity ? ', ' + t.lan_capacity + ' per LAN' : '') + ', ' + t.holders + ' holders, peak ' +
      t.peak + (t.peak > 0 ? ' at ' + when(t.peak_at) : '') + '. ');
    if (t.over.length > 0) {
      const o = el('span', t.over.length + ' stints over capacity: ' +
        t.over.map((s) => s.scope + ' ' + when(s.from) + '–' + when(s.to) + ' (' + s.count + '/' + s.capacity + ')').join('; '), 'over');
      o.classList.add('over-capacity');
      head.appendChild(o);
    } else {
      head.appendChild(el('span', 'No minute over capacity.', 'fine'));
    }
    div.appendChild(head);
    div.appendChild(loadChart(t, load.minutes, load.start));
    box.appendChild(div);
  }
}

function loadChart(t, minutes, start) {
  const W = CHART.left + CHART.width + 20;
  const H = CHART.top + CHART.height + CHART.bottom;
  const top = Math.max(t.peak, t.capacity || 0, 1);
  const xOf = (m) => CHART.left + m * CHART.width / minutes;
  const yOf = (v) => CHART.top + CHART.height - v * CHART.height / top;
  const svg = svgEl('svg', {width: W, height: H, viewBox: `0 0 ${W} ${H}`, class: 'load-chart',
    'data-token': t.token, role: 'img', 'aria-label': 'load of ' + t.token});
  svg.appendChild(svgEl('rect', {x: CHART.left, y: CHART.top, width: CHART.width, height: CHART.height, fill: '#f7f9fb', stroke: '#d9e0e7'}));
  // Hour ticks, every 3 hours labelled (UTC).
  const t0 = new Date(start).getTime();
  for (let m = 0; m <= minutes; m += 60) {
    const x = xOf(m);
    svg.appendChild(svgEl('line', {x1: x, y1: CHART.top + CHART.height, x2: x, y2: CHART.top + CHART.height + 4, stroke: '#6b7785'}));
    if (m % 180 === 0) {
      const label = svgEl('text', {x, y: H - 4, 'text-anchor': 'middle', 'font-size': 10, fill: '#6b7785'});
      label.textContent = new Date(t0 + m * 60000).toISOString().slice(11, 16);
      svg.appendChild(label);
    }
  }
  for (const v of [0, top]) {
    const label = svgEl('text', {x: CHART.left - 4, y: yOf(v) + 4, 'text-anchor': 'end', 'font-size': 10, fill: '#6b7785'});
    label.textContent = String(v);
    svg.appendChild(label);
  }
  // The load, as steps.
  let d = `M${xOf(0)},${yOf(0)}`;
  for (let m = 0; m < t.load.length; m++) {
    d += `V${yOf(t.load[m])}H${xOf(m + 1)}`;
  }
  d += `V${yOf(0)}Z`;
  svg.appendChild(svgEl('path', {d, class: 'load', fill: '#9cc3e6', stroke: '#2b6cb0', 'stroke-width': 1}));
  // Minutes over capacity, in red.
  for (const s of t.over) {
    const a = (new Date(s.from).getTime() - t0) / 60000;
    const b = (new Date(s.to).getTime() - t0) / 60000;
    svg.appendChild(svgEl('rect', {x: xOf(a), y: CHART.top, width: Math.max(xOf(b) - xOf(a), 1), height: CHART.height,
      fill: '#b42318', 'fill-opacity': 0.3, class: 'over'}));
  }
  if (t.capacity > 0) {
    svg.appendChild(svgEl('line', {x1: CHART.left, x2: CHART.left + CHART.width, y1: yOf(t.capacity), y2: yOf(t.capacity),
      stroke: '#b42318', 'stroke-width': 1.5, 'stroke-dasharray': '6 3', class: 'capacity', 'data-capacity': t.capacity}));
  }
  return svg;
}

function renderKillswitch(ks) {
  const panel = $('killswitch-panel');
  if (ks === null) {
    panel.hidden = true;
    return;
  }
  panel.hidden = false;
  const p = $('killswitch');
  p.className = ks.fleet ? 'over' : 'fine';
  p.textContent = ks.fleet ? 'The whole fleet is killed since ' + when(ks.fleet.since) + ': ' + ks.fleet.reason
    : 'The fleet killswitch is off.';
  const ul = $('killswitch-tags');
  ul.replaceChildren();
  for (const tag of Object.keys(ks.tags || {}).sort()) {
    const k = ks.tags[tag] || {};
    ul.appendChild(el('li', 'Tag ' + tag + ': killed since ' + when(k.since) + (k.reason ? ': ' + k.reason : '')));
  }
}

function renderResources(res) {
  const panel = $('downtimes-panel');
  if (res === null) {
    panel.hidden = true;
    return;
  }
  panel.hidden = false;
  const tbody = $('downtimes').tBodies[0];
  tbody.replaceChildren();
  for (const r of res.resources || []) {
    for (const dt of r.downtimes || []) {
      const running = (dt.occurrences || []).filter((o) => o.running);
      const now = dt.ended ? 'ended ' + when(dt.ended)
        : running.length > 0 ? 'running at ' + running.map((o) => o.site).join(', ') : '—';
      const span = [...(dt.dates || []), ...(dt.days || [])].join(', ') || 'every day';
      const tasks = (dt.tasks || []).map((t) => t.name + ' (' + t.kind + ')').join(', ') || '—';
      const tr = row([r.name, r.set || '—', dt.action, (dt.from || '') + '–' + (dt.to || ''), span, now,
        (dt.clients || []).join(', ') || '—', tasks]);
      tr.dataset.resource = r.name;
      tbody.appendChild(tr);
    }
  }
  const any = tbody.rows.length > 0;
  $('downtimes').hidden = !any;
  $('downtimes-none').hidden = any;
}

async function selectClient(id) {
  selected = id;
  for (const tr of $('clients').tBodies[0].rows) {
    tr.classList.toggle('selected', tr.dataset.client === id);
  }
  $('plan-panel').hidden = false;
  $('plan-client').textContent = id;
  try {
    await showPlan(id);
  } catch (e) {
    handle(e, $('plan-error'));
  }
}

// showPlan fetches the client's plan as SVG and puts it inline, parsed as
// XML (never as HTML): its bars can then be measured and styled.
async function showPlan(id) {
  const text = await api('/v1/clients/' + encodeURIComponent(id) + '/plan?format=svg', {asText: true});
  if (id !== selected) {
    return; // another client was chosen meanwhile
  }
  const doc = new DOMParser().parseFromString(text, 'image/svg+xml');
  const root = doc.documentElement;
  if (root.namespaceURI !== SVG_NS || root.localName !== 'svg') {
    throw new Error('the plan of ' + id + ' is not an SVG drawing');
  }
  for (const s of root.querySelectorAll('script, foreignObject')) {
    s.remove(); // the server writes none; keep it so
  }
  $('plan').replaceChildren(document.importNode(root, true));
  $('plan-error').textContent = '';
}

function handle(e, where) {
  if (e instanceof Unauthorized) {
    showLogin('The server refused the token: enter another.');
    return;
  }
  where.textContent = e.message || String(e);
}

// refresh loads everything, draws it, and schedules the next refresh.
async function refresh() {
  stopTimer();
  try {
    const [status, failed, load, resources, killswitch] = await Promise.all([
      api('/v1/status'), api('/v1/failed'),
      api('/v1/load' + (loadDay ? '?date=' + encodeURIComponent(loadDay) : '')),
      api('/v1/resources', {optional: true}), api('/v1/killswitch', {optional: true}),
    ]);
    showApp();
    renderStatus(status);
    renderFailed(failed);
    renderLoad(load);
    renderResources(resources);
    renderKillswitch(killswitch);
    if (selected) {
      await showPlan(selected).catch((e) => handle(e, $('plan-error')));
    }
    $('error').textContent = '';
    $('refreshed').textContent = 'Refreshed at ' + new Date().toISOString().slice(11, 19) + ' UTC; every 15 s.';
    document.body.dataset.refreshed = String(Date.now());
  } catch (e) {
    handle(e, $('error'));
    if (e instanceof Unauthorized) {
      return;
    }
  }
  timer = setTimeout(refresh, REFRESH_MS);
}

function start() {
  $('login').addEventListener('submit', (ev) => {
    ev.preventDefault();
    const v = $('token').value.trim();
    if (v === '') {
      return;
    }
    sessionStorage.setItem(TOKEN_KEY, v);
    $('login-error').textContent = '';
    refresh();
  });
  $('refresh').addEventListener('click', () => refresh());
  $('load-day').addEventListener('change', () => {
    loadDay = $('load-day').value;
    refresh();
  });
  $('load-today').addEventListener('click', () => {
    loadDay = '';
    $('load-day').value = '';
    refresh();
  });
  $('signout').addEventListener('click', () => {
    sessionStorage.removeItem(TOKEN_KEY);
    showLogin('');
  });
  if (token() === '') {
    showLogin('');
  } else {
    refresh();
  }
}

document.addEventListener('DOMContentLoaded', start);
