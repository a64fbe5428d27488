// The console's shell: the session (log in, first-password change, refresh, log out), the
// context every page gets (ctx, see pages.js), the hash router and the menu.
import { pages } from './pages.js';
import { h, toast, fieldErrors, clear } from './ui.js';
import './worker.js';
import * as outbox from './outbox.js';

const SESSION_KEY = 'hub.session';
const VOCAB_KEY = 'hub.vocabulary';
const main = document.getElementById('main');
const menu = document.getElementById('menu');

export class ApiError extends Error {
  constructor(status, code, message, fields = {}) {
    super(message);
    this.status = status; this.code = code; this.fields = fields || {};
  }
}

// -- the session ------------------------------------------------------------------------------
// Kept in localStorage so that a worker who opens the console offline still sees their station
// (docs/console.md); the access token lives 15 minutes, the refresh token is used once.
function loadSession() {
  try { return JSON.parse(localStorage.getItem(SESSION_KEY)); } catch { return null; }
}
function saveSession(s) {
  if (s) localStorage.setItem(SESSION_KEY, JSON.stringify(s));
  else localStorage.removeItem(SESSION_KEY);
}
let session = loadSession();

function sessionFrom(answer) {
  return {
    access_token: answer.access_token, refresh_token: answer.refresh_token,
    must_change_password: !!answer.must_change_password, user: answer.user,
  };
}

