"""The alert feed: the debounce (pure, cctv/alerts/tracker.py), the writer over a real store and bus, the page and acknowledgement."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from typing import Any

import pytest

from cctv.alerts.model import camera_alert
from cctv.alerts.tracker import STABLE_MS, Tracker
from cctv.alerts.writer import AlertWriter
from cctv.app.services import Services
from cctv.status.messages import State, StatusChange
from tests.helpers.eventually import aeventually
from tests.helpers.scene import CAM1, CAM2, CAM3, CAM5, set_status
from tests.helpers.web import csrf_of

MIN = 60_000


def ch(state: str, t: int, reason: str = "timeout", cam: str = "a/b/c/d") -> StatusChange:
    return StatusChange(cam, State(state), "" if state == "online" else reason, t, None)


# -- the debounce ------------------------------------------------------------------------------------


def test_a_flapping_camera_is_one_alert() -> None:
    d = Tracker()
    kinds = []
    t = 0
    for _ in range(50):  # down 20 s, up 40 s, for 50 minutes
        kinds += [e.kind for e in d.on_change(ch("offline", t))]
        kinds += [e.kind for e in d.on_change(ch("online", t + 20_000))]
        t += MIN
    assert kinds.count("open") == 1 and "close" not in kinds
    (alert,) = d.open.values()
    assert (alert.opened_ms, alert.changes, alert.recovered_ms) == (0, 50, t - MIN + 20_000)
    assert d.tick(t - MIN + 20_000 + STABLE_MS - 1) == []
    (closed,) = d.tick(t - MIN + 20_000 + STABLE_MS)
    assert closed.kind == "close" and closed.alert.closed_ms == t - MIN + 20_000 and not d.open


def test_worst_state_and_latest_reason() -> None:
    d = Tracker()
    d.on_change(ch("degraded", 0, "frozen"))
    (ev,) = d.on_change(ch("offline", 1000, "auth"))
    assert (ev.alert.state, ev.alert.reason, ev.alert.worst_state) == ("offline", "auth", "offline")
    (ev,) = d.on_change(ch("degraded", 2000, "black"))
    assert (ev.alert.state, ev.alert.worst_state, ev.alert.changes) == ("degraded", "offline", 3)
    assert d.on_change(ch("online", 3000))
    assert d.on_change(ch("online", 4000)) == []  # a repeat changes nothing


def test_closing_does_not_depend_on_ticks() -> None:
    """Without a tick, a change after the stable time closes the old alert and opens a new one."""
    d = Tracker(stable_ms=10 * MIN)
    d.on_change(ch("offline", 0))
    d.on_change(ch("online", MIN))
    events = d.on_change(ch("offline", 11 * MIN))
    assert [e.kind for e in events] == ["close", "open"]
    assert events[0].alert.closed_ms == MIN and events[1].alert.opened_ms == 11 * MIN
    # a change before the stable time folds
    d.on_change(ch("online", 12 * MIN))
    assert [e.kind for e in d.on_change(ch("degraded", 22 * MIN - 1, "black"))] == ["update"]


def test_online_without_an_alert_is_nothing_and_a_restart_continues() -> None:
    d = Tracker()
    assert d.on_change(ch("online", 0)) == []
    (opened,) = d.on_change(ch("offline", 10))
    again = Tracker()
    again.load([opened.alert, camera_alert("x/y/z/w", 0, "offline", closed_ms=5)])
    assert [a.camera for a in again.open.values()] == ["a/b/c/d"]
    assert [e.kind for e in again.on_change(ch("offline", 20, "auth"))] == ["update"]
    with pytest.raises(ValueError, match="stable_ms"):
        Tracker(stable_ms=0)


# -- the writer over the store and the bus -----------------------------------------------------------


@pytest.fixture
async def writer(web_services: Services) -> AsyncIterator[AlertWriter]:
    w = AlertWriter(
        web_services.store, web_services.bus, web_services.clock, web_services.alerts, tick_s=3600
    )  # ticks are driven by the test
    await w.start()
    yield w
    await w.stop()


async def settle(w: AlertWriter, svc: Services, written: int) -> None:
    """Wait until the writer has written ``written`` events (a deadline, not a sleep)."""
    await aeventually(lambda: w.written >= written, 10,
                      lambda: f"the writer to write {written} events; writer wrote {w.written}", every=0.01)


async def test_writer_keeps_one_row_per_incident(web_services: Services, writer: AlertWriter) -> None:
    svc = web_services
    svc.clock.advance(60)
    set_status(svc, CAM1, State.ONLINE)
    for _ in range(5):
        svc.clock.advance(30)
        set_status(svc, CAM1, State.OFFLINE, "timeout")
        svc.clock.advance(30)
        set_status(svc, CAM1, State.ONLINE)
    await settle(writer, svc, 10)
    (row,) = svc.alerts.alerts([""])
    assert (row.state, row.changes, row.closed_ms, row.recovered_ms) == (
        "offline",
        5,
        None,
        svc.clock.now_ms(),
    )
    svc.clock.advance(STABLE_MS / 1000)
    await writer.tick()
    (row,) = svc.alerts.alerts([""])
    assert row.closed_ms == row.recovered_ms and svc.alerts.open_alerts() == []


async def test_writer_restart_continues_the_open_alert(web_services: Services, writer: AlertWriter) -> None:
    svc = web_services
    svc.clock.advance(60)
    set_status(svc, CAM2, State.DEGRADED, "covered")
    await settle(writer, svc, 1)
    await writer.stop()
    again = AlertWriter(svc.store, svc.bus, svc.clock, svc.alerts, tick_s=3600)
    await again.start()
    try:
        svc.clock.advance(60)
        set_status(svc, CAM2, State.OFFLINE, "refused")
        await settle(again, svc, 1)
    finally:
        await again.stop()
    (row,) = svc.alerts.alerts([""])
    assert (row.changes, row.state, row.worst_state) == (2, "offline", "offline")


# -- the page --------------------------------------------------------------------------------------------


@pytest.fixture
async def feed(web_services: Services, writer: AlertWriter) -> Services:
    svc = web_services
    svc.clock.advance(60)
    set_status(svc, CAM1, State.OFFLINE, "auth")  # in Paal Lima
    svc.clock.advance(60)
    set_status(svc, CAM5, State.OFFLINE, "timeout")  # Telanaipura: out of a Paal Lima scope
    svc.clock.advance(60)
    set_status(svc, CAM3, State.DEGRADED, "covered")
    await settle(writer, svc, 3)
    return svc


def alert_ids(html: str) -> list[int]:
    return [int(x) for x in re.findall(r'data-alert="(\d+)"', html)]


async def test_feed_is_scoped_and_newest_first(feed: Services, client_as: Any) -> None:
    ids = {a.camera: a.id for a in feed.alerts.alerts([""])}
    client = await client_as("viewer", "kota-baru/paal-lima")
    html = await (await client.get("/alerts")).text()
    assert alert_ids(html) == [ids[CAM3], ids[CAM1]]
    assert "Jembatan" not in html and "telanaipura" not in html
    assert "Lensa tertutup" in html and "Konfirmasi</button>" not in html  # a viewer cannot acknowledge
    body = await (await client.get("/api/alerts")).json()
    assert [a["camera"] for a in body["alerts"]] == [CAM3, CAM1] and body["next_before"] is None
    only = await (await client.get("/api/alerts?area=kota-baru/paal-lima/rt-08")).json()
    assert [a["camera"] for a in only["alerts"]] == [CAM3]
    assert (await client.get("/alerts?area=telanaipura")).status == 404
    assert (await client.get("/api/alerts?open=yes")).status == 400
    rows = await (await client.get("/alerts?fragment=1")).text()
    assert "<html" not in rows and alert_ids(rows) == [ids[CAM3], ids[CAM1]]


async def test_acknowledge(feed: Services, client_as: Any) -> None:
    ids = {a.camera: a.id for a in feed.alerts.alerts([""])}
    op = await client_as("operator", "kota-baru/paal-lima")
    token = await csrf_of(op)
    assert (await op.post(f"/alerts/{ids[CAM1]}/ack", data={})).status == 403  # no CSRF token
    r = await op.post(
        f"/alerts/{ids[CAM1]}/ack",
        data={"csrf_token": token, "next": "/alerts?open=1"},
        allow_redirects=False,
    )
    assert r.status == 303 and r.headers["Location"] == "/alerts?open=1"
    row = feed.alerts.get(ids[CAM1])
    assert row is not None and row.acked_by == "operator1" and row.acked_ms == feed.clock.now_ms()
    entry = feed.audit.entries(action="alert.ack")[-1]
    assert (entry.actor, entry.object) == ("operator1", CAM1) and f'"alert":{ids[CAM1]}' in entry.detail
    again = await op.post(f"/alerts/{ids[CAM1]}/ack", data={"csrf_token": token})
    assert again.status == 409 and "operator1" in await again.text()
    assert len(feed.audit.entries(action="alert.ack")) == 1  # nothing changed
    out = await op.post(f"/alerts/{ids[CAM5]}/ack", data={"csrf_token": token})
    assert out.status == 404 and "Jembatan" not in await out.text()
    assert feed.alerts.get(ids[CAM5]).acked_by is None  # type: ignore[union-attr]
    assert (await op.post("/alerts/999999/ack", data={"csrf_token": token})).status == 404
    html = await (await op.get("/alerts?unacked=1")).text()
    assert alert_ids(html) == [ids[CAM3]]
    tech = await client_as("technician", "/")
    assert (
        await tech.post(f"/alerts/{ids[CAM3]}/ack", data={"csrf_token": await csrf_of(tech)})
    ).status == 403
    js = await op.post(
        f"/alerts/{ids[CAM3]}/ack", headers={"X-CSRF-Token": token, "Accept": "application/json"}
    )
    assert js.status == 200 and (await js.json())["alert"]["acked_by"] == "operator1"


async def test_core_runtime_runs_the_alert_writer_and_the_rollup_model(web_services: Services) -> None:
    """`cctv run` wiring: the node's steps start both after crash recovery and stop them, leaving no
    subscription."""
    from cctv.app.node import Lifecycle, node_steps

    svc = web_services
    core = Lifecycle(node_steps(svc))
    assert core.names.index("recovery") < core.names.index("writers") < core.names.index("rollup-history")

    def health() -> dict[str, Any]:
        return {k: v for probe in svc.health_probes for k, v in probe().items()}

    await core.start()
    try:
        assert svc.rollup.started
        svc.clock.advance(60)
        set_status(svc, CAM1, State.OFFLINE, "refused")
        await aeventually(lambda: health()["alerts_written"] >= 1 and svc.rollup.applied >= 1, 10,
                          "the alert writer and the roll-up model to follow", every=0.01)
        assert [a.camera for a in svc.alerts.open_alerts()] == [CAM1]
        assert health()["alerts_written"] == 1
    finally:
        await core.stop()
    assert not svc.rollup.started and svc.bus.subscriptions == 0
