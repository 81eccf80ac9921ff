// Claude Ops: a running session's "Waiting for a human" card, kept current.
//
// While the session runs, a change of its site (an approval request or a
// decision records an event; the session's end is a session change) fetches
// the page again and swaps the card, at most every 1.5 s and never while a
// button in it has the focus. Once the fetched page says the session has
// ended, one last swap shows how its requests ended, and it stops listening.
//
// The fetched page is our own, parsed by DOMParser (its scripts do not run),
// and only the card's nodes are adopted. Kept out of session.js, which shows
// the model's output and never parses markup.
(function () {
  "use strict";

  const card = document.querySelector("[data-approvals]");
  const log = document.getElementById("activity");
  if (!card || !log || log.dataset.status !== "running" || typeof window.EventSource !== "function") return;

  const site = card.dataset.site;
  let timer = null;
  const changes = new EventSource("/api/v1/changes");

  function refresh() {
    timer = null;
    if (card.contains(document.activeElement)) {
      timer = window.setTimeout(refresh, 1500);
      return;
    }
    fetch(window.location.href, { credentials: "same-origin", headers: { "Accept": "text/html" } })
      .then(function (r) {
        if (r.redirected || !r.ok) throw new Error("status " + r.status);
        return r.text();
      })
      .then(function (html) {
        const doc = new DOMParser().parseFromString(html, "text/html");
        const fresh = doc.querySelector("[data-approvals]");
        if (fresh) {
          const nodes = Array.from(fresh.childNodes).map(function (n) {
            return document.adoptNode(n);
          });
          card.replaceChildren.apply(card, nodes);
        }
        const status = doc.getElementById("activity");
        if (status && status.dataset.status !== "running") changes.close();
      })
      .catch(function () {
        // The next change tries again.
      });
  }

  changes.addEventListener("change", function (e) {
    let change = {};
    try {
      change = JSON.parse(e.data) || {};
    } catch (_) {
      return;
    }
    if (["event", "session", "all"].indexOf(change.kind) < 0) return;
    if (change.site && site && change.site !== site) return;
    if (timer === null) timer = window.setTimeout(refresh, 1500);
  });
})();
