"""What the technician dashboard shows, built from the live model and the roll-up model (no HTTP here).

- :func:`camera_rows`: one row per camera of an area (live state, reason, since, reconnects, figures per window),
  filtered by :func:`keep` and ordered by :func:`sort_rows`.
- :func:`outage_rows`: offline and degraded episodes that overlap a window, newest first.
- :func:`chart`: availability per child area (per camera for an RT) over time, as inline-SVG geometry.
The maintenance contractor's CSV of these rows is web/views/tech_csv.py.
"""

from __future__ import annotations

import asyncio
import heapq
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from cctv.app.services import Services
from cctv.rollup.days import area_days, camera_days
from cctv.rollup.tally import DAY_MS, Tally, sum_tallies
from cctv.sites import Area
from web.i18n import format_duration, format_ms, format_ms_as, format_pct, gettext
from web.i18n_labels import reason_text, state_label

HOUR_MS = 3600 * 1000
STATE_RANK = {"offline": 0, "degraded": 1, "online": 2}
# sort keys of the camera table: key -> how to read the value from a CameraRow
SORTS = (
    "state",
    "camera",
    "area",
    "since",
    "avail_24h",
    "avail_7d",
    "avail_30d",
    "usable_24h",
    "usable_7d",
    "outages_30d",
    "mttr_30d",
    "reconnects",
)
SLICE = 500  # rows between two turns of the event loop
CHART_SLICE = 200  # cameras' chart buckets between two turns of the event loop
STATE_FILTERS = ("", "offline", "degraded", "online", "down")  # "down": offline or degraded
# chart: buckets per window (24 × 1 h, 8 × 1 d, 31 × 1 d: the days so far and today): a day before the roll-up
# model's recent rows comes from the store's daily tallies (cctv/rollup/days.py)
CHART_BUCKETS = {"24h": (24, HOUR_MS), "7d": (8, DAY_MS), "30d": (31, DAY_MS)}
PALETTE = (
    "#58a6ff",
    "#f2cc60",
    "#56d364",
    "#ff7b72",
    "#d2a8ff",
    "#79c0ff",
    "#ffa657",
    "#7ee787",
    "#ff9bce",
    "#a5d6ff",
)


@dataclass(slots=True)
class CameraRow:
    path: str
    name: str
    kecamatan: str  # names
    kelurahan: str
    rt: str
    rt_path: str
    state: str
    reason: str
    since_ms: int
    motion: bool
    reconnects: int | None
    tallies: Mapping[str, Tally]

    def value(self, key: str) -> Any:
        if key == "state":
            return (STATE_RANK.get(self.state, 0), self.since_ms)
        if key == "camera":
            return (self.name.lower(), self.path)
        if key == "area":
            return self.path
        if key == "since":
            return self.since_ms
        if key == "reconnects":
            return self.reconnects
        kind, window = key.split("_")
        t = self.tallies.get(window)
        if t is None:
            return None
        return {"avail": t.availability, "usable": t.usability, "outages": t.outages, "mttr": t.mttr_ms}[kind]


class LazyFigures(Mapping[str, Tally]):
    """A camera's tallies per window, computed when first read: a city page sorts 30,000 rows by state and
    shows 50 of them."""

    __slots__ = ("_model", "_camera", "_now", "_got")

    def __init__(self, model: Any, camera: str, now_ms: int) -> None:
        self._model, self._camera, self._now = model, camera, now_ms
        self._got: dict[str, Tally] | None = None

    def _all(self) -> dict[str, Tally]:
        if self._got is None:
            self._got = self._model.tallies(self._now, [self._camera]).get(self._camera) or {
                w: Tally() for w in self._model.windows}
        return self._got

    def __getitem__(self, window: str) -> Tally:
        return self._all()[window]

    def __iter__(self) -> Iterator[str]:
        return iter(self._all())

    def __len__(self) -> int:
        return len(self._all())


async def camera_rows(svc: Services, area: Area, now_ms: int) -> list[CameraRow]:
    """Every enabled camera of ``area`` (already cut to the caller's scope), in config order; built in slices of
    SLICE rows with a turn of the event loop between them (a city's 30,000 rows never hold the loop at once:
    state changes keep reaching the sockets meanwhile)."""
    sites, live, model = svc.sites, svc.live, svc.rollup
    model.sync()
    live.sync()
    out = []
    for i, path in enumerate(area.cameras):
        if i % SLICE == SLICE - 1:
            await asyncio.sleep(0)
        cam = live.peek(path)
        if cam is None:
            continue  # disabled
        s = cam.site
        out.append(
            CameraRow(
                path=path,
                name=s.name,
                kecamatan=sites.area(s.kecamatan).name,
                kelurahan=sites.area(s.kelurahan).name,
                rt=sites.area(s.rt).name,
                rt_path=s.rt,
                state=str(cam.state),
                reason=str(cam.reason),
                since_ms=cam.since_ms,
                motion=cam.motion,
                reconnects=cam.stats.reconnects if cam.stats is not None else None,
                tallies=LazyFigures(model, path, now_ms),
            )
        )
    return out


