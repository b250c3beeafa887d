// leukocrypt clinic page: talks to the local clinic's JSON API only (same origin, cookie + CSRF
// header). Keys, encryption and decryption stay in the clinic process; this page only shows.
'use strict';

const state = {
  csrf: '', providers: [], cells: [], rejected: [], screening: null, polling: null,
  sort: { key: 'index', dir: 1 },
};
const $ = (id) => document.getElementById(id);
const CLASS_LABELS = { all: 'ALL', hem: 'normal (hem)' };
const FINAL = ['done', 'failed', 'cancelled'];
const STAGE_TEXT = {
  waiting: 'Waiting for the previous screening', encrypting: 'Encrypting on this computer',
  uploading: 'Uploading the encrypted cells', queued: 'Waiting in the provider\u2019s queue',
  running: 'The provider is evaluating (encrypted)', downloading: 'Downloading the encrypted result',
  decrypting: 'Decrypting on this computer', done: 'Done', failed: 'Failed', cancelled: 'Cancelled',
};

// ---------------------------------------------------------------- API and errors

class ApiError extends Error {
  constructor(code, message) { super(message); this.code = code; }
}

async function api(method, path, body, contentType) {
  const headers = {};
  if (method !== 'GET') headers['X-CSRF-Token'] = state.csrf;
  let payload = body;
  if (body !== undefined && !contentType) {
    headers['Content-Type'] = 'application/json';
    payload = JSON.stringify(body);
  } else if (contentType) {
    headers['Content-Type'] = contentType;
  }
  let res;
  try {
    res = await fetch(path, { method, headers, body: payload, credentials: 'same-origin' });
  } catch (e) {
    throw new ApiError('clinic_unreachable', 'The clinic program is not answering: is `leukocrypt clinic` still running?');
  }
  const text = await res.text();
  let json = null;
  try { json = JSON.parse(text); } catch (e) { /* not JSON */ }
  if (!res.ok) {
    const err = json && json.error ? json.error : { code: 'http_' + res.status, message: text || res.statusText };
    throw new ApiError(err.code, err.message);
  }
  return json;
}

function showError(err) {
  const banner = $('error-banner');
  $('error-text').textContent = err.message || String(err);
  banner.dataset.code = err.code || 'error';
  banner.hidden = false;
}
function clearError() { $('error-banner').hidden = true; }

// Runs an async UI action, showing its error in the banner.
function action(fn) {
  return async (ev) => {
    if (ev && ev.preventDefault) ev.preventDefault();
    clearError();
    try { await fn(ev); } catch (e) { showError(e); }
  };
}

// ---------------------------------------------------------------- providers

function selectedProvider() {
  return state.providers.find((p) => p.id === $('provider-select').value) || null;
}

function fingerprintText(fp) {
  return (fp || '').slice(0, 32).match(/.{1,4}/g)?.join(' ') || '';
}

function renderProviders() {
  const sel = $('provider-select');
  const keep = sel.value;
  sel.textContent = '';
  for (const p of state.providers) {
    const o = document.createElement('option');
    o.value = p.id;
    o.textContent = `${p.name} (${p.url})`;
    sel.appendChild(o);
  }
  if (state.providers.some((p) => p.id === keep)) sel.value = keep;
  if (!state.providers.length) $('add-provider-box').open = true;
  renderProviderInfo();
}

function formatBytes(b) {
  const units = ['bytes', 'kB', 'MB', 'GB'];
  let i = 0;
  while (b >= 1000 && i < units.length - 1) { b /= 1000; i += 1; }
  return `${i ? b.toFixed(1) : b} ${units[i]}`;
}

function keySizeText(p) {
  if (p.eval_key_bytes === undefined) return '–';
  const g = p.galois_keys ? `, with Galois keys for ${p.galois_keys} rotations (latency packing)` : '';
  return `${formatBytes(p.eval_key_bytes)}${g}`;
}

function schemeText(scheme) {
  if (scheme === 'ckks') return 'CKKS (approximate; results are decrypted here and never sent back)';
  return 'BFV (exact)';
}

