// The phone app's service worker (served at /field/sw.js, scope /field/): the app opens with no signal.
// - The app shell (styles, scripts, icons, the offline page) is precached at installation, each file with its
//   content hash: a release with a changed file replaces it the next time the phone is online.
// - The app's pages (home, my points, their report forms, the outbox) go to the network first and fall back to the
//   copy cached the last time they were fetched; a page never fetched shows the offline page. The home page's
//   script fetches every point's pages ahead, so the cards are there before the monitor walks out of signal.
// - The outbox (IndexedDB, the same script as the pages') is sent from here too when the browser fires a
//   Background Sync: the signal came back while the app was closed or the phone in a pocket.
// Workbox's modules load from the app's own vendored copy, never from a CDN.
/* global workbox, Outbox */
importScripts("/field/static/vendor/workbox/workbox-sw.js", "/field/static/vendor/idb/idb.umd.js",
              "/field/static/outbox.js");
workbox.setConfig({modulePathPrefix: "/field/static/vendor/workbox/", debug: false});

// Loaded while the script first runs: a service worker may not import scripts later.
workbox.loadModule("workbox-core");
workbox.loadModule("workbox-routing");
workbox.loadModule("workbox-strategies");
workbox.loadModule("workbox-precaching");

var PAGES = "field-pages";
// A weak signal that answers nothing for this long is no signal: show the cached copy.
var NETWORK_TIMEOUT_S = 4;

workbox.core.clientsClaim();
self.skipWaiting();
workbox.precaching.precacheAndRoute(self.__SHELL);
workbox.precaching.cleanupOutdatedCaches();

// Only the app's own pages as they were served are kept: not a redirect to the activation page (a revoked phone),
// not an error page, so a moment without a session never replaces the cards the monitor needs offline.
var onlyPages = {
  cacheWillUpdate: function (options) {
    var response = options.response;
    return response && response.status === 200 && response.type === "basic" && !response.redirected ?
      response : null;
  }
};
var pages = new workbox.strategies.NetworkFirst({
  cacheName: PAGES, networkTimeoutSeconds: NETWORK_TIMEOUT_S, plugins: [onlyPages]
});
// A point's report form is one page for all its tasks (the task is read from ?task= by the page's script).
var reportForms = new workbox.strategies.NetworkFirst({
  cacheName: PAGES, networkTimeoutSeconds: NETWORK_TIMEOUT_S, plugins: [onlyPages], matchOptions: {ignoreSearch: true}
});

function isPage(url, request) {
  return request.method === "GET" && url.origin === self.location.origin &&
    url.pathname.indexOf("/field/") === 0 && url.pathname.indexOf("/field/static/") !== 0 &&
    url.pathname.indexOf("/field/activate") !== 0 && url.pathname.indexOf("/field/language/") !== 0 &&
    url.pathname !== "/field/sw.js";
}

workbox.routing.registerRoute(function (options) {
  return isPage(options.url, options.request) && /^\/field\/points\/[^/]+\/report$/.test(options.url.pathname);
}, reportForms);
workbox.routing.registerRoute(function (options) { return isPage(options.url, options.request); }, pages);

// A page neither the network nor the cache can give: the precached offline page.
workbox.routing.setCatchHandler(function (options) {
  if (options.request.destination === "document") {
    return workbox.precaching.matchPrecache("/field/offline");
  }
  return Response.error();
});

// The pages ask for a sync whenever a report waits. Failing the event (a report kept for later) makes the browser
// try again later, with its own back-off, for as long as it allows.
self.addEventListener("sync", function (event) {
  if (event.tag !== "outbox") { return; }
  event.waitUntil(Outbox.flush().then(function (summary) {
    if (summary.kept) { throw new Error(summary.kept + " report(s) still waiting"); }
  }));
});
