// The dashboard's service worker, served at /sw.js so that its scope is the whole
// dashboard. It keeps the shell (stylesheet, scripts, icons, manifest) and the
// offline page in a cache named after the assets' version, and answers:
//
// - shell files from the cache first (their URLs carry the version), else the
//   network;
// - pages from the network, always: a page holds the login's CSRF token, so no
//   page is ever cached; when the network fails, the offline page instead;
// - nothing else: the API, server-sent event streams, metrics and every non-GET
//   request go to the network untouched and are never cached.
"use strict";

const VERSION = "__CLAUDEOPS_ASSET_VERSION__";
const CACHE = "claudeops-shell-" + VERSION + "-__CLAUDEOPS_BUILD__";
const OFFLINE = "/offline";
const ROOT_SHELL = ["/favicon.ico", "/favicon.svg", "/apple-touch-icon.png", "/apple-touch-icon-precomposed.png"];
const SHELL = [
  OFFLINE,
  "/static/app.css?v=" + VERSION,
  "/static/pwa.js?v=" + VERSION,
  "/static/session.js?v=" + VERSION,
  "/static/live.js?v=" + VERSION,
  "/static/approvals.js?v=" + VERSION,
  "/static/logo.svg?v=" + VERSION,
  "/static/manifest.webmanifest?v=" + VERSION,
  "/static/icon-192.png",
  "/static/icon-512.png",
  "/favicon.ico",
  "/apple-touch-icon.png",
];

self.addEventListener("install", function (event) {
  event.waitUntil(
    caches
      .open(CACHE)
      .then(function (cache) {
        return cache.addAll(SHELL);
      })
      .then(function () {
        return self.skipWaiting();
      })
  );
});

self.addEventListener("activate", function (event) {
  event.waitUntil(
    caches
      .keys()
      .then(function (keys) {
        return Promise.all(
          keys
            .filter(function (key) {
              return key.indexOf("claudeops-") === 0 && key !== CACHE;
            })
            .map(function (key) {
              return caches.delete(key);
            })
        );
      })
      .then(function () {
        return self.clients.claim();
      })
  );
});

function isShell(url) {
  return url.pathname.indexOf("/static/") === 0 || ROOT_SHELL.indexOf(url.pathname) !== -1;
}

self.addEventListener("fetch", function (event) {
  const request = event.request;
  if (request.method !== "GET") {
    return;
  }
  const url = new URL(request.url);
  if (url.origin !== self.location.origin) {
    return;
  }
  if (isShell(url)) {
    event.respondWith(
      caches.open(CACHE).then(function (cache) {
        return cache.match(request).then(function (hit) {
          return hit || fetch(request);
        });
      })
    );
    return;
  }
  if (request.mode === "navigate") {
    event.respondWith(
      fetch(request).catch(function () {
        return caches.open(CACHE).then(function (cache) {
          return cache.match(OFFLINE).then(function (hit) {
            return hit || Response.error();
          });
        });
      })
    );
  }
});
