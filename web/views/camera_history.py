"""The camera page's history: daily uptime over the last two weeks (an SVG chart) and recent motion events.

Pure functions over what the store returns (milliseconds per state per day; motion event rows); days are
calendar days in the site's time zone (WIB), the current one partial.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from web.i18n import format_duration, format_ms, format_ms_as, format_number, format_pct, gettext

UPTIME_DAYS = 14
CHART_H = 100  # SVG user units of a 100 % column


def day_windows(now_ms: int, tz: ZoneInfo, days: int = UPTIME_DAYS) -> list[tuple[int, int]]:
    """[start, end) of the last ``days`` calendar days in ``tz``, oldest first; the last ends at ``now_ms``."""
    today = datetime.fromtimestamp(now_ms / 1000, tz).replace(hour=0, minute=0, second=0, microsecond=0)
    out = []
    for i in range(days - 1, -1, -1):
        lo = today - timedelta(days=i)
        hi = lo + timedelta(days=1)
        out.append((int(lo.timestamp() * 1000), min(int(hi.timestamp() * 1000), now_ms)))
    return out


def uptime_columns(windows: list[tuple[int, int]], ms_by_state: list[dict[str, int]], tz: ZoneInfo,
                   lang: str) -> list[dict[str, Any]]:
    """One stacked column per day: online (usable), degraded, offline and unknown, heights in chart units."""
    cols = []
    for (lo, hi), by_state in zip(windows, ms_by_state, strict=True):
        span = max(1, hi - lo)
        parts, y = [], 0.0
        known = 0
        for state in ("online", "degraded", "offline"):
            ms = by_state.get(state, 0)
            known += ms
            h = CHART_H * ms / span
            parts.append({"state": state, "y": round(CHART_H - y - h, 2), "h": round(h, 2)})
            y += h
        parts.append({"state": "unknown", "y": 0.0, "h": round(max(0.0, CHART_H - y), 2)})
        up = by_state.get("online", 0) + by_state.get("degraded", 0)
        avail = 100 * up / known if known else None
        usable = 100 * by_state.get("online", 0) / known if known else None
        title = gettext(lang, "%(day)s: available %(avail)s%%, usable %(usable)s%%", day=format_ms_as(lo, tz, lang, "dd-MM"),
                        avail="—" if avail is None else format_number(avail, lang),
                        usable="—" if usable is None else format_number(usable, lang))
        cols.append({"label": format_ms_as(lo, tz, lang, "dd"), "parts": parts, "title": title, "avail": avail})
    return cols


def motion_rows(events: list[dict[str, Any]], now_ms: int, tz: ZoneInfo, lang: str) -> list[dict[str, Any]]:
    rows = []
    for e in events:
        end = e["end_ms"]
        rows.append({
            "start": format_ms(e["start_ms"], tz, lang),
            "end": format_ms(end, tz, lang) if end is not None else gettext(lang, "ongoing"),
            "duration": format_duration((end if end is not None else now_ms) - e["start_ms"]),
            "peak": format_pct(e["peak_score"] or 0, lang),
        })
    return rows
