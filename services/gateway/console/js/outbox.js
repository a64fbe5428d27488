// What this device records: each record is one operation (op_id made here, once). Online it is
// sent at once as its single call under the Idempotency-Key the sync route uses for it
// (`sync:<device>:<op_id>`); offline, or when no answer came, it waits in IndexedDB and goes up
// through POST /api/v1/sync when the connection returns, resent under the same op_id until it is
// answered, so it is applied once. Answers are kept: applied, rejected (why) or conflict.
import * as idb from './idb.js';

const DEVICE_KEY = 'hub.device';
const BATCH = 500;                  // gateway/sync.py MAX_OPERATIONS
const KEEP_APPLIED_DAYS = 7;
const PATHS = {
  'client.register': () => '/clients',
  'visit.record': () => '/visits',
  'visit.complete': (d) => `/visits/${d.visit_id}/complete`,
  'visit.miss': (d) => `/visits/${d.visit_id}/missed`,
};

export function uuid() {
  if (crypto.randomUUID) return crypto.randomUUID();
  const b = crypto.getRandomValues(new Uint8Array(16));     // outside a secure context
  b[6] = (b[6] & 0x0f) | 0x40; b[8] = (b[8] & 0x3f) | 0x80;
  const x = [...b].map((v) => v.toString(16).padStart(2, '0')).join('');
  return `${x.slice(0, 8)}-${x.slice(8, 12)}-${x.slice(12, 16)}-${x.slice(16, 20)}-${x.slice(20)}`;
}

export function deviceId() {
  let id = localStorage.getItem(DEVICE_KEY);
  if (!id) { id = 'console-' + uuid(); localStorage.setItem(DEVICE_KEY, id); }
  return id;
}

let ctx = null;
let changed = () => {};
let flushing = null;
let started = false;
let seq = 0;
export const status = { at: null, error: null };

// called on each page shown; the first call (after logging in) starts sending what waits
export function start(c, onChange) {
  const first = !ctx || ctx.user.id !== c.user.id;
  ctx = c; changed = onChange || changed;
  if (!started) {
    started = true;
    addEventListener('online', () => flush());
    setInterval(() => flush(), 30000);
    prune();
  }
  if (first) flush();
}

export function forget() { ctx = null; }   // signed out: the queue stays for its owner's next login

// fn(ctx) after answers came for sent operations (the pages' kept copies are then out of date)
const answered = [];
export function onAnswered(fn) { answered.push(fn); }

function single(op) {
  const body = { ...op.data };
  if (op.kind === 'visit.complete' || op.kind === 'visit.miss') delete body.visit_id;
  return [PATHS[op.kind](op.data), body];
}

function notify() { try { changed(); } catch (e) { console.warn(e); } }

export async function list() {
  if (!ctx) return [];
  return (await idb.all('ops')).filter((o) => o.owner === ctx.user.id).sort((a, b) => a.seq - b.seq);
}

export async function waitingCount() {
  return (await list()).filter((o) => o.state === 'waiting' || o.state === 'rejected' || o.state === 'conflict').length;
}

export const find = (opId) => idb.get('ops', opId);

function newOp(kind, data, label) {
  return { op_id: uuid(), kind, data, label, state: 'waiting', seq: Date.now() * 1000 + (seq++ % 1000),
    owner: ctx.user.id, made_at: new Date().toISOString(), answered_at: null, id: null, error: null };
}

// Record `data` as an operation of `kind`. Online, the single call answers at once: its field
// errors are thrown for the form to show (nothing is kept). Without an answer it is queued.
// Returns {sent: true, answer} or {sent: false, op}.
export async function submit(kind, data, label) {
  const op = newOp(kind, data, label);
  if (navigator.onLine) {
    const [path, body] = single(op);
    try {
      const answer = await ctx.api('POST', path, { body, headers: { 'Idempotency-Key': key(op) } });
      return { sent: true, answer };
    } catch (err) {
      if (err.status !== 0 && err.status < 500) throw err;
    }
  }
  await idb.put('ops', op);
  notify();
  flush();
  return { sent: false, op };
}

function key(op) { return `sync:${deviceId()}:${op.op_id}`; }

// A refused operation sent again (corrected or not) is a new operation: a new op_id, its place
// in the queue kept.
export async function resend(opId, data) {
  const old = await idb.get('ops', opId);
  const op = { ...old, op_id: uuid(), data: data || old.data, state: 'waiting', error: null,
    answered_at: null, existing_client_id: undefined, resent_from: opId };
  await idb.put('ops', op);
  await idb.del('ops', opId);
  notify();
  flush();
  return op;
}

export async function dismiss(opId) { await idb.del('ops', opId); notify(); }

export function flush() {
  if (!ctx || !navigator.onLine) return Promise.resolve();
  if (flushing) return flushing;
  flushing = (async () => {
    const waiting = (await list()).filter((o) => o.state === 'waiting');
    if (!waiting.length) return false;
    for (let i = 0; i < waiting.length; i += BATCH) {
      const batch = waiting.slice(i, i + BATCH);
      let answer;
      try {
        answer = await ctx.api('POST', '/sync', { body: { device_id: deviceId(),
          operations: batch.map((o) => ({ op_id: o.op_id, kind: o.kind, data: o.data })) } });
      } catch (err) {
        status.error = err.message;         // kept, unchanged, for the next try
        return true;
      }
      const ops = new Map(batch.map((o) => [o.op_id, o]));
      for (const r of answer.results) {
        const op = ops.get(r.op_id);
        if (!op) continue;
        op.state = r.status === 'applied' || r.status === 'already_applied' ? 'applied' : r.status;
        op.id = r.id || op.id;
        op.error = r.error || null;
        op.existing_client_id = r.existing_client_id;
        op.answered_at = new Date().toISOString();
        await idb.put('ops', op);
      }
      status.at = new Date().toISOString(); status.error = null;
    }
    for (const fn of answered) await fn(ctx);
    return true;
  })().then((sent) => { if (sent) notify(); }).finally(() => { flushing = null; });
  return flushing;
}

async function prune() {
  const limit = Date.now() - KEEP_APPLIED_DAYS * 86400000;
  for (const op of await idb.all('ops')) {
    if (op.state === 'applied' && Date.parse(op.answered_at) < limit) await idb.del('ops', op.op_id);
  }
}
