// Playback of recordings on the camera page (web/templates/_recordings.html).
//
// Asks /api/cameras/PATH/recordings?day= for a day's recorded spans and gaps; shows the section only when that
// answers (roles allowed to play back recordings, camera in scope). Draws the day as a bar: recorded spans over
// a hatched background (the gaps). A click on the bar, or the form (day, from, to), plays that range through
// the HLS VOD playlist /camera/PATH/vod.m3u8?start=&end= (stream copy: no re-encode): hls.js (vendored, loaded
// only when first needed) where Media Source Extensions exist, else the browser's own HLS (Safari on iOS).
// The player starts at the requested time (via #EXT-X-PROGRAM-DATE-TIME) and shows the wall-clock time of
// the picture; gaps are skipped (they are discontinuities in the playlist).
(function () {
  "use strict";
  const box = document.getElementById("recordings");
  if (!box) return;
  const cam = box.dataset.camera;
  const form = box.querySelector(".playback-controls");
  const bar = box.querySelector(".rec-timeline");
  const cursor = box.querySelector(".rec-cursor");
  const summary = box.querySelector(".rec-summary");
  const video = box.querySelector("video");
  const clockText = box.querySelector(".rec-now");
  const lang = document.documentElement.lang || "id";
  let day = null; // the answer of /api/cameras/PATH/recordings
  let hls = null;
  let hlsScript = null;

  function text(name, values) {
    let s = box.dataset[name] || "";
    for (const [k, v] of Object.entries(values || {})) s = s.replace(`{${k}}`, v);
    return s;
  }

  function fmt(ms, withSeconds) {
    // 14:05:09, as the server writes times (web/i18n.py: format_ms), in the site's time zone
    const opts = { timeZone: day.timezone, hour: "2-digit", minute: "2-digit", hourCycle: "h23" };
    if (withSeconds) opts.second = "2-digit";
    return new Intl.DateTimeFormat("en-GB", opts).format(new Date(ms));
  }

  function fmtDate(ms) {
    return new Date(ms).toLocaleDateString(lang, { timeZone: day.timezone, day: "numeric", month: "short", year: "numeric" });
  }

  function hours(ms) {
    const h = Math.floor(ms / 3600000);
    const m = Math.round((ms % 3600000) / 60000);
    return h ? `${h}h ${String(m).padStart(2, "0")}m` : `${m}m`;
  }

  async function load(dayText) {
    const q = dayText ? `?day=${encodeURIComponent(dayText)}` : "";
    let r;
    try {
      r = await fetch(`/api/cameras/${cam}/recordings${q}`, { credentials: "same-origin", headers: { Accept: "application/json" } });
    } catch (_err) {
      return;
    }
    if (!r.ok) {
      if (!day) box.hidden = true; // no right to recordings (403), out of scope (404), logged out (401)
      return;
    }
    day = await r.json();
    box.hidden = false;
    form.day.value = day.day;
    draw();
  }

  function draw() {
    for (const el of bar.querySelectorAll(".rec-span, .rec-full")) el.remove();
    const total = day.end_ms - day.start_ms;
    for (const f of day.disk_full || []) { // under the spans: it shows where nothing was recorded
      const el = document.createElement("span");
      el.className = "rec-full";
      el.style.left = `${((f.start_ms - day.start_ms) * 100) / total}%`;
      el.style.width = `${((f.end_ms - f.start_ms) * 100) / total}%`;
      el.title = `${text("tDiskFull")}: ${fmt(f.start_ms, true)} – ${fmt(f.end_ms, true)}`;
      bar.appendChild(el);
    }
    for (const s of day.spans) {
      const el = document.createElement("span");
      el.className = "rec-span";
      el.style.left = `${((s.start_ms - day.start_ms) * 100) / total}%`;
      el.style.width = `${((s.end_ms - s.start_ms) * 100) / total}%`;
      el.title = `${text("tRecorded")}: ${fmt(s.start_ms, true)} – ${fmt(s.end_ms, true)}`;
      bar.appendChild(el);
    }
    summary.textContent = (day.spans.length
      ? text("tSummary", { recorded: hours(day.recorded_ms), gaps: String(day.gaps.length) })
      : text("tNone")) + ((day.disk_full || []).length ? ` ${text("tDiskFullNote")}` : "");
  }

  function offsetOf(value) {
    const m = /^(\d{1,2}):(\d{2})(?::(\d{2}))?$/.exec(value || "");
    if (!m) return null;
    return ((+m[1] * 60 + +m[2]) * 60 + +(m[3] || 0)) * 1000; // the site's zones (WIB, WITA, WIT) have no DST
  }

  function ensureHls() {
    if (window.Hls) return Promise.resolve(window.Hls);
    if (!hlsScript) {
      hlsScript = new Promise((resolve, reject) => {
        const s = document.createElement("script");
        s.src = box.dataset.hls;
        s.onload = () => resolve(window.Hls);
        s.onerror = () => reject(new Error("hls.js did not load"));
        document.head.appendChild(s);
      });
    }
    return hlsScript;
  }

  function positionOf(fragments, startMs) {
    for (const f of fragments) {
      if (f.programDateTime == null) continue;
      if (startMs < f.programDateTime) return f.start; // the start lies in a gap: the next recording
      if (startMs < f.programDateTime + f.duration * 1000) return f.start + (startMs - f.programDateTime) / 1000;
    }
    return 0;
  }

  async function play(startMs, endMs) {
    if (!day || !(endMs > startMs)) return;
    const src = `/camera/${cam}/vod.m3u8?start=${Math.floor(startMs)}&end=${Math.ceil(endMs)}`;
    if (hls) {
      hls.destroy();
      hls = null;
    }
    clockText.textContent = "";
    let Hls = null;
    if (window.MediaSource || window.ManagedMediaSource) {
      try {
        Hls = await ensureHls();
      } catch (_err) {
        Hls = null;
      }
    }
    if (Hls && Hls.isSupported()) {
      hls = new Hls({ maxBufferLength: 30 });
      let placed = false;
      hls.on(Hls.Events.LEVEL_LOADED, (_ev, data) => {
        if (placed) return;
        placed = true;
        video.currentTime = positionOf(data.details.fragments, startMs);
        video.play().catch(() => {});
      });
      hls.on(Hls.Events.ERROR, (_ev, data) => {
        if (data.fatal) clockText.textContent = text("tFailed");
      });
      hls.loadSource(src);
      hls.attachMedia(video);
    } else if (video.canPlayType("application/vnd.apple.mpegurl")) {
      video.src = src;
      video.addEventListener("loadedmetadata", () => {
        const first = video.getStartDate ? video.getStartDate().getTime() : NaN;
        if (!Number.isNaN(first)) video.currentTime = Math.max(0, (startMs - first) / 1000);
        video.play().catch(() => {});
      }, { once: true });
    } else {
      clockText.textContent = text("tUnsupported");
    }
  }

  function playingMs() {
    if (hls && hls.playingDate) return hls.playingDate.getTime();
    if (!hls && video.getStartDate) {
      const first = video.getStartDate().getTime();
      if (!Number.isNaN(first)) return first + video.currentTime * 1000;
    }
    return null;
  }

  video.addEventListener("timeupdate", () => {
    const t = playingMs();
    if (t == null || !day) return;
    clockText.textContent = `${fmtDate(t)} ${fmt(t, true)}`;
    const inside = t >= day.start_ms && t < day.end_ms;
    cursor.hidden = !inside;
    if (inside) cursor.style.left = `${((t - day.start_ms) * 100) / (day.end_ms - day.start_ms)}%`;
  });

  bar.addEventListener("click", (ev) => {
    if (!day) return;
    const rect = bar.getBoundingClientRect();
    const t = day.start_ms + ((ev.clientX - rect.left) / rect.width) * (day.end_ms - day.start_ms);
    play(t, Math.min(day.end_ms, Math.max(day.now_ms, t + 1000)));
  });

  form.day.addEventListener("change", () => load(form.day.value));

  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    if (!day || day.day !== form.day.value) await load(form.day.value);
    if (!day) return;
    const from = offsetOf(form.from.value);
    const to = offsetOf(form.to.value);
    if (from == null || to == null) return;
    play(day.start_ms + from, Math.min(day.end_ms, day.start_ms + to + 1000));
  });

  load("");
})();
