"""Many nodes on one machine (docs/nodes.md): 3 ingest nodes and 2 web nodes on a real PostgreSQL and Redis, with
the simulator's cameras over real RTSP. Every camera is watched by exactly the node assignment names; an ingest
node killed with SIGKILL loses its cameras to the others within 15 s, with an honest ``unmonitored`` gap in
the store and a ``node_lost`` alert; restarted, it takes its share back by clean handovers; one paused
(SIGSTOP) past its leases finds them taken when it wakes and never writes over the new holders; stopped, each
node releases what it holds."""

from __future__ import annotations

import hashlib
import json
import os
import re
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from cctv.config import load_config
from cctv.evidence.verify import verify_files
from streams.ingest.assignment import NodeInfo, assign
from streams.sim import SimulatorProcess
from tests.helpers.city import camera_paths, write_city
from tests.helpers.cluster import Cluster
from tests.helpers.e2e import ADMIN_PASSWORD, NODE_SECRET, cameras, get_bytes, get_json
from tests.helpers.eventually import eventually
from tests.helpers.servers import free_port, gst_rtsp_missing, login_opener
from tests.helpers.tcp_proxy import TcpProxy

pytestmark = [pytest.mark.slow, pytest.mark.rtsp]

N_CAMERAS = 9
INGEST = ("ingest-a", "ingest-b", "ingest-c")


def planned(names: tuple[str, ...], paths: list[str]) -> dict[str, str | None]:
    return assign(paths, [NodeInfo(n) for n in names])


def all_online(base: str, paths: list[str]) -> bool:
    c = cameras(base)
    return bool(c) and all(c.get(p, {}).get("state") == "online" for p in paths)


def holders(cluster: Cluster) -> dict[str, str]:
    now_ms = time.time() * 1000
    return {cam: node for cam, (node, _t, expires, _r) in cluster.leases().items() if expires > now_ms}


def test_failover_handover_and_clean_stop(tmp_path: Path) -> None:
    if why := gst_rtsp_missing():
        pytest.skip(why)
    paths = camera_paths(N_CAMERAS)
    city = write_city(tmp_path, free_port(), free_port(), N_CAMERAS, extra="recording: {segment_s: 4}")
    config = load_config(city)
    cluster = Cluster(tmp_path / "cluster", config.model_dump(mode="json", exclude_unset=True))
    try:
        with SimulatorProcess(config, tmp_path / "cache", tmp_path / "truth.jsonl"):
            _scenario(cluster, paths, tmp_path, ZoneInfo(config.site.timezone))
    finally:
        cluster.close()