function renderProviderInfo() {
  const p = selectedProvider();
  const info = $('provider-info');
  info.textContent = '';
  $('renew-keys').disabled = !p;
  if (!p) { info.textContent = 'No provider yet: add one below.'; return; }
  const lines = [
    ['Model', `${p.model_name || p.model_id} (${p.image_size}×${p.image_size} px, classes ${p.classes.join(', ')})`],
    ['Scheme', schemeText(p.scheme)],
    ['Packings served', (p.layouts || ['throughput']).join(' and ')],
    ['Key', p.key_id],
    ['Evaluation key (sent once)', keySizeText(p)],
    ['Key fingerprint (SHA-256 of eval.key)', fingerprintText(p.key_fingerprint)],
    ['Registered with the provider', p.registered ? 'yes' : 'no — make new keys to retry'],
  ];
  const dl = document.createElement('dl');
  for (const [k, v] of lines) {
    const dt = document.createElement('dt'); dt.textContent = k;
    const dd = document.createElement('dd'); dd.textContent = v;
    if (k.startsWith('Key fingerprint')) dd.id = 'key-fingerprint';
    dl.append(dt, dd);
  }
  info.appendChild(dl);
}

async function loadProviders() {
  state.providers = (await api('GET', '/api/providers')).providers;
  renderProviders();
}

async function addProvider() {
  const btn = $('add-provider');
  btn.disabled = true;
  btn.textContent = 'Making keys…';
  try {
    const p = await api('POST', '/api/providers', {
      name: $('provider-name').value.trim(), url: $('provider-url').value.trim(), token: $('provider-token').value,
    });
    $('provider-token').value = '';
    await loadProviders();
    $('provider-select').value = p.id;
    renderProviderInfo();
    $('add-provider-box').open = false;
  } finally {
    btn.disabled = false;
    btn.textContent = 'Add, make keys and register';
  }
}

async function renewKeys() {
  const p = selectedProvider();
  if (!p) return;
  $('renew-keys').disabled = true;
  try {
    await api('POST', `/api/providers/${p.id}/keys`, {});
    await loadProviders();
  } finally {
    $('renew-keys').disabled = false;
  }
}

// ---------------------------------------------------------------- cells

function imageSize() {
  const p = selectedProvider();
  return p ? p.image_size : 32;
}

function renderCells() {
  const grid = $('cell-grid');
  grid.textContent = '';
  for (const c of state.cells) {
    const fig = document.createElement('figure');
    fig.className = 'thumb';
    const img = document.createElement('img');
    img.src = c.thumb;
    img.alt = c.name;
    img.title = c.name;
    const cap = document.createElement('figcaption');
    cap.textContent = c.name.split('/').pop();
    fig.append(img, cap);
    grid.appendChild(fig);
  }
  const n = state.cells.length;
  $('cell-count').textContent = n ? `${n} cell${n > 1 ? 's' : ''} ready (${state.cells[0].size}×${state.cells[0].size} px)` : 'No cells yet.';
  const list = $('rejected');
  list.textContent = '';
  for (const r of state.rejected) {
    const li = document.createElement('li');
    li.textContent = `${r.name}: ${r.reason}`;
    list.appendChild(li);
  }
  $('rejected-box').hidden = !state.rejected.length;
}

// Files of a dropped folder, with their paths inside it (recursively).
async function filesFromEntry(entry, prefix) {
  if (entry.isFile) {
    const file = await new Promise((ok, fail) => entry.file(ok, fail));
    return [{ file, name: prefix + file.name }];
  }
  const reader = entry.createReader();
  const out = [];
  for (;;) {
    const batch = await new Promise((ok, fail) => reader.readEntries(ok, fail));
    if (!batch.length) break;
    for (const e of batch) out.push(...await filesFromEntry(e, prefix + entry.name + '/'));
  }
  return out;
}

