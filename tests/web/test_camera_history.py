"""The camera page's daily uptime chart and motion events: pure functions, then the page over a real store."""

from __future__ import annotations

from zoneinfo import ZoneInfo

from web.views.camera_history import CHART_H, day_windows, motion_rows, uptime_columns

WIB = ZoneInfo("Asia/Jakarta")
H = 3600 * 1000


def test_day_windows_are_calendar_days_in_wib_ending_now():
    now = 1_795_400_000_000
    wins = day_windows(now, WIB, 3)
    assert len(wins) == 3 and wins[-1][1] == now
    assert all(b - a == 24 * H for a, b in wins[:-1])
    assert all(wins[i][1] == wins[i + 1][0] for i in range(2))
    assert (wins[0][0] / 1000 + 7 * 3600) % 86400 == 0  # midnight WIB (UTC+7)


def test_columns_stack_to_the_whole_day_and_report_known_time_only():
    wins = [(0, 24 * H), (24 * H, 36 * H)]
    cols = uptime_columns(wins, [{"online": 18 * H, "offline": 6 * H}, {"degraded": 3 * H}], WIB, "en")
    first, second = cols
    assert sum(p["h"] for p in first["parts"]) == CHART_H
    assert first["avail"] == 75.0 and "usable 75.0%" in first["title"]
    assert second["avail"] == 100.0  # 3 h degraded known, the rest of the day unknown: not counted as down
    unknown = next(p for p in second["parts"] if p["state"] == "unknown")
    assert round(unknown["h"]) == 75
    empty = uptime_columns([(0, H)], [{}], WIB, "id")[0]
    assert empty["avail"] is None and "—" in empty["title"]


def test_motion_rows_name_an_open_event_ongoing():
    rows = motion_rows([{"start_ms": 0, "end_ms": None, "peak_score": 2.5}], 90_000, WIB, "en")
    assert rows == [{"start": rows[0]["start"], "end": "ongoing", "duration": "1m 30s", "peak": "2.5%"}]


async def test_camera_page_shows_the_uptime_chart_and_motion_events(web_client, web_services):  # type: ignore[no-untyped-def]
    from cctv.status.messages import State
    from tests.helpers.scene import CAM2, set_status

    svc = web_services
    svc.clock.advance(60)
    set_status(svc, CAM2, State.ONLINE)
    svc.clock.advance(600)
    eid = svc.store.start_motion_event(CAM2, svc.clock.now_ms() - 30_000, 1.0)
    svc.store.end_motion_event(eid, svc.clock.now_ms() - 10_000, 4.25)
    html = await (await web_client.get(f"/camera/{CAM2}")).text()
    assert html.count("<g transform=") == 14 and 'class="up-online"' in html
    assert "4.2%" in html or "4.3%" in html
    assert "20s" in html  # the event's duration
