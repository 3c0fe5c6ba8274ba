// The node alert banner (disk full, nearly full) refreshes every 30 s, server-rendered in the page's language,
// so a page left open — the tile wall above all — learns of it without a reload. Paused while the tab is hidden.
(function () {
  "use strict";
  var box = document.getElementById("node-banner");
  if (!box) return;
  var url = box.getAttribute("data-refresh");
  var EVERY = 30000;
  function refresh() {
    if (document.hidden) return;
    fetch(url, { credentials: "same-origin", headers: { "Accept": "text/html" } })
      .then(function (r) { return r.ok ? r.text() : Promise.reject(r.status); })
      .then(function (html) { if (box.innerHTML !== html) box.innerHTML = html; })
      .catch(function () { /* next tick */ });
  }
  setInterval(refresh, EVERY);
  document.addEventListener("visibilitychange", function () { if (!document.hidden) refresh(); });
})();
