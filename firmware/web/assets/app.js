// dvbgate's web page: one script, no framework, no build step.
//
// Hash routing (#/dashboard, #/channels…); each page is a function that renders into
// <main> and may return a cleanup function (closing its live stream or timers) that runs
// when the technician leaves it. Text from the server is only ever set with textContent
// (the h() helper), never as HTML, and the CSP forbids inline script and style anyway.
'use strict';

// ---------------------------------------------------------------- helpers

/** Builds an element: h('td', {class: 'num'}, 'text', child…). */
function h(tag, attrs, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith('on')) el.addEventListener(k.slice(2), v);
    else if (k === 'value') el.value = v;
    else if (k === 'checked') el.checked = !!v;
    else el.setAttribute(k, v === true ? '' : v);
  }
  for (const c of children.flat(Infinity)) {
    if (c === undefined || c === null || c === false) continue;
    el.append(c instanceof Node ? c : String(c));
  }
  return el;
}
const $ = (sel, root = document) => root.querySelector(sel);
let uid = 0;
const nextId = (p) => `${p}-${++uid}`;

/** A labelled field: field('Name', {type:'text', …}) → [wrapper, input]. */
function field(label, attrs, hint) {
  const id = attrs.id || nextId('f');
  const input = attrs.tag === 'select'
    ? h('select', { ...attrs, tag: undefined, options: undefined, id }, attrs.options || [])
    : h('input', { ...attrs, id });
  const wrap = h('div', { class: 'field' }, h('label', { for: id }, label), input,
    hint ? h('div', { class: 'muted small' }, hint) : null);
  return [wrap, input];
}
function checkbox(label, checked, attrs = {}) {
  const id = attrs.id || nextId('c');
  const input = h('input', { type: 'checkbox', id, checked, ...attrs });
  return [h('label', { class: 'inline', for: id }, input, label), input];
}
/** Copies each column's heading into its cells (data-label), for the phone layout. */
function labelCells(table) {
  const names = [...table.querySelectorAll('thead th')].map((th) => th.textContent);
  for (const tr of table.querySelectorAll('tbody tr')) {
    [...tr.children].forEach((td, i) => { if (names[i]) td.dataset.label = names[i]; });
  }
  return table;
}
/** One name and value of a <dl class="figures">. */
const figure = (name, value) => h('div', {}, h('dt', {}, name), h('dd', {}, value));
const option = (value, text, selected) => h('option', { value, selected: selected ? true : undefined }, text);

function fmtBitrate(bps) {
  if (bps == null) return '–';
  if (bps >= 1e6) return `${(bps / 1e6).toFixed(2)} Mbit/s`;
  if (bps >= 1e3) return `${(bps / 1e3).toFixed(0)} kbit/s`;
  return `${bps} bit/s`;
}
function fmtBytes(n) {
  if (n == null) return '–';
  if (n >= 1048576) return `${(n / 1048576).toFixed(1)} MiB`;
  if (n >= 1024) return `${(n / 1024).toFixed(1)} KiB`;
  return `${n} B`;
}
const fmtNum = (v, digits = 1) => (v == null || Number.isNaN(v) ? '–' : Number(v).toFixed(digits));
function fmtDuration(s) {
  s = Math.floor(s || 0);
  const d = Math.floor(s / 86400), hh = Math.floor(s / 3600) % 24, m = Math.floor(s / 60) % 60;
  return d ? `${d} d ${hh} h` : hh ? `${hh} h ${m} min` : `${m} min ${s % 60} s`;
}
function fmtDate(unix) {
  return unix ? new Date(unix * 1000).toLocaleString() : '–';
}
function toast(text) {
  const t = $('#toast');
  t.textContent = text;
  clearTimeout(toast.timer);
  toast.timer = setTimeout(() => { t.textContent = ''; }, 3500);
}
/** A message box whose text and kind change: msg.set('saved', 'ok'). */
function messageBox() {
  const el = h('div', { class: 'msg', role: 'alert' });
  el.set = (text, kind = 'error') => { el.className = `msg ${kind}`; el.textContent = text || ''; };
  return el;
}

// ---------------------------------------------------------------- API

const session = { csrf: null, setupRequired: false, authenticated: false, version: '' };

class ApiError extends Error {
  constructor(status, message, retryAfter) {
    super(message);
    this.status = status;
    this.retryAfter = retryAfter;
  }
}

/**
 * fetch() with JSON in and out, the CSRF token on every change, and the server's
 * {"error": "..."} as the thrown message. A 401 (session gone) goes to the login page
 * unless opts.keep401 (the login form's own wrong password).
 */
async function api(method, path, body, opts = {}) {
  const headers = { Accept: 'application/json' };
  if (method !== 'GET' && method !== 'HEAD' && session.csrf) headers['X-CSRF-Token'] = session.csrf;
  let payload;
  if (body !== undefined) {
    headers['Content-Type'] = 'application/json';
    payload = typeof body === 'string' ? body : JSON.stringify(body);
  }
  let r;
  try {
    r = await fetch(path, { method, headers, body: payload, credentials: 'same-origin', cache: 'no-store' });
  } catch (e) {
    throw new ApiError(0, `the box did not answer (${e.message})`);
  }
  const text = await r.text();
  let data = null;
  try { data = text ? JSON.parse(text) : null; } catch { data = text; }
  if (!r.ok) {
    const message = (data && data.error) || `${r.status} ${r.statusText}`;
    if (r.status === 401 && !opts.keep401) {
      session.authenticated = false;
      session.csrf = null;
      if (!location.hash.startsWith('#/login')) go('#/login');
    }
    throw new ApiError(r.status, message, Number(r.headers.get('Retry-After')) || null);
  }
  return data;
}
const get = (path) => api('GET', path);

async function loadSession() {
  const s = await api('GET', '/api/v1/session');
  session.csrf = s.csrf || null;
  session.setupRequired = !!s.setup_required;
  session.authenticated = !!s.authenticated;
  session.version = s.version || '';
  return s;
}

// ---------------------------------------------------------------- routing

const PAGES = [
  ['dashboard', 'Dashboard', pageDashboard],
  ['scan', 'Scan', pageScan],
  ['channels', 'Channels', pageChannels],
  ['users', 'Users', pageUsers],
  ['network', 'Network', pageNetwork],
  ['epg', 'EPG', pageEpg],
  ['backup', 'Backup', pageBackup],
  ['logs', 'Logs', pageLogs],
  ['system', 'System', pageSystem],
];
const OPEN_PAGES = { setup: pageSetup, login: pageLogin };
let cleanup = null;

function go(hash) {
  if (location.hash === hash) route();
  else location.hash = hash;
}

async function route() {
  const hash = location.hash;
  if (hash && !hash.startsWith('#/')) return; // an in-page anchor (the skip link)
  const name = hash.slice(2).split('?')[0] || 'dashboard';
  if (cleanup) { try { cleanup(); } catch { /* a page's own trouble */ } cleanup = null; }
  const main = $('#main');
  $('#toast').textContent = '';
  if (!session.authenticated || session.setupRequired) {
    try { await loadSession(); } catch (e) {
      main.replaceChildren(h('div', { class: 'narrow card' }, h('h1', {}, 'dvbgate'),
        h('p', { class: 'msg error' }, `Cannot reach the box: ${e.message}`),
        h('button', { type: 'button', onclick: () => route() }, 'Try again')));
      return;
    }
  }
  if (session.setupRequired && name !== 'setup') return go('#/setup');
  if (!session.setupRequired && !session.authenticated && name !== 'login') return go('#/login');
  if (session.authenticated && (name === 'login' || name === 'setup')) return go('#/dashboard');
  const page = OPEN_PAGES[name] || (PAGES.find((p) => p[0] === name) || [])[2];
  const top = $('#top');
  top.hidden = !session.authenticated;
  for (const a of $('#nav').children) {
    if (a.dataset.page === name) a.setAttribute('aria-current', 'page');
    else a.removeAttribute('aria-current');
  }
  main.replaceChildren();
  delete main.dataset.page;
  if (!page) {
    main.append(h('p', {}, 'No such page. ', h('a', { href: '#/dashboard' }, 'Dashboard')));
    return;
  }
  const title = (PAGES.find((p) => p[0] === name) || [0, name === 'setup' ? 'First start' : 'Log in'])[1];
  document.title = `${title} · dvbgate`;
  try {
    cleanup = (await page(main)) || null;
  } catch (e) {
    if (e.status !== 401) main.append(h('p', { class: 'msg error' }, e.message));
  }
  // Rendered (tests and screen readers can tell the new page from the old).
  if (location.hash.slice(2).split('?')[0] === name || (!location.hash && name === 'dashboard')) main.dataset.page = name;
}