def _scenario(cluster: Cluster, paths: list[str], tmp_path: Path, tz: ZoneInfo) -> None:
    web = cluster.start(cluster.add("web-1", "serve"))
    web2 = cluster.start(cluster.add("web-2", "serve"))
    nodes = {n: cluster.start(cluster.add(n)) for n in INGEST}
    plan = planned(INGEST, paths)
    assert len(set(plan.values())) == 3  # every node has a share (rendezvous over these names)

    # 1. every camera online, each watched by the node assignment names, once
    eventually(lambda: holders(cluster) == plan, 60, lambda: f"leases as planned: {holders(cluster)} vs {plan}")
    for w in (web, web2):  # every camera online through either web node
        eventually(lambda w=w: all_online(w.base, paths), 60, lambda w=w: f"all online via {w.name}: {cameras(w.base)}")
    for n, node in nodes.items():
        h = node.health()["ingest"]
        assert h["leases_held"] == sum(1 for v in plan.values() if v == n) == h["workers"], h
    # pictures stay on the ingest node that made them; the web node fetches them with the node secret
    cam = paths[0]
    status, kind, body = eventually(lambda: (r := get_bytes(f"{web.base}/snapshot/{cam}.jpg", web.base))[0] == 200
                                    and r, 30, lambda: f"a snapshot of {cam} via the web node")
    assert kind == "image/jpeg" and body[:2] == b"\xff\xd8"
    owner = nodes[plan[cam]]
    assert _status(f"{owner.base}/internal/snapshot/{cam}.jpg") == 401  # no secret: nothing
    assert _status(f"{owner.base}/") == 404  # an ingest node serves no pages

    # (recording: every camera has a segment on the node that watches it)
    eventually(lambda: all(any(r["node"] == plan[c] for r in cluster.segment_rows(c)) for c in paths), 30,
               "a segment of every camera on its node")

    # 2. SIGKILL the node with the most cameras: the others take them within 15 s, with an unmonitored gap
    victim = max(INGEST, key=lambda n: sum(1 for v in plan.values() if v == n))
    lost = sorted(c for c, n in plan.items() if n == victim)
    kill_ms = int(time.time() * 1000)
    cluster.kill(nodes[victim])
    killed = time.monotonic()
    survivors = tuple(n for n in INGEST if n != victim)
    after = planned(survivors, paths)
    eventually(lambda: holders(cluster) == after, 15, lambda: f"leases moved: {holders(cluster)} vs {after}")

    def back_online() -> bool:
        return all(_last_state(cluster, c) == "online" for c in lost) and all_online(web.base, paths)

    eventually(back_online, max(1.0, 15 - (time.monotonic() - killed)),
               lambda: f"the lost cameras online again: {[(c, cluster.intervals(c)[-2:]) for c in lost]}")
    moved = lost[0]
    eventually(lambda: get_bytes(f"{web.base}/snapshot/{moved}.jpg?w=320", web.base)[0] == 200, 15,
               f"a snapshot of {moved} from its new holder")
    took = sum(nodes[n].health()["ingest"]["leases_taken_from_lost"] for n in survivors)
    assert took == len(lost)
    alerts = get_json(f"{web.base}/api/node-alerts?open=1", web.base)["alerts"]
    [alert] = [a for a in alerts if a["kind"] == "node_lost"]
    assert alert["node"] == victim and sorted(alert["cameras"]) == lost, alerts
    for cam in lost:
        rows = cluster.intervals(cam)
        gap = [r for r in rows if r[:2] == ("unmonitored", "node_lost")]  # (handovers: nodes starting one by one)
        assert len(gap) == 1 and gap[0][3] is not None, rows
        i = rows.index(gap[0])
        assert rows[i - 1][3] == gap[0][2] and rows[i + 1][2] == gap[0][3] and rows[i + 1][0] == "online", rows
    _no_overlaps(cluster, paths)

    # while the dead node is down, what it recorded is "unavailable", never "not recorded"
    cam = lost[0]
    day = get_json(f"{web.base}/api/cameras/{cam}/recordings", web.base)
    assert day["unavailable"] and {u["node"] for u in day["unavailable"]} == {victim}, (
        day, cluster.segment_rows(cam)[-3:])
    before = [seg for seg in cluster.segment_rows(cam) if seg["node"] == victim][-1]
    status, _kind, _body = get_bytes(f"{web.base}/camera/{cam}/segments/{before['id']}.ts", web.base)
    assert status == 503

    # 3. restarted (as its service manager would), it takes its share back by clean handovers
    cluster.start(nodes[victim])
    eventually(lambda: holders(cluster) == plan, 40, lambda: f"leases back as planned: {holders(cluster)}")

    # playback through the web node streams each segment from the node that recorded it
    status, _kind, body = get_bytes(f"{web.base}/camera/{cam}/segments/{before['id']}.ts", web.base)
    assert status == 200 and hashlib.sha256(body).hexdigest() == before["sha256"]
    # a clip across the failover: segments of both nodes in one file, signed, and it verifies
    _clip_across(cluster, web, cam, kill_ms, tz, tmp_path, {victim, after[cam]})
    eventually(lambda: all(_last_state(cluster, c) == "online" for c in lost), 20, "the returned cameras online")
    alerts = get_json(f"{web.base}/api/node-alerts", web.base)["alerts"]
    assert [a["closed_ms"] is not None for a in alerts if a["kind"] == "node_lost"] == [True], alerts
    for cam in lost:
        reasons = [r[1] for r in cluster.intervals(cam) if r[0] == "unmonitored"]
        assert reasons.count("node_lost") == 1 and reasons[-1] == "handover", reasons
    _no_overlaps(cluster, paths)

    # 4. a node that stands still (SIGSTOP) past its leases loses them; woken (SIGCONT) it finds them taken,
    #    writes nothing of them (fenced), says nothing of them to the others, and takes its share back
    paused = survivors[0]
    cluster.kill(nodes[paused], signal.SIGSTOP)
    without = planned(tuple(n for n in INGEST if n != paused), paths)
    eventually(lambda: holders(cluster) == without, 20, lambda: f"leases moved off {paused}: {holders(cluster)}")
    cluster.kill(nodes[paused], signal.SIGCONT)
    eventually(lambda: nodes[paused].health()["ingest"]["leases_lost"] >= 1, 20, f"{paused} to notice")
    eventually(lambda: holders(cluster) == plan, 40, lambda: f"leases back as planned: {holders(cluster)}")
    eventually(lambda: all_online(web.base, paths), 30, lambda: f"all online again: {cameras(web.base)}")
    _no_overlaps(cluster, paths)

    # 5. a clean stop: exit 0, every lease released and marked
    for n in INGEST:
        assert cluster.stop(nodes[n]) == 0, nodes[n].log_text()[-3000:]
    assert holders(cluster) == {}
    for cam in paths:
        assert cluster.intervals(cam)[-1][:2] == ("unmonitored", "handover")
    for w in (web, web2):
        assert cluster.stop(w) == 0, w.log_text()[-3000:]


