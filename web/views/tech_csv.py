"""The technician's CSV (``/tech.csv``, ``/tech/{path}.csv``): one line per camera, for a maintenance contractor.

A city's 30,000 lines took ~0.8 s to build on every request, nearly all of it each camera's figures and their
formatting. Most cameras' figures stand still between their own changes (a window whose start and end are in
the same state gains at one end what it loses at the other: cctv/rollup/figures.py), so each camera's line is
kept with the figures entry it was made from and what else it says (state, reason, since, reconnects, names),
and made again only when one of them changed. A camera whose figures move (a window still filling, an outage
under way) gets a fresh line on each request. Text cells are defused against spreadsheet formulas; numbers are
formatted by us and never start with a formula character.
"""

from __future__ import annotations

import asyncio
import csv
import io
from collections.abc import Iterable
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from cctv.rollup.figures import Entry, FigureCache
from web.views import tech_data as td
from web.views.tech_data import CameraRow

CSV_COLUMNS = (
    "kecamatan",
    "kelurahan",
    "rt",
    "camera_path",
    "camera_name",
    "state",
    "reason",
    "since_wib",
    "availability_24h_pct",
    "availability_7d_pct",
    "availability_30d_pct",
    "usability_24h_pct",
    "usability_7d_pct",
    "usability_30d_pct",
    "outages_30d",
    "offline_30d_min",
    "mttr_offline_30d_min",
    "mttr_degraded_30d_min",
    "reconnects",
)


class CsvLines:
    """Each camera's CSV line, kept while what it says holds (one per web node: ``web.keys.TECH_CSV``)."""

    def __init__(self, tz: ZoneInfo) -> None:
        self.tz = tz
        self._kept: dict[str, tuple[Entry, tuple[Any, ...], str]] = {}  # camera -> (entry, what else, line)
        self._names: dict[str, tuple[tuple[str, ...], str]] = {}  # camera -> (names, their cells)
        self._since: dict[str, tuple[int, str]] = {}  # camera -> (since_ms, as local time)
        self._buf = io.StringIO()
        self._writer = csv.writer(self._buf, quoting=csv.QUOTE_MINIMAL, lineterminator="\r\n")
        self.made = 0
        self.reused = 0

    async def body(self, rows: Iterable[CameraRow], figures: FigureCache, now_ms: int) -> bytes:
        """Every row's line under the header, as UTF-8 with a BOM (spreadsheets read it as UTF-8), built in
        slices with a turn of the event loop between them."""
        out = [self._line(CSV_COLUMNS)]
        kept = self._kept
        for i, r in enumerate(rows):
            if i % td.SLICE == td.SLICE - 1:
                await asyncio.sleep(0)
            entry = figures.entry(r.path, now_ms)
            says = (r.state, r.reason, r.since_ms, r.reconnects, r.name, r.rt, r.kelurahan, r.kecamatan)
            k = kept.get(r.path)
            if k is not None and k[0] is entry and k[1] == says:
                out.append(k[2])
                self.reused += 1
                continue
            line = self._make(r, entry, now_ms)
            self.made += 1
            if entry.still():
                kept[r.path] = (entry, says, line)
            elif k is not None:
                del kept[r.path]
            out.append(line)
        return "".join(out).encode("utf-8-sig")

    def _line(self, cells: Iterable[object]) -> str:
        buf = self._buf
        buf.seek(0)
        buf.truncate()
        self._writer.writerow(cells)
        return buf.getvalue()

    def _make(self, r: CameraRow, e: Entry, now_ms: int) -> str:
        names = (r.kecamatan, r.kelurahan, r.rt, r.path, r.name)
        n = self._names.get(r.path)
        if n is None or n[0] != names:
            n = self._names[r.path] = (names, self._line(_cell(x) for x in names)[:-2] + ",")
        s = self._since.get(r.path)
        if s is None or s[0] != r.since_ms:
            s = self._since[r.path] = (r.since_ms, datetime.fromtimestamp(r.since_ms / 1000, self.tz).strftime(
                "%Y-%m-%d %H:%M:%S"))
        dt = now_ms - e.t0
        (d, ds), (wk, ws), (mo, ms) = ((e.values[w], e.slopes[w]) for w in ("24h", "7d", "30d"))
        dk, wkk, mk = d.known_ms + ds[0] * dt, wk.known_ms + ws[0] * dt, mo.known_ms + ms[0] * dt
        return n[1] + self._line((
            _cell(r.state), _cell(r.reason) if r.state != "online" else "", s[1],
            _share(d.up_ms + ds[1] * dt, dk), _share(wk.up_ms + ws[1] * dt, wkk), _share(mo.up_ms + ms[1] * dt, mk),
            _share(d.usable_ms + ds[2] * dt, dk), _share(wk.usable_ms + ws[2] * dt, wkk),
            _share(mo.usable_ms + ms[2] * dt, mk),
            mo.outages,
            f"{(mo.offline_ms + ms[4] * dt) / 60000:.1f}",
            f"{mo.repair_ms / mo.repaired / 60000:.1f}" if mo.repaired else "",
            f"{mo.degraded_repair_ms / mo.degraded_repaired / 60000:.1f}" if mo.degraded_repaired else "",
            "" if r.reconnects is None else r.reconnects,
        ))


def _cell(value: object) -> str:
    text = "" if value is None else str(value)
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def _share(part: int, whole: int) -> str:
    """``part`` of ``whole`` in percent with two decimals ("" when nothing is known)."""
    return f"{part / whole * 100:.2f}" if whole else ""
