// The console's service worker: keeps the console's own files (and its vocabulary) so that it
// opens without a connection. Each is fetched from the network first, so a new version is seen
// at once, and the copy kept is used when there is no answer. API calls are not touched: the
// station's records are kept by the pages in IndexedDB (js/station.js, js/outbox.js).
const CACHE = 'shegong-console-v1';
const SHELL = [
  '/', '/console/css/console.css', '/console/css/admin.css', '/console/vocabulary.json',
  '/console/js/app.js', '/console/js/pages.js', '/console/js/ui.js', '/console/js/forms.js',
  '/console/js/idb.js', '/console/js/outbox.js', '/console/js/station.js',
  '/console/js/idnumber.js', '/console/js/worker.js', '/console/js/admin.js',
];

self.addEventListener('install', (event) => {
  // one missing file (an optional one) does not stop the others being kept
  event.waitUntil(caches.open(CACHE).then((cache) =>
    Promise.all(SHELL.map((url) => cache.add(url).catch(() => null)))).then(() => self.skipWaiting()));
});

self.addEventListener('activate', (event) => {
  event.waitUntil(caches.keys().then((keys) => Promise.all(
    keys.filter((k) => k !== CACHE).map((k) => caches.delete(k)))).then(() => self.clients.claim()));
});

function ours(url) {
  return url.origin === self.location.origin && (url.pathname === '/' || url.pathname.startsWith('/console/'));
}

self.addEventListener('fetch', (event) => {
  const url = new URL(event.request.url);
  if (event.request.method !== 'GET' || !ours(url)) return;
  const key = url.pathname;              // '/#/today' and '/' are one page
  event.respondWith(fetch(event.request).then((resp) => {
    if (resp.ok) {
      const copy = resp.clone();
      caches.open(CACHE).then((cache) => cache.put(key, copy));
    }
    return resp;
  }).catch(() => caches.match(key).then((hit) => hit || Response.error())));
});