def _clip_across(cluster: Cluster, web: Any, cam: str, kill_ms: int, tz: ZoneInfo, tmp_path: Path,
                 nodes: set[str]) -> None:
    """A police request over [kill − 12 s, kill + 30 s) of ``cam``, approved by the admin, exported by the web
    node from the segments of both nodes, downloaded and verified against the key the node publishes."""
    eventually(lambda: any(s["start_ms"] > kill_ms + 30_000 for s in cluster.segment_rows(cam)), 60,
               "segments recorded past the clip's end")
    name, password = "bripka-andi", "police-password-0123"
    r = subprocess.run([sys.executable, "-m", "cctv", "user", "add", name, "--role", "police", "--scope", "/",
                        "--password-stdin", "--config", str(web.config)], input=password + "\n", text=True,
                       capture_output=True, timeout=60, env={**os.environ, "CCTV_NODE_SECRET": NODE_SECRET})
    assert r.returncode == 0, r.stderr
    police = login_opener(web.base, name, password)
    admin = login_opener(web.base, "admin", ADMIN_PASSWORD)

    def local(ms: int) -> str:
        return datetime.fromtimestamp(ms / 1000, tz).strftime("%Y-%m-%dT%H:%M:%S")

    def post(opener: Any, url: str, fields: dict[str, str]) -> str:
        with opener.open(f"{web.base}/", timeout=10) as page:
            token = re.search(r'<meta name="csrf-token" content="([^"]+)">', page.read().decode())
        assert token
        data = urllib.parse.urlencode({**fields, "csrf_token": token.group(1)}).encode()
        with opener.open(f"{web.base}{url}", data=data, timeout=30) as res:
            return res.url

    start_ms = (kill_ms - 12_000) // 1000 * 1000
    where = post(police, "/clips", {"camera": cam, "start": local(start_ms), "end": local(start_ms + 42_000),
                                     "case_ref": "LP/B/77/XII/2026", "reason": "Uji failover"})
    rid = int(where.rstrip("/").rsplit("/", 1)[1])
    post(admin, f"/clips/{rid}/approve", {"comment": "Lengkap."})
    body = eventually(lambda: ((b := _json(police, f"{web.base}/api/clips/{rid}"))["state"] == "ready"
                               or b.get("error")) and b, 90, lambda: f"the export: {_json(police, f'{web.base}/api/clips/{rid}')}")
    assert body["state"] == "ready", body
    urls = body["cameras"][0]["urls"]
    clip, manifest, pub = tmp_path / "clip.mp4", tmp_path / "clip.manifest.json", tmp_path / "node.pub"
    for url, dest in ((urls["clip"], clip), (urls["manifest"], manifest)):
        with police.open(f"{web.base}{url}", timeout=30) as res:
            dest.write_bytes(res.read())
    with urllib.request.urlopen(f"{web.base}/keys/node.pub", timeout=10) as res:  # noqa: S310 - loopback
        pub.write_bytes(res.read())
    report = verify_files(clip, manifest, pub)
    assert report.ok, report.failed
    # both nodes' segments (and, this early in the test, maybe those of the first node up before it handed over)
    assert {s.get("node") for s in report.body["segments"]} >= nodes  # type: ignore[index]
    assert not report.body["gaps"] or all(g["end_ms"] - g["start_ms"] < 20_000 for g in report.body["gaps"])  # type: ignore[index]


