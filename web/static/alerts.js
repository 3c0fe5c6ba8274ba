// The alert feed refreshes its rows every 15 s (server-rendered, in the page's language) without a reload.
// Pauses while the tab is hidden; a failed fetch is retried at the next tick.
(function () {
  "use strict";
  var body = document.getElementById("alert-rows");
  if (!body) return;
  var url = body.getAttribute("data-refresh");
  var EVERY = 15000;
  function refresh() {
    if (document.hidden) return;
    if (body.querySelector("form:focus-within")) return; // do not pull the button from under a click
    fetch(url, { credentials: "same-origin", headers: { "Accept": "text/html" } })
      .then(function (r) { return r.ok ? r.text() : Promise.reject(r.status); })
      .then(function (html) { body.innerHTML = html; })
      .catch(function () { /* next tick */ });
  }
  setInterval(refresh, EVERY);
  document.addEventListener("visibilitychange", function () { if (!document.hidden) refresh(); });
})();
