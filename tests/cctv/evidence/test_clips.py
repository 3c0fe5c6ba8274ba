"""Clip requests: the pure workflow and policy, the store on a real database (locks against retention), and the
export job over real recorded H.264 (a real export, a real crash mid-export and the start-up recovery)."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from cctv.accounts.policy import Principal, Role, Scope
from cctv.audit.log import AuditLog
from cctv.clock import FakeClock
from cctv.config.models import Config
from cctv.evidence.jobs import INTERRUPTED, ExportRunner
from cctv.evidence.requests import (
    MAX_CAMERAS,
    ClipCamera,
    ClipError,
    ClipRequest,
    Invalid,
    NewRequest,
    State,
    allowed_actions,
    check,
    holder,
    validate_comment,
    validate_new,
)
from cctv.evidence.verify import verify_files
from cctv.recording import RetentionPolicy
from cctv.sites import Sites
from cctv.store import Store
from cctv.store.clip_store import ClipStore
from cctv.store.segments import NewSegment, add_segment, segments
from streams.recording.maintenance import apply_retention
from tests.helpers.evidence import record, source_clip
from tests.helpers.paths import REPO
from tests.helpers.web import WEB_CONFIG

CAM1 = "kota-baru/paal-lima/rt-07/cam-1"
CAM2 = "kota-baru/paal-lima/rt-07/cam-2"
CAM4 = "kota-baru/simpang-tiga-sipin/rt-01/cam-1"
T0 = 1_767_225_600_000
MIN = 60_000
KEL = "kota-baru/paal-lima"

SITES = Sites(Config.model_validate(WEB_CONFIG))


def who(name: str, role: str, *scopes: str, uid: int) -> Principal:
    return Principal(uid, name, Role(role), Scope.of(scopes or ["/"]))


POLICE = who("polisi", "police", KEL, uid=1)
OTHER_POLICE = who("polisi2", "police", KEL, uid=2)
OPERATOR = who("operator", "operator", KEL, uid=3)
OPERATOR_OUT = who("operator-sipin", "operator", "kota-baru/simpang-tiga-sipin", uid=4)
ADMIN = who("admin", "admin", "/", uid=5)
TECH = who("tech", "technician", "/", uid=6)


def request(
    state: State = State.REQUESTED,
    cameras: tuple[str, ...] = (CAM1,),
    requester: Principal = POLICE,
    request_id: int = 7,
) -> ClipRequest:
    return ClipRequest(
        request_id,
        state,
        requester.username,
        requester.user_id,
        "LP/123/I/2026",
        "theft",
        T0,
        T0 + 10 * MIN,
        T0,
        tuple(ClipCamera(i, c) for i, c in enumerate(cameras, 1)),
    )


# -- pure: who may do what ------------------------------------------------------------------------------------


def test_states_follow_the_documented_machine():
    r = request()
    assert check(OPERATOR, r, "approve") == State.APPROVED
    assert check(OPERATOR, r, "reject") == State.REJECTED
    assert check(POLICE, r, "close") == State.CLOSED  # withdraw
    for state, action in [
        (State.REQUESTED, "export"),
        (State.APPROVED, "approve"),
        (State.REJECTED, "close"),
        (State.EXPORTING, "close"),
        (State.CLOSED, "approve"),
        (State.READY, "export"),
    ]:
        with pytest.raises(ClipError) as exc:
            check(ADMIN, request(state), action)
        assert exc.value.status == 409 and exc.value.code == "wrong_state", (state, action)
    assert check(OPERATOR, request(State.APPROVED), "export") == State.EXPORTING
    assert check(POLICE, request(State.READY), "close") == State.CLOSED


def test_who_may_decide_see_and_download():
    r = request()
    with pytest.raises(ClipError) as exc:  # the requester never decides their own
        check(who("polisi", "admin", "/", uid=1), r, "approve")
    assert (exc.value.status, exc.value.code) == (403, "self_approval")
    for stranger in (OTHER_POLICE, OPERATOR_OUT, TECH):  # someone else's / out of scope / no role: not there
        with pytest.raises(ClipError) as exc:
            check(stranger, r, "approve")
        assert exc.value.status == 404, stranger
    with pytest.raises(ClipError) as exc:
        check(POLICE, r, "approve")
    assert exc.value.status == 403 and exc.value.code == "not_approver"
    # a request over two kelurahan: only an approver covering both may see it
    both = request(cameras=(CAM1, CAM4))
    with pytest.raises(ClipError) as exc:
        check(OPERATOR, both, "approve")
    assert exc.value.status == 404
    assert check(ADMIN, both, "approve") == State.APPROVED

    # downloads: the requester and admins, only when ready
    for state in (State.REQUESTED, State.APPROVED, State.EXPORTING, State.REJECTED, State.CLOSED):
        with pytest.raises(ClipError) as exc:
            check(POLICE, request(state), "download")
        assert (exc.value.status, exc.value.code) == (403, "not_ready"), state
    ready = request(State.READY)
    assert check(POLICE, ready, "download") == State.READY
    assert check(ADMIN, ready, "download") == State.READY
    with pytest.raises(ClipError) as exc:
        check(OPERATOR, ready, "download")
    assert (exc.value.status, exc.value.code) == (403, "not_requester")
    with pytest.raises(ClipError) as exc:
        check(OTHER_POLICE, ready, "download")
    assert exc.value.status == 404
    assert allowed_actions(POLICE, ready) == {"download", "close"}
    assert allowed_actions(OPERATOR, request()) == {"approve", "reject", "close"}
    assert allowed_actions(OPERATOR_OUT, request()) == frozenset()


def test_a_new_request_is_checked_field_by_field():
    now = T0 + 60 * MIN
    ok = validate_new(
        POLICE,
        SITES,
        cameras=[CAM1, f"/{CAM1}/", CAM2],
        start_ms=T0,
        end_ms=T0 + MIN,
        case_ref="  LP/123/I/2026\x07 ",
        reason=" pencurian motor ",
        now_ms=now,
    )
    assert ok == NewRequest((CAM1, CAM2), T0, T0 + MIN, "LP/123/I/2026", "pencurian motor")

    def errors(**kw) -> set[tuple[str, str]]:
        args = {
            "cameras": [CAM1],
            "start_ms": T0,
            "end_ms": T0 + MIN,
            "case_ref": "X",
            "reason": "Y",
            "now_ms": now,
        } | kw
        with pytest.raises(Invalid) as exc:
            validate_new(POLICE, SITES, **args)
        return {(e.field, e.code) for e in exc.value.errors}

    # a camera outside the scope is answered exactly as one that does not exist
    assert errors(cameras=[CAM4]) == {("cameras", "unknown_camera")}
    assert errors(cameras=["kota-baru/paal-lima/rt-07/nope"]) == {("cameras", "unknown_camera")}
    assert errors(cameras=[]) == {("cameras", "no_camera")}
    many = [f"{CAM1}"] + [f"kota-baru/paal-lima/rt-07/x{i}" for i in range(MAX_CAMERAS)]
    assert ("cameras", "too_many_cameras") in errors(cameras=many)
    assert errors(end_ms=T0) == {("end", "end_before_start")}
    assert errors(end_ms=T0 + 25 * 60 * MIN) >= {("end", "too_long")}
    assert errors(start_ms=now - MIN, end_ms=now + MIN) == {("end", "in_future")}
    assert errors(start_ms=None, end_ms=None) == {("start", "no_time"), ("end", "no_time")}
    assert errors(case_ref=" \t ", reason="") == {("case_ref", "required"), ("reason", "required")}
    assert errors(case_ref="x" * 129) == {("case_ref", "too_long_text")}
    assert validate_comment("  ok  ") == "ok"
    with pytest.raises(Invalid):
        validate_comment("   ")


# -- the store: states, compare-and-set, locks against retention ---------------------------------------------


def _segments(store: Store, root: Path, camera: str, n: int, t0: int = T0) -> list[int]:
    ids = []
    for i in range(n):
        rel = f"{camera}/2026-01-01/{t0 + i * MIN}.ts"
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_bytes(b"x" * 1000)
        ids.append(
            add_segment(store, NewSegment(camera, t0 + i * MIN, t0 + (i + 1) * MIN, rel, 1000, "0" * 64, 600))
        )
    return ids


def test_approval_locks_the_covered_segments_until_close(store, tmp_path):
    root = tmp_path / "rec"
    cam1 = _segments(store, root, CAM1, 10)
    cam2 = _segments(store, root, CAM2, 10)
    clips = ClipStore(store.engine)
    new = NewRequest((CAM1,), T0 + 2 * MIN + 500, T0 + 5 * MIN, "LP/1", "why")
    rid = clips.create(new, POLICE.username, POLICE.user_id, T0 + 20 * MIN)
    req = clips.get(rid)
    assert req is not None and req.state == State.REQUESTED and req.camera_paths == (CAM1,)
    assert clips.locked_segments(rid) == []

    assert clips.decide(rid, State.REQUESTED, State.APPROVED, "operator", "ok", T0 + 21 * MIN) == 3
    assert clips.locked_segments(rid) == cam1[2:5]  # the minutes 2, 3 and 4 overlap the range
    with pytest.raises(ClipError) as exc:  # a second approver, a moment late
        clips.decide(rid, State.REQUESTED, State.REJECTED, "admin", "no", T0 + 21 * MIN)
    assert exc.value.status == 409 and clips.get(rid).decided_by == "operator"  # type: ignore[union-attr]

    # retention under a tiny quota deletes everything else, oldest first, and never a locked segment
    policy = RetentionPolicy(default_days=365, quota_bytes=1)
    assert apply_retention(root, store, policy, T0 + 22 * MIN) == 17
    left = segments(store)
    assert [s.id for s in left] == cam1[2:5] and all(s.locked for s in left)
    assert all((root / s.path).exists() for s in left)
    assert not any((root / f"{CAM2}/2026-01-01/{T0 + i * MIN}.ts").exists() for i in range(10)) and cam2

    clips.close(rid, State.APPROVED, "polisi", T0 + 30 * MIN)
    assert clips.get(rid).state == State.CLOSED and clips.locked_segments(rid) == []  # type: ignore[union-attr]
    assert apply_retention(root, store, policy, T0 + 31 * MIN) == 3
    assert segments(store) == []


def test_reject_takes_no_locks_and_export_states(store, tmp_path):
    root = tmp_path / "rec"
    _segments(store, root, CAM1, 3)
    clips = ClipStore(store.engine)
    rid = clips.create(NewRequest((CAM1,), T0, T0 + MIN, "LP/2", "why"), "polisi", 1, T0)
    assert clips.decide(rid, State.REQUESTED, State.REJECTED, "operator", "no letter", T0) == 0
    assert clips.locked_segments(rid) == []
    with pytest.raises(ClipError):
        clips.close(rid, State.REQUESTED, "polisi", T0)

    rid = clips.create(NewRequest((CAM1, CAM2), T0, T0 + 2 * MIN, "LP/3", "why"), "polisi", 1, T0)
    clips.decide(rid, State.REQUESTED, State.APPROVED, "operator", "ok", T0)
    _segments(store, root, CAM2, 2)  # indexed after the approval: the export start locks them too
    assert clips.begin_export(rid, "node-a", T0) == 2
    clips.set_progress(rid, 40)
    assert clips.get(rid).progress_pct == 40  # type: ignore[union-attr]
    clips.fail_export(rid, "segment damaged")
    req = clips.get(rid)
    assert req is not None and req.state == State.APPROVED and req.error == "segment damaged"
    clips.begin_export(rid, "node-a", T0)
    assert clips.recover("node-b", INTERRUPTED) == []  # another node's export is not ours to reset
    assert clips.recover("node-a", INTERRUPTED) == [rid]
    assert clips.get(rid).state == State.APPROVED and len(clips.locked_segments(rid)) == 4  # type: ignore[union-attr]
    assert [r.id for r in clips.find(requester_id=1)] == [rid, rid - 1]
    assert [r.id for r in clips.find(states=[State.REJECTED])] == [rid - 1]


# -- the export job: real recordings, a real export, a real crash -------------------------------------------


@pytest.fixture(scope="module")
def source(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return source_clip(tmp_path_factory.mktemp("src") / "src.mp4")


def _runner(store: Store, tmp_path: Path, clock: FakeClock) -> ExportRunner:
    return ExportRunner(
        store,
        ClipStore(store.engine),
        SITES,
        clock,
        AuditLog(store.engine),
        tmp_path / "data",
        tmp_path / "data" / "recordings",
        node="node-a",
    )


@pytest.fixture
def recorded(tmp_path: Path, source: Path):
    s = Store(f"sqlite:///{tmp_path / 'cctv.sqlite3'}")
    s.migrate()
    record(s, tmp_path / "data" / "recordings", source, 4 * 60, camera=CAM1)
    yield s
    s.close()


async def test_an_approved_request_is_exported_signed_and_verifiable(recorded: Store, tmp_path: Path):
    clock = FakeClock(T0 + 10 * MIN)
    runner = _runner(recorded, tmp_path, clock)
    clips = runner.clips
    rid = clips.create(NewRequest((CAM1, CAM2), T0 + MIN + 500, T0 + 3 * MIN, "LP/9", "why"), "polisi", 1, T0)
    clips.decide(rid, State.REQUESTED, State.APPROVED, "operator", "ok", clock.now_ms())
    await runner.start(clips.get(rid), "operator")  # type: ignore[arg-type]
    await asyncio.wrap_future(runner.job(rid))  # type: ignore[arg-type]
    req = clips.get(rid)
    assert req is not None and req.state == State.READY and req.progress_pct == 100 and req.error is None
    cam1, cam2 = req.cameras
    assert cam2.clip_file is None  # nothing recorded of cam-2: listed, no files
    clip, manifest = runner.file(rid, cam1.clip_file), runner.file(rid, cam1.manifest_file)
    assert clip is not None and manifest is not None
    report = verify_files(clip, manifest)
    assert report.ok, report.failed
    assert report.body["request"]["id"] == str(rid) and report.body["approver"] == "operator"  # type: ignore[index]
    assert cam1.actual_start_ms is not None and T0 + MIN - 2000 < cam1.actual_start_ms <= T0 + MIN + 500
    assert sorted(p.name for p in runner.request_dir(rid).iterdir()) == sorted([clip.name, manifest.name])
    actions = [e.action for e in AuditLog(recorded.engine).entries() if e.object == holder(rid)]
    assert actions == ["clip.export.start", "clip.export"]
    assert runner.file(rid, "../../cctv.sqlite3") is None and runner.file(rid, ".hidden") is None
    await runner.stop()


async def test_a_failed_export_goes_back_to_approved(recorded: Store, tmp_path: Path):
    clock = FakeClock(T0 + 10 * MIN)
    runner = _runner(recorded, tmp_path, clock)
    rid = runner.clips.create(NewRequest((CAM2,), T0, T0 + MIN, "LP/10", "why"), "polisi", 1, T0)
    runner.clips.decide(rid, State.REQUESTED, State.APPROVED, "operator", "ok", clock.now_ms())
    await runner.start(runner.clips.get(rid), "operator")  # type: ignore[arg-type]
    await asyncio.wrap_future(runner.job(rid))  # type: ignore[arg-type]
    req = runner.clips.get(rid)
    assert req is not None and req.state == State.APPROVED and "nothing was recorded" in (req.error or "")
    assert not runner.request_dir(rid).exists()
    assert [e.action for e in AuditLog(recorded.engine).entries()][-1] == "clip.export.failed"
    await runner.stop()


CRASHER = """
import os, signal, sys
from pathlib import Path
from cctv.audit.log import AuditLog
from cctv.clock import FakeClock
from cctv.config.models import Config
from cctv.evidence.jobs import ExportRunner, _Progress
from cctv.sites import Sites
from cctv.store import Store
from cctv.store.clip_store import ClipStore
from tests.helpers.web import WEB_CONFIG

