"""Recording segments: naming, retention decisions and start-up reconciliation. Pure logic, no I/O.

Crash-safe ordering (docs/recording.md): a segment is written to ``NAME.partial``, fsynced, renamed to its
final name, and only then indexed (a row). Deletion marks the row garbage, unlinks the file, then deletes
the row. After a crash, ``reconcile`` decides from what is on disk and in the store what to finish, so that
there is never a row without its file nor a complete file without a row.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import PurePosixPath

SEGMENT_SUFFIX = ".ts"
PARTIAL_SUFFIX = ".ts.partial"


@dataclass(frozen=True, slots=True)
class Segment:
    id: int
    camera: str
    start_ms: int
    end_ms: int
    size_bytes: int
    locked: bool = False
    garbage: bool = False
    path: str = ""  # relative to the recordings root
    node: str | None = None  # the ingest node whose disk holds it (None: the one node of ``cctv run``)


def segment_relpath(camera: str, start_ms: int, suffix: str = SEGMENT_SUFFIX) -> str:
    """``kec/kel/rt/cam/2026-11-23/1763900000000.ts``: one folder per camera per UTC day."""
    day = datetime.fromtimestamp(start_ms / 1000, tz=UTC).strftime("%Y-%m-%d")
    return str(PurePosixPath(*camera.split("/"), day, f"{start_ms}{suffix}"))


def camera_of_relpath(relpath: str) -> str | None:
    """The camera path a segment file belongs to, or None if the name is not one of ours."""
    parts = PurePosixPath(relpath).parts
    if len(parts) != 6 or not (parts[-1].endswith(SEGMENT_SUFFIX) or parts[-1].endswith(PARTIAL_SUFFIX)):
        return None
    return "/".join(parts[:4])


def recordings_root(data_dir: str, configured: str | None) -> str:
    """recording.dir, relative to the data directory; 'recordings' in it by default."""
    if not configured:
        return str(PurePosixPath(data_dir) / "recordings")
    return configured if configured.startswith("/") else str(PurePosixPath(data_dir) / configured)


@dataclass(frozen=True, slots=True)
class RetentionPolicy:
    default_days: float
    quota_bytes: int | None = None
    days_by_camera: dict[str, float] = field(default_factory=dict)


def retention_victims(segments: Sequence[Segment], policy: RetentionPolicy, now_ms: int) -> list[Segment]:
    """Segments to delete, oldest first: every unlocked segment past its camera's retention days, then, while
    the total size is over the quota, the oldest unlocked segments across all cameras. Locked segments are
    never chosen, even when that leaves the total over quota (the caller reports it)."""
    victims: list[Segment] = []
    chosen: set[int] = set()
    for s in sorted(segments, key=lambda s: (s.end_ms, s.id)):
        days = policy.days_by_camera.get(s.camera, policy.default_days)
        if not s.locked and not s.garbage and s.end_ms < now_ms - days * 86_400_000:
            victims.append(s)
            chosen.add(s.id)
    if policy.quota_bytes is not None:
        total = sum(s.size_bytes for s in segments if s.id not in chosen)
        for s in sorted(segments, key=lambda s: (s.start_ms, s.id)):
            if total <= policy.quota_bytes:
                break
            if s.locked or s.garbage or s.id in chosen:
                continue
            victims.append(s)
            chosen.add(s.id)
            total -= s.size_bytes
    return victims


@dataclass(frozen=True, slots=True)
class Reconciliation:
    index_files: list[str]  # complete files with no row: index them (nothing recorded is lost)
    finish_partials: list[str]  # .partial files left by a crash: finalize (they are readable MPEG-TS) and index
    drop_rows: list[int]  # rows whose file is gone (a crash mid-delete, or lost disk): delete the row
    unlink_garbage: list[str]  # garbage rows whose file is still there: unlink, then delete the row


def reconcile(files_on_disk: Iterable[str], rows: Iterable[Segment]) -> Reconciliation:
    files = set(files_on_disk)
    rows = list(rows)
    by_path = {r.path: r for r in rows}
    index, partials = [], []
    for f in sorted(files):
        if f.endswith(PARTIAL_SUFFIX):
            partials.append(f)
        elif f.endswith(SEGMENT_SUFFIX) and f not in by_path:
            index.append(f)
    drop = sorted(r.id for r in rows if r.path not in files)
    garbage = sorted(r.path for r in rows if r.garbage and r.path in files)
    return Reconciliation(index, partials, drop, garbage)


@dataclass(frozen=True, slots=True)
class Span:
    start_ms: int
    end_ms: int


def coverage(segments: Iterable[Segment], since_ms: int, until_ms: int, tolerance_ms: int = 200) -> tuple[
    list[Span], list[Span]
]:
    """Recorded spans and explicit gaps of one camera within [since_ms, until_ms), merging segments that touch
    (within ``tolerance_ms``, about one frame interval and a bit)."""
    spans: list[Span] = []
    for s in sorted(segments, key=lambda s: s.start_ms):
        lo, hi = max(s.start_ms, since_ms), min(s.end_ms, until_ms)
        if hi <= lo:
            continue
        if spans and lo - spans[-1].end_ms <= tolerance_ms:
            spans[-1] = Span(spans[-1].start_ms, max(spans[-1].end_ms, hi))
        else:
            spans.append(Span(lo, hi))
    gaps: list[Span] = []
    cursor = since_ms
    for sp in spans:
        if sp.start_ms > cursor:
            gaps.append(Span(cursor, sp.start_ms))
        cursor = max(cursor, sp.end_ms)
    if cursor < until_ms:
        gaps.append(Span(cursor, until_ms))
    return spans, gaps
