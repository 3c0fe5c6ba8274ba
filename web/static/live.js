// Live updates for area and camera pages over /ws?area=PATH. Vanilla JS, no libraries.
// Tiles are elements with data-camera="PATH"; their texts are children with data-field="...";
// counts are elements with data-counts="AREA" whose children with data-k="online" etc. hold the numbers.
(function () {
  "use strict";
  var main = document.querySelector("main[data-ws-area]");
  if (!main) return;
  var area = main.getAttribute("data-ws-area") || "";
  var indicator = document.getElementById("live-indicator");
  var STATES = ["online", "degraded", "offline"];
  var backoff = 1000;
  var MAX_BACKOFF = 30000;

  function setLive(up) {
    if (!indicator) return;
    indicator.hidden = false;
    indicator.textContent = indicator.getAttribute(up ? "data-on" : "data-off");
    indicator.classList.toggle("up", up);
    indicator.classList.toggle("down", !up);
  }

  function cameraEls(path) {
    return document.querySelectorAll('[data-camera="' + CSS.escape(path) + '"]');
  }

  function setField(el, name, value) {
    el.querySelectorAll('[data-field="' + name + '"]').forEach(function (f) { f.textContent = value; });
  }

  function setCounts(path, counts) {
    document.querySelectorAll('[data-counts="' + CSS.escape(path) + '"]').forEach(function (box) {
      Object.keys(counts).forEach(function (k) {
        var cell = box.querySelector('[data-k="' + k + '"]');
        if (cell) cell.textContent = counts[k];
      });
    });
  }

  function onStatus(m) {
    cameraEls(m.camera).forEach(function (el) {
      STATES.forEach(function (s) { el.classList.remove("state-" + s); });
      el.classList.add("state-" + m.state);
      if (m.state === "offline") el.classList.remove("has-motion");
      setField(el, "state_label", m.state_label);
      setField(el, "reason_text", m.reason_text);
      setField(el, "since_text", m.since_text);
    });
    if (m.counts) setCounts(area, m.counts);
    Object.keys(m.child_counts || {}).forEach(function (p) { setCounts(p, m.child_counts[p]); });
    scheduleGridRefresh();
  }

  // The grid is ordered attention-first and may be capped (the city shows at most 64 tiles), so a state
  // change can move a tile or bring in one that is not on the page. The server owns that order: fetch the
  // page again (debounced, so a burst of changes is one request) and swap in its grid.
  var grid = document.querySelector("[data-grid]");
  var refreshTimer = null;
  function scheduleGridRefresh() {
    if (!grid || refreshTimer) return;
    refreshTimer = setTimeout(refreshGrid, 1000);
  }
  function refreshGrid() {
    fetch(location.href, { credentials: "same-origin" })
      .then(function (r) { return r.ok ? r.text() : Promise.reject(r.status); })
      .then(function (html) {
        var fresh = new DOMParser().parseFromString(html, "text/html").querySelector("[data-grid]");
        if (fresh) {
          grid.replaceChildren.apply(grid, Array.prototype.slice.call(fresh.children));
          grid.querySelectorAll(".shot img").forEach(watchImage);
        }
      })
      .catch(function () { /* the socket's reconnect shows the link is down */ })
      .then(function () { refreshTimer = null; });
  }

  function onSnapshot(m) {
    cameraEls(m.camera).forEach(function (el) {
      el.querySelectorAll("img").forEach(function (img) {
        img.src = "/snapshot/" + m.camera + ".jpg?t=" + m.t_ms;
      });
    });
  }

  function onMotion(m) {
    cameraEls(m.camera).forEach(function (el) { el.classList.toggle("has-motion", !!m.motion); });
  }

  // Hide broken snapshots (no picture yet) so the placeholder shows; show them again once one loads.
  function watchImage(img) {
    img.addEventListener("error", function () { img.classList.add("missing"); });
    img.addEventListener("load", function () { img.classList.remove("missing"); });
    if (img.complete && img.naturalWidth === 0) img.classList.add("missing");
  }
  document.querySelectorAll(".shot img").forEach(watchImage);

  function connect() {
    var proto = location.protocol === "https:" ? "wss:" : "ws:";
    var ws = new WebSocket(proto + "//" + location.host + "/ws?area=" + encodeURIComponent(area));
    ws.onopen = function () { backoff = 1000; setLive(true); };
    ws.onmessage = function (ev) {
      var m;
      try { m = JSON.parse(ev.data); } catch (e) { return; }
      if (m.type === "hello") { setCounts(area, m.counts); }
      else if (m.type === "status") { onStatus(m); }
      else if (m.type === "snapshot") { onSnapshot(m); }
      else if (m.type === "motion") { onMotion(m); }
    };
    ws.onclose = function (ev) {
      setLive(false);
      if (ev.code === 4404) return; // the area does not exist: retrying will not help
      var wait = backoff + Math.random() * backoff * 0.3;
      backoff = Math.min(backoff * 2, MAX_BACKOFF);
      setTimeout(connect, wait);
    };
  }
  connect();
})();