function setupChrome() {
  const nav = $('#nav');
  for (const [id, title] of PAGES) nav.append(h('a', { href: `#/${id}`, 'data-page': id }, title));
  $('#logout').addEventListener('click', async () => {
    try { await api('DELETE', '/api/v1/session'); } catch { /* logged out either way */ }
    session.authenticated = false;
    session.csrf = null;
    go('#/login');
  });
  window.addEventListener('hashchange', route);
  route();
}

// ---------------------------------------------------------------- setup and login

function passwordPair(form) {
  const [w1, p1] = field('New password', { type: 'password', autocomplete: 'new-password', required: true, minlength: 8, maxlength: 256 }, '8 to 256 characters.');
  const [w2, p2] = field('New password again', { type: 'password', autocomplete: 'new-password', required: true });
  form.append(w1, w2);
  return () => {
    if (p1.value.length < 8 || p1.value.length > 256) return [null, 'The password needs 8 to 256 characters.'];
    if (p1.value !== p2.value) return [null, 'The two passwords differ.'];
    return [p1.value, null];
  };
}

function loginError(e) {
  if (e.status === 429) {
    const wait = e.retryAfter ? ` Wait ${e.retryAfter} s and try again.` : ' Wait a minute and try again.';
    return `Too many attempts.${wait}`;
  }
  return e.message;
}

function pageSetup(main) {
  const msg = messageBox();
  const form = h('form', { class: 'narrow card', novalidate: true },
    h('h1', {}, 'Welcome to dvbgate'),
    h('p', {}, 'Choose the administrator password. The one-time setup code is printed on the box\'s console (and in its log) as "setup code: XXXX-XXXX-XXXX".'));
  const [wc, code] = field('Setup code', { type: 'text', autocomplete: 'one-time-code', required: true, placeholder: 'XXXX-XXXX-XXXX', spellcheck: 'false', autocapitalize: 'characters' });
  form.append(wc);
  const check = passwordPair(form);
  const submit = h('button', { type: 'submit' }, 'Set password');
  form.append(msg, h('div', { class: 'actions' }, submit));
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const [password, problem] = check();
    if (!code.value.trim()) return msg.set('Enter the setup code.');
    if (problem) return msg.set(problem);
    submit.disabled = true;
    try {
      const s = await api('POST', '/api/v1/session/setup', { setup_code: code.value.trim(), password }, { keep401: true });
      session.csrf = s.csrf;
      session.authenticated = true;
      session.setupRequired = false;
      go('#/dashboard');
    } catch (e) {
      if (e.status === 409) { session.setupRequired = false; return go('#/login'); }
      msg.set(e.status === 403 ? 'Wrong setup code.' : loginError(e));
    } finally { submit.disabled = false; }
  });
  main.append(form);
  code.focus();
}

function pageLogin(main) {
  const msg = messageBox();
  const [wp, pw] = field('Password', { type: 'password', autocomplete: 'current-password', required: true });
  const submit = h('button', { type: 'submit' }, 'Log in');
  const form = h('form', { class: 'narrow card' }, h('h1', {}, 'dvbgate'),
    h('p', { class: 'muted' }, 'Log in as the administrator.'),
    h('input', { type: 'text', name: 'username', autocomplete: 'username', value: 'admin', hidden: true, 'aria-hidden': 'true' }),
    wp, msg, h('div', { class: 'actions' }, submit));
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    submit.disabled = true;
    try {
      const s = await api('POST', '/api/v1/session', { password: pw.value }, { keep401: true });
      session.csrf = s.csrf;
      session.authenticated = true;
      go('#/dashboard');
    } catch (e) {
      if (e.status === 409) { session.setupRequired = true; return go('#/setup'); }
      msg.set(e.status === 401 ? 'Wrong password.' : loginError(e));
      pw.select();
    } finally { submit.disabled = false; }
  });
  main.append(form);
  pw.focus();
}

// ---------------------------------------------------------------- history and sparklines

const HOUR = 3600;
const LIVE_STEP = 5;
/** The last hour of each series, `key → [[unix_s, value|null], …]`. */
const history = new Map();

function addPoint(key, t, v) {
  let s = history.get(key);
  if (!s) history.set(key, (s = []));
  // Live points come every second; one in five keeps an hour's line light to redraw.
  if (s.length && s[s.length - 1][0] > t - LIVE_STEP) return;
  s.push([t, v]);
  const cut = t - HOUR;
  let drop = 0;
  while (drop < s.length && s[drop][0] < cut) drop++;
  if (drop) s.splice(0, drop);
}

async function loadHistory() {
  let hist;
  try { hist = await get('/api/v1/history'); } catch (e) { if (e.status === 401) throw e; return; }
  history.clear();
  const take = (prefix, group) => {
    for (const [id, series] of Object.entries(group || {})) {
      for (const [name, points] of Object.entries(series || {})) {
        for (const [t, v] of points || []) addPoint(`${prefix}:${id}:${name}`, t, v);
      }
    }
  };
  take('t', hist.tuners);
  take('i', hist.inputs);
  take('c', hist.channels);
}

const SVGNS = 'http://www.w3.org/2000/svg';
/**
 * A sparkline of the last hour of a series. Bit rates (`zero`) are drawn from 0 so a
 * dip looks like one; signal and C/N use their own range, which is what a technician
 * turning a dish watches.
 */
function sparkline(key, cls = '', label = '', zero = false) {
  const w = 300, ht = 40;
  const svg = document.createElementNS(SVGNS, 'svg');
  svg.setAttribute('class', `spark ${cls}`);
  svg.setAttribute('viewBox', `0 0 ${w} ${ht}`);
  svg.setAttribute('preserveAspectRatio', 'none');
  svg.setAttribute('role', 'img');
  const s = (history.get(key) || []).filter((p) => p[1] != null);
  svg.setAttribute('aria-label', label ? `${label}, last hour` : 'last hour');
  if (s.length < 2) return h('span', { class: 'muted small nodata' }, 'no data yet');
  const now = s[s.length - 1][0];
  // A box up for less than an hour fills the width with what it has.
  const t0 = Math.max(now - HOUR, s[0][0]);
  const span = Math.max(1, now - t0);
  let min = Infinity, max = -Infinity;
  for (const [, v] of s) { min = Math.min(min, v); max = Math.max(max, v); }
  if (zero) min = Math.min(0, min);
  if (max - min < 1e-9) { max += 1; min -= 1; }
  const pts = s.filter((p) => p[0] >= t0).map(([t, v]) => `${(((t - t0) / span) * w).toFixed(1)},${(ht - 2 - ((v - min) / (max - min)) * (ht - 4)).toFixed(1)}`);
  const area = document.createElementNS(SVGNS, 'polygon');
  area.setAttribute('class', 'area');
  const firstX = pts[0].split(',')[0], lastX = pts[pts.length - 1].split(',')[0];
  area.setAttribute('points', `${firstX},${ht} ${pts.join(' ')} ${lastX},${ht}`);
  const line = document.createElementNS(SVGNS, 'polyline');
  line.setAttribute('points', pts.join(' '));
  svg.append(area, line);
  return svg;
}

// ---------------------------------------------------------------- dashboard

/** Colour of a C/N: margins differ by modulation family, so thresholds by system. */
function cnrClass(system, cnr) {
  if (cnr == null) return '';
  const sys = String(system || '').toUpperCase();
  const [bad, warn] = sys.startsWith('DVB-S') ? [5, 8] : sys.startsWith('DVB-C') ? [24, 28] : sys.startsWith('ATSC') ? [15, 19] : [15, 20];
  return cnr < bad ? 'bad' : cnr < warn ? 'warn' : 'good';
}
function signalPct(t) {
  if (t.signal_pct != null) return t.signal_pct;
  if (t.signal_dbm != null) return Math.max(0, Math.min(100, ((t.signal_dbm + 90) / 50) * 100));
  return null;
}
const pctClass = (p) => (p == null ? '' : p < 35 ? 'bad' : p < 60 ? 'warn' : 'good');

function gauge(label, value, unit, cls, pct) {
  const bar = h('span', { class: cls });
  if (pct != null) bar.style.width = `${Math.max(0, Math.min(100, pct)).toFixed(0)}%`;
  return h('div', { class: 'gauge' }, h('div', { class: 'label' }, label),
    h('div', { class: `big ${cls ? `${cls}-fg` : ''}` }, value, ' ', h('span', { class: 'unit' }, unit)),
    h('div', { class: 'bar', 'aria-hidden': 'true' }, bar));
}

