"""The hash-chained audit log: intact chains verify; any edit or deletion (direct SQL) is reported by seq.

Runs on SQLite and on PostgreSQL (the ``store`` fixture)."""

from __future__ import annotations

import pytest
from sqlalchemy import text

from cctv.audit.log import GENESIS, AuditLog, canonical, entry_hash
from cctv.store import Store

T0 = 1_767_225_600_000


def fill(log: AuditLog, n: int = 5) -> None:
    for i in range(n):
        log.append(T0 + i, f"user{i}", "login", f"user{i}", {"ip": "127.0.0.1", "n": i, "kata": "é"})


def test_chain_verifies(store: Store) -> None:
    log = AuditLog(store.engine)
    assert log.verify() is None  # empty
    fill(log)
    entries = log.entries()
    assert [e.seq for e in entries] == [1, 2, 3, 4, 5]
    assert entries[0].prev_hash == GENESIS
    assert all(b.prev_hash == a.hash for a, b in zip(entries, entries[1:], strict=False))
    e = entries[2]
    assert e.hash == entry_hash(e.prev_hash, e.seq, e.ts_ms, e.actor, e.action, e.object, e.detail)
    assert e.detail == canonical({"n": 2, "kata": "é", "ip": "127.0.0.1"})
    assert log.verify() is None
    assert [x.seq for x in log.entries(actor="user3")] == [4]
    assert [x.seq for x in log.entries(limit=2, newest_first=True)] == [5, 4]


@pytest.mark.parametrize(
    ("sql", "broken"),
    [
        ("UPDATE audit_log SET actor = 'mallory' WHERE seq = 3", 3),
        ("UPDATE audit_log SET detail = '{}' WHERE seq = 1", 1),
        ("UPDATE audit_log SET ts_ms = ts_ms + 1 WHERE seq = 5", 5),
        ("UPDATE audit_log SET object = 'x' WHERE seq = 2", 2),
        ("UPDATE audit_log SET action = 'logout' WHERE seq = 4", 4),
        ("DELETE FROM audit_log WHERE seq = 3", 3),
        ("DELETE FROM audit_log WHERE seq = 1", 1),
        ("DELETE FROM audit_log WHERE seq = 5", 5),  # the newest: caught by the head
        ("DELETE FROM audit_log WHERE seq >= 4", 4),
        ("DELETE FROM audit_log", 1),
    ],
)
def test_edit_or_delete_is_reported(store: Store, sql: str, broken: int) -> None:
    log = AuditLog(store.engine)
    fill(log)
    with store.engine.begin() as conn:
        conn.execute(text(sql))
    assert log.verify() == broken


def test_rehashing_an_edited_entry_still_breaks_the_link(store: Store) -> None:
    log = AuditLog(store.engine)
    fill(log)
    e = log.entries()[1]
    forged = entry_hash(e.prev_hash, e.seq, e.ts_ms, "mallory", e.action, e.object, e.detail)
    with store.engine.begin() as conn:
        conn.execute(text("UPDATE audit_log SET actor = 'mallory', hash = :h WHERE seq = 2"), {"h": forged})
    assert log.verify() == 3  # entry 3 still points at the old hash


def test_append_continues_after_restart(store: Store) -> None:
    fill(AuditLog(store.engine), 2)
    log = AuditLog(store.engine)  # a new process
    assert log.append(T0 + 10, "cli:root", "user.add", "budi", {"role": "viewer"}).seq == 3
    assert log.verify() is None