async function addFiles(items) {
  if (!items.length) return;
  items.sort((a, b) => a.name.localeCompare(b.name));
  const bar = $('add-progress');
  bar.hidden = false;
  bar.max = items.length;
  bar.value = 0;
  const size = imageSize();
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const it = items[next++];
      try {
        const r = await api('POST', `/api/cells?name=${encodeURIComponent(it.name)}&size=${size}`, it.file, 'application/octet-stream');
        if (r.ok) state.cells.push(r); else state.rejected.push(r);
      } catch (e) {  // e.g. too large for the clinic: listed like any unusable file
        if (e.code === 'clinic_unreachable') throw e;
        state.rejected.push({ name: it.name, reason: e.message });
      }
      bar.value += 1;
    }
  };
  await Promise.all([worker(), worker(), worker(), worker()]);
  state.cells.sort((a, b) => a.name.localeCompare(b.name));
  bar.hidden = true;
  renderCells();
}

async function onDrop(ev) {
  ev.preventDefault();
  $('drop-zone').classList.remove('over');
  const items = [];
  const entries = [...(ev.dataTransfer.items || [])].map((i) => i.webkitGetAsEntry && i.webkitGetAsEntry()).filter(Boolean);
  if (entries.length) {
    for (const e of entries) items.push(...await filesFromEntry(e, ''));
  } else {
    for (const f of ev.dataTransfer.files) items.push({ file: f, name: f.name });
  }
  await addFiles(items);
}

function onPick(ev) {
  const items = [...ev.target.files].map((f) => ({ file: f, name: f.webkitRelativePath || f.name }));
  ev.target.value = '';
  return addFiles(items);
}

async function clearCells() {
  await api('DELETE', '/api/cells');
  state.cells = [];
  state.rejected = [];
  renderCells();
}

// ---------------------------------------------------------------- screening

async function startScreening() {
  const p = selectedProvider();
  if (!p) throw new ApiError('no_provider', 'Add a provider first (step 1).');
  if (!state.cells.length) throw new ApiError('no_cells', 'Add cells first (step 2).');
  const r = await api('POST', '/api/screenings', {
    provider_id: p.id, cells: state.cells.map((c) => c.id), patient: $('patient').value.trim(),
  });
  $('results-section').hidden = true;
  follow(r.id);
}

function follow(id) {
  if (state.polling) clearTimeout(state.polling);
  $('progress-box').hidden = false;
  $('screen-button').disabled = true;
  $('cancel-button').hidden = false;
  $('cancel-button').dataset.id = id;
  const tick = async () => {
    let s;
    try {
      s = await api('GET', `/api/screenings/${id}`);
    } catch (e) {
      showError(e);
      state.polling = setTimeout(tick, 2000);
      return;
    }
    renderProgress(s);
    if (FINAL.includes(s.status)) {
      finishScreening(s);
    } else {
      state.polling = setTimeout(tick, 300);
    }
  };
  tick();
}

function renderProgress(s) {
  const live = s.live || {};
  const status = live.status || s.status;
  $('stage').textContent = STAGE_TEXT[status] || status;
  $('stage').dataset.status = status;
  const bar = $('stage-progress');
  bar.value = status === 'done' ? 1 : (live.stage_progress || 0);
  let q = '';
  if (status === 'uploading' || status === 'encrypting' || status === 'running') q = `${Math.round(100 * (live.stage_progress || 0))} %`;
  if (status === 'queued' && live.provider_queued !== undefined) q = `${live.provider_queued} job(s) in the provider's queue`;
  if (status === 'waiting' && live.clinic_queue_position) q = `position ${live.clinic_queue_position} here`;
  $('queue-info').textContent = q;
  const order = ['encrypting', 'uploading', 'queued', 'running', 'downloading', 'decrypting'];
  const at = order.indexOf(status);
  for (const li of $('stages').children) {
    const i = order.indexOf(li.dataset.stage);
    li.className = status === 'done' || (at >= 0 && i < at) ? 'done' : i === at ? 'active' : '';
  }
}