function tunerCard(t) {
  const locked = !!t.locked;
  const pct = signalPct(t);
  const sig = t.signal_dbm != null ? [fmtNum(t.signal_dbm), 'dBm'] : t.signal_pct != null ? [fmtNum(t.signal_pct, 0), '%'] : ['–', ''];
  const cc = cnrClass(t.system, t.cnr_db);
  const sigKey = t.signal_dbm != null ? 'signal_dbm' : 'signal_pct';
  return h('div', { class: `card tuner ${locked ? '' : 'unlocked'}`, 'data-key': t.key },
    h('div', { class: 'between' },
      h('h3', {}, t.label || t.name || t.key),
      h('span', { class: `badge ${locked ? 'good' : 'bad'}` }, locked ? 'Locked' : 'No lock')),
    h('div', { class: 'muted small' }, t.key, ' · ', t.system || '–', ' · ',
      t.frequency_hz ? `${(t.frequency_hz / 1e6).toFixed(3).replace(/\.?0+$/, '')} MHz` : 'not tuned', ' · ', String(t.state || '').replace(/_/g, ' ')),
    h('div', { class: 'gauges' },
      gauge('Signal', sig[0], sig[1], pctClass(pct), pct),
      gauge('C/N', fmtNum(t.cnr_db), 'dB', cc, t.cnr_db != null ? (t.cnr_db / 30) * 100 : null)),
    h('dl', { class: 'figures' },
      figure('BER', t.ber == null ? '–' : Number(t.ber).toExponential(1)), figure('UCB', t.ucb ?? '–'),
      figure('Input', fmtBitrate(t.bitrate_bps)), figure('CC errors', t.cc_errors ?? 0)),
    h('div', { class: 'spark-label' }, 'Signal, last hour'), sparkline(`t:${t.key}:${sigKey}`, '', 'Signal'),
    h('div', { class: 'spark-label' }, 'C/N, last hour'), sparkline(`t:${t.key}:cnr_db`, '', 'C/N'));
}

const STATUS_CLASS = { live: 'good', waiting: 'warn', on_demand: '', disabled: '', input_down: 'bad', output_error: 'bad', running: 'good' };
const statusBadge = (s) => h('span', { class: `badge ${STATUS_CLASS[String(s).toLowerCase()] ?? 'warn'}` }, String(s || '–').replace(/_/g, ' '));

function inputsTable(inputs) {
  return h('div', { class: 'scroll' }, labelCells(h('table', { class: 'cards' },
    h('thead', {}, h('tr', {}, ['Input', 'State', 'Bitrate', 'Last hour', 'Packets', 'CC', 'TEI', 'CRC', 'Error'].map((c, i) => h('th', { class: i >= 2 && i !== 3 && i < 8 ? 'num' : '' }, c)))),
    h('tbody', {}, inputs.map((i) => h('tr', {},
      h('td', {}, h('div', {}, i.name), h('div', { class: 'muted small mono' }, i.url)),
      h('td', {}, statusBadge(i.state)),
      h('td', { class: 'num' }, fmtBitrate(i.bitrate_bps)),
      h('td', {}, sparkline(`i:${i.id}:bitrate_bps`, 'small', `${i.name} bitrate`, true)),
      h('td', { class: 'num' }, i.packets ?? 0),
      h('td', { class: 'num' }, i.cc_errors ?? 0),
      h('td', { class: 'num' }, i.tei_errors ?? 0),
      h('td', { class: 'num' }, i.crc_errors ?? 0),
      h('td', { class: 'small' }, i.error || '')))))));
}

function channelsTable(channels) {
  return h('div', { class: 'scroll' }, labelCells(h('table', { id: 'live-channels', class: 'cards' },
    h('thead', {}, h('tr', {}, ['No.', 'Channel', 'Status', 'Bitrate', 'Last hour', 'Multicast', 'HLS', 'HTTP'].map((c, i) => h('th', { class: [0, 3, 6, 7].includes(i) ? 'num' : '' }, c)))),
    h('tbody', {}, channels.map((c) => h('tr', { 'data-number': c.number },
      h('td', { class: 'num' }, c.number),
      h('td', {}, c.name, c.output_error ? h('div', { class: 'small bad-fg' }, c.output_error) : null),
      h('td', {}, statusBadge(c.status)),
      h('td', { class: 'num bitrate' }, fmtBitrate(c.bitrate_bps)),
      h('td', {}, sparkline(`c:${c.number}:bitrate_bps`, 'small', `${c.name} bitrate`, true)),
      h('td', { class: 'mono small' }, c.multicast || '–'),
      h('td', { class: 'num' }, c.hls_viewers ?? 0),
      h('td', { class: 'num' }, c.http_viewers ?? 0)))))));
}

/** Live figures from the plain views, for a daemon without /api/v1/live. */
async function pollStats() {
  const [tuners, inputs, channels] = await Promise.all([
    get('/api/v1/tuners').catch(() => []), get('/api/v1/inputs'), get('/api/v1/channels')]);
  return {
    time: Date.now(),
    tuners: (tuners || []).filter((t) => t.live).map((t) => {
      const live = t.live || {}, sig = live.signal || {};
      return {
        key: t.key || (t.info && t.info.key), name: t.info && t.info.name, label: t.label, state: live.state,
        locked: !!(sig.flags && (sig.flags.lock ?? sig.flags.locked)), system: live.system,
        frequency_hz: live.frequency_hz, signal_dbm: sig.strength_dbm, signal_pct: sig.strength_percent,
        cnr_db: sig.cnr_db, ber: sig.post_ber ?? sig.pre_ber, ucb: sig.error_blocks, bitrate_bps: 0, cc_errors: 0,
      };
    }),
    inputs: inputs.map((i) => ({ ...i, state: (i.live && i.live.state) || (i.enabled ? 'stopped' : 'disabled') })),
    channels: channels.map((c) => ({ ...c, hls_viewers: c.streaming ? c.streaming.hls_viewers ?? c.streaming.viewers : 0, http_viewers: c.streaming ? c.streaming.http_viewers ?? c.streaming.clients : 0 })),
  };
}

async function pageDashboard(main) {
  const tunersBox = h('div', { class: 'grid', id: 'tuners' });
  const inputsBox = h('section', { class: 'card' }, h('h2', {}, 'Inputs'));
  const channelsBox = h('section', { class: 'card' }, h('h2', {}, 'Channels'));
  const summary = h('p', { class: 'muted', id: 'dash-summary' }, 'Waiting for live figures…');
  main.append(h('div', { class: 'page-head' }, h('h1', {}, 'Dashboard'), summary), tunersBox, inputsBox, channelsBox);
  await loadHistory();
  let last = null;
  let closed = false;
  const conn = $('#conn');
  const connected = (on) => {
    conn.className = `conn ${on ? 'on' : 'off'}`;
    conn.setAttribute('aria-label', on ? 'Live updates: connected' : 'Live updates: interrupted');
  };

  const render = (stats) => {
    last = stats;
    const t = Math.floor((stats.time || Date.now()) / 1000);
    for (const tu of stats.tuners || []) {
      for (const k of ['signal_dbm', 'signal_pct', 'cnr_db']) addPoint(`t:${tu.key}:${k}`, t, tu[k] ?? null);
    }
    for (const i of stats.inputs || []) addPoint(`i:${i.id}:bitrate_bps`, t, i.bitrate_bps ?? null);
    for (const c of stats.channels || []) addPoint(`c:${c.number}:bitrate_bps`, t, c.bitrate_bps ?? null);
    const tuners = stats.tuners || [];
    tunersBox.replaceChildren(...tuners.map(tunerCard));
    if (!tuners.length) tunersBox.append(h('div', { class: 'card muted' }, 'No DVB tuner in use (inputs are files or network streams).'));
    inputsBox.replaceChildren(h('h2', {}, 'Inputs'), inputsTable(stats.inputs || []));
    channelsBox.replaceChildren(h('h2', {}, 'Channels'), channelsTable(stats.channels || []));
    const live = (stats.channels || []).filter((c) => c.status === 'live').length;
    const total = (stats.channels || []).reduce((a, c) => a + (c.bitrate_bps || 0), 0);
    summary.textContent = `${live} of ${(stats.channels || []).length} channels live · ${fmtBitrate(total)} out` +
      (stats.uptime_s != null ? ` · up ${fmtDuration(stats.uptime_s)}` : '') +
      (stats.rss_bytes ? ` · ${fmtBytes(stats.rss_bytes)} memory` : '');
  };

  // Server-sent events; if the daemon has no live stream (or it fails for good), poll.
  let es = null;
  let timer = null;
  const poll = async () => {
    if (closed) return;
    try { render(await pollStats()); connected(true); } catch (e) { connected(false); if (e.status === 401) return; }
    timer = setTimeout(poll, 2000);
  };
  if ('EventSource' in window) {
    es = new EventSource('/api/v1/live');
    es.addEventListener('stats', (ev) => {
      connected(true);
      try { render(JSON.parse(ev.data)); } catch { /* one bad event */ }
    });
    es.addEventListener('error', async () => {
      connected(false);
      if (es.readyState === EventSource.CLOSED && !closed) {
        es = null;
        try { await loadSession(); } catch { /* offline: polling reports it */ }
        if (!session.authenticated) return go('#/login');
        poll();
      }
    });
  } else {
    poll();
  }
  if (!last) render(await pollStats().catch(() => ({ channels: [], inputs: [], tuners: [] })));
  return () => {
    closed = true;
    if (es) es.close();
    clearTimeout(timer);
    conn.className = 'conn';
  };
}

