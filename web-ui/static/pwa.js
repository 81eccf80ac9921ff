// The installable dashboard: registers the service worker (/sw.js, which keeps the
// shell and an offline page for when the control plane cannot be reached) and,
// on the offline page, tries again on a click or when the network comes back.
// Writes no markup.
(function () {
  "use strict";

  if ("serviceWorker" in navigator) {
    window.addEventListener("load", function () {
      navigator.serviceWorker.register("/sw.js", { scope: "/" }).catch(function (error) {
        console.warn("the offline shell is not available:", error);
      });
    });
  }

  var retry = document.querySelector("[data-reload]");
  if (retry) {
    retry.addEventListener("click", function () {
      window.location.reload();
    });
    window.addEventListener("online", function () {
      window.location.reload();
    });
  }
})();