def keep(rows: Iterable[CameraRow], state: str, q: str) -> list[CameraRow]:
    """Rows in ``state`` ("" any, "down" offline or degraded) whose name or path contains ``q``."""
    q = q.strip().lower()
    out = []
    for r in rows:
        if state == "down" and r.state == "online":
            continue
        if state and state != "down" and r.state != state:
            continue
        if (
            q
            and q not in r.name.lower()
            and q not in r.path
            and q not in r.rt.lower()
            and q not in r.kelurahan.lower()
        ):
            continue
        out.append(r)
    return out


async def sort_rows(rows: Sequence[CameraRow], key: str, descending: bool) -> list[CameraRow]:
    """Sorted by ``key``; rows without a value (nothing known yet) always come last. Each row's key is read once,
    in slices (a figure key computes the row's figures)."""
    known: list[tuple[Any, str, CameraRow]] = []
    unknown = []
    for i, r in enumerate(rows):
        if i % SLICE == SLICE - 1:
            await asyncio.sleep(0)
        v = r.value(key)
        if v is None:
            unknown.append(r)
        else:
            known.append((v, r.path, r))
    known.sort(key=_first_two, reverse=descending)
    return [r for _v, _p, r in known] + unknown


def _first_two(k: tuple[Any, str, CameraRow]) -> tuple[Any, str]:
    return k[0], k[1]


def outage_rows(
    svc: Services,
    cameras: Sequence[str],
    since_ms: int,
    now_ms: int,
    tz: ZoneInfo,
    lang: str,
    limit: int = 100,
) -> tuple[list[dict[str, Any]], int]:
    """Offline and degraded episodes overlapping ``[since_ms, now_ms]``, newest first: (the first ``limit``,
    how many there are)."""
    found = [
        (e.start_ms, path, e)
        for path in cameras
        for e in svc.rollup.episodes(path, since_ms)
        if e.state != "online"
    ]
    newest = heapq.nlargest(limit, found, key=lambda x: (x[0], x[1]))
    rows = []
    for _start, path, e in newest:
        cam = svc.sites.camera(path)
        rows.append(
            {
                "camera": path,
                "name": cam.name,
                "rt": svc.sites.area(cam.rt).name,
                "state": e.state,
                "state_label": state_label(lang, e.state),
                "reasons": ", ".join(reason_text(e.state, r, lang) for r in e.reasons if r) or "—",
                "start": format_ms(e.start_ms, tz, lang),
                "end": format_ms(e.end_ms, tz, lang)
                if e.end_ms is not None
                else gettext(lang, "ongoing"),
                "duration": format_duration(e.duration_ms(now_ms)),
                "ongoing": e.end_ms is None,
                "repaired": e.repaired,
            }
        )
    return rows, len(found)


# -- chart ---------------------------------------------------------------------------------------------


def bucket_edges(now_ms: int, window: str, tz: ZoneInfo) -> list[int]:
    """Bucket edges ending at ``now_ms``, aligned to the site's local hours / days (the last one is partial)."""
    n, size = CHART_BUCKETS[window]
    off = int(datetime.fromtimestamp(now_ms / 1000, tz).utcoffset().total_seconds() * 1000)  # type: ignore[union-attr]
    last = (now_ms + off) // size * size - off
    return [last - (n - 1 - i) * size for i in range(n)] + [now_ms]


CHART_TTL_MS = 60_000
CHART_STALE_MS = 10 * 60_000  # an older chart is shown while a fresh one is computed


async def chart(svc: Services, area: Area, now_ms: int, window: str, tz: ZoneInfo, lang: str) -> dict[str, Any]:
    """:func:`chart_of`, reused for a minute (per area as the caller sees it, window and language), then computed
    again in the background while the last one is shown (up to CHART_STALE_MS); the days before the model's
    recent rows read from the store's daily tallies."""
    key = ("chart", area.path, area.children, window, lang)

    async def compute() -> dict[str, Any]:
        now = svc.clock.now_ms()
        edges = bucket_edges(now, window, tz)
        recent = svc.rollup.recent_since(now)
        groups = chart_groups(svc, area)
        days: dict[str, dict[int, Tally]] = {}
        if edges[0] < recent:
            days = await svc.store.aread(_chart_days, svc.store.engine, groups, edges[0], recent)
        return await chart_of(svc, area, now, window, tz, lang, edges=edges, days=days, groups=groups)

    return await svc.rollup.amemo(key, now_ms, CHART_TTL_MS, CHART_STALE_MS, compute)


