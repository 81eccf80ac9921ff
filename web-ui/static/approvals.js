// Claude Ops: a running session's "Waiting for a human" card, kept current.
//
// While the session runs, its approval requests are read every 4 s
// (`/api/v1/approvals?session_id=`, a small JSON answer; no connection is held
// open, so a page with a live log and this card take one of the browser's few
// connections per host, not two). When a request appears or is decided, the
// page is fetched again and only the card is swapped, never while a button in
// it has the focus. When session.js says the session ended, one last look
// shows how its requests ended, and the reading stops.
//
// The fetched page is our own, parsed by DOMParser (its scripts do not run),
// and only the card's nodes are adopted. Kept out of session.js, which shows
// the model's output and never parses markup.
(function () {
  "use strict";

  const card = document.querySelector("[data-approvals]");
  const log = document.getElementById("activity");
  if (!card || !log || log.dataset.status !== "running") return;

  const session = log.dataset.session;
  const EVERY_MS = 4000;
  let busy = false;

  function shown() {
    return Array.from(card.querySelectorAll("[data-approval]"))
      .map(function (li) {
        return li.dataset.approval + ":" + li.dataset.status;
      })
      .join(",");
  }

  function swap() {
    return fetch(window.location.href, { credentials: "same-origin", headers: { "Accept": "text/html" } })
      .then(function (r) {
        if (r.redirected || !r.ok) throw new Error("status " + r.status);
        return r.text();
      })
      .then(function (html) {
        const fresh = new DOMParser().parseFromString(html, "text/html").querySelector("[data-approvals]");
        if (!fresh) return;
        const nodes = Array.from(fresh.childNodes).map(function (n) {
          return document.adoptNode(n);
        });
        card.replaceChildren.apply(card, nodes);
      });
  }

  function check() {
    if (busy || document.hidden || card.contains(document.activeElement)) return;
    busy = true;
    fetch("/api/v1/approvals?limit=50&session_id=" + encodeURIComponent(session), {
      credentials: "same-origin",
      headers: { "Accept": "application/json" },
    })
      .then(function (r) {
        if (!r.ok) throw new Error("status " + r.status);
        return r.json();
      })
      .then(function (body) {
        const list = Array.isArray(body && body.approvals) ? body.approvals : [];
        const now = list
          .map(function (a) {
            return a.id + ":" + a.status;
          })
          .join(",");
        return now === shown() ? null : swap();
      })
      .catch(function () {
        // The next look tries again.
      })
      .finally(function () {
        busy = false;
      });
  }

  const timer = window.setInterval(check, EVERY_MS);
  document.addEventListener("claudeops:session-ended", function () {
    window.clearInterval(timer);
    window.setTimeout(check, 1500);
  });
})();
