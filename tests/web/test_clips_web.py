"""Clip requests over a real socket: police file, an operator approves, a real export of real H.264 recordings
runs, the requester downloads and the files verify with the node's published key; every refusal and every step
is in the audit log, whose chain still verifies. Plus the admin's audit page."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path
from typing import Any

import pytest

from cctv.app.services import Services
from cctv.evidence.requests import State, holder
from cctv.evidence.verify import verify_files
from tests.helpers.catalogue import catalogue, extract
from tests.helpers.evidence import record, source_clip
from tests.helpers.paths import REPO
from tests.helpers.scene import CAM1, CAM2, CAM4, T0
from tests.helpers.web import add_user, csrf_of, login
from web.i18n import Message
from web.i18n_labels import CLIP_AUDIT_ACTIONS, CLIP_ERRORS, CLIP_STATES

KEL = "kota-baru/paal-lima"


def msg_key(msg: str | Message) -> tuple[str | None, str]:
    """(context, msgid) of a marked message, as a catalogue looks it up."""
    return (None, msg) if isinstance(msg, str) else (msg.context, msg.msgid)

MIN = 60_000
TEMPLATES = REPO / "web" / "templates"


@pytest.fixture(scope="module")
def source(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return source_clip(tmp_path_factory.mktemp("src") / "src.mp4")


@pytest.fixture
def recorded(web_services: Services, source: Path) -> Services:
    """Four minutes of CAM1 recorded from T0 by the real recorder; the clock ten minutes later."""
    record(web_services.store, web_services.data_dir / "recordings", source, 4 * 60, camera=CAM1, t0_ms=T0)
    web_services.clock.advance(600)
    return web_services


@pytest.fixture
def as_user(aiohttp_client: Any, web_server: Any, web_services: Services) -> Any:
    async def make(name: str, role: str, *scopes: str) -> Any:
        add_user(web_services, name, role, list(scopes) or ["/"])
        client = await aiohttp_client(web_server)
        assert (await login(client, name)).status == 303
        return client

    return make


async def post(client: Any, url: str, data: dict[str, Any] | list[tuple[str, str]], csrf: bool = True) -> Any:
    if csrf:
        token = await csrf_of(client)
        data = [*data, ("csrf_token", token)] if isinstance(data, list) else {**data, "csrf_token": token}
    return await client.post(url, data=data, allow_redirects=False)


FORM = [
    ("camera", CAM1),
    ("start", "2026-01-01T07:01:00"),
    ("end", "2026-01-01T07:03:00"),
    ("case_ref", "LP/B/123/I/2026/SPKT"),
    ("reason", "Pencurian sepeda motor di depan masjid"),
]


def actions(svc: Services, rid: int) -> list[tuple[str, str]]:
    return [(e.actor, e.action) for e in svc.audit.entries() if e.object == holder(rid)]


async def test_request_approve_export_download_verify(
    recorded: Services, as_user: Any, anon_client: Any, tmp_path: Path
):
    svc = recorded
    police = await as_user("bripka-andi", "police", KEL)
    other_police = await as_user("bripda-budi", "police", KEL)
    operator = await as_user("op-paal", "operator", KEL)
    operator_out = await as_user("op-sipin", "operator", "kota-baru/simpang-tiga-sipin")
    admin = await as_user("admin-kota", "admin", "/")

    # the form offers the cameras in the police user's scope, none beyond
    html = await (await police.get("/clips/new")).text()
    assert CAM1 in html and CAM2 in html and CAM4 not in html and "Lapangan" not in html

    # no CSRF token: 403, nothing filed
    r = await post(police, "/clips", FORM, csrf=False)
    assert r.status == 403 and svc.clips.find() == []
    # a bad field: the form again (400) saying what, nothing filed
    r = await post(police, "/clips", [*FORM[:2], ("end", "2026-01-01T06:00:00"), *FORM[3:]])
    assert (
        r.status == 400
        and "Waktu selesai harus setelah waktu mulai" in await r.text()
        and svc.clips.find() == []
    )
    r = await post(police, "/clips", [("camera", CAM4), *FORM[1:]])  # out of scope: as unknown, and on record
    assert r.status == 400 and f"Kamera tidak dikenal: {CAM4}" in await r.text() and svc.clips.find() == []
    assert svc.audit.entries()[-1].action == "clip.denied"

    r = await post(police, "/clips", FORM)
    assert r.status == 303
    rid = int(r.headers["Location"].rsplit("/", 1)[1])
    req = svc.clips.get(rid)
    assert req is not None and req.state == State.REQUESTED
    assert (req.start_ms, req.end_ms, req.requester) == (T0 + MIN, T0 + 3 * MIN, "bripka-andi")  # 07:01 WIB

    # before approval: no download for anyone, no approval by the requester or an approver out of scope
    assert (await police.get(f"/clips/{rid}/clip/1")).status == 403
    assert (await post(police, f"/clips/{rid}/approve", {"comment": "saya sendiri"})).status == 403
    gone = await operator_out.get(f"/clips/{rid}")
    never = await operator_out.get("/clips/98765")
    assert gone.status == never.status == 404
    assert (await gone.text()).replace(f": {rid}<", ": N<") == (await never.text()).replace(
        ": 98765<", ": N<"
    )
    assert (await post(operator_out, f"/clips/{rid}/approve", {"comment": "ok"})).status == 404
    assert (await other_police.get(f"/clips/{rid}")).status == 404
    assert [r["id"] for r in (await (await other_police.get("/api/clips")).json())["requests"]] == []
    assert [r["id"] for r in (await (await operator_out.get("/api/clips")).json())["requests"]] == []
    assert [r["id"] for r in (await (await operator.get("/api/clips")).json())["requests"]] == [rid]
    assert svc.clips.get(rid).state == State.REQUESTED  # type: ignore[union-attr]

    # approval needs a comment and a CSRF token; then it locks the segments and the export runs
    assert (await post(operator, f"/clips/{rid}/approve", {"comment": "   "})).status == 400
    assert (await post(operator, f"/clips/{rid}/approve", {"comment": "ok"}, csrf=False)).status == 403
    assert svc.clips.get(rid).state == State.REQUESTED and svc.clips.locked_segments(rid) == []  # type: ignore[union-attr]
    r = await post(operator, f"/clips/{rid}/approve", {"comment": "Surat permintaan lengkap."})
    assert r.status == 303 and r.headers["Location"] == f"/clips/{rid}"
    assert len(svc.clips.locked_segments(rid)) == 2  # the segments of minutes 1-2 and 2-3
    await asyncio.wrap_future(svc.exports.job(rid))  # type: ignore[arg-type]
    body = await (await police.get(f"/api/clips/{rid}")).json()
    assert body["state"] == "ready" and body["progress_pct"] == 100 and body["decided_by"] == "op-paal"
    assert body["actions"] == ["close", "download"]
    urls = body["cameras"][0]["urls"]

    # downloads: the operator who approved may not, another police user does not even see it
    assert (await operator.get(urls["clip"])).status == 403
    assert "urls" not in (await (await operator.get(f"/api/clips/{rid}")).json())["cameras"][0]
    assert (await other_police.get(urls["clip"])).status == 404
    assert (await operator_out.get(urls["manifest"])).status == 404
    r = await police.get(urls["clip"])
    assert r.status == 200 and r.content_type == "video/mp4"
    assert r.headers["Content-Disposition"].startswith(
        'attachment; filename="LP-B-123-I-2026-SPKT_kota-baru_'
    )
    clip = tmp_path / "got.mp4"
    clip.write_bytes(await r.read())
    manifest = tmp_path / "got.manifest.json"
    manifest.write_bytes(await (await police.get(urls["manifest"])).read())
    part = await police.get(urls["clip"], headers={"Range": "bytes=0-99"})
    assert part.status == 206 and await part.read() == clip.read_bytes()[:100]
    assert (await admin.get(urls["manifest"])).status == 200

    # the files verify offline against the key the node publishes (no login needed for it)
    r = await anon_client.get("/keys/node.pub")
    assert r.status == 200 and (await r.text()).startswith("-----BEGIN PUBLIC KEY-----")
    pub = tmp_path / "node.pub"
    pub.write_bytes(await r.read())
    report = verify_files(clip, manifest, pub)
    assert report.ok, report.failed
    assert report.body["request"]["case_ref"] == "LP/B/123/I/2026/SPKT"  # type: ignore[index]
    page = await (await police.get(f"/clips/{rid}")).text()
    assert r.headers["X-Key-Fingerprint"] in page and report.body["clip"]["sha256"] in page  # type: ignore[index]

    # closing releases the segments; downloads end
    assert (await post(police, f"/clips/{rid}/close", {})).status == 303
    assert svc.clips.get(rid).state == State.CLOSED and svc.clips.locked_segments(rid) == []  # type: ignore[union-attr]
    assert (await police.get(urls["clip"])).status == 403

    # every step and every refusal, with who, in the hash-chained log
    steps = actions(svc, rid)
    assert steps[0] == ("bripka-andi", "clip.request")
    assert ("bripka-andi", "clip.denied") in steps  # download before approval, approval of their own
    assert ("op-sipin", "clip.denied") in steps and ("bripda-budi", "clip.denied") in steps
    assert ("op-paal", "clip.denied") in steps  # the operator's download
    want = [
        ("op-paal", "clip.approve"),
        ("op-paal", "clip.export.start"),
        ("op-paal", "clip.export"),
        ("bripka-andi", "clip.download"),
        ("admin-kota", "clip.download"),
        ("bripka-andi", "clip.close"),
    ]
    assert [s for s in steps if s in want] == [
        *want[:3],
        *[s for s in steps if s[1] == "clip.download"],
        want[-1],
    ]
    downloads = [e for e in svc.audit.entries() if e.action == "clip.download"]
    assert len(downloads) == 4 and {e.actor for e in downloads} == {
        "bripka-andi",
        "admin-kota",
    }  # clip, manifest, range
    assert report.body["clip"]["sha256"] in downloads[0].detail  # type: ignore[index]
    denied = [e for e in svc.audit.entries() if e.action == "clip.denied" and e.actor == "bripka-andi"]
    assert any('"why":"not_ready"' in e.detail for e in denied) and any(
        '"why":"not_approver"' in e.detail for e in denied
    )
    assert svc.audit.verify() is None


async def test_self_approval_reject_and_progress(recorded: Services, as_user: Any):
    svc = recorded
    admin = await as_user("admin-kota", "admin", "/")
    r = await post(admin, "/clips", FORM)
    assert r.status == 303
    rid = int(r.headers["Location"].rsplit("/", 1)[1])
    r = await post(admin, f"/clips/{rid}/approve", {"comment": "mine"})
    assert r.status == 403 and "tidak boleh memutuskan permintaannya sendiri" in await r.text()
    assert ("admin-kota", "clip.denied") in actions(svc, rid)

    operator = await as_user("op-paal", "operator", KEL)
    assert (await post(operator, f"/clips/{rid}/reject", {"comment": "Tanpa surat"})).status == 303
    req = svc.clips.get(rid)
    assert req is not None and req.state == State.REJECTED and svc.clips.locked_segments(rid) == []
    r = await post(operator, f"/clips/{rid}/approve", {"comment": "late"})
    assert r.status == 409 and svc.clips.get(rid).state == State.REJECTED  # type: ignore[union-attr]

    # an export in progress shows its percentage, live from the store
    police = await as_user("bripka-andi", "police", KEL)
    rid2 = int((await post(police, "/clips", FORM)).headers["Location"].rsplit("/", 1)[1])
    req2 = svc.clips.get(rid2)
    assert req2 is not None
    svc.clips.decide(rid2, State.REQUESTED, State.APPROVED, "op-paal", "ok", svc.clock.now_ms())
    svc.clips.begin_export(rid2, "elsewhere", svc.clock.now_ms())  # another node's export
    svc.clips.set_progress(rid2, 42)
    assert (await (await police.get(f"/api/clips/{rid2}")).json())["progress_pct"] == 42
    html = await (await police.get(f"/clips/{rid2}")).text()
    assert 'value="42"' in html and "/static/clips.js" in html
    assert (await police.get(f"/clips/{rid2}/clip/1")).status == 403

    # lists: police see their own, approvers those in scope
    mine = (await (await police.get("/api/clips")).json())["requests"]
    assert [r["id"] for r in mine] == [rid2]
    assert [r["id"] for r in (await (await operator.get("/api/clips?state=open")).json())["requests"]] == [
        rid2
    ]
    html = await (await operator.get("/clips")).text()
    assert f'href="/clips/{rid}"' in html and f'href="/clips/{rid2}"' in html
    assert (await operator.get("/clips?state=bogus")).status == 400


async def test_roles_without_clips_and_the_audit_page(recorded: Services, as_user: Any):
    svc = recorded
    tech = await as_user("tek", "technician", "/")
    viewer = await as_user("lihat", "viewer", "/")
    for client in (tech, viewer):
        for url in ("/clips", "/api/clips", "/clips/new", "/clips/1", "/api/clips/1", "/admin/audit"):
            assert (await client.get(url)).status == 403, url
    operator = await as_user("op", "operator", KEL)
    assert (await operator.get("/clips/new")).status == 403  # operators decide, police file
    assert (await operator.get("/admin/audit")).status == 403
    scoped_admin = await as_user("admin-kel", "admin", KEL)
    assert (await scoped_admin.get("/admin/audit")).status == 403  # the log covers the city

    admin = await as_user("admin-kota", "admin", "/")
    police = await as_user("bripka-andi", "police", KEL)
    await post(police, "/clips", FORM)
    r = await admin.get("/admin/audit")
    html = await r.text()
    assert r.status == 200 and "Rantai hash utuh" in html and "clip.request" in html and "login" in html
    head = svc.audit.entries()[-1]
    assert head.hash in html
    html = await (await admin.get("/admin/audit?action=clip.*&actor=bripka-andi")).text()
    assert "clip.request" in html and ">login<" not in html
    html = await (await admin.get("/admin/audit?limit=2")).text()
    older = re.search(r'href="(/admin/audit\?[^"]*before=\d+)"', html)
    assert older and html.count("<tr>") == 3  # a header and two entries
    html2 = await (await admin.get(older.group(1).replace("&amp;", "&"))).text()
    assert html2.count("<tr>") == 3
    assert (await admin.get("/admin/audit?from=2026-13-01")).status == 400
    assert (await admin.get("/admin/audit?from=2026-01-02&to=2026-01-01")).status == 400

    # a broken chain shows as broken (an entry edited behind the log's back)
    from sqlalchemy import text

    with svc.store.engine.begin() as conn:
        conn.execute(text("UPDATE audit_log SET actor = 'someone' WHERE seq = 1"))
    svc.clock.advance(60)  # past the page's cache
    r = await admin.get("/admin/audit")
    assert "RANTAI HASH RUSAK mulai entri #1" in await r.text()


def test_every_text_the_pages_use_exists_in_both_languages():
    root = REPO
    files = {f"web/templates/{name}" for name in (
        "clips.html",
        "clip_new.html",
        "clip_request.html",
        "_clip_files.html",
        "_clip_progress.html",
        "audit.html",
        "_recordings.html",
    )}
    files |= {f"web/views/{name}" for name in ("clips.py", "clip_access.py", "clip_files.py", "playback.py", "audit_page.py")}
    found = [e for e in extract() if e.where.rsplit(":", 1)[0] in files]
    used = {(e.context, e.key) for e in found}
    used |= {msg_key(CLIP_STATES[str(s)]) for s in State} | {msg_key(CLIP_STATES["open"])}
    policy = (root / "cctv" / "evidence" / "requests.py").read_text()
    codes = set(re.findall(r'ClipError\(\s*\d+,\s*"(\w+)"', policy))
    codes |= set(re.findall(r'FieldError\(\s*"\w+",\s*"(\w+)"', policy))
    assert {"self_approval", "not_ready", "unknown_camera", "in_future"} <= codes
    used |= {msg_key(CLIP_ERRORS[c]) for c in codes | {"changed", "bad_time", "not_found", "no_file"}}
    used |= {
        msg_key(CLIP_AUDIT_ACTIONS[a])
        for a in (
            "clip.request",
            "clip.approve",
            "clip.reject",
            "clip.export.start",
            "clip.export",
            "clip.export.failed",
            "clip.export.interrupted",
            "clip.download",
            "clip.close",
            "clip.denied",
        )
    }
    cats = [catalogue(lang) for lang in ("id", "en")]
    missing = sorted(str(k) for k in used if any(not (m := c.get(k[1], context=k[0])) or not m.string for c in cats))
    assert not missing and len(used) > 100, (missing, len(used))
