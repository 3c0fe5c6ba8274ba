// Server-rendered parts that keep themselves current without a reload: every element with data-refresh="URL"
// re-fetches its HTML from URL every data-every ms (in the page's language) — the alert feed's rows, the node
// alert banner on every page. Paused while the tab is hidden (and refreshed when it shows again); skipped while
// a form inside has focus, so a button is not pulled from under a click; a failed fetch waits for the next tick.
(function () {
  "use strict";
  function keepFresh(el) {
    var url = el.getAttribute("data-refresh");
    var every = parseInt(el.getAttribute("data-every"), 10) || 30000;
    function refresh() {
      if (document.hidden || el.querySelector("form:focus-within")) return;
      fetch(url, { credentials: "same-origin", headers: { "Accept": "text/html" } })
        .then(function (r) { return r.ok ? r.text() : Promise.reject(r.status); })
        .then(function (html) { if (el.innerHTML !== html) el.innerHTML = html; })
        .catch(function () { /* next tick */ });
    }
    setInterval(refresh, every);
    document.addEventListener("visibilitychange", function () { if (!document.hidden) refresh(); });
  }
  document.querySelectorAll("[data-refresh]").forEach(keepFresh);
})();