// ---------------------------------------------------------------- scan wizard

const SYSTEMS = [
  ['dvb-t', 'DVB-T', 'dvb-t'], ['dvb-t2', 'DVB-T2', 'dvb-t'], ['dvb-c', 'DVB-C', 'dvb-c'],
  ['dvb-s', 'DVB-S', 'dvb-s'], ['dvb-s2', 'DVB-S2', 'dvb-s'], ['atsc', 'ATSC', 'atsc'],
];

/** The tuning URL (firmware/tuning/src/params.rs syntax) from the manual fields. */
function tuningUrl(sys, v) {
  const mhz = Number(v.freq);
  if (!(mhz > 0)) throw new Error('Enter the frequency in MHz.');
  const q = [];
  const add = (k, val) => { if (val !== '' && val != null) q.push(`${k}=${encodeURIComponent(val).replace(/%2F/g, '/').replace(/%2C/g, ',')}`); };
  if (sys === 'dvb-t' || sys === 'dvb-t2') {
    add('bandwidth', `${v.bandwidth}MHz`);
    if (sys === 'dvb-t2') add('plp', v.plp);
  }
  if (sys === 'dvb-c' || sys.startsWith('dvb-s')) {
    if (!(Number(v.sr) > 0)) throw new Error('Enter the symbol rate in kBd.');
    if (sys.startsWith('dvb-s')) add('polarisation', v.pol);
    add('symbol_rate', `${Number(v.sr)}kBd`);
    add('fec', v.fec);
  }
  add('modulation', v.mod);
  if (sys.startsWith('dvb-s')) { add('lnb', v.lnb); add('diseqc', v.diseqc); }
  return `${sys}://${mhz}MHz${q.length ? `?${q.join('&')}` : ''}`;
}