function finishScreening(s) {
  state.polling = null;
  $('screen-button').disabled = false;
  $('cancel-button').hidden = true;
  loadHistory().catch(showError);
  if (s.status === 'done') {
    showResults(s);
  } else if (s.error) {
    showError(new ApiError(s.error.code, s.error.message));
  }
}

async function cancelScreening() {
  await api('POST', `/api/screenings/${$('cancel-button').dataset.id}/cancel`, {});
}

// ---------------------------------------------------------------- results

function pAll(c) {
  if (c.class === undefined) return NaN;
  return c.class === 'all' ? c.probability : 1 - c.probability;
}

function showResults(s) {
  state.screening = s;
  $('results-section').hidden = false;
  $('progress-box').hidden = false;
  renderProgress(s);
  const when = new Date(s.created * 1000).toLocaleString();
  $('results-title').textContent = `${s.patient ? s.patient + ' · ' : ''}${when}${s.provider ? ' · ' + s.provider.name : ''}`;
  $('results-packing').textContent = `${s.packing} packing`;
  const called = s.cells.filter((c) => c.class === 'all').length;
  const total = s.cells.filter((c) => c.class !== undefined).length;
  $('all-count').textContent = called;
  $('cell-total').textContent = total;
  $('all-fraction').textContent = total ? `${(100 * called / total).toFixed(1)} %` : '–';
  $('class-counts').textContent = Object.entries(s.summary.classes)
    .map(([k, v]) => `${CLASS_LABELS[k] || k}: ${v.cells}`).join(' · ');
  $('export-csv').href = `/api/screenings/${s.id}/export.csv`;
  $('export-json').href = `/api/screenings/${s.id}/export.json`;
  drawHistogram(s.cells.map(pAll).filter((p) => !Number.isNaN(p)));
  renderTable();
}

function renderTable() {
  const s = state.screening;
  const { key, dir } = state.sort;
  const rows = s.cells.map((c) => ({ ...c, p_all: pAll(c) }));
  rows.sort((a, b) => {
    const x = a[key], y = b[key];
    return (typeof x === 'string' ? x.localeCompare(y) : x - y) * dir;
  });
  const body = $('results-table').tBodies[0];
  body.textContent = '';
  for (const c of rows) {
    const tr = document.createElement('tr');
    tr.dataset.cell = c.name;
    tr.dataset.class = c.class || '';
    const img = document.createElement('img');
    img.src = c.thumb;
    img.alt = c.name;
    const cells = [img, c.name, CLASS_LABELS[c.class] || c.class || '–',
      c.probability !== undefined ? c.probability.toFixed(3) : '–', Number.isNaN(c.p_all) ? '–' : c.p_all.toFixed(3),
      c.folder_class ? (CLASS_LABELS[c.folder_class] || c.folder_class) : ''];
    cells.forEach((v, i) => {
      const td = document.createElement('td');
      if (v instanceof Node) td.appendChild(v); else td.textContent = v;
      if (i === 2) { td.className = 'label ' + (c.class || ''); }
      tr.appendChild(td);
    });
    body.appendChild(tr);
  }
  for (const th of $('results-table').tHead.rows[0].cells) {
    th.classList.toggle('asc', th.dataset.sort === key && dir > 0);
    th.classList.toggle('desc', th.dataset.sort === key && dir < 0);
  }
}

function sortBy(key) {
  state.sort = { key, dir: state.sort.key === key ? -state.sort.dir : 1 };
  if (state.screening) renderTable();
}