SITES = Sites(Config.model_validate(WEB_CONFIG))
tmp, rid = Path(sys.argv[1]), int(sys.argv[2])
real = _Progress.camera
def camera(self, index):
    report = real(self, index)
    def dying(fraction):
        report(fraction)
        if fraction >= 0.5:
            os.kill(os.getpid(), signal.SIGKILL)  # a crash half-way through writing the clip
    return dying
_Progress.camera = camera
store = Store(f"sqlite:///{tmp / 'cctv.sqlite3'}")
runner = ExportRunner(store, ClipStore(store.engine), SITES, FakeClock(), AuditLog(store.engine), tmp / "data",
                      tmp / "data" / "recordings", node="node-a")
store.submit_write(runner.clips.begin_export, rid, "node-a", 0).result()
runner._job(rid, "operator")
"""


def test_a_crash_mid_export_is_cleaned_at_start_up(recorded: Store, tmp_path: Path):
    clock = FakeClock(T0 + 10 * MIN)
    runner = _runner(recorded, tmp_path, clock)
    rid = runner.clips.create(NewRequest((CAM1,), T0, T0 + 4 * MIN, "LP/11", "why"), "polisi", 1, T0)
    runner.clips.decide(rid, State.REQUESTED, State.APPROVED, "operator", "ok", clock.now_ms())
    locks = runner.clips.locked_segments(rid)
    proc = subprocess.run(
        [sys.executable, "-c", CRASHER, str(tmp_path), str(rid)],
        cwd=REPO,
        capture_output=True,
        timeout=120,
        env=os.environ | {"PYTHONPATH": str(REPO)},
    )
    assert proc.returncode == -signal.SIGKILL, proc.stderr.decode()[-2000:]
    req = runner.clips.get(rid)
    assert req is not None and req.state == State.EXPORTING
    partials = list(runner.request_dir(rid).glob("*.partial"))
    assert partials, "the crash should have left the clip half-written"

    assert runner.recover() == [rid]  # start-up
    req = runner.clips.get(rid)
    assert req is not None and req.state == State.APPROVED and req.error == INTERRUPTED
    assert not any(p.exists() for p in partials)
    assert runner.clips.locked_segments(rid) == locks  # still held: the request is still approved
    assert [e.action for e in AuditLog(recorded.engine).entries()][-1] == "clip.export.interrupted"
