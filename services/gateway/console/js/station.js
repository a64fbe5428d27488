// The worker's station as the pages read it: from the API when online (a copy kept in
// IndexedDB), from that copy when offline; with what this device has queued laid over it
// (a client registered here, a visit recorded here) until the hub has it.
import * as idb from './idb.js';
import * as outbox from './outbox.js';

const OPEN = ['overdue', 'due', 'scheduled'];

async function everyPage(ctx, path, query) {
  const items = [];
  let cursor;
  do {
    const answer = await ctx.api('GET', path, { query: { ...query, limit: 200, cursor } });
    items.push(...answer.items);
    cursor = answer.next_cursor;
  } while (cursor);
  return items;
}

// {value, offline, at}: `at` is when the copy read offline was made
async function kept(ctx, key, load) {
  try {
    const value = await load();
    await idb.put('cache', { key, owner: ctx.user.id, value, at: new Date().toISOString() });
    return { value, offline: false, at: null };
  } catch (err) {
    if (err.status !== 0) throw err;
    const copy = await idb.get('cache', key);
    if (!copy || copy.owner !== ctx.user.id) return { value: null, offline: true, at: null };
    return { value: copy.value, offline: true, at: copy.at };
  }
}

const place = (ctx) => ({ township_code: ctx.user.township || undefined });

export const clients = (ctx) => kept(ctx, 'clients',
  () => everyPage(ctx, '/clients', { ...place(ctx), status: 'active' }));

export const openVisits = (ctx) => kept(ctx, 'visits', async () => (await Promise.all(
  OPEN.map((status) => everyPage(ctx, '/visits', { ...place(ctx), status })))).flat());

export const workers = (ctx) => kept(ctx, 'workers', async () => (await ctx.api(
  'GET', '/visits/workers', { query: place(ctx) })).items);

export async function client(ctx, id) {
  const got = await kept(ctx, 'client:' + id, () => ctx.api('GET', '/clients/' + id));
  if (got.value) return got;
  const list = await clients(ctx);
  const pending = (await queuedClients(ctx)).find((c) => c.id === id);
  return { ...list, value: (list.value || []).find((c) => c.id === id) || pending || null };
}

export async function history(ctx, id) {
  const got = await kept(ctx, 'history:' + id, () => everyPage(ctx, '/visits', { client_id: id }));
  if (got.value) return got;
  const open = await openVisits(ctx);
  return { ...open, value: (open.value || []).filter((v) => v.client_id === id) };
}

export async function visit(ctx, id) {
  const got = await kept(ctx, 'visit:' + id, () => ctx.api('GET', '/visits/' + id));
  if (got.value) return got;
  const open = await openVisits(ctx);
  return { ...open, value: (open.value || []).find((v) => v.id === id) || null };
}

// clients registered on this device that the hub has not answered for yet (or refused)
export async function queuedClients() {
  return (await outbox.list()).filter((o) => o.kind === 'client.register' && o.state !== 'applied')
    .map((o) => ({ ...o.data, queued: o.state, op_id: o.op_id }));
}

// visit id -> the queued operation recording it (complete or miss), while not yet applied
export async function queuedVisits() {
  const map = new Map();
  for (const o of await outbox.list()) {
    if ((o.kind === 'visit.complete' || o.kind === 'visit.miss') && o.state !== 'applied') {
      map.set(o.data.visit_id, o);
    }
  }
  return map;
}

// the station's records read once, so they are there offline (after logging in, after a sync)
export async function prefetch(ctx) {
  if (!navigator.onLine) return;
  try { await Promise.all([clients(ctx), openVisits(ctx), workers(ctx)]); } catch (e) { console.warn(e); }
}
