// The ttlog viewer: recent rows over REST, then live rows over Server-Sent Events read with
// fetch() (EventSource cannot send an Authorization header). No library, no network access
// beyond this server.
'use strict';

const MAX_ROWS = 2000;
const $ = (id) => document.getElementById(id);
const state = { token: null, paused: false, pending: [], lastId: null, abort: null, generation: 0, asked: false };

function readToken() {
  const match = location.hash.match(/(?:^#|&)token=([^&]+)/);
  if (match) {
    sessionStorage.setItem('ttlog-token', decodeURIComponent(match[1]));
    history.replaceState(null, '', location.pathname + location.search);
  }
  state.token = sessionStorage.getItem('ttlog-token');
}

function headers(extra) {
  const h = Object.assign({}, extra || {});
  if (state.token) h.Authorization = 'Bearer ' + state.token;
  return h;
}

function setStatus(text) { $('status').textContent = text; }

function askToken() {
  return new Promise((resolve) => {
    const dialog = $('token-dialog');
    $('token-form').onsubmit = () => {
      state.token = $('token-input').value.trim();
      sessionStorage.setItem('ttlog-token', state.token);
      resolve();
    };
    dialog.showModal();
    $('token-input').focus();
  });
}

async function api(path, options) {
  for (;;) {
    const res = await fetch(path, Object.assign({}, options, { headers: headers(options && options.headers) }));
    if (res.status === 401) {
      setStatus('This server needs a token.');
      await askToken();
      continue;
    }
    return res;
  }
}

function filters() {
  const p = new URLSearchParams();
  const level = $('f-level').value, type = $('f-type').value;
  const job = $('f-job').value.trim(), task = $('f-task').value.trim();
  if (level) p.set('level', level);
  if (type) p.set('type', type);
  if (job) p.set('job_run_id', job);
  if (task) p.set('task_run_id', task);
  return p;
}

const SEVERITY = { trace: 0, debug: 1, info: 2, warn: 3, error: 4 };

function visible(row) {
  const level = $('f-level').value, type = $('f-type').value;
  const job = $('f-job').value.trim().toLowerCase(), task = $('f-task').value.trim().toLowerCase();
  const text = $('f-text').value.trim().toLowerCase();
  if (level && (SEVERITY[row.level] ?? 2) < SEVERITY[level]) return false;
  if (type && row.type !== type) return false;
  if (job && row.job_run_id !== job) return false;
  if (task && row.task_run_id !== task) return false;
  if (text && !(row.message || '').toLowerCase().includes(text)) return false;
  return true;
}

function cell(text, cls) {
  const span = document.createElement('span');
  span.textContent = text;
  if (cls) span.className = cls;
  return span;
}

function render(row) {
  const li = document.createElement('li');
  li.dataset.id = row.id;
  li.dataset.level = row.level;
  li.dataset.type = row.type;
  li._row = row;
  const button = document.createElement('button');
  button.type = 'button';
  button.className = 'row';
  button.setAttribute('aria-expanded', 'false');
  const run = row.task_run_id ? 'task' : row.job_run_id ? 'job' : row.type;
  button.append(
    cell(row.timestamp.replace('T', ' ').slice(0, 23)),
    cell(row.level, 'level'),
    cell(run, 'muted'),
    cell(row.target || '', 'muted'),
    cell(row.message, 'message'),
  );
  button.setAttribute('aria-label', `${row.level} ${row.timestamp} ${row.message}`);
  button.addEventListener('click', () => toggle(li, button));
  li.append(button);
  if (!visible(row)) li.hidden = true;
  return li;
}

function toggle(li, button) {
  const open = button.getAttribute('aria-expanded') === 'true';
  button.setAttribute('aria-expanded', String(!open));
  const existing = li.querySelector('.details');
  if (open) { if (existing) existing.remove(); return; }
  const details = document.createElement('div');
  details.className = 'details';
  const pre = document.createElement('pre');
  pre.textContent = JSON.stringify(li._row, null, 2);
  details.append(pre);
  if (li._row.level === 'error') {
    const link = document.createElement('a');
    link.href = '#analysis-' + li._row.id;
    link.textContent = 'Analyse this error';
    link.addEventListener('click', (e) => { e.preventDefault(); analyse(li._row.id); });
    details.append(link);
  }
  li.append(details);
}

function append(rows) {
  const list = $('logs');
  const fragment = document.createDocumentFragment();
  for (const row of rows) {
    if (state.lastId === null || row.id > state.lastId) state.lastId = row.id;
    fragment.append(render(row));
  }
  list.append(fragment);
  while (list.children.length > MAX_ROWS) list.firstElementChild.remove();
}

function receive(row) {
  if (state.paused) {
    state.pending.push(row);
    $('pending').hidden = false;
    $('pending').textContent = `${state.pending.length} new events while paused`;
    return;
  }
  const atBottom = window.innerHeight + window.scrollY >= document.body.scrollHeight - 40;
  append([row]);
  if (atBottom) window.scrollTo(0, document.body.scrollHeight);
}

async function loadRecent() {
  const p = filters();
  const text = $('f-text').value.trim();
  if (text) p.set('q', text);
  p.set('limit', '1');
  let res = await api('/api/v1/logs?' + p);
  if (!res.ok) return showError(res);
  const total = (await res.json()).total;
  // Nothing yet: the stream starts from the first row, so none stored meanwhile is lost.
  if (total === 0) state.lastId = 0;
  p.set('limit', '200');
  p.set('offset', String(Math.max(0, total - 200)));
  res = await api('/api/v1/logs?' + p);
  if (!res.ok) return showError(res);
  append((await res.json()).logs);
  window.scrollTo(0, document.body.scrollHeight);
}

async function showError(res) {
  let message = `HTTP ${res.status}`;
  try { message = (await res.json()).error; } catch (_) { /* not JSON */ }
  $('filter-error').textContent = message;
  $('filter-error').hidden = false;
  return false;
}

async function follow(generation) {
  while (generation === state.generation) {
    state.abort = new AbortController();
    const extra = { Accept: 'text/event-stream' };
    if (state.lastId !== null) extra['Last-Event-ID'] = String(state.lastId);
    try {
      const res = await api('/api/v1/logs/stream/sse?' + filters(), { headers: extra, signal: state.abort.signal });
      if (!res.ok) { await showError(res); return; }
      setStatus('Live');
      const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
      let buffer = '';
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        buffer += value;
        let end;
        while ((end = buffer.indexOf('\n\n')) >= 0) {
          dispatch(buffer.slice(0, end));
          buffer = buffer.slice(end + 2);
        }
      }
    } catch (e) {
      if (e.name === 'AbortError') return;
    }
    if (generation !== state.generation) return;
    setStatus('Disconnected; reconnecting…');
    await new Promise((r) => setTimeout(r, 1000));
  }
}

function dispatch(block) {
  let event = 'message', data = '';
  for (const line of block.split('\n')) {
    if (line.startsWith('event:')) event = line.slice(6).trim();
    else if (line.startsWith('data:')) data += line.slice(5).replace(/^ /, '');
  }
  if (!data) return;
  const body = JSON.parse(data);
  if (event === 'message') receive(body);
  else if (event === 'missed') setStatus(`Live; ${body.missed} events were not delivered (the viewer fell behind)`);
  else if (event === 'error') setStatus('Stream error: ' + body.error);
}

async function restart() {
  state.generation += 1;
  if (state.abort) state.abort.abort();
  $('filter-error').hidden = true;
  $('logs').replaceChildren();
  state.lastId = null;
  state.pending = [];
  $('pending').hidden = true;
  setStatus('Loading…');
  if (await loadRecent() === false) return;
  follow(state.generation);
}

function refilter() {
  for (const li of $('logs').children) li.hidden = !visible(li._row);
}

async function analyse(id) {
  const panel = $('analysis');
  panel.hidden = false;
  $('analysis-body').textContent = 'Analysing…';
  const res = await api(`/api/v1/errors/${id}/analysis?format=md`);
  $('analysis-body').textContent = res.ok ? await res.text() : `HTTP ${res.status}`;
  $('analysis-body').focus();
}

function main() {
  readToken();
  $('pause').addEventListener('click', () => {
    state.paused = !state.paused;
    $('pause').textContent = state.paused ? 'Resume' : 'Pause';
    $('pause').setAttribute('aria-pressed', String(state.paused));
    if (!state.paused) {
      append(state.pending);
      state.pending = [];
      $('pending').hidden = true;
    }
  });
  $('clear').addEventListener('click', () => $('logs').replaceChildren());
  $('analysis-close').addEventListener('click', () => { $('analysis').hidden = true; });
  for (const id of ['f-level', 'f-type']) {
    $(id).addEventListener('change', () => { refilter(); restart(); });
  }
  for (const id of ['f-job', 'f-task']) {
    $(id).addEventListener('change', () => { refilter(); restart(); });
  }
  $('f-text').addEventListener('input', refilter);
  $('filters').addEventListener('submit', (e) => e.preventDefault());
  restart();
}

main();
