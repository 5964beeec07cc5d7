// Offline work in the service worker (pulled in by /sw.js; docs/web.md, "Offline"): the pages a
// technician keeps (the offline page, their work orders' pages) come from the network when there
// is one and from the cache when not; the app's static files from the cache, refreshed behind.
// What to keep is decided by the page's script (static/js/offline.js), which stores the server's
// offline bundle and puts its URLs in these caches; here we only answer from them.
"use strict";

const OFFLINE_PAGES = "pdm-offline-pages-v1";
const OFFLINE_STATIC = "pdm-offline-static-v1";
// The pages worth keeping fresh; anything else is fetched as usual and not stored (a person's
// other pages need not sit on the device).
const KEPT_PAGE = /^\/(offline\/|work-orders\/\d+\/)$/;

self.addEventListener("install", () => self.skipWaiting());
// Take the open pages at once: a technician who opened a work order goes offline in the same visit.
self.addEventListener("activate", (event) => event.waitUntil(self.clients.claim()));

self.addEventListener("fetch", (event) => {
  const request = event.request;
  if (request.method !== "GET") return;
  const url = new URL(request.url);
  if (url.origin !== self.location.origin) return;
  if (url.pathname.startsWith("/static/")) {
    event.respondWith(staticFromCache(request));
  } else if (request.mode === "navigate") {
    event.respondWith(pageFromNetwork(request, url));
  }
});

async function pageFromNetwork(request, url) {
  try {
    const response = await fetch(request);
    // A redirect is the sign-in page after the session ended: never stored as the work order.
    if (response.ok && !response.redirected && KEPT_PAGE.test(url.pathname)) {
      refreshKept(url.pathname, response.clone()).catch(() => undefined);
    }
    return response;
  } catch (error) {
    const cache = await caches.open(OFFLINE_PAGES);
    // The pages vary by the session cookie, which a stored request does not carry; this cache holds
    // one person's pages only (signing out empties it: static/js/offline.js).
    const options = { ignoreVary: true, ignoreSearch: true };
    const kept = await cache.match(url.pathname, options) || await cache.match("/offline/", options);
    return kept || new Response("You are offline and this page is not kept on this device.",
      { status: 503, headers: { "Content-Type": "text/plain; charset=utf-8" } });
  }
}

// Only a page the person's script already keeps is refreshed, never one added: what a device keeps
// is the bundle's list of the person's work (a viewer's visits, say, are never stored).
async function refreshKept(path, copy) {
  const cache = await caches.open(OFFLINE_PAGES);
  if (!await cache.match(path, { ignoreVary: true })) return;
  // Without its Vary: Cookie (the cache is one person's; see ignoreVary below).
  const headers = new Headers(copy.headers);
  headers.delete("Vary");
  await cache.put(path, new Response(await copy.blob(), { status: copy.status, statusText: copy.statusText, headers }));
}

async function staticFromCache(request) {
  const cache = await caches.open(OFFLINE_STATIC);
  const kept = await cache.match(request, { ignoreSearch: true });
  const fresh = fetch(request).then((response) => {
    if (response.ok) cache.put(request, response.clone());
    return response;
  });
  if (kept) {
    fresh.catch(() => undefined); // offline: the kept copy answers
    return kept;
  }
  return fresh;
}