def _json(opener: Any, url: str) -> dict[str, Any]:
    with opener.open(url, timeout=10) as res:
        return json.load(res)


def _status(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=3) as r:  # noqa: S310 - loopback
            return r.status
    except urllib.error.HTTPError as exc:
        return exc.code


def _last_state(cluster: Cluster, camera: str) -> str | None:
    rows = cluster.intervals(camera)
    return rows[-1][0] if rows else None


def _no_overlaps(cluster: Cluster, paths: list[str]) -> None:
    """One reporter at a time: a camera's intervals follow each other, never overlap, and one at most is open."""
    for cam in paths:
        rows = cluster.intervals(cam)
        assert sum(1 for r in rows if r[3] is None) <= 1, rows
        for a, b in zip(rows, rows[1:], strict=False):
            assert a[3] is not None and a[3] <= b[2], rows


def test_redis_and_postgresql_restarts_lose_nothing(tmp_path: Path) -> None:
    """Redis restarted: nothing moves, the nodes reconnect, and a change made meanwhile shows once the views read
    the store again. PostgreSQL down for a while: ingest keeps recording, rows wait and land when it is back,
    no lease moves, nothing is lost."""
    if why := gst_rtsp_missing():
        pytest.skip(why)
    paths = camera_paths(6)
    city = write_city(tmp_path, free_port(), free_port(), 6, extra="recording: {segment_s: 4}")
    config = load_config(city)
    cluster = Cluster(tmp_path / "cluster", config.model_dump(mode="json", exclude_unset=True), private_pg=True)
    names = ("ingest-a", "ingest-b")
    try:
        with SimulatorProcess(config, tmp_path / "cache", tmp_path / "truth.jsonl") as sim:
            web = cluster.start(cluster.add("web-1", "serve"))
            nodes = {n: cluster.start(cluster.add(n)) for n in names}
            plan = planned(names, paths)
            eventually(lambda: holders(cluster) == plan, 60, lambda: f"leases as planned: {holders(cluster)}")
            eventually(lambda: all_online(web.base, paths), 60, "all online via the web node")

            # Redis restarted, and a camera goes dark meanwhile
            dark = paths[0]
            cluster.redis.stop()
            sim.set_state(dark, "offline")
            eventually(lambda: _last_state(cluster, dark) == "offline", 30, "the dark camera offline in the store")
            cluster.redis.start()
            eventually(lambda: cameras(web.base).get(dark, {}).get("state") == "offline", 30,
                       "the web node to show what happened while Redis was away")
            assert holders(cluster) == plan
            for node in nodes.values():
                eventually(lambda n=node: n.health()["ingest"]["redis"]["reconnects"] >= 1, 20, "a reconnect")
            sim.set_state(dark, "normal")
            eventually(lambda: all_online(web.base, paths), 40, "all online again")

            # PostgreSQL down for 10 s, then back
            before = len(cluster.segments())
            cluster.engine.dispose()
            assert cluster.pg is not None
            cluster.pg.stop()
            down_ms = int(time.time() * 1000)
            time.sleep(10.0)  # the outage itself: what is measured is what survives it
            up_ms = int(time.time() * 1000)
            cluster.pg.start()
            eventually(lambda: len(cluster.segments()) > before + 2 * len(paths), 60, "the waiting rows written")
            eventually(lambda: all(any(c == cam and e > up_ms for c, _s, e, _n in cluster.segments())
                                   for cam in paths), 60, "every camera's segment past the outage indexed")
            eventually(lambda: holders(cluster) == plan, 30, lambda: f"no lease moved: {holders(cluster)}")
            eventually(lambda: all_online(web.base, paths), 40, "all online after the outage")
            for node in nodes.values():
                h = node.health()["ingest"]
                assert h["store_outages"] >= 1 and h["store_lost"] == 0, h
            segs = cluster.segments()
            for cam in paths:  # recorded through the outage: its segments cover it
                covered = sum(max(0, min(e, up_ms) - max(s, down_ms)) for c, s, e, _n in segs if c == cam)
                assert covered >= 0.8 * (up_ms - down_ms), (cam, covered, [x for x in segs if x[0] == cam][-6:])
                # on its node's disk, named so (before: the first node up may have recorded it before handing over)
                assert {n for c, s, _e, n in segs if c == cam and s >= down_ms - 5000} == {plan[cam]}
            _no_overlaps(cluster, paths)
            for n in names:
                assert cluster.stop(nodes[n]) == 0, nodes[n].log_text()[-3000:]
            assert cluster.stop(web) == 0, web.log_text()[-3000:]
    finally:
        cluster.close()