// Ten bins of P(ALL), drawn as SVG bars (red: called ALL, blue: normal).
function drawHistogram(ps) {
  const svg = $('histogram');
  const ns = 'http://www.w3.org/2000/svg';
  svg.textContent = '';
  const W = 360, H = 180, left = 30, bottom = 24, top = 18, bins = new Array(10).fill(0);
  for (const p of ps) bins[Math.min(9, Math.floor(p * 10))] += 1;
  const max = Math.max(1, ...bins);
  const bw = (W - left - 10) / 10;
  const el = (name, attrs, text) => {
    const e = document.createElementNS(ns, name);
    for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
    if (text !== undefined) e.textContent = text;
    svg.appendChild(e);
    return e;
  };
  el('line', { x1: left, y1: H - bottom, x2: W - 5, y2: H - bottom, class: 'axis' });
  el('line', { x1: left, y1: top, x2: left, y2: H - bottom, class: 'axis' });
  el('text', { x: left - 4, y: top + 4, 'text-anchor': 'end', class: 'tick' }, String(max));
  el('text', { x: left - 4, y: H - bottom, 'text-anchor': 'end', class: 'tick' }, '0');
  bins.forEach((n, i) => {
    const h = (H - bottom - top) * n / max;
    const bar = el('rect', { x: left + i * bw + 1, y: H - bottom - h, width: bw - 2, height: h, class: i >= 5 ? 'bar all' : 'bar hem' });
    bar.dataset.count = n;
    if (n) el('text', { x: left + (i + 0.5) * bw, y: H - bottom - h - 3, 'text-anchor': 'middle', class: 'tick' }, String(n));
  });
  for (const t of [0, 0.5, 1]) el('text', { x: left + t * 10 * bw, y: H - 8, 'text-anchor': 'middle', class: 'tick' }, String(t));
}

// ---------------------------------------------------------------- history

async function loadHistory() {
  const list = (await api('GET', '/api/screenings')).screenings;
  const body = $('history').tBodies[0];
  body.textContent = '';
  const names = Object.fromEntries(state.providers.map((p) => [p.id, p.name]));
  for (const s of list) {
    const tr = document.createElement('tr');
    tr.dataset.id = s.id;
    const vals = [new Date(s.created * 1000).toLocaleString(), s.patient || '–', names[s.provider_id] || s.provider_id,
      String(s.cell_count), s.packing, s.error ? `${s.status}: ${s.error.message}` : s.status];
    for (const v of vals) {
      const td = document.createElement('td');
      td.textContent = v;
      tr.appendChild(td);
    }
    const td = document.createElement('td');
    const b = document.createElement('button');
    b.type = 'button';
    b.textContent = FINAL.includes(s.status) ? 'Open' : 'Follow';
    b.className = 'open-screening';
    b.addEventListener('click', action(() => openScreening(s.id)));
    td.appendChild(b);
    tr.appendChild(td);
    body.appendChild(tr);
  }
}

async function openScreening(id) {
  const s = await api('GET', `/api/screenings/${id}`);
  if (!FINAL.includes(s.status)) return follow(id);
  if (s.status === 'done') showResults(s);
  else showError(new ApiError(s.error ? s.error.code : s.status, s.error ? s.error.message : s.status));
  $('results-section').scrollIntoView();
}

// ---------------------------------------------------------------- start

async function init() {
  const session = await api('GET', '/api/session');
  state.csrf = session.csrf;
  $('packing').textContent = session.packing;
  await loadProviders();
  await loadHistory();
  document.body.dataset.ready = '1';
}

$('error-close').addEventListener('click', clearError);
$('add-provider-form').addEventListener('submit', action(addProvider));
$('provider-select').addEventListener('change', renderProviderInfo);
$('renew-keys').addEventListener('click', action(renewKeys));
$('file-input').addEventListener('change', action(onPick));
$('folder-input').addEventListener('change', action(onPick));
$('clear-cells').addEventListener('click', action(clearCells));
$('screen-button').addEventListener('click', action(startScreening));
$('cancel-button').addEventListener('click', action(cancelScreening));
for (const th of document.querySelectorAll('#results-table th.sortable')) th.addEventListener('click', () => sortBy(th.dataset.sort));
const zone = $('drop-zone');
zone.addEventListener('dragover', (e) => { e.preventDefault(); zone.classList.add('over'); });
zone.addEventListener('dragleave', () => zone.classList.remove('over'));
zone.addEventListener('drop', action(onDrop));
action(init)();