async function pageScan(main) {
  main.append(h('h1', {}, 'Scan'));
  const running = (await get('/api/v1/scans').catch(() => [])).find((s) => s.state === 'running');
  const wizard = h('section', { class: 'card' });
  const progress = h('section', { class: 'card', hidden: true });
  main.append(wizard, progress);
  let stop = false;
  let timer = null;

  let files = [];
  try { files = await get('/api/v1/tuning-files'); } catch (e) { if (e.status === 401) throw e; }
  const [wSys, sys] = field('Delivery system', { tag: 'select', options: SYSTEMS.map(([v, t]) => option(v, t)) });
  const [rFile, modeFile] = checkbox('From a bundled tuning file (region or satellite)', true, { type: 'radio', name: 'mode' });
  const [rHand, modeHand] = checkbox('Parameters by hand', false, { type: 'radio', name: 'mode' });
  const [wFilter, filter] = field('Filter', { type: 'text', placeholder: 'e.g. Astra, uk-, de-Berlin' });
  const [wFile, file] = field('Tuning file', { tag: 'select', size: 6 });
  const fileBox = h('div', {}, wFilter, wFile, h('p', { class: 'muted small' }, `${files.length} files bundled (dtv-scan-tables).`));

  const [wFreq, freq] = field('Frequency (MHz)', { type: 'number', step: 'any', min: 1, placeholder: '474' });
  const [wBw, bw] = field('Bandwidth', { tag: 'select', options: ['8', '7', '6', '5', '10', '1.712'].map((b) => option(b, `${b} MHz`)) });
  const [wPlp, plp] = field('PLP (DVB-T2)', { type: 'number', min: 0, max: 255, placeholder: 'auto' });
  const [wSr, sr] = field('Symbol rate (kBd)', { type: 'number', min: 1, placeholder: '27500' });
  const [wPol, pol] = field('Polarisation', { tag: 'select', options: [option('h', 'Horizontal'), option('v', 'Vertical'), option('l', 'Left'), option('r', 'Right')] });
  const [wMod, mod] = field('Modulation', { tag: 'select' });
  const [wFec, fec] = field('FEC', { tag: 'select', options: ['', '1/2', '2/3', '3/4', '3/5', '4/5', '5/6', '7/8', '8/9', '9/10'].map((f) => option(f, f || 'auto')) });
  const [wLnb, lnb] = field('LNB', { type: 'text', value: '', placeholder: 'universal' }, 'universal, c-band, or a local oscillator like 10750MHz');
  const [wDiseqc, diseqc] = field('DiSEqC port', { tag: 'select', options: ['', '1', '2', '3', '4'].map((f) => option(f, f || 'none')) });
  const urls = [];
  const urlList = h('ul', { class: 'plain mono small', 'aria-label': 'Tunings to scan' });
  const handMsg = messageBox();
  const addBtn = h('button', { type: 'button', class: 'ghost' }, 'Add this tuning');
  const handBox = h('div', { hidden: true }, h('div', { class: 'grid' }, wFreq, wBw, wPlp, wSr, wPol, wMod, wFec, wLnb, wDiseqc), addBtn, handMsg, urlList);
  const [wNit, nit] = checkbox('Follow the network table (NIT) to find the other multiplexes', true);
  const startMsg = messageBox();
  const startBtn = h('button', { type: 'button' }, 'Start scan');
  wizard.classList.add('form-width');
  wizard.append(h('h2', {}, '1. What to scan'), wSys, h('div', { role: 'radiogroup', 'aria-label': 'Source of tunings' }, rFile, rHand), fileBox, handBox, wNit, startMsg, h('div', { class: 'actions' }, startBtn));

  const MODS = { 'dvb-t': ['qpsk', 'qam16', 'qam64'], 'dvb-t2': ['qpsk', 'qam16', 'qam64', 'qam256'], 'dvb-c': ['qam64', 'qam128', 'qam256', 'qam16', 'qam32'], 'dvb-s': ['qpsk'], 'dvb-s2': ['qpsk', '8psk', '16apsk', '32apsk'], atsc: ['8vsb', '16vsb'] };
  const refresh = () => {
    const s = sys.value;
    const dir = SYSTEMS.find((x) => x[0] === s)[2];
    const f = filter.value.trim().toLowerCase();
    file.replaceChildren(...files.filter((n) => n.startsWith(`${dir}/`) && n.toLowerCase().includes(f)).slice(0, 500).map((n) => option(n, n.slice(dir.length + 1))));
    if (file.options.length) file.selectedIndex = 0;
    const terr = s === 'dvb-t' || s === 'dvb-t2', sat = s.startsWith('dvb-s');
    wBw.hidden = !terr; wPlp.hidden = s !== 'dvb-t2'; wSr.hidden = !(sat || s === 'dvb-c'); wPol.hidden = !sat;
    wFec.hidden = !(sat || s === 'dvb-c'); wLnb.hidden = !sat; wDiseqc.hidden = !sat;
    mod.replaceChildren(option('', 'auto'), ...(MODS[s] || []).map((m) => option(m, m.toUpperCase())));
    fileBox.hidden = !modeFile.checked; handBox.hidden = !modeHand.checked;
  };
  for (const el of [sys, modeFile, modeHand]) el.addEventListener('change', refresh);
  filter.addEventListener('input', refresh);
  refresh();
  const drawUrls = () => urlList.replaceChildren(...urls.map((u, i) => h('li', { class: 'between' }, u,
    h('button', { type: 'button', class: 'ghost', 'aria-label': `Remove ${u}`, onclick: () => { urls.splice(i, 1); drawUrls(); } }, 'Remove'))));
  const current = () => tuningUrl(sys.value, { freq: freq.value, bandwidth: bw.value, plp: plp.value, sr: sr.value, pol: pol.value, mod: mod.value, fec: fec.value, lnb: lnb.value.trim(), diseqc: diseqc.value });
  addBtn.addEventListener('click', () => {
    try { const u = current(); if (!urls.includes(u)) urls.push(u); drawUrls(); handMsg.set(''); freq.value = ''; freq.focus(); } catch (e) { handMsg.set(e.message); }
  });

  const watch = (id) => {
    wizard.hidden = true;
    progress.hidden = false;
    const tick = async () => {
      if (stop) return;
      let job;
      try { job = await get(`/api/v1/scans/${id}`); } catch (e) { progress.replaceChildren(h('p', { class: 'msg error' }, e.message)); return; }
      drawProgress(job);
      if (job.state === 'running') timer = setTimeout(tick, 1000);
    };
    tick();
  };
  const drawProgress = (job) => {
    const p = job.progress || {};
    const c = job.current;
    const cancel = h('button', { type: 'button', class: 'danger', onclick: async () => { await api('DELETE', `/api/v1/scans/${job.id}`).catch((e) => toast(e.message)); } }, 'Cancel scan');
    const services = (job.found || []).reduce((a, m) => a + (m.services || []).length, 0);
    // (replaceChildren would write a null as the text "null")
    progress.replaceChildren(...[
      h('div', { class: 'between' }, h('h2', {}, `2. Scanning · ${job.state}`), job.state === 'running' ? cancel : null),
      h('progress', { max: Math.max(1, p.total_known || 1), value: p.done || 0, 'aria-label': 'Multiplexes scanned' }),
      h('p', {}, `${p.done || 0} of ${p.total_known || 0} multiplexes · ${services} services found`),
      c ? h('p', {}, h('strong', {}, c.summary), ` — ${String(c.phase).replace(/_/g, ' ')}`, c.tuner ? ` on ${c.tuner}` : '',
        c.signal && c.signal.cnr_db != null ? ` · C/N ${fmtNum(c.signal.cnr_db)} dB` : '') : null,
      job.error ? h('p', { class: 'msg error' }, job.error) : null,
      h('ul', { class: 'plain small' }, (job.muxes || []).map((m) => h('li', {}, h('span', { class: `badge ${m.result === 'found' ? 'good' : 'bad'}` }, String(m.result).replace(/_/g, ' ')), ' ', m.summary,
        m.result === 'found' ? ` · ${m.services} services` : m.detail ? ` · ${m.detail}` : '')))].filter(Boolean));
    if (job.state !== 'running') progress.append(results(job));
  };
  const results = (job) => {
    const box = h('div', {}, h('h2', {}, '3. Result'));
    const merge = job.merge;
    if (!merge) { box.append(h('p', {}, 'Nothing was merged.'), h('button', { type: 'button', onclick: () => route() }, 'New scan')); return box; }
    const created = merge.channels_created || [];
    const msg = messageBox();
    const boxes = [];
    const list = h('div', { class: 'scroll' }, h('table', {}, h('thead', {}, h('tr', {}, h('th', {}, h('span', { class: 'muted' }, 'Add')), h('th', { class: 'num' }, 'No.'), h('th', {}, 'Name'), h('th', { class: 'num' }, 'Service'))),
      h('tbody', {}, created.map((c) => {
        const id = nextId('sc');
        const cb = h('input', { type: 'checkbox', id, checked: true, value: c.number });
        boxes.push(cb);
        return h('tr', {}, h('td', {}, cb), h('td', { class: 'num' }, c.number), h('td', {}, h('label', { class: 'inline', for: id }, c.name)), h('td', { class: 'num' }, c.service_id));
      }))));
    const apply = h('button', { type: 'button' }, 'Enable the chosen channels');
    apply.addEventListener('click', async () => {
      const numbers = boxes.filter((b) => b.checked).map((b) => Number(b.value));
      if (!numbers.length) return msg.set('Choose at least one channel.');
      apply.disabled = true;
      try { await api('POST', '/api/v1/channels/bulk', { numbers, enabled: true }); msg.set(`${numbers.length} channels enabled.`, 'ok'); } catch (e) { msg.set(e.message); } finally { apply.disabled = false; }
    });
    box.append(h('p', {}, `${created.length} new channels (added disabled), ${(merge.inputs_created || []).length} new input(s), ${(merge.channels_moved || []).length} channels moved, ${(merge.skipped || []).length} services skipped (scrambled or data), ${(merge.missing || []).length} no longer found.`));
    if (created.length) {
      box.append(h('div', { class: 'actions' },
        h('button', { type: 'button', class: 'ghost', onclick: () => boxes.forEach((b) => { b.checked = true; }) }, 'All'),
        h('button', { type: 'button', class: 'ghost', onclick: () => boxes.forEach((b) => { b.checked = false; }) }, 'None')), list, msg, h('div', { class: 'actions' }, apply));
    }
    box.append(h('div', { class: 'actions' }, h('a', { class: 'button ghost', href: '#/channels' }, 'Channels'), h('button', { type: 'button', class: 'ghost', onclick: () => route() }, 'New scan')));
    return box;
  };

  startBtn.addEventListener('click', async () => {
    const body = { follow_nit: nit.checked, store: true, enable_new: false };
    if (modeFile.checked) {
      if (!file.value) return startMsg.set('Choose a tuning file.');
      body.file = file.value;
    } else {
      if (!urls.length && freq.value) { try { urls.push(current()); drawUrls(); } catch (e) { return startMsg.set(e.message); } }
      if (!urls.length) return startMsg.set('Add at least one tuning.');
      body.tunings = urls.slice();
    }
    startBtn.disabled = true;
    try { const job = await api('POST', '/api/v1/scans', body); watch(job.id); } catch (e) { startMsg.set(e.message); } finally { startBtn.disabled = false; }
  });
  if (running) watch(running.id);
  return () => { stop = true; clearTimeout(timer); };
}

// ---------------------------------------------------------------- channels

function splitAddress(a) {
  const i = String(a || '').lastIndexOf(':');
  return i < 0 ? [a || '', ''] : [a.slice(0, i), a.slice(i + 1)];
}

