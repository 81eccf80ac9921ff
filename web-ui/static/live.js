// Claude Ops: pages that update themselves (overview, sites, events, health,
// incidents).
//
// Listens to /api/v1/changes (server-sent events: `change`, data {seq, kind,
// site}). On a notice the page fetches itself again and swaps the content of
// <main>: at most once a second, never while the viewer types in a field of
// the page (it waits for them to leave it), keeping the scroll position, the
// focused element and the open <details> by id. The sidebar shows the state
// in words: "Live", "Reconnecting…", "Offline".
//
// Nothing from the server is parsed as script: the fetched page is parsed by
// DOMParser (scripts in it do not run) and only <main>'s nodes are adopted.
(function () {
  "use strict";

  const main = document.getElementById("main");
  const stateEl = document.querySelector("[data-live-state]");
  if (!main || !main.hasAttribute("data-live") || typeof window.EventSource !== "function") return;

  const MIN_GAP_MS = 1000;
  let lastRefresh = 0;
  let timer = null;
  let inFlight = false;
  let wanted = false;
  let source = null;
  let retryMs = 1000;

  function show(text, kind) {
    if (!stateEl) return;
    stateEl.hidden = false;
    stateEl.className = "live-state live-" + kind;
    const label = stateEl.querySelector("[data-live-label]");
    if (label && label.textContent !== text) label.textContent = text;
  }

  function typing() {
    const a = document.activeElement;
    if (!a || !main.contains(a)) return false;
    const tag = a.tagName;
    return tag === "INPUT" || tag === "TEXTAREA" || tag === "SELECT" || a.isContentEditable;
  }

  function schedule() {
    wanted = true;
    if (timer !== null || inFlight) return;
    const wait = Math.max(0, lastRefresh + MIN_GAP_MS - Date.now());
    timer = window.setTimeout(function () {
      timer = null;
      refresh();
    }, wait);
  }

  function refresh() {
    if (!wanted) return;
    if (document.hidden || typing()) return; // picked up on visibility or focusout
    wanted = false;
    inFlight = true;
    lastRefresh = Date.now();
    fetch(window.location.href, { credentials: "same-origin", headers: { "Accept": "text/html" } })
      .then(function (r) {
        if (r.redirected || !r.ok) throw new Error("status " + r.status);
        return r.text();
      })
      .then(swap)
      .catch(function () {
        show("Offline: could not refresh", "offline");
      })
      .finally(function () {
        inFlight = false;
        if (wanted) schedule();
      });
  }

  function swap(html) {
    const doc = new DOMParser().parseFromString(html, "text/html");
    const fresh = doc.getElementById("main");
    if (!fresh) return;
    const focusedId = document.activeElement && main.contains(document.activeElement) ? document.activeElement.id : "";
    const open = new Set();
    main.querySelectorAll("details[open][id]").forEach(function (d) {
      open.add(d.id);
    });
    const x = window.scrollX;
    const y = window.scrollY;
    const nodes = Array.from(fresh.childNodes).map(function (n) {
      return document.adoptNode(n);
    });
    main.replaceChildren.apply(main, nodes);
    open.forEach(function (id) {
      const d = document.getElementById(id);
      if (d && d.tagName === "DETAILS") d.open = true;
    });
    if (focusedId) {
      const f = document.getElementById(focusedId);
      if (f) f.focus({ preventScroll: true });
    }
    window.scrollTo(x, y);
    main.dispatchEvent(new CustomEvent("claudeops:refreshed", { bubbles: true }));
  }

  function connect() {
    source = new EventSource("/api/v1/changes");
    source.addEventListener("open", function () {
      show("Live", "on");
      if (retryMs > 1000) schedule(); // back after a gap: catch up on what was missed
      retryMs = 1000;
    });
    source.addEventListener("change", schedule);
    source.addEventListener("error", function () {
      if (source.readyState === EventSource.CLOSED) {
        // The browser gave up (e.g. an error answer): try again with backoff.
        show("Offline: retrying in " + Math.round(retryMs / 1000) + " s", "offline");
        window.setTimeout(connect, retryMs);
        retryMs = Math.min(retryMs * 2, 30000);
      } else {
        show("Reconnecting…", "retry");
        retryMs = Math.max(retryMs, 2000);
      }
    });
  }

  document.addEventListener("visibilitychange", function () {
    if (!document.hidden && wanted) schedule();
  });
  main.addEventListener("focusout", function () {
    if (wanted) window.setTimeout(schedule, 0);
  });
  window.addEventListener("pagehide", function () {
    if (source) source.close();
  });

  show("Connecting…", "retry");
  connect();
})();
