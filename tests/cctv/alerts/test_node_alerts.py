"""Node alerts (disk full, nearly full): the tracker's rules, the store, the writer across a restart, and what
each role sees of them on the web (banner on every page, the feed's system part, the API, acknowledgement)."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from cctv.alerts.model import DISK_FULL, DISK_LOW, NODE_KINDS, Alert, AlertEvent, Observation, node_alert
from cctv.alerts.tracker import Tracker
from cctv.alerts.writer import AlertWriter, NodeWatch
from cctv.app.services import Services
from cctv.store.alerts import AlertStore
from tests.helpers.eventually import aeventually
from tests.helpers.rbac import ROLES, SCOPE, assert_no_leak
from tests.helpers.scene import CAM1, CAM2, CAM4, CAM5, T0
from web.keys import OPEN_NODE_ALERTS

SYSTEM_ROLES = {"admin", "operator", "technician"}
GB = 10**9


def full(*cams: str, free: int = 0) -> Observation:
    return Observation(True, cams, free, 100 * GB)


def observer(t: Tracker, node: str = "rec-alpha", kind: str = DISK_FULL) -> Any:
    """``t.observe`` for one node condition."""
    return lambda now_ms, obs: t.observe(now_ms, node, kind, obs)


def node_list(st: AlertStore, scope: list[str], **kw: Any) -> list[Alert]:
    """The node alerts in ``scope`` as the web lists them: open first, then newest first."""
    return st.alerts(scope, kinds=NODE_KINDS, open_first=True, **kw)


# -- the tracker (pure) -----------------------------------------------------------------------------------


def test_opens_once_collects_cameras_and_closes_after_the_condition_stays_away():
    t = Tracker(clear_ms=60_000, refresh_ms=30_000)
    observe = observer(t)
    assert observe(T0, Observation(False)) == []
    [ev] = observe(T0 + 5_000, full(CAM1))
    assert ev.kind == "open" and ev.alert.opened_ms == T0 + 5_000 and ev.alert.cameras == (CAM1,)
    assert observe(T0 + 10_000, full(CAM1)) == []  # nothing new, refresh not due: no write
    [ev] = observe(T0 + 15_000, full(CAM2))  # CAM1 resumed, CAM2 paused: both stay in the union
    assert ev.kind == "update" and ev.alert.cameras == tuple(sorted((CAM1, CAM2))) and ev.alert.affected_now == 1
    [ev] = observe(T0 + 45_000, full(CAM2))  # refresh due: last_seen moves on
    assert ev.kind == "update" and ev.alert.last_seen_ms == T0 + 45_000
    assert observe(T0 + 50_000, Observation(False)) == []  # absent, not yet for long enough
    assert observe(T0 + 70_000, full(CAM2)) == []  # back: a brief success between failures is no recovery
    assert observe(T0 + 90_000, Observation(False, (), 5 * GB, 100 * GB)) == []
    [ev] = observe(T0 + 150_000, Observation(False, (), 5 * GB, 100 * GB))
    assert ev.kind == "close" and ev.alert.closed_ms == T0 + 90_000  # dated when it went away
    assert ev.alert.affected_now == 0 and ev.alert.free_bytes == 5 * GB
    assert t.open == {}
    [ev] = observe(T0 + 160_000, full(CAM1))
    assert ev.kind == "open" and ev.alert.opened_ms == T0 + 160_000  # a new incident: a new alert


def test_a_restart_continues_the_open_alert_or_closes_it_if_the_disk_was_freed():
    t = Tracker(clear_ms=10_000)
    observe = observer(t)
    stored = node_alert("rec-alpha", DISK_FULL, T0, (CAM1,), last_seen_ms=T0 + 1_000, free_bytes=0, total_bytes=GB,
                        id=7)
    t.load([stored])
    [ev] = observe(T0 + 60_000, full(CAM2))
    assert ev.kind == "update" and ev.alert.id == 7 and ev.alert.opened_ms == T0
    t.load([stored])
    assert observe(T0 + 60_000, Observation(False)) == []
    [ev] = observe(T0 + 70_000, Observation(False))
    assert ev.kind == "close" and ev.alert.id == 7 and ev.alert.closed_ms == T0 + 60_000
    t.load([node_alert("rec-alpha", DISK_FULL, T0, (), closed_ms=T0)])  # a closed one is not continued
    assert t.open == {}


def test_the_one_rule_closes_a_node_alert_by_tick_or_by_a_late_return():
    """Node alerts follow the rule camera alerts do: absent for ``clear_ms`` closes at the first absence, found by
    a tick, or by the next presence when that comes later (then it is a new incident)."""
    t = Tracker(clear_ms=10_000)
    observe = observer(t)
    observe(T0, full(CAM1))
    assert observe(T0 + 5_000, Observation(False)) == []
    assert t.tick(T0 + 14_999) == []
    [ev] = t.tick(T0 + 15_000)
    assert ev.kind == "close" and ev.alert.closed_ms == T0 + 5_000 and t.open == {}
    observe(T0 + 20_000, full(CAM1))
    observe(T0 + 25_000, Observation(False))
    events = observe(T0 + 60_000, full(CAM2))  # no observation in between: away for longer than clear_ms
    assert [e.kind for e in events] == ["close", "open"]
    assert events[0].alert.closed_ms == T0 + 25_000 and events[1].alert.cameras == (CAM2,)


def test_bad_parameters_are_refused_with_what_was_wrong():
    with pytest.raises(ValueError, match="unknown node alert kind 'disk_fire'"):
        Tracker().observe(T0, "n", "disk_fire", Observation(True))
    with pytest.raises(ValueError, match="must be > 0"):
        Tracker(clear_ms=0)


# -- the store and the writer -----------------------------------------------------------------------------


def test_store_writes_lists_by_scope_and_acknowledges_once(web_services: Services):
    st = AlertStore(web_services.store.engine)
    a = node_alert("rec-alpha", DISK_FULL, T0, (CAM1, CAM4), free_bytes=0, total_bytes=GB)
    a_id = st.write(AlertEvent("open", a))
    b_id = st.write(AlertEvent("open", node_alert("rec-beta", DISK_LOW, T0 + 1, (CAM5,), free_bytes=GB,
                                                  total_bytes=50 * GB)))
    assert [x.id for x in node_list(st, [""])] == [b_id, a_id]  # newest first
    assert [x.id for x in node_list(st, ["telanaipura"])] == [b_id]
    assert [x.id for x in node_list(st, [SCOPE])] == [a_id]
    assert node_list(st, ["kota-baru/paal-lima/rt-08"]) == []
    st.write(AlertEvent("close", node_alert("rec-alpha", DISK_FULL, T0, (CAM1, CAM4), last_seen_ms=T0 + 9,
                                            cameras_now=(), free_bytes=GB, total_bytes=GB, closed_ms=T0 + 9)))
    assert [x.id for x in node_list(st, [""], only_open=True)] == [b_id]
    assert st.open_alerts(NODE_KINDS, "rec-alpha") == []
    got, done = st.ack(a_id, "tech1", T0 + 20)
    assert done and got is not None and got.acked_by == "tech1" and got.closed_ms == T0 + 9
    got, done = st.ack(a_id, "tech2", T0 + 30)
    assert not done and got is not None and got.acked_by == "tech1"
    assert st.ack(424242, "x", T0) == (None, False)


async def test_writer_opens_updates_and_after_a_restart_continues_then_closes(web_services: Services):
    svc = web_services
    seen: dict[str, Observation] = {DISK_FULL: full(CAM1)}

    async def observe() -> dict[str, Observation]:
        return dict(seen)

    def writer() -> AlertWriter:
        return AlertWriter(svc.store, None, svc.clock, svc.alerts,
                           node=NodeWatch("rec-alpha", (DISK_FULL, DISK_LOW), observe, clear_s=30, interval_s=3600))

    w = writer()
    await w.start()
    await w.check()
    [a] = svc.alerts.open_alerts(NODE_KINDS, "rec-alpha")
    assert a.kind == DISK_FULL and a.cameras == (CAM1,) and w.health()["node_alerts_open"] == [DISK_FULL]
    await w.stop()

    w = writer()  # the process restarted: the open alert is continued, not duplicated
    await w.start()
    seen[DISK_FULL] = full(CAM1, CAM2)
    svc.clock.advance(5)
    await w.check()
    [b] = svc.alerts.open_alerts(NODE_KINDS, "rec-alpha")
    assert b.id == a.id and b.cameras == (CAM1, CAM2)
    seen[DISK_FULL] = Observation(False, (), 40 * GB, 100 * GB)
    svc.clock.advance(5)
    await w.check()
    svc.clock.advance(31)
    await w.check()
    assert svc.alerts.open_alerts(NODE_KINDS, "rec-alpha") == []
    closed = svc.alerts.get(a.id)
    assert closed is not None and closed.closed_ms == T0 + 10_000 and closed.free_bytes == 40 * GB
    assert w.written == 2 and w.errors == 0  # this process: the update and the close
    await w.stop()


# -- the web: banner, feed, API, acknowledgement, per role --------------------------------------------------


@pytest.fixture
def disk_alerts(web_services: Services) -> dict[str, int]:
    """rec-alpha: disk full touching one camera in the scope and one outside; rec-beta: only outside."""
    st = web_services.alerts
    return {
        "a": st.write(AlertEvent("open", node_alert("rec-alpha", DISK_FULL, T0, (CAM1, CAM4), free_bytes=0,
                                                    total_bytes=2 * GB))),
        "b": st.write(AlertEvent("open", node_alert("rec-beta", DISK_FULL, T0, (CAM5,), free_bytes=0,
                                                    total_bytes=2 * GB))),
    }


def token_of(html: str) -> str:
    m = re.search(r'<meta name="csrf-token" content="([^"]+)">', html)
    assert m
    return m.group(1)


@pytest.mark.parametrize("role", ROLES)
async def test_each_role_sees_node_alerts_only_in_scope(
    role: str, web_services: Services, disk_alerts: dict[str, int], client_as: Any
) -> None:
    client = await client_as(role, SCOPE)
    sees = role in SYSTEM_ROLES
    home = await (await client.get("/")).text()
    assert ('class="node-banner node-banner-error"' in home) == sees, role
    assert ("rec-alpha" in home) == sees and "rec-beta" not in home
    if sees:
        assert "1 kamera di wilayah Anda" in home  # CAM1 only: CAM4 lies outside the scope
        assert 'data-refresh="/node-alerts/banner"' in home
    assert_no_leak(home, f"{role} GET /")

    r = await client.get("/api/node-alerts")
    assert r.status == (200 if sees else 403), role
    body = await r.text()
    assert_no_leak(body, f"{role} GET /api/node-alerts")
    if sees:
        [only] = json.loads(body)["alerts"]
        assert only["id"] == disk_alerts["a"] and only["cameras"] == [CAM1] and only["kind"] == DISK_FULL
        assert only["affected_now"] == 1  # of the node's 2 cameras touched now, 1 is in the scope
    r = await client.get("/node-alerts/banner")
    assert r.status == (200 if sees else 403)
    assert_no_leak(await r.text(), f"{role} GET /node-alerts/banner")

    feed = await (await client.get("/alerts")).text()
    assert ('id="node-alerts"' in feed) == sees and "rec-beta" not in feed

    token = token_of(home)
    r = await client.post(f"/node-alerts/{disk_alerts['b']}/ack", data={"csrf_token": token}, allow_redirects=False)
    assert r.status == (404 if sees else 403), f"{role} ack out of scope"
    r = await client.post(f"/node-alerts/{disk_alerts['a']}/ack", data={"csrf_token": token}, allow_redirects=False)
    assert r.status == (303 if sees else 403), f"{role} ack in scope"
    a = web_services.alerts.get(disk_alerts["a"])
    assert a is not None and (a.acked_by is not None) == sees
    assert web_services.alerts.get(disk_alerts["b"]).acked_by is None  # type: ignore[union-attr]
    entries = [e for e in web_services.audit.entries() if e.action == "node_alert.ack"]
    assert len(entries) == (1 if sees else 0)
    if sees:
        r = await client.post(f"/node-alerts/{disk_alerts['a']}/ack", data={"csrf_token": token},
                              allow_redirects=False)
        assert r.status == 409  # once


async def test_banner_follows_the_store_and_speaks_english_on_request(
    web_services: Services, web_server: Any, client_as: Any
) -> None:
    web_server.app[OPEN_NODE_ALERTS].ttl_s = 0
    client = await client_as("technician", "/")
    assert "node-banner" not in await (await client.get("/node-alerts/banner")).text()
    web_services.alerts.write(
        AlertEvent("open", node_alert("node-c", DISK_LOW, T0, (CAM1, CAM5), free_bytes=3 * GB, total_bytes=100 * GB))
    )
    html = await (await client.get("/wall?lang=en")).text()
    assert "Recording disk nearly full on node node-c: 3.0 GB free of 100.0 GB." in html
    assert 'node-banner-warning' in html


async def test_nav_shows_only_what_the_role_can_open(web_services: Services, client_as: Any) -> None:
    want = {
        "admin": {"/alerts", "/tech", "/clips"},  # the audit log: city-wide admins only
        "operator": {"/alerts", "/tech", "/clips"},
        "technician": {"/alerts", "/tech"},
        "police": {"/alerts", "/clips"},
        "viewer": {"/alerts"},
    }
    for role, links in want.items():
        client = await client_as(role, SCOPE)
        html = await (await client.get("/")).text()
        nav = re.search(r'<nav class="main-nav">(.*?)</nav>', html, re.S)
        assert nav and set(re.findall(r'href="([^"]+)"', nav.group(1))) == links, role
        for href in links:
            assert (await client.get(href, allow_redirects=False)).status == 200, f"{role} {href}"
    html = await (await (await client_as("admin", "/")).get("/")).text()
    assert '<a href="/admin/audit">' in html


async def test_writer_check_failure_is_counted_and_watching_goes_on(web_services: Services):
    calls = 0

    async def observe() -> dict[str, Observation]:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise OSError("statvfs failed")
        return {}

    w = AlertWriter(web_services.store, None, web_services.clock, web_services.alerts,
                    node=NodeWatch("rec-alpha", (DISK_FULL,), observe, interval_s=0.01))
    await w.start()
    try:
        await aeventually(lambda: calls >= 3, 2, "a third observation after the failed first one", every=0.01)
    finally:
        await w.stop()
    assert calls >= 3 and w.errors == 1


async def test_a_node_alert_shows_each_operator_only_their_cameras(web_services: Services, client_as: Any) -> None:
    """Three cameras in three areas: an operator of one area sees the alert with that one camera (count, list,
    banner); an operator of an area it did not touch does not see it at all."""
    cams = (CAM1, CAM4, CAM5)
    alert_id = web_services.alerts.write(
        AlertEvent("open", node_alert("rec-alpha", DISK_FULL, T0, cams, free_bytes=0, total_bytes=2 * GB))
    )
    for scope, mine in ((SCOPE, CAM1), ("kota-baru/simpang-tiga-sipin", CAM4), ("telanaipura", CAM5)):
        op = await client_as("operator", scope)
        [only] = (await (await op.get("/api/node-alerts")).json())["alerts"]
        assert only["id"] == alert_id and only["cameras"] == [mine], scope
        home = await (await op.get("/")).text()
        assert "1 kamera di wilayah Anda" in home, scope
        feed = await (await op.get("/alerts")).text()
        row = re.search(rf'data-node-alert="{alert_id}">(.*?)</tr>', feed, re.S)
        assert row and re.search(r"<td>1 <span", row.group(1)), scope
        for other in set(cams) - {mine}:
            assert other not in home + feed, (scope, other)
    elsewhere = await client_as("operator", "kota-baru/paal-lima/rt-08")
    assert (await (await elsewhere.get("/api/node-alerts")).json())["alerts"] == []
    assert "node-banner-error" not in await (await elsewhere.get("/")).text()
    city = await client_as("technician", "/")
    [whole] = (await (await city.get("/api/node-alerts")).json())["alerts"]
    assert whole["cameras"] == sorted(cams)


async def test_an_id_of_the_other_kind_does_not_exist_for_an_ack_route(
    web_services: Services, disk_alerts: dict[str, int], client_as: Any
) -> None:
    """Camera and node alerts share one id space: each ack route answers 404 for the other kind's ids, word for
    word as for an id that does not exist, and acknowledges nothing."""
    from cctv.alerts.model import camera_alert

    cam_id = web_services.alerts.write(AlertEvent("open", camera_alert(CAM1, T0, "offline", "timeout")))
    op = await client_as("admin", "/")
    token = token_of(await (await op.get("/")).text())
    for route, other_id, unknown in (("alerts", disk_alerts["a"], 987654), ("node-alerts", cam_id, 987655)):
        r = await op.post(f"/{route}/{other_id}/ack", data={"csrf_token": token}, allow_redirects=False)
        assert r.status == 404, route
        nothing = await op.post(f"/{route}/{unknown}/ack", data={"csrf_token": token}, allow_redirects=False)
        assert nothing.status == 404
        said, said_nothing = await r.text(), await nothing.text()
        assert f": {other_id}" in said and said.replace(f": {other_id}", ": N") == said_nothing.replace(f": {unknown}", ": N")
    assert web_services.alerts.get(cam_id).acked_by is None  # type: ignore[union-attr]
    assert web_services.alerts.get(disk_alerts["a"]).acked_by is None  # type: ignore[union-attr]
    assert web_services.audit.entries(action="alert.ack") == []
    assert web_services.audit.entries(action="node_alert.ack") == []
    r = await op.post(f"/alerts/{cam_id}/ack", data={"csrf_token": token}, allow_redirects=False)
    assert r.status == 303  # and each kind's own route acknowledges it
    r = await op.post(f"/node-alerts/{disk_alerts['a']}/ack", data={"csrf_token": token}, allow_redirects=False)
    assert r.status == 303