def test_a_node_cut_off_from_redis_never_makes_two_owners(tmp_path: Path) -> None:
    """Ingest node b reaches Redis through a link that fails (a proxy that stops forwarding): the others no
    longer see b's heartbeat and would take its cameras, but b still renews its leases in PostgreSQL, so they
    cannot: every camera keeps exactly one owner, online, and nothing moves until the link is back."""
    if why := gst_rtsp_missing():
        pytest.skip(why)
    paths = camera_paths(6)
    city = write_city(tmp_path, free_port(), free_port(), 6, extra="recording: {enabled: false}")
    config = load_config(city)
    cluster = Cluster(tmp_path / "cluster", config.model_dump(mode="json", exclude_unset=True))
    link = TcpProxy(cluster.redis.port).start()
    names = ("ingest-a", "ingest-b")
    try:
        with SimulatorProcess(config, tmp_path / "cache", tmp_path / "truth.jsonl"):
            a = cluster.start(cluster.add("ingest-a"))
            b = cluster.start(cluster.add("ingest-b", bus_url=f"redis://127.0.0.1:{link.port}/0"))
            plan = planned(names, paths)
            eventually(lambda: holders(cluster) == plan, 60, lambda: f"leases as planned: {holders(cluster)}")
            eventually(lambda: all(_last_state(cluster, c) == "online" for c in paths), 60, "all online")
            mine = sorted(c for c, n in plan.items() if n == "ingest-b")
            link.cut()
            # a no longer sees b, and tries to take b's cameras every round: the leases say no
            eventually(lambda: "ingest-b" not in a.health()["ingest"]["peers"], 20, "a to lose sight of b")
            taken = a.health()["ingest"]["leases_taken"]
            deadline = time.monotonic() + 12
            while time.monotonic() < deadline:
                assert holders(cluster) == plan  # one owner each, the same
                time.sleep(1.0)  # a sampling period, not a wait for something
            assert a.health()["ingest"]["leases_taken"] == taken  # it tried, every round, and took none
            assert all(_last_state(cluster, c) == "online" for c in mine)  # b still watches and writes them
            link.heal()
            eventually(lambda: "ingest-b" in a.health()["ingest"]["peers"], 30, "a to see b again")
            assert holders(cluster) == plan
            _no_overlaps(cluster, paths)
            for n in (a, b):
                assert cluster.stop(n) == 0, n.log_text()[-3000:]
    finally:
        link.stop()
        cluster.close()