def chart_groups(svc: Services, area: Area) -> list[tuple[str, str, tuple[str, ...], bool]]:
    """The chart's series: (path, name, cameras as the caller sees them, whole: the area's every camera),
    per child area (per camera for an RT), at most one per colour."""
    sites = svc.sites
    visible = set(area.cameras)
    out = []
    if area.children:
        for c in area.children[: len(PALETTE)]:
            full = sites.area(c).cameras
            seen = tuple(x for x in full if x in visible)
            out.append((c, sites.area(c).name, seen, len(seen) == len(full)))
    else:
        out = [(c, sites.camera(c).name, (c,), True) for c in area.cameras[: len(PALETTE)]]
    return out


def _chart_days(engine: Any, groups: list[tuple[str, str, tuple[str, ...], bool]], lo: int, hi: int
                ) -> dict[str, dict[int, Tally]]:
    """Series path → day → its tally: a whole area's row, or the sum of the cameras the caller sees of it."""
    whole = [p for p, _n, _c, w in groups if w]
    out = area_days(engine, whole, lo, hi)
    part = [(p, cams) for p, _n, cams, w in groups if not w]
    per_cam = camera_days(engine, [c for _p, cams in part for c in cams], lo, hi)
    for p, cams in part:
        summed: dict[int, Tally] = {}
        for c in cams:
            for d, t in per_cam.get(c, {}).items():
                summed.setdefault(d, Tally()).add(t)
        out[p] = summed
    return out


async def chart_of(
    svc: Services,
    area: Area,
    now_ms: int,
    window: str,
    tz: ZoneInfo,
    lang: str,
    width: int = 760,
    height: int = 240,
    edges: list[int] | None = None,
    days: dict[str, dict[int, Tally]] | None = None,
    groups: list[tuple[str, str, tuple[str, ...], bool]] | None = None,
) -> dict[str, Any]:
    """Series of availability (% of known time up) per bucket, for each child area (or camera of an RT): a
    bucket from the recent rows, or a day from ``days`` (series path → day start → tally)."""
    edges = edges if edges is not None else bucket_edges(now_ms, window, tz)
    recent = svc.rollup.recent_since(now_ms)
    groups = groups if groups is not None else chart_groups(svc, area)
    first_recent = next((i for i, e in enumerate(edges[:-1]) if e >= recent), len(edges) - 1)
    per_cam: dict[str, list[Tally]] = {}
    series = []
    done = 0
    for path, name, cams, _whole in groups:
        cols = []
        for c in cams:
            if c not in per_cam:
                per_cam[c] = svc.rollup.timeline(c).buckets(edges[first_recent:], now_ms)
                done += 1
                if done % CHART_SLICE == 0:  # a city's chart: 6,800 cameras' buckets
                    await asyncio.sleep(0)
            cols.append(per_cam[c])
        old = [(days or {}).get(path, {}).get(edges[i], Tally()) for i in range(first_recent)]
        sums = old + [sum_tallies(col[i] for col in cols) for i in range(len(edges) - 1 - first_recent)]
        series.append((path, name, [t.availability for t in sums]))
    left, right, top, bottom = 44, 12, 10, 28
    values = [v for _p, _n, vs in series for v in vs if v is not None]
    lo = min(90, int(min(values, default=1.0) * 10) * 10)  # percent: 90 % unless something fell below
    plot_w, plot_h = width - left - right, height - top - bottom
    n = len(edges) - 1

    def x(i: int) -> float:
        return round(left + (i + 0.5) * plot_w / n, 1)

    def y(v: float) -> float:
        return round(top + (100 - v * 100) * plot_h / (100 - lo), 1)

    out_series = []
    for k, (path, name, vs) in enumerate(series):
        segments, seg, points = [], [], []
        for i, v in enumerate(vs):
            if v is None:
                if seg:
                    segments.append(" ".join(seg))
                seg = []
                continue
            seg.append(f"{x(i)},{y(v)}")
            label = f"{name}: {format_pct(v * 100, lang)} — {format_ms(edges[i], tz, lang)}"
            points.append({"x": x(i), "y": y(v), "title": label})
        if seg:
            segments.append(" ".join(seg))
        out_series.append(
            {
                "path": path,
                "name": name,
                "color": PALETTE[k % len(PALETTE)],
                "segments": segments,
                "points": points,
            }
        )
    yticks = [{"y": y(p / 100), "label": f"{p}%"} for p in range(lo, 101, 10 if 100 - lo > 20 else 5)]
    pattern = "HH:mm" if window == "24h" else "dd/MM"
    xticks = [
        {"x": x(i), "label": format_ms_as(edges[i], tz, lang, pattern)}
        for i in sorted({0, n // 4, n // 2, 3 * n // 4, n - 1})
    ]
    return {
        "width": width,
        "height": height,
        "series": out_series,
        "yticks": yticks,
        "xticks": xticks,
        "left": left,
        "right": width - right,
        "top": top,
        "bottom": height - bottom,
        "more": max(0, (len(area.children) or len(area.cameras)) - len(PALETTE)),
        "window": window,
    }
