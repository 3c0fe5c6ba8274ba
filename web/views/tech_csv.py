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

from cctv.rollup.figures import FigureCache
from cctv.rollup.tally import Tally
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
        self._kept: dict[str, tuple[Any, tuple[Any, ...], str]] = {}  # camera -> (entry, what else, line)
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
            line = self._line(self._cells(r, entry.at(now_ms)))
            self.made += 1
            if entry.still():
                kept[r.path] = (entry, says, line)
            else:
                kept.pop(r.path, None)
            out.append(line)
        return "".join(out).encode("utf-8-sig")

    def _line(self, cells: Iterable[object]) -> str:
        buf = self._buf
        buf.seek(0)
        buf.truncate()
        self._writer.writerow(cells)
        return buf.getvalue()

    def _cells(self, r: CameraRow, t: dict[str, Tally]) -> tuple[object, ...]:
        d, wk, mo = t["24h"], t["7d"], t["30d"]
        return (
            _cell(r.kecamatan), _cell(r.kelurahan), _cell(r.rt), _cell(r.path), _cell(r.name), _cell(r.state),
            _cell(r.reason) if r.state != "online" else "",
            datetime.fromtimestamp(r.since_ms / 1000, self.tz).strftime("%Y-%m-%d %H:%M:%S"),
            _pct(d.availability), _pct(wk.availability), _pct(mo.availability),
            _pct(d.usability), _pct(wk.usability), _pct(mo.usability),
            mo.outages,
            _minutes(mo.offline_ms), _minutes(mo.mttr_ms), _minutes(mo.mttr_degraded_ms),
            "" if r.reconnects is None else r.reconnects,
        )


def _cell(value: object) -> str:
    text = "" if value is None else str(value)
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def _pct(v: float | None) -> str:
    return "" if v is None else f"{v * 100:.2f}"


def _minutes(ms: float | None) -> str:
    return "" if ms is None else f"{ms / 60000:.1f}"
