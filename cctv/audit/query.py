"""Reading the audit log for people: filters, newest first, keyset paging, the head, a cached chain check.

``cctv/audit/log.py`` writes and verifies the log; this module only reads it (the admin's ``/admin/audit`` page and
the history on a clip request's page).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

from sqlalchemy import Engine, select

from cctv.audit.log import AuditLog, Entry
from cctv.store.models import AuditEntry, AuditHead

MAX_PAGE = 200


@dataclass(frozen=True, slots=True)
class AuditFilter:
    actor: str | None = None  # exact
    action: str | None = (
        None  # exact, or a prefix ending in "." / "*" ("clip." or "clip.*": every clip action)
    )
    object: str | None = None  # exact
    since_ms: int | None = None  # inclusive
    until_ms: int | None = None  # exclusive
    before_seq: int | None = None  # paging: entries older than this one


def _like_escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def search(engine: Engine, f: AuditFilter, limit: int = 50) -> tuple[list[Entry], int | None]:
    """Matching entries, newest first, at most ``limit``; and the ``before_seq`` of the next (older) page, or
    None when there is none."""
    limit = max(1, min(limit, MAX_PAGE))
    q = select(
        AuditEntry.seq,
        AuditEntry.ts_ms,
        AuditEntry.actor,
        AuditEntry.action,
        AuditEntry.object,
        AuditEntry.detail,
        AuditEntry.prev_hash,
        AuditEntry.hash,
    )
    if f.actor:
        q = q.where(AuditEntry.actor == f.actor)
    if f.action:
        if f.action.endswith(("*", ".")):
            prefix = f.action.rstrip("*")
            q = q.where(AuditEntry.action.like(_like_escape(prefix) + "%", escape="\\"))
        else:
            q = q.where(AuditEntry.action == f.action)
    if f.object:
        q = q.where(AuditEntry.object == f.object)
    if f.since_ms is not None:
        q = q.where(AuditEntry.ts_ms >= f.since_ms)
    if f.until_ms is not None:
        q = q.where(AuditEntry.ts_ms < f.until_ms)
    if f.before_seq is not None:
        q = q.where(AuditEntry.seq < f.before_seq)
    q = q.order_by(AuditEntry.seq.desc()).limit(limit + 1)
    with engine.connect() as conn:
        rows = [Entry(*r) for r in conn.execute(q)]
    more = len(rows) > limit
    rows = rows[:limit]
    return rows, (rows[-1].seq if more and rows else None)


def head(engine: Engine) -> tuple[int, str] | None:
    """(seq, hash) of the newest entry as ``audit_head`` records it; None for an empty log."""
    with engine.connect() as conn:
        row = conn.execute(select(AuditHead.seq, AuditHead.hash).where(AuditHead.id == 1)).first()
    return (int(row[0]), str(row[1])) if row else None


@dataclass(frozen=True, slots=True)
class ChainStatus:
    intact: bool
    broken_at: int | None  # the first missing / edited seq when not intact
    head: tuple[int, str] | None
    checked_mono: float


class ChainChecker:
    """``AuditLog.verify`` walks the whole log: a page shows the result of a walk at most ``max_age_s`` old
    for the same head (a new entry or a changed head walks again)."""

    def __init__(self, log: AuditLog, max_age_s: float = 30.0) -> None:
        self.log = log
        self.max_age_s = max_age_s
        self._last: ChainStatus | None = None
        self._lock = threading.Lock()

    def status(self, now_mono: float) -> ChainStatus:
        """Blocking (reads the log): call from a thread."""
        current = head(self.log.engine)
        with self._lock:
            last = self._last
            if last is not None and last.head == current and now_mono - last.checked_mono < self.max_age_s:
                return last
            broken = self.log.verify()
            self._last = ChainStatus(broken is None, broken, current, now_mono)
            return self._last
