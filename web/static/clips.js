// Export progress on a clip request's page: polls /api/clips/ID every second while the request is exporting,
// updates the bar, and reloads the page once the state changes (ready, or back to approved after a failure).
(function () {
  "use strict";
  const m = location.pathname.match(/^\/clips\/(\d+)$/);
  const badge = document.querySelector("[data-clip-state]");
  if (!m || !badge) return;
  const bar = document.querySelector("[data-progress] progress");
  const text = document.querySelector("[data-progress-text]");
  let delay = 1000;

  async function poll() {
    try {
      const r = await fetch(`/api/clips/${m[1]}`, { credentials: "same-origin", headers: { Accept: "application/json" } });
      if (r.status === 401 || r.status === 403 || r.status === 404) return; // logged out or gone: stop
      if (r.ok) {
        const body = await r.json();
        if (body.state !== badge.dataset.clipState) {
          location.reload();
          return;
        }
        if (bar) bar.value = body.progress_pct;
        if (text) text.textContent = `${body.progress_pct}%`;
        delay = 1000;
      } else {
        delay = Math.min(delay * 2, 15000);
      }
    } catch (_err) {
      delay = Math.min(delay * 2, 15000); // network trouble: back off, keep trying
    }
    setTimeout(poll, delay);
  }
  setTimeout(poll, delay);
})();