async function pageChannels(main) {
  let [channels, categories] = await Promise.all([get('/api/v1/channels'), get('/api/v1/categories').catch(() => [])]);
  const hasCategory = channels.some((c) => 'category_id' in c);
  const selected = new Set();
  const tbody = h('tbody');
  const bulkMsg = messageBox();
  const count = h('span', { class: 'muted' }, 'None selected');
  const [wFrom, from] = field('Renumber from', { type: 'number', min: 1, max: 9999, placeholder: '100' });
  const [wBulkCat, bulkCat] = field('Category', { tag: 'select', options: [option('', '—'), option('null', 'By service type'), ...categories.map((c) => option(c.id, c.name))] });
  const bulkBtns = [];
  const bulk = async (body, label) => {
    if (!selected.size) return bulkMsg.set('Select channels first (the boxes on the left).');
    bulkBtns.forEach((b) => { b.disabled = true; });
    try {
      const numbers = [...selected].sort((a, b) => a - b);
      await api('POST', '/api/v1/channels/bulk', { numbers, ...body });
      selected.clear();
      await reload();
      // Said once the table shows the result.
      bulkMsg.set(`${label}: ${numbers.length === 1 ? '1 channel' : `${numbers.length} channels`}.`, 'ok');
    } catch (e) { bulkMsg.set(e.message); } finally { bulkBtns.forEach((b) => { b.disabled = false; }); }
  };
  const bb = (text, body, cls) => { const b = h('button', { type: 'button', class: cls || 'ghost', onclick: () => bulk(body(), text) }, text); bulkBtns.push(b); return b; };
  const renumber = bb('Renumber', () => ({ renumber_from: Number(from.value) }));
  const setCat = bb('Set category', () => ({ category_id: bulkCat.value === 'null' ? null : Number(bulkCat.value) }));
  from.addEventListener('keydown', (e) => { if (e.key === 'Enter') renumber.click(); });
  const allBox = h('input', { type: 'checkbox', id: 'sel-all', 'aria-label': 'Select all channels' });
  allBox.addEventListener('change', () => { for (const c of channels) { if (allBox.checked) selected.add(c.number); else selected.delete(c.number); } draw(); });

  const table = h('table', { id: 'channels-table', class: 'cards' }, h('thead', {}, h('tr', {},
    h('th', {}, allBox), h('th', {}, 'On'), h('th', {}, 'No.'), h('th', {}, 'Name'), hasCategory ? h('th', {}, 'Category') : null,
    h('th', {}, 'Multicast address'), h('th', {}, 'Port'), h('th', {}, 'Protocol'), h('th', {}, 'Multicast'), h('th', {}, 'HLS'),
    h('th', {}, 'Status'), h('th', {}, ''))), tbody);

  const row = (c) => {
    const [addr, port] = splitAddress(c.output && c.output.address);
    const n = c.number;
    const lbl = (what) => `${what} of channel ${n}`;
    const sel = h('input', { type: 'checkbox', checked: selected.has(n), 'aria-label': `Select channel ${n}` });
    sel.addEventListener('change', () => { if (sel.checked) selected.add(n); else selected.delete(n); updateCount(); });
    const f = {
      enabled: h('input', { type: 'checkbox', checked: c.enabled, 'aria-label': lbl('Enabled'), name: 'enabled' }),
      number: h('input', { type: 'number', class: 'w-num', min: 1, max: 9999, value: n, 'aria-label': lbl('Number'), name: 'number' }),
      name: h('input', { type: 'text', class: 'w-name', value: c.name, maxlength: 128, 'aria-label': lbl('Name'), name: 'name' }),
      category: hasCategory ? h('select', { 'aria-label': lbl('Category'), name: 'category' }, option('', 'By service type', c.category_id == null), categories.map((k) => option(k.id, k.name, k.id === c.category_id))) : null,
      address: h('input', { type: 'text', class: 'w-addr mono', value: addr, 'aria-label': lbl('Multicast address'), name: 'address', inputmode: 'decimal' }),
      port: h('input', { type: 'number', class: 'w-port', min: 1, max: 65535, value: port, 'aria-label': lbl('Port'), name: 'port' }),
      protocol: h('select', { 'aria-label': lbl('Protocol'), name: 'protocol' }, option('udp', 'UDP', c.output.protocol === 'udp'), option('rtp', 'RTP', c.output.protocol === 'rtp')),
      multicast: h('input', { type: 'checkbox', checked: c.output.multicast !== false, 'aria-label': lbl('Multicast always on'), name: 'multicast' }),
      hls: h('input', { type: 'checkbox', checked: c.hls_enabled !== false, 'aria-label': lbl('HLS'), name: 'hls' }),
    };
    const save = h('button', { type: 'button', class: 'ghost', disabled: true }, 'Save');
    const msg = messageBox();
    const tr = h('tr', { 'data-number': n },
      h('td', {}, sel), h('td', {}, f.enabled), h('td', {}, f.number), h('td', {}, f.name), f.category ? h('td', {}, f.category) : null,
      h('td', {}, f.address), h('td', {}, f.port), h('td', {}, f.protocol), h('td', {}, f.multicast), h('td', {}, f.hls),
      h('td', {}, statusBadge(c.status)), h('td', {}, save));
    const errTr = h('tr', { class: 'error-row', hidden: true }, h('td', { colspan: hasCategory ? 12 : 11 }, msg));
    const patch = () => {
      const p = {};
      if (f.enabled.checked !== c.enabled) p.enabled = f.enabled.checked;
      if (Number(f.number.value) !== n) p.number = Number(f.number.value);
      if (f.name.value.trim() !== c.name) p.name = f.name.value.trim();
      if (f.category) {
        const cat = f.category.value === '' ? null : Number(f.category.value);
        if (cat !== (c.category_id ?? null)) p.category_id = cat;
      }
      const a = `${f.address.value.trim()}:${f.port.value.trim()}`;
      if (a !== c.output.address) p.address = a;
      if (f.protocol.value !== c.output.protocol) p.protocol = f.protocol.value;
      if (f.multicast.checked !== (c.output.multicast !== false)) p.multicast = f.multicast.checked;
      if (f.hls.checked !== (c.hls_enabled !== false)) p.hls = f.hls.checked;
      return p;
    };
    const mark = () => {
      const dirty = Object.keys(patch()).length > 0;
      tr.classList.toggle('dirty', dirty);
      save.disabled = !dirty;
    };
    const doSave = async () => {
      const p = patch();
      if (!Object.keys(p).length) return;
      save.disabled = true;
      try {
        const updated = await api('PATCH', `/api/v1/channels/${n}`, p);
        channels = channels.map((x) => (x.number === n ? updated : x));
        channels.sort((a, b) => a.number - b.number);
        toast(`Channel ${updated.number} saved.`);
        draw();
      } catch (e) {
        msg.set(e.message);
        errTr.hidden = false;
        save.disabled = false;
      }
    };
    for (const el of Object.values(f)) {
      if (!el) continue;
      el.addEventListener('input', mark);
      el.addEventListener('change', mark);
      if (el.tagName === 'INPUT' && el.type !== 'checkbox') el.addEventListener('keydown', (e) => { if (e.key === 'Enter') doSave(); });
    }
    save.addEventListener('click', doSave);
    return [tr, errTr];
  };
  const updateCount = () => { count.textContent = selected.size ? `${selected.size} selected` : 'None selected'; };
  const draw = () => { tbody.replaceChildren(...channels.flatMap(row)); labelCells(table); updateCount(); allBox.checked = channels.length > 0 && channels.every((c) => selected.has(c.number)); };
  const reload = async () => { channels = await get('/api/v1/channels'); draw(); };

  main.append(
    h('div', { class: 'page-head' }, h('h1', {}, 'Channels'), h('div', { class: 'actions' },
      h('a', { class: 'button ghost', href: '/playlist/multicast.m3u', download: 'dvbgate-multicast.m3u', id: 'export-m3u' }, 'Export M3U'),
      h('a', { class: 'button ghost', href: '/playlist/multicast.csv', download: 'dvbgate-multicast.csv', id: 'export-csv' }, 'Export CSV'))),
    h('section', { class: 'card', 'aria-label': 'Selected channels' },
      h('div', { class: 'row' }, count, bb('Enable', () => ({ enabled: true })), bb('Disable', () => ({ enabled: false })),
        bb('HLS on', () => ({ hls: true })), bb('HLS off', () => ({ hls: false })), wFrom, renumber, categories.length ? [wBulkCat, setCat] : null),
      bulkMsg),
    h('section', { class: 'card' }, h('p', { class: 'muted small' }, 'Edit a row, then Save (or press Enter). New channels get the next free address of the pool; an address another channel holds is refused.'),
      h('div', { class: 'scroll' }, table)));
  draw();
}

// ---------------------------------------------------------------- users

function dateInput(unix) {
  if (!unix) return '';
  const d = new Date(unix * 1000);
  return `${d.getFullYear()}-${String(d.getMonth() + 1).padStart(2, '0')}-${String(d.getDate()).padStart(2, '0')}`;
}
/** The end of that day, local time, as unix seconds. */
const endOfDay = (value) => (value ? Math.floor(new Date(`${value}T23:59:59`).getTime() / 1000) : null);