async function send(method, path, { body, query, token, raw, headers: extra } = {}) {
  let url = '/api/v1' + path;
  if (query) {
    const q = new URLSearchParams();
    for (const [k, v] of Object.entries(query)) {
      if (v === undefined || v === null || v === '') continue;
      for (const one of Array.isArray(v) ? v : [v]) q.append(k, one);
    }
    if ([...q].length) url += '?' + q;
  }
  const headers = { 'Accept-Language': 'zh-CN', Accept: 'application/json', ...extra };
  if (token) headers.Authorization = 'Bearer ' + token;
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  let resp;
  try {
    resp = await fetch(url, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  } catch {
    throw new ApiError(0, 'offline', '网络不可用，请稍后再试。');
  }
  if (raw && resp.ok) return resp;
  if (resp.status === 204) return null;
  let data = null;
  try { data = await resp.json(); } catch { data = null; }
  if (!resp.ok) {
    const e = (data && data.error) || {};
    const err = new ApiError(resp.status, e.code || 'http_' + resp.status,
      e.message || `服务器答复 ${resp.status}`, e.fields);
    err.retryAfter = resp.headers.get('Retry-After');
    throw err;
  }
  return data;
}

let refreshing = null;
async function refresh() {
  // one refresh at a time: a refresh token works once
  if (!refreshing) {
    refreshing = (async () => {
      const answer = await send('POST', '/session/refresh', { body: { refresh_token: session.refresh_token } });
      session = sessionFrom(answer); saveSession(session);
    })().finally(() => { refreshing = null; });
  }
  return refreshing;
}

async function api(method, path, opts = {}) {
  if (!session) throw new ApiError(401, 'unauthorized', '请先登录。');
  const token = session.access_token;
  try {
    return await send(method, path, { ...opts, token });
  } catch (err) {
    if (err.status === 401 && session && session.refresh_token) {
      try {
        if (session.access_token === token) await refresh();
      } catch (refreshErr) {
        if (refreshErr.status !== 0) { signedOut('登录已过期，请重新登录。'); }
        throw refreshErr.status === 0 ? refreshErr : err;
      }
      return send(method, path, { ...opts, token: session.access_token });
    }
    if (err.status === 403 && err.code === 'password_change_required') {
      session.must_change_password = true; saveSession(session); route();
    }
    throw err;
  }
}

async function download(path, query, filename) {
  let resp;
  try {
    resp = await api('GET', path, { query, raw: true });
  } catch (err) { toast(err.message, 'error'); throw err; }
  const blob = await resp.blob();
  const a = h('a', { href: URL.createObjectURL(blob), download: filename });
  document.body.append(a); a.click(); a.remove();
  setTimeout(() => URL.revokeObjectURL(a.href), 10000);
}

function signedOut(message) {
  session = null; saveSession(null);
  outbox.forget();
  if (message) toast(message, 'error');
  route();
}

async function logout() {
  const pending = await outbox.waitingCount();
  if (pending && !confirm(`还有 ${pending} 条记录未上传，退出后将保留在本机，下次登录时上传。确定退出？`)) return;
  try { await send('DELETE', '/session', { token: session.access_token }); } catch { /* offline */ }
  session = null; saveSession(null);
  outbox.forget();
  location.hash = '#/';
  route();
}

// -- the vocabulary -----------------------------------------------------------------------------
async function loadVocab() {
  try {
    const resp = await fetch('/console/vocabulary.json', { headers: { 'Accept-Language': 'zh-CN' } });
    if (resp.ok) {
      const v = await resp.json();
      localStorage.setItem(VOCAB_KEY, JSON.stringify(v));
      return v;
    }
  } catch { /* offline: the copy kept last time */ }
  try { return JSON.parse(localStorage.getItem(VOCAB_KEY)) || {}; } catch { return {}; }
}

// -- the router -----------------------------------------------------------------------------------
function parseHash() {
  const [name, q] = (location.hash.replace(/^#\/?/, '') || '').split('?');
  return { name: name || '', params: Object.fromEntries(new URLSearchParams(q || '')) };
}

function go(name, params = {}) {
  const q = new URLSearchParams(params).toString();
  const hash = '#/' + name + (q ? '?' + q : '');
  if (location.hash === hash) route(); else location.hash = hash;
}

function allowed(spec) { return session && spec.roles.includes(session.user.role); }

function homePage() {
  return [...pages.entries()].filter(([, s]) => s.nav && allowed(s))
    .sort((a, b) => (a[1].order ?? 100) - (b[1].order ?? 100))[0]?.[0];
}

function drawMenu(current) {
  clear(menu);
  const entries = [...pages.entries()].filter(([, s]) => s.nav && allowed(s))
    .sort((a, b) => (a[1].order ?? 100) - (b[1].order ?? 100));
  for (const [name, spec] of entries) {
    menu.append(h('a', { href: '#/' + name, class: name === current ? 'active' : '',
      'data-page': name, onClick: (e) => {
        e.preventDefault();
        if (innerWidth < 800) menu.hidden = true;
        go(name);                                   // the page again when it is the current one
      } },
      spec.title, spec.badge ? h('span', { class: 'badge amber', 'data-badge': name }) : ''));
  }
  menu.append(h('a', { href: '#/', 'data-page': 'logout',
    onClick: (e) => { e.preventDefault(); logout(); } }, '退出登录'));
  if (innerWidth >= 800) menu.hidden = false;
  refreshBadges();
}

export async function refreshBadges() {
  const n = session ? await outbox.waitingCount() : 0;
  for (const el of menu.querySelectorAll('[data-badge]')) el.textContent = n ? String(n) : '';
}

let ctx = null;
let vocab = null;

async function route() {
  const who = document.getElementById('who');
  const toggle = document.getElementById('menu-toggle');
  if (!session) {
    document.body.classList.remove('signed-in');
    menu.hidden = true; toggle.hidden = true; who.textContent = '';
    return loginPage();
  }
  if (session.must_change_password) {
    document.body.classList.remove('signed-in');
    menu.hidden = true; toggle.hidden = true;
    return passwordPage();
  }
  document.body.classList.add('signed-in');
  toggle.hidden = false;
  who.textContent = session.user.display_name || session.user.username;
  if (!vocab) vocab = await loadVocab();
  ctx = { api, download, user: session.user, go, h, toast, vocab, fieldErrors };
  outbox.start(ctx, () => {
    refreshBadges();
    if (parseHash().name === 'outbox') route();       // answers came: show them
  });
  let { name, params } = parseHash();
  if (!pages.has(name) || !allowed(pages.get(name))) name = homePage();
  drawMenu(name);
  // each page draws into a view of its own: one still loading when another is asked for
  // draws into a view no longer shown
  const view = h('div', { class: 'view', 'data-view': name });
  main.replaceChildren(view);
  const spec = pages.get(name);
  if (!spec) { view.append(h('p', { class: 'muted', text: '没有可用的页面。' })); return; }
  document.title = spec.title + ' · 社工站数字平台';
  try {
    await spec.render(view, ctx, params);
  } catch (err) {
    console.error(err);
    view.append(h('div', { class: 'notice error', text: '页面加载失败：' + err.message }));
  }
}

// -- logging in ------------------------------------------------------------------------------------
function loginPage() {
  clear(main);
  document.title = '登录 · 社工站数字平台';
  const form = h('form', { class: 'login', id: 'login-form' },
    h('h1', { text: '登录' }),
    h('div', { class: 'field' }, h('label', { for: 'username', text: '用户名' }),
      h('input', { type: 'text', id: 'username', name: 'username', autocomplete: 'username', required: true })),
    h('div', { class: 'field' }, h('label', { for: 'password', text: '密码' }),
      h('input', { type: 'password', id: 'password', name: 'password', autocomplete: 'current-password', required: true })),
    h('div', { class: 'actions' }, h('button', { class: 'btn', type: 'submit', text: '登录' })));
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    const btn = form.querySelector('button'); btn.disabled = true;
    form.querySelector('.notice')?.remove();
    try {
      const answer = await send('POST', '/session', { body: {
        username: form.username.value.trim(), password: form.password.value } });
      session = sessionFrom(answer); saveSession(session);
      form.password.value = '';
      route();
    } catch (err) {
      let text = err.message;
      if (err.status === 401) text = '用户名或密码不正确。';
      else if (err.status === 429) {
        const minutes = err.retryAfter ? Math.ceil(Number(err.retryAfter) / 60) : 15;
        text = `密码连续输错次数过多，账号已锁定，请 ${minutes} 分钟后再试。`;
      } else if (err.status === 0) text = '网络不可用，登录需要联网。';
      form.prepend(h('div', { class: 'notice error', role: 'alert', id: 'login-error', text }));
      form.querySelector('h1').after(form.querySelector('.notice'));
    } finally { btn.disabled = false; }
  });
  main.append(form);
}

function passwordPage() {
  clear(main);
  document.title = '修改密码 · 社工站数字平台';
  const form = h('form', { class: 'login', id: 'password-form' },
    h('h1', { text: '修改密码' }),
    h('div', { class: 'notice', text: '首次登录（或密码被重置后）须先设置新密码。' }),
    h('div', { class: 'field' }, h('label', { for: 'current_password', text: '当前密码' }),
      h('input', { type: 'password', id: 'current_password', name: 'current_password', autocomplete: 'current-password', required: true })),
    h('div', { class: 'field' }, h('label', { for: 'new_password', text: '新密码' }),
      h('input', { type: 'password', id: 'new_password', name: 'new_password', autocomplete: 'new-password', required: true, minlength: 8 }),
      h('div', { class: 'hint', text: '至少 8 个字符，不能与当前密码相同。' })),
    h('div', { class: 'field' }, h('label', { for: 'new_password2', text: '再次输入新密码' }),
      h('input', { type: 'password', id: 'new_password2', name: 'new_password2', autocomplete: 'new-password', required: true })),
    h('div', { class: 'actions' }, h('button', { class: 'btn', type: 'submit', text: '保存新密码' }),
      h('button', { class: 'btn secondary', type: 'button', text: '退出', onClick: logout })));
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    if (form.new_password.value !== form.new_password2.value) {
      fieldErrors(form, new ApiError(422, 'validation', '', { new_password2: ['两次输入的新密码不一致。'] }));
      return;
    }
    try {
      const answer = await send('POST', '/session/password', { token: session.access_token, body: {
        current_password: form.current_password.value, new_password: form.new_password.value } });
      session = sessionFrom(answer); saveSession(session);
      toast('密码已修改。');
      route();
    } catch (err) {
      fieldErrors(form, err);
    }
  });
  main.append(form);
}

// -- start ----------------------------------------------------------------------------------------
document.getElementById('menu-toggle').addEventListener('click', () => { menu.hidden = !menu.hidden; });
addEventListener('hashchange', route);
function showNet() { document.getElementById('net').hidden = navigator.onLine; }
addEventListener('online', showNet); addEventListener('offline', showNet); showNet();
if ('serviceWorker' in navigator) {
  navigator.serviceWorker.register('/console/sw.js', { scope: '/' }).catch((e) => console.warn('service worker:', e));
}
// the admin pages (C2's) load beside the worker's; the console still works without them
import('./admin.js').catch((e) => console.warn('admin pages:', e)).finally(route);
