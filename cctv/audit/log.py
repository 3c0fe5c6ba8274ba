"""The append-only, hash-chained audit log: who did what, when, to which object.

Each entry's ``hash`` is SHA-256 over the canonical JSON of (prev_hash, seq, ts_ms, actor, action, object,
detail); ``prev_hash`` is the previous entry's hash (64 zeros for the first). ``audit_head`` holds the last
(seq, hash), so removing the newest entries is caught too. :meth:`AuditLog.verify` walks the chain and
returns the first broken ``seq`` (or None). Entries are appended on the store's one writer thread; an append
from another process (the CLI) that races for the same ``seq`` loses on the primary key and retries.

Never put a password, a session token or a camera URL in ``detail``.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine, select, update
from sqlalchemy.exc import IntegrityError

from cctv.store.models import AuditEntry, AuditHead

GENESIS = "0" * 64
RETRIES = 8


@dataclass(frozen=True, slots=True)
class Entry:
    seq: int
    ts_ms: int
    actor: str
    action: str
    object: str
    detail: str  # canonical JSON
    prev_hash: str
    hash: str


def canonical(detail: Mapping[str, Any] | None) -> str:
    return json.dumps(dict(detail or {}), sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def entry_hash(prev_hash: str, seq: int, ts_ms: int, actor: str, action: str, obj: str, detail: str) -> str:
    payload = json.dumps([prev_hash, seq, ts_ms, actor, action, obj, detail], separators=(",", ":"),
                         ensure_ascii=False)
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


class AuditLog:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def append(self, ts_ms: int, actor: str, action: str, obj: str = "",
               detail: Mapping[str, Any] | None = None) -> Entry:
        """Append one entry (call on the store's writer thread, or from a CLI). Returns it."""
        text = canonical(detail)
        for attempt in range(RETRIES):
            try:
                return self._append_once(ts_ms, actor[:128], action[:64], obj[:512], text)
            except IntegrityError:
                if attempt == RETRIES - 1:
                    raise
        raise AssertionError("unreachable")

    def _append_once(self, ts_ms: int, actor: str, action: str, obj: str, detail: str) -> Entry:
        with self.engine.begin() as conn:
            head = conn.execute(select(AuditHead.seq, AuditHead.hash).where(AuditHead.id == 1)).first()
            if head is None:
                last = conn.execute(
                    select(AuditEntry.seq, AuditEntry.hash).order_by(AuditEntry.seq.desc()).limit(1)
                ).first()
                prev_seq, prev_hash = (last[0], last[1]) if last else (0, GENESIS)
            else:
                prev_seq, prev_hash = head
            seq = prev_seq + 1
            h = entry_hash(prev_hash, seq, ts_ms, actor, action, obj, detail)
            conn.execute(AuditEntry.__table__.insert().values(
                seq=seq, ts_ms=ts_ms, actor=actor, action=action, object=obj, detail=detail,
                prev_hash=prev_hash, hash=h,
            ))
            if head is None:
                conn.execute(AuditHead.__table__.insert().values(id=1, seq=seq, hash=h))
            else:
                # compare-and-set: a concurrent appender that moved the head makes this update miss
                n = conn.execute(
                    update(AuditHead).where(AuditHead.id == 1, AuditHead.seq == prev_seq).values(seq=seq, hash=h)
                ).rowcount
                if n != 1:
                    raise IntegrityError("audit head moved", None, Exception("concurrent append"))
            return Entry(seq, ts_ms, actor, action, obj, detail, prev_hash, h)

    def entries(self, *, actor: str | None = None, action: str | None = None, since_ms: int | None = None,
                limit: int | None = None, newest_first: bool = False) -> list[Entry]:
        q = select(AuditEntry.seq, AuditEntry.ts_ms, AuditEntry.actor, AuditEntry.action, AuditEntry.object,
                   AuditEntry.detail, AuditEntry.prev_hash, AuditEntry.hash)
        if actor is not None:
            q = q.where(AuditEntry.actor == actor)
        if action is not None:
            q = q.where(AuditEntry.action == action)
        if since_ms is not None:
            q = q.where(AuditEntry.ts_ms >= since_ms)
        q = q.order_by(AuditEntry.seq.desc() if newest_first else AuditEntry.seq)
        if limit is not None:
            q = q.limit(limit)
        with self.engine.connect() as conn:
            return [Entry(*row) for row in conn.execute(q)]

    def _walk(self) -> Iterator[Entry]:
        q = select(AuditEntry.seq, AuditEntry.ts_ms, AuditEntry.actor, AuditEntry.action, AuditEntry.object,
                   AuditEntry.detail, AuditEntry.prev_hash, AuditEntry.hash).order_by(AuditEntry.seq)
        with self.engine.connect() as conn:
            for row in conn.execute(q).yield_per(1000):
                yield Entry(*row)

    def verify(self) -> int | None:
        """The seq of the first entry that is missing, edited or out of chain; None when the log is intact."""
        expected_seq, prev_hash = 1, GENESIS
        for e in self._walk():
            if e.seq != expected_seq or e.prev_hash != prev_hash:
                return expected_seq  # an entry before this one was deleted (or the link was edited)
            if entry_hash(e.prev_hash, e.seq, e.ts_ms, e.actor, e.action, e.object, e.detail) != e.hash:
                return e.seq
            expected_seq, prev_hash = e.seq + 1, e.hash
        with self.engine.connect() as conn:
            head = conn.execute(select(AuditHead.seq, AuditHead.hash).where(AuditHead.id == 1)).first()
        last_seq = expected_seq - 1
        if head is None:
            return None if last_seq == 0 else 1
        if head[0] > last_seq:  # the newest entries were deleted
            return last_seq + 1
        if head[0] < last_seq:  # entries added behind the log's back
            return head[0] + 1
        if head[1] != prev_hash:
            return last_seq
        return None