async function pageUsers(main) {
  let [users, categories] = await Promise.all([get('/api/v1/users'), get('/api/v1/categories').catch(() => [])]);
  const catName = (id) => (categories.find((c) => c.id === id) || { name: `#${id}` }).name;
  const listBox = h('section', { class: 'card' });
  const formBox = h('section', { class: 'card' });
  main.append(h('h1', {}, 'Users'), h('p', { class: 'muted' }, 'Accounts for the TV apps (Xtream-Codes logins).'), listBox, formBox);
  const now = () => Date.now() / 1000;
  const draw = () => {
    listBox.replaceChildren(h('h2', {}, users.length === 1 ? '1 account' : `${users.length} accounts`), h('div', { class: 'scroll' }, h('table', {},
      h('thead', {}, h('tr', {}, ['User', 'State', 'Expires', 'Max conn.', 'Categories', 'Note', ''].map((c) => h('th', {}, c)))),
      h('tbody', {}, users.map((u) => h('tr', {},
        h('td', {}, u.username),
        h('td', {}, !u.enabled ? statusBadge('disabled') : u.expires_at && u.expires_at < now() ? h('span', { class: 'badge bad' }, 'expired') : h('span', { class: 'badge good' }, 'active')),
        h('td', {}, u.expires_at ? new Date(u.expires_at * 1000).toLocaleDateString() : 'never'),
        h('td', { class: 'num' }, u.max_connections),
        h('td', {}, u.categories.length ? u.categories.map(catName).join(', ') : 'all'),
        h('td', { class: 'small' }, u.note || ''),
        h('td', {}, h('div', { class: 'actions' },
          h('button', { type: 'button', class: 'ghost', onclick: () => edit(u) }, 'Edit'),
          h('button', { type: 'button', class: 'ghost', 'aria-label': `Delete ${u.username}`, onclick: () => remove(u) }, 'Delete')))))))));
  };
  const remove = async (u) => {
    if (remove.pending !== u.id) { remove.pending = u.id; toast(`Press Delete again to delete ${u.username}.`); return; }
    remove.pending = null;
    try { await api('DELETE', `/api/v1/users/${u.id}`); users = users.filter((x) => x.id !== u.id); draw(); toast(`${u.username} deleted.`); } catch (e) { toast(e.message); }
  };
  const edit = (u) => {
    const msg = messageBox();
    const [wName, name] = field('User name', { type: 'text', value: u ? u.username : '', required: true, maxlength: 64, disabled: !!u, autocomplete: 'off' });
    const [wPw, pw] = field(u ? 'New password (empty: unchanged)' : 'Password', { type: 'text', maxlength: 64, autocomplete: 'off', spellcheck: 'false' });
    const [wExp, exp] = field('Expires on (empty: never)', { type: 'date', value: dateInput(u && u.expires_at) });
    const [wMax, max] = field('Max connections', { type: 'number', min: 1, max: 100, value: u ? u.max_connections : 2 });
    const [wEn, en] = checkbox('Enabled', u ? u.enabled : true);
    const [wNote, note] = field('Note', { type: 'text', value: u ? u.note : '', maxlength: 256 });
    const cats = categories.map((c) => checkbox(c.name, u ? u.categories.includes(c.id) : false, { value: c.id }));
    const save = h('button', { type: 'submit' }, u ? 'Save' : 'Add user');
    const form = h('form', {}, h('h2', {}, u ? `Edit ${u.username}` : 'Add a user'), h('div', { class: 'grid' }, wName, wPw, wExp, wMax, wNote), wEn,
      h('fieldset', {}, h('legend', {}, 'Categories (none ticked: all)'), cats.map((c) => c[0])), msg,
      h('div', { class: 'actions' }, save, u ? h('button', { type: 'button', class: 'ghost', onclick: () => edit(null) }, 'Cancel') : null));
    form.addEventListener('submit', async (ev) => {
      ev.preventDefault();
      const body = {
        enabled: en.checked, expires_at: endOfDay(exp.value), max_connections: Number(max.value),
        categories: cats.filter((c) => c[1].checked).map((c) => Number(c[1].value)), note: note.value,
      };
      if (pw.value) body.password = pw.value;
      save.disabled = true;
      try {
        if (u) {
          const v = await api('PATCH', `/api/v1/users/${u.id}`, body);
          users = users.map((x) => (x.id === v.id ? v : x));
        } else {
          if (!pw.value) throw new Error('Enter a password.');
          users = [...users, await api('POST', '/api/v1/users', { ...body, username: name.value.trim() })];
        }
        draw();
        edit(null);
        toast('Saved.');
      } catch (e) { msg.set(e.message); } finally { save.disabled = false; }
    });
    formBox.replaceChildren(form);
    if (u) pw.focus();
  };
  draw();
  edit(null);
}

// ---------------------------------------------------------------- network settings

async function pageNetwork(main) {
  const [settings, ifaces] = await Promise.all([get('/api/v1/settings'), get('/api/v1/system/interfaces').catch(() => [])]);
  const msg = messageBox();
  const ifOpts = [option('', 'Kernel\'s choice (routing table)', !settings.multicast_interface)];
  for (const i of ifaces) {
    ifOpts.push(option(i.name, `${i.name} (${(i.addresses || []).join(', ') || 'no address'})${i.multicast ? '' : ' — no multicast'}`, settings.multicast_interface === i.name));
  }
  if (settings.multicast_interface && !ifaces.some((i) => i.name === settings.multicast_interface)) ifOpts.push(option(settings.multicast_interface, settings.multicast_interface, true));
  const [wIf, iface] = field('Multicast interface', { tag: 'select', options: ifOpts });
  const [wTtl, ttl] = field('TTL', { type: 'number', min: 1, max: 255, value: settings.ttl }, '1 keeps the streams on this LAN.');
  const [wDscp, dscp] = field('DSCP', { type: 'number', min: 0, max: 63, value: settings.dscp }, '0 = best effort; 34 (AF41) or 46 (EF) for video on managed switches.');
  const [wPool, pool] = field('Address pool', { type: 'text', value: settings.pool, spellcheck: 'false' }, 'New channels get the next free group, e.g. 239.255.1.0/24.');
  const [wPort, port] = field('Base port', { type: 'number', min: 1, max: 65535, value: settings.base_port });
  const [wPpd, ppd] = field('TS packets per datagram', { type: 'number', min: 1, max: 7, value: settings.packets_per_datagram });
  const [wSap, sap] = checkbox('Announce channels with SAP (players list them by name)', settings.sap);
  const save = h('button', { type: 'submit' }, 'Save');
  const form = h('form', { class: 'card' }, h('div', { class: 'grid' }, wIf, wTtl, wDscp, wPool, wPort, wPpd), wSap, msg, h('div', { class: 'actions' }, save));
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const body = { ...settings, multicast_interface: iface.value || null, ttl: Number(ttl.value), dscp: Number(dscp.value), pool: pool.value.trim(), base_port: Number(port.value), packets_per_datagram: Number(ppd.value), sap: sap.checked };
    save.disabled = true;
    try { Object.assign(settings, await api('PUT', '/api/v1/settings', body)); msg.set('Saved. Running channels use the new settings.', 'ok'); } catch (e) { msg.set(e.message); } finally { save.disabled = false; }
  });
  main.append(h('h1', {}, 'Network'), form);
}

// ---------------------------------------------------------------- EPG

function statsList(obj, prefix = '') {
  const items = [];
  for (const [k, v] of Object.entries(obj || {})) {
    const name = `${prefix}${k.replace(/_/g, ' ')}`;
    if (v && typeof v === 'object' && !Array.isArray(v)) items.push(...statsList(v, `${name} · `));
    else items.push(figure(name, k === 'bytes' ? fmtBytes(v) : Array.isArray(v) ? v.length : String(v)));
  }
  return items;
}

async function pageEpg(main) {
  const [settings, stats] = await Promise.all([get('/api/v1/settings'), get('/api/v1/epg').catch((e) => ({ error: e.message }))]);
  const epg = settings.epg || { xmltv_sources: [], snapshot_hours: 6, charsets: [] };
  const sources = (epg.xmltv_sources || []).map((s) => ({ ...s }));
  const list = h('div', {});
  const msg = messageBox();
  const draw = () => list.replaceChildren(...sources.map((s, i) => {
    const [wUrl, url] = field(`Source ${i + 1} URL`, { type: 'text', value: s.url, placeholder: 'http://host/guide.xml or file:///path/guide.xml', spellcheck: 'false' });
    const [wHours, hours] = field('Refresh every (hours)', { type: 'number', min: 1, max: 168, value: s.refresh_hours ?? 12 });
    url.addEventListener('input', () => { s.url = url.value.trim(); });
    hours.addEventListener('input', () => { s.refresh_hours = Number(hours.value); });
    return h('div', { class: 'row' }, h('div', { class: 'grow' }, wUrl), wHours,
      h('button', { type: 'button', class: 'ghost', 'aria-label': `Remove source ${i + 1}`, onclick: () => { sources.splice(i, 1); draw(); } }, 'Remove'));
  }));
  const [wSnap, snap] = field('Save the guide to disk every (hours)', { type: 'number', min: 1, max: 48, value: epg.snapshot_hours ?? 6 });
  const save = h('button', { type: 'submit' }, 'Save');
  const form = h('form', { class: 'card form-width' }, h('h2', {}, 'XMLTV sources'),
    h('p', { class: 'muted small' }, 'For channels whose broadcast guide is missing or poor; a channel takes one by its XMLTV id.'), list,
    h('button', { type: 'button', class: 'ghost', onclick: () => { sources.push({ url: '', refresh_hours: 12 }); draw(); } }, 'Add a source'), wSnap, msg, h('div', { class: 'actions' }, save));
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    save.disabled = true;
    try {
      const body = { ...settings, epg: { ...epg, xmltv_sources: sources.filter((s) => s.url), snapshot_hours: Number(snap.value) } };
      Object.assign(settings, await api('PUT', '/api/v1/settings', body));
      msg.set('Saved.', 'ok');
    } catch (e) { msg.set(e.message); } finally { save.disabled = false; }
  });
  draw();
  main.append(h('h1', {}, 'Programme guide'), h('section', { class: 'card' }, h('h2', {}, 'Guide figures'),
    stats.error ? h('p', { class: 'msg error' }, stats.error) : h('dl', { class: 'figures' }, statsList(stats))), form);
}

