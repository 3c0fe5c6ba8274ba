// Live updates for area, wall and camera pages over /ws?area=PATH. Vanilla JS, no libraries.
// Tiles are elements with data-camera="PATH"; their texts are children with data-field="...";
// counts are elements with data-counts="AREA" whose children with data-k="online" etc. hold the numbers;
// snapshots are <img data-snap="T"> whose src/srcset carry ?t=T (a new snapshot is a new URL).
// The socket is told which cameras are on screen ({"type": "watch"}), so it sends snapshot news for those
// only, batched. Other scripts (wall.js) get "cctv:status" / "cctv:motion" events and send "cctv:tiles" when
// they change the tiles on the page.
(function () {
  "use strict";
  var main = document.querySelector("main[data-ws-area]");
  if (!main) return;
  var area = main.getAttribute("data-ws-area") || "";
  var indicator = document.getElementById("live-indicator");
  var STATES = ["online", "degraded", "offline"];
  var backoff = 1000;
  var MAX_BACKOFF = 30000;
  var STUCK_MS = 15000; // a snapshot load that never ended does not block the next one longer than this
  var socket = null;
  var stopped = false;

  function setLive(up) {
    if (!indicator) return;
    indicator.hidden = false;
    indicator.textContent = indicator.getAttribute(up ? "data-on" : "data-off");
    indicator.classList.toggle("up", up);
    indicator.classList.toggle("down", !up);
  }

  // Retrying cannot help: say why on the page and stop.
  function stop(textAttr) {
    stopped = true;
    setLive(false);
    if (indicator) indicator.textContent = main.getAttribute(textAttr) || "";
    var banner = document.createElement("p");
    banner.className = "live-banner";
    banner.setAttribute("role", "alert");
    banner.setAttribute("data-live-stopped", textAttr);
    banner.textContent = main.getAttribute(textAttr) || "";
    main.insertBefore(banner, main.firstChild);
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

  function setState(el, state) {
    STATES.forEach(function (s) { el.classList.remove("state-" + s); });
    el.classList.add("state-" + state);
    if (state === "offline") el.classList.remove("has-motion");
  }

  function onStatus(m) {
    cameraEls(m.camera).forEach(function (el) {
      setState(el, m.state);
      setField(el, "state_label", m.state_label);
      setField(el, "reason_text", m.reason_text);
      setField(el, "since_text", m.since_text);
    });
  }

  // counts of the area and of the children that changed (at most once a second); hello and resync carry all
  function onCounts(m) {
    if (m.counts) setCounts(area, m.counts);
    Object.keys(m.child_counts || {}).forEach(function (p) { setCounts(p, m.child_counts[p]); });
  }

  // hello / resync: the whole picture again (after a reconnect, or when the server had to drop messages)
  function onSnapshotOfArea(m) {
    onCounts(m);
    Object.keys(m.cameras || {}).forEach(function (p) {
      var c = m.cameras[p];
      onStatus(c);
      emit("cctv:status", Object.assign({ type: "status" }, c));
      if (c.motion !== undefined) onMotion(c);
      if (c.snapshot_ms) onSnapshot(p, c.snapshot_ms);
    });
  }

  // -- snapshots: one load at a time per picture; a newer version waits for the current load to end --------
  function withVersion(url, t) { return url.replace(/([?&]t=)\d+/g, "$1" + t); }

  function snap(img, t) {
    t = String(t);
    if (img.getAttribute("data-snap") === t && !img.classList.contains("missing")) return;
    var since = +img.getAttribute("data-loading") || 0;
    if (since && Date.now() - since < STUCK_MS) { img.setAttribute("data-next", t); return; }
    img.setAttribute("data-snap", t);
    img.setAttribute("data-loading", String(Date.now()));
    var srcset = img.getAttribute("srcset");
    if (srcset) img.setAttribute("srcset", withVersion(srcset, t));
    img.setAttribute("src", withVersion(img.getAttribute("src"), t));
  }

  function loaded(img) {
    img.removeAttribute("data-loading");
    var next = img.getAttribute("data-next");
    if (next) { img.removeAttribute("data-next"); snap(img, next); }
  }

  // Hide broken snapshots (no picture yet) so the placeholder shows; show them again once one loads.
  function watchImage(img) {
    if (img.hasAttribute("data-watched")) return;
    img.setAttribute("data-watched", "");
    img.addEventListener("error", function () { img.classList.add("missing"); loaded(img); });
    img.addEventListener("load", function () { img.classList.remove("missing"); loaded(img); });
    if (img.complete && img.naturalWidth === 0 && img.getAttribute("loading") !== "lazy") img.classList.add("missing");
  }
  function watchImages() { document.querySelectorAll("img[data-snap]").forEach(watchImage); }
  watchImages();

  function onSnapshot(camera, t) {
    cameraEls(camera).forEach(function (el) {
      el.querySelectorAll("img[data-snap]").forEach(function (img) { snap(img, t); });
    });
  }

  function onMotion(m) {
    cameraEls(m.camera).forEach(function (el) { el.classList.toggle("has-motion", !!m.motion); });
  }

  // -- which cameras are on screen ------------------------------------------------------------------------
  var watchTimer = null;
  function sendWatch() {
    watchTimer = null;
    if (!socket || socket.readyState !== WebSocket.OPEN) return;
    var seen = {};
    document.querySelectorAll("[data-camera]").forEach(function (el) {
      var p = el.getAttribute("data-camera");
      if (p) seen[p] = true;
    });
    socket.send(JSON.stringify({ type: "watch", cameras: Object.keys(seen) }));
  }
  document.addEventListener("cctv:tiles", function () {
    watchImages();
    if (!watchTimer) watchTimer = setTimeout(sendWatch, 100);
  });

  function emit(name, m) { document.dispatchEvent(new CustomEvent(name, { detail: m })); }

  // A socket that never opened: the area may be gone (404) or the session over (401); ask once.
  function probe() {
    var url = area ? "/api/areas/" + area.split("/").map(encodeURIComponent).join("/") : "/api/areas";
    return fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (r) { return r.status; }, function () { return 0; });
  }

  function connect() {
    if (stopped) return;
    var proto = location.protocol === "https:" ? "wss:" : "ws:";
    var ws = new WebSocket(proto + "//" + location.host + "/ws?area=" + encodeURIComponent(area));
    var opened = false;
    var seq = 0; // every server message carries the socket's next sequence number; a gap asks for a resync
    socket = ws;
    ws.onopen = function () { opened = true; backoff = 1000; setLive(true); sendWatch(); };
    ws.onmessage = function (ev) {
      var m;
      try { m = JSON.parse(ev.data); } catch (e) { return; }
      if (typeof m.seq === "number") {
        if (seq && m.seq !== seq + 1 && m.type !== "resync") ws.send(JSON.stringify({ type: "resync" }));
        seq = m.seq;
      }
      if (m.type === "hello" || m.type === "resync") { onSnapshotOfArea(m); }
      else if (m.type === "counts") { onCounts(m); }
      else if (m.type === "status") { onStatus(m); emit("cctv:status", m); }
      else if (m.type === "snapshot") { onSnapshot(m.camera, m.t_ms); }
      else if (m.type === "snapshots") {
        Object.keys(m.cameras || {}).forEach(function (p) { onSnapshot(p, m.cameras[p]); });
      }
      else if (m.type === "motion") { onMotion(m); emit("cctv:motion", m); }
    };
    ws.onclose = function () {
      socket = null;
      setLive(false);
      if (stopped) return;
      var retry = function () {
        var wait = backoff + Math.random() * backoff * 0.3;
        backoff = Math.min(backoff * 2, MAX_BACKOFF);
        setTimeout(connect, wait);
      };
      if (opened) { retry(); return; }
      probe().then(function (status) {
        if (status === 404) stop("data-live-gone");
        else if (status === 401) stop("data-live-logged-out");
        else retry();
      });
    };
  }

  window.cctvLive = { snap: snap, watchImages: watchImages };
  connect();
})();
