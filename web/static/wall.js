// The tile wall (wall.html) and the area page's grid (area.html): keeps the tiles attention-first while
// states change, and on the wall: grid size (2x2..8x8, cookie wall_grid), paging, auto-cycling (cookie
// wall_cycle) and full screen. The order comes from the server (/api/wall, cctv/status/attention.py); colours do
// not wait for it: live.js sets them from the WebSocket message the moment it arrives.
(function () {
  "use strict";
  var grid = document.querySelector("[data-wall]");
  if (!grid) return;
  var area = grid.getAttribute("data-area") || "";
  var page = +grid.getAttribute("data-page") || 1;
  var pages = +grid.getAttribute("data-pages") || 1;
  var perPage = +grid.getAttribute("data-per-page") || 16;
  var n = +grid.getAttribute("data-grid-n") || 0; // 0: the area page's responsive grid, no controls
  var cycleS = +grid.getAttribute("data-cycle") || 0;
  var proto = grid.querySelector(".tile");
  proto = proto ? proto.cloneNode(true) : null; // new tiles are copies of a tile of the page, refilled
  var RESORT_MS = 1500; // state changes within this are one re-sort
  var YEAR_S = 365 * 24 * 3600;

  function setCookie(name, value) {
    document.cookie = name + "=" + value + "; Max-Age=" + YEAR_S + "; Path=/; SameSite=Lax";
  }
  function all(sel) { return Array.prototype.slice.call(document.querySelectorAll(sel)); }

  function showPage() {
    all("[data-wall-page]").forEach(function (el) { el.textContent = page; });
    all("[data-wall-pages]").forEach(function (el) { el.textContent = pages; });
    grid.setAttribute("data-page", page);
    grid.setAttribute("data-pages", pages);
    var prev = page > 1 ? page - 1 : pages;
    var next = page < pages ? page + 1 : 1;
    all("[data-wall-prev]").forEach(function (a) { a.setAttribute("href", "?grid=" + n + "&page=" + prev); });
    all("[data-wall-next]").forEach(function (a) { a.setAttribute("href", "?grid=" + n + "&page=" + next); });
    if (n && history.replaceState) history.replaceState(null, "", "?page=" + page);
  }

  // -- tiles from /api/wall, reusing the elements (and loaded pictures) of cameras already on the page ----
  var STATES = ["online", "degraded", "offline"];
  function fill(el, t) {
    el.setAttribute("data-camera", t.path);
    el.setAttribute("href", "/camera/" + t.path);
    STATES.forEach(function (s) { el.classList.remove("state-" + s); });
    el.classList.add("state-" + t.state);
    el.classList.toggle("has-motion", !!t.motion);
    ["name", "state_label", "reason_text", "since_text"].forEach(function (k) {
      el.querySelectorAll('[data-field="' + k + '"]').forEach(function (f) { f.textContent = t[k]; });
    });
  }
  function newTile(t) {
    var el = proto.cloneNode(true);
    var img = el.querySelector("img[data-snap]");
    var old = proto.getAttribute("data-camera");
    if (img) {
      var v = String(t.snapshot_ms || 0);
      var swap = function (url) {
        return url.split("/snapshot/" + old + ".jpg").join("/snapshot/" + t.path + ".jpg").replace(/([?&]t=)\d+/g, "$1" + v);
      };
      img.removeAttribute("data-watched");
      img.removeAttribute("data-loading");
      img.removeAttribute("data-next");
      img.classList.remove("missing");
      img.setAttribute("alt", t.name);
      if (img.getAttribute("srcset")) img.setAttribute("srcset", swap(img.getAttribute("srcset"))); // before src
      img.setAttribute("src", swap(img.getAttribute("src")));
      img.setAttribute("data-snap", v);
    }
    return el;
  }
  function render(d) {
    page = d.page;
    pages = d.pages;
    var have = {};
    Array.prototype.forEach.call(grid.children, function (el) { have[el.getAttribute("data-camera")] = el; });
    var els = d.tiles.map(function (t) {
      var el = have[t.path] || (proto && newTile(t));
      if (!el) return null;
      fill(el, t);
      return el;
    }).filter(Boolean);
    var same = els.length === grid.children.length && els.every(function (el, i) { return grid.children[i] === el; });
    if (!same) grid.replaceChildren.apply(grid, els);
    document.dispatchEvent(new CustomEvent("cctv:tiles"));
    els.forEach(function (el, i) {
      var img = el.querySelector("img[data-snap]");
      if (img && window.cctvLive) window.cctvLive.snap(img, d.tiles[i].snapshot_ms || 0);
    });
    showPage();
    fitImages();
  }

  var inflight = false, again = false;
  function load(p) {
    if (inflight) { again = true; return; }
    inflight = true;
    var url = "/api/wall?area=" + encodeURIComponent(area) + "&page=" + p + "&per_page=" + perPage;
    fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (r) { return r.ok ? r.json() : Promise.reject(r.status); })
      .then(render)
      .catch(function () { /* live.js says when the link or the session is gone */ })
      .then(function () {
        inflight = false;
        if (again) { again = false; load(page); }
      });
  }
  function go(p) { page = p; load(p); }

  var resortTimer = null;
  function resortSoon() {
    if (resortTimer) return;
    resortTimer = setTimeout(function () { resortTimer = null; load(page); }, RESORT_MS);
  }
  document.addEventListener("cctv:status", resortSoon);
  document.addEventListener("cctv:motion", resortSoon);

  // The picture each tile asks for: as wide as the tile is drawn (the browser picks from srcset).
  function fitImages() {
    var first = grid.querySelector(".tile");
    if (!first) return;
    var px = Math.ceil(first.getBoundingClientRect().width);
    if (px > 0) grid.querySelectorAll("img[data-snap]").forEach(function (img) { img.setAttribute("sizes", px + "px"); });
  }
  window.addEventListener("resize", fitImages);
  fitImages();

  if (!n) return; // the area page: no controls below

  // -- grid size -------------------------------------------------------------------------------------------
  var gridSelect = document.querySelector("[data-wall-grid]");
  if (gridSelect) gridSelect.addEventListener("change", function () {
    var first = (page - 1) * perPage; // keep the first tile on screen in view
    n = +gridSelect.value;
    perPage = n * n;
    setCookie("wall_grid", n);
    grid.setAttribute("data-grid-n", n);
    grid.setAttribute("data-per-page", perPage);
    grid.style.setProperty("--n", n);
    go(Math.floor(first / perPage) + 1);
  });

  // -- paging and auto-cycling -----------------------------------------------------------------------------
  all("[data-wall-prev]").forEach(function (a) {
    a.addEventListener("click", function (ev) { ev.preventDefault(); go(page > 1 ? page - 1 : pages); restartCycle(); });
  });
  all("[data-wall-next]").forEach(function (a) {
    a.addEventListener("click", function (ev) { ev.preventDefault(); go(page < pages ? page + 1 : 1); restartCycle(); });
  });
  var cycleTimer = null;
  function restartCycle() {
    if (cycleTimer) clearInterval(cycleTimer);
    cycleTimer = cycleS > 0 ? setInterval(function () { go(page < pages ? page + 1 : 1); }, cycleS * 1000) : null;
  }
  var cycleSelect = document.querySelector("[data-wall-cycle]");
  if (cycleSelect) cycleSelect.addEventListener("change", function () {
    cycleS = +cycleSelect.value;
    setCookie("wall_cycle", cycleS);
    restartCycle();
  });
  restartCycle();

  // -- full screen: the Fullscreen API where the browser allows it, and a layout without chrome either way --
  var root = document.documentElement;
  function kiosk(on) {
    root.classList.toggle("wall-kiosk", on);
    fitImages();
  }
  var fsButton = document.querySelector("[data-wall-fullscreen]");
  if (fsButton) fsButton.addEventListener("click", function () {
    kiosk(true);
    if (root.requestFullscreen) root.requestFullscreen().catch(function () { /* the layout alone will do */ });
  });
  document.addEventListener("fullscreenchange", function () { kiosk(!!document.fullscreenElement); });
  function leave() {
    if (document.fullscreenElement) document.exitFullscreen();
    kiosk(false);
  }
  all("[data-wall-exit]").forEach(function (b) { b.addEventListener("click", leave); });
  document.addEventListener("keydown", function (ev) {
    if (ev.key === "Escape" && root.classList.contains("wall-kiosk")) leave();
  });
  showPage();
})();