// ---------------------------------------------------------------- backup and restore

function pageBackup(main) {
  const msg = messageBox();
  const [wFile, file] = field('Backup file', { type: 'file', accept: 'application/json,.json' });
  const restore = h('button', { type: 'submit', id: 'restore' }, 'Restore');
  const form = h('form', { class: 'card form-width' }, h('h2', {}, 'Restore'),
    h('p', {}, 'Replaces every channel, input, user, category, tuner setting and the settings with those of the file. The file is checked whole first: if anything in it is wrong, nothing changes. The administrator password stays.'),
    wFile, msg, h('div', { class: 'actions' }, restore));
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const f = file.files && file.files[0];
    if (!f) return msg.set('Choose a backup file.');
    restore.disabled = true;
    msg.set('Restoring…', 'info');
    try {
      const text = await f.text();
      try { JSON.parse(text); } catch { throw new Error(`${f.name} is not a JSON file.`); }
      const r = await api('POST', '/api/v1/restore', text);
      const n = r.restored || {};
      msg.set(`Restored: ${Object.entries(n).map(([k, v]) => `${v} ${k}`).join(', ')}.`, 'ok');
    } catch (e) { msg.set(e.message); } finally { restore.disabled = false; }
  });
  main.append(h('h1', {}, 'Backup and restore'),
    h('section', { class: 'card' }, h('h2', {}, 'Backup'),
      h('p', {}, 'One JSON file with the whole configuration: settings, inputs, channels, categories, users (their password hashes) and tuner settings. Not the administrator password.'),
      h('a', { class: 'button', href: '/api/v1/backup', download: '', id: 'backup-download' }, 'Download backup')),
    form);
}

// ---------------------------------------------------------------- logs

/** RFC 3339 to the technician's local date and time (the raw UTC time is the tooltip). */
function logTime(t) {
  const d = new Date(t);
  if (Number.isNaN(d.getTime())) return String(t || '');
  const p2 = (n) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${p2(d.getMonth() + 1)}-${p2(d.getDate())} ${p2(d.getHours())}:${p2(d.getMinutes())}:${p2(d.getSeconds())}`;
}

function pageLogs(main) {
  const [wLevel, level] = field('Level', { tag: 'select', options: [option('', 'all'), option('info', 'info and worse'), option('warn', 'warnings and errors'), option('error', 'errors')] });
  const [wFollow, follow] = checkbox('Follow', true);
  const tbody = h('tbody');
  const box = h('div', { class: 'logs card', tabindex: 0, 'aria-label': 'Log lines' }, h('table', {}, tbody));
  const status = h('span', { class: 'muted small' });
  main.append(h('div', { class: 'page-head' }, h('h1', {}, 'Log'), h('div', { class: 'row' }, wLevel, wFollow, status)), box);
  let after = null;
  let timer = null;
  let stopped = false;
  const fetchLines = async () => {
    if (stopped) return;
    const q = new URLSearchParams({ limit: '500' });
    if (level.value) q.set('level', level.value);
    if (after != null) q.set('after', after);
    try {
      const r = await get(`/api/v1/logs?${q}`);
      const atBottom = box.scrollTop + box.clientHeight >= box.scrollHeight - 20;
      for (const l of r.lines || []) {
        tbody.append(h('tr', {}, h('td', { class: 'muted', title: l.time }, logTime(l.time)), h('td', { class: `lvl-${l.level}` }, l.level),
          h('td', { class: 'muted' }, l.target), h('td', { class: 'msgcol' }, l.message, l.spans ? h('span', { class: 'muted' }, ` ${l.spans}`) : null)));
      }
      while (tbody.children.length > 2000) tbody.firstChild.remove();
      after = r.next ?? after;
      if (!tbody.children.length) tbody.append(h('tr', { class: 'empty' }, h('td', { class: 'muted' }, 'No log lines yet.')));
      else if (tbody.children.length > 1) tbody.querySelector('tr.empty')?.remove();
      status.textContent = `${tbody.querySelectorAll('tr:not(.empty)').length} lines${r.dropped ? ` (${r.dropped} older dropped)` : ''}`;
      if (atBottom) box.scrollTop = box.scrollHeight;
    } catch (e) { status.textContent = e.message; }
    if (follow.checked) timer = setTimeout(fetchLines, 2000);
  };
  level.addEventListener('change', () => { clearTimeout(timer); after = null; tbody.replaceChildren(); fetchLines(); });
  follow.addEventListener('change', () => { clearTimeout(timer); if (follow.checked) fetchLines(); });
  fetchLines();
  return () => { stopped = true; clearTimeout(timer); };
}

// ---------------------------------------------------------------- system

async function pageSystem(main) {
  const health = await get('/healthz').catch(() => ({}));
  // Password change.
  const pmsg = messageBox();
  const [wCur, cur] = field('Current password', { type: 'password', autocomplete: 'current-password', required: true });
  const pform = h('form', { class: 'card form-width' }, h('h2', {}, 'Administrator password'), wCur);
  const check = passwordPair(pform);
  const psave = h('button', { type: 'submit' }, 'Change password');
  pform.append(pmsg, h('div', { class: 'actions' }, psave));
  pform.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    const [pw, problem] = check();
    if (problem) return pmsg.set(problem);
    psave.disabled = true;
    try { await api('PUT', '/api/v1/admin/password', { current: cur.value, new: pw }, { keep401: true }); pmsg.set('Password changed. Other sessions were logged out.', 'ok'); pform.reset(); } catch (e) { pmsg.set(e.status === 401 ? 'The current password is wrong.' : e.message); } finally { psave.disabled = false; }
  });
  // Reboot: two presses.
  const rmsg = messageBox();
  const reboot = h('button', { type: 'button', class: 'danger' }, 'Reboot');
  let armed = false;
  reboot.addEventListener('click', async () => {
    if (!armed) { armed = true; reboot.textContent = 'Press again to reboot'; setTimeout(() => { armed = false; reboot.textContent = 'Reboot'; }, 5000); return; }
    armed = false;
    reboot.disabled = true;
    try {
      const r = await api('POST', '/api/v1/system/reboot');
      rmsg.set(r && r.action === 'restart-pipelines' ? 'Every pipeline restarts.' : 'The box restarts; this page reconnects when it is back.', 'ok');
    } catch (e) { rmsg.set(e.message); } finally { reboot.disabled = false; reboot.textContent = 'Reboot'; }
  });
  // Factory reset behind a typed confirmation.
  const fmsg = messageBox();
  const PHRASE = 'factory reset';
  const [wConfirm, confirmIn] = field(`Type "${PHRASE}" to confirm`, { type: 'text', autocomplete: 'off', spellcheck: 'false' });
  const reset = h('button', { type: 'button', class: 'danger', disabled: true }, 'Erase everything');
  confirmIn.addEventListener('input', () => { reset.disabled = confirmIn.value.trim().toLowerCase() !== PHRASE; });
  reset.addEventListener('click', async () => {
    reset.disabled = true;
    try {
      await api('POST', '/api/v1/system/factory-reset', { confirm: confirmIn.value.trim().toLowerCase() });
      session.authenticated = false; session.csrf = null; session.setupRequired = true;
      go('#/setup');
    } catch (e) { fmsg.set(e.message); reset.disabled = false; }
  });
  main.append(h('h1', {}, 'System'),
    h('section', { class: 'card' }, h('h2', {}, 'This box'), h('dl', { class: 'figures' },
      figure('Version', health.version || session.version || '–'), figure('Up for', fmtDuration(health.uptime_s)),
      figure('Inputs running', `${health.inputs_running ?? '–'} of ${health.inputs ?? '–'}`), figure('Channels', health.channels ?? '–'))),
    pform,
    h('section', { class: 'card' }, h('h2', {}, 'Reboot'), h('p', {}, 'Restarts the box (streams stop for a moment).'), rmsg, reboot),
    h('section', { class: 'card form-width' }, h('h2', {}, 'Factory reset'),
      h('p', {}, 'Erases every channel, input, user and setting and the administrator password. The box then asks for a new password with a new setup code from its console.'),
      wConfirm, fmsg, h('div', { class: 'actions' }, reset)));
}

setupChrome();
