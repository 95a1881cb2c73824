// The service worker: the page's own files kept for when the server cannot be reached, so that a
// reload shows the page ("Offline: reconnecting") instead of the browser's error page. Never the
// socket, the API or shared files (/files/): only the paths /api/settings lists as the page's.
//
// The cache is named by the page's version (the `v` of this script's URL, which app.js takes from
// /api/settings: a digest of the page's files), and the files are fetched network first: online, a
// load always gets what the server has now; an upgrade brings a new version, whose worker replaces
// this one and deletes the old cache.
const VERSION = new URL(self.location.href).searchParams.get("v") || "none";
const CACHE = `wsserver-${VERSION}`;
const WAIT_MS = 4000; // a network that does not answer within this: the kept copy

async function pageFiles() {
  const response = await fetch("/api/settings", { cache: "no-store" });
  const settings = await response.json();
  return (settings.page_files ?? []).map((path) => `/${path}`);
}

self.addEventListener("install", (event) => {
  event.waitUntil((async () => {
    const cache = await caches.open(CACHE);
    await cache.addAll(["/", ...(await pageFiles()).filter((path) => path !== "/sw.js")]);
    await self.skipWaiting();
  })());
});

self.addEventListener("activate", (event) => {
  event.waitUntil((async () => {
    for (const name of await caches.keys()) {
      if (name.startsWith("wsserver-") && name !== CACHE) await caches.delete(name);
    }
    await self.clients.claim();
  })());
});

/** Whether a request is for one of the page's own files (what the cache holds). */
async function kept(request) {
  const url = new URL(request.url);
  if (request.method !== "GET" || url.origin !== self.location.origin) return false;
  if (request.mode === "navigate") return url.pathname === "/" || url.pathname === "/index.html";
  const cache = await caches.open(CACHE);
  return Boolean(await cache.match(url.pathname));
}

async function networkFirst(request) {
  const url = new URL(request.url);
  const key = request.mode === "navigate" ? "/" : url.pathname;
  const cache = await caches.open(CACHE);
  try {
    const response = await Promise.race([
      fetch(request),
      new Promise((_, reject) => { setTimeout(() => reject(new Error("no answer")), WAIT_MS); }),
    ]);
    if (response.ok) await cache.put(key, response.clone());
    if (response.status >= 502 && response.status <= 504) return (await cache.match(key)) ?? response; // a proxy, its server down
    return response;
  } catch (error) {
    const copy = await cache.match(key);
    if (copy) return copy;
    throw error;
  }
}

self.addEventListener("fetch", (event) => {
  const url = new URL(event.request.url);
  if (url.pathname.startsWith("/api/") || url.pathname.startsWith("/files/") || url.pathname === "/ws") return;
  event.respondWith((async () => ((await kept(event.request)) ? networkFirst(event.request) : fetch(event.request)))());
});
