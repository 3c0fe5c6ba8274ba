"""Camera leases with fencing tokens, on SQLite and PostgreSQL, with the caller's clock (cctv/store/leases.py):
one holder at a time, expiry of a node's lease and takeover, renew (one row per node) and release, a restarted
node's leftovers, and status writes fenced in the same statement."""

from __future__ import annotations

import pytest
from sqlalchemy import select, text

from cctv.status.messages import State, StatusChange
from cctv.store.leases import Fence, Grant, LeaseStore
from cctv.store.models import StatusInterval

A = "kota-baru/paal-lima/rt-07/cam-1"
B = "kota-baru/paal-lima/rt-08/cam-1"
T0 = 1_767_225_600_000
TTL = 10_000


def test_one_holder_at_a_time_until_the_lease_expires(store) -> None:
    leases = LeaseStore(store.engine)
    assert leases.acquire("n1", [A, B], T0, TTL) == {A: 1, B: 1}
    assert leases.acquire("n2", [A, B], T0 + 5_000, TTL) == {}  # held by n1, not expired
    assert leases.acquire("n1", [A], T0 + 5_000, TTL) == {A: 1}  # its own: kept, same token
    assert leases.renew("n1", {A: 1, B: 1}, T0 + 8_000, TTL) == {A, B}
    assert leases.acquire("n2", [A], T0 + 17_000, TTL) == {}  # renewed at 8 s: expires at 18 s
    got = leases.acquire("n2", [A], T0 + 18_000, TTL)  # expired: taken, token up by one
    assert got == {A: 2}
    assert leases.renew("n1", {A: 1, B: 1}, T0 + 18_500, TTL) == {B}  # n1 learns it lost A
    assert [(x.camera, x.node, x.token) for x in leases.leases(T0 + 18_500)] == [(A, "n2", 2), (B, "n1", 1)]
    assert leases.expired_of("n1", T0 + 40_000) == [B]


def test_release_hands_over_at_once_and_tokens_never_go_back(store) -> None:
    leases = LeaseStore(store.engine)
    leases.acquire("n1", [A], T0, TTL)
    assert leases.release("n2", {A: 1}, T0 + 1) == 0  # not its lease
    assert leases.release("n1", {A: 1}, T0 + 1) == 1
    assert leases.acquire("n2", [A], T0 + 2, TTL) == {A: 2}  # no waiting for the ttl
    leases.release("n2", {A: 2}, T0 + 3)
    assert leases.acquire("n1", [A], T0 + 4, TTL) == {A: 3}  # back to n1: a new token, not its old one
    assert leases.renew("n1", {A: 1}, T0 + 5, TTL) == set()  # a stale token renews nothing
    with pytest.raises(ValueError, match="ttl"):
        leases.acquire("n1", [B], T0, 0)


def test_a_grant_says_who_watched_before_and_until_when(store) -> None:
    """Where an unmonitored gap starts: a lost holder's last renewal, a released lease's release."""
    leases = LeaseStore(store.engine)
    assert leases.take("n1", [A, B], T0, TTL) == {A: Grant(1), B: Grant(1)}  # nobody before
    leases.renew("n1", {A: 1, B: 1}, T0 + 2_000, TTL)
    assert leases.take("n1", [A], T0 + 3_000, TTL) == {A: Grant(1, "n1", T0 + 2_000)}  # its own, kept
    leases.release("n1", {B: 1}, T0 + 4_000)
    assert leases.take("n2", [A, B], T0 + 5_000, TTL) == {B: Grant(2, "n1", T0 + 4_000, released=True)}
    assert leases.take("n2", [A], T0 + 13_000, TTL) == {A: Grant(2, "n1", T0 + 3_000)}  # lost: since its last
    assert [x.renewed_ms for x in leases.leases()] == [T0 + 13_000, T0 + 13_000]  # n2's lease, renewed by take


def test_a_renewal_is_one_row_per_node_whatever_it_holds(store) -> None:
    """The write load of a city: renewing 1,200 cameras touches the node's lease row only."""
    leases = LeaseStore(store.engine)
    cams = [f"k/l/rt-{i:04d}/cam-1" for i in range(1_200)]
    held = leases.acquire("n1", cams, T0, TTL)
    assert len(held) == 1_200 and set(held.values()) == {1}
    with store.engine.connect() as conn:
        before = conn.execute(text("SELECT count(*) FROM camera_leases WHERE renewed_ms IS NULL")).scalar_one()
    assert leases.renew("n1", held, T0 + 2_000, TTL) == set(cams)
    with store.engine.connect() as conn:
        rows = conn.execute(text("SELECT node, renewed_ms, expires_ms FROM node_leases")).all()
        untouched = conn.execute(text("SELECT count(*) FROM camera_leases WHERE renewed_ms IS NULL")).scalar_one()
    assert [tuple(r) for r in rows] == [("n1", T0 + 2_000, T0 + 2_000 + TTL)] and untouched == before == 1_200
    assert leases.acquire("n2", cams[:3], T0 + 2_000 + TTL - 1, TTL) == {}  # n1's lease holds them all
    assert leases.acquire("n2", cams[:3], T0 + 2_000 + TTL, TTL) == dict.fromkeys(cams[:3], 2)
    assert leases.renew("n1", held, T0 + 12_500, TTL) == set(cams[3:])  # n1 wakes: keeps the rest
    assert leases.nodes()["n2"] == (T0 + 2_000 + 2 * TTL, T0 + 2_000 + TTL)  # (expires, moved)


def test_a_restarted_node_releases_what_its_last_run_left_held(store) -> None:
    """An unclean stop and a quick restart (within the ttl): what the new run does not want is not kept alive
    by its renewals, and whoever takes a leftover marks the gap from the last run's last renewal."""
    leases = LeaseStore(store.engine)
    leases.take("n1", [A, B], T0, TTL)
    leases.renew("n1", {A: 1, B: 1}, T0 + 2_000, TTL)
    assert leases.recover("n1", T0 + 3_000) == 2  # the new run of n1 starts
    assert leases.recover("n1", T0 + 3_000) == 0
    # its own again: the gap, and a new token (what the last run left to write is refused: cctv/store/spool.py)
    assert leases.take("n1", [A], T0 + 3_500, TTL) == {A: Grant(2, "n1", T0 + 2_000)}
    assert leases.renew("n1", {A: 1}, T0 + 4_000, TTL) == set()  # the last run's token holds nothing
    leases.renew("n1", {A: 2}, T0 + 4_000, TTL)  # n1's lease is live: B is free all the same
    assert leases.take("n2", [B], T0 + 4_000, TTL) == {B: Grant(2, "n1", T0 + 2_000)}
    assert leases.held_by() == {A: "n1", B: "n2"}
    assert leases.held_by(["n2"]) == {B: "n2"}


def _rows(store) -> list[tuple[str, str, int, int | None]]:
    with store.engine.connect() as conn:
        q = select(StatusInterval.state, StatusInterval.reason, StatusInterval.start_ms, StatusInterval.end_ms)
        return [tuple(r) for r in conn.execute(q.where(StatusInterval.camera == A).order_by(StatusInterval.id))]


def test_a_status_write_whose_lease_was_taken_writes_nothing(store) -> None:
    """n1 holds A and writes; it stalls past its lease (SIGSTOP), n2 takes A and writes; n1 wakes and writes with
    its old token: nothing of it lands, and n2's interval is intact."""
    leases = LeaseStore(store.engine)
    [t1] = leases.acquire("n1", [A], T0, TTL).values()
    assert store.apply_status_change(StatusChange(A, State.ONLINE, "", T0, None), fence=Fence("n1", t1))
    [t2] = leases.acquire("n2", [A], T0 + TTL, TTL).values()
    assert store.apply_status_change(StatusChange(A, State.OFFLINE, "timeout", T0 + 11_000, State.ONLINE),
                                     fence=Fence("n2", t2))
    late = StatusChange(A, State.DEGRADED, "black", T0 + 12_000, State.ONLINE)
    assert not store.apply_status_change(late, fence=Fence("n1", t1))
    assert not store.apply_status_change(late, fence=Fence("n2", t1))  # the token, not just the name
    assert _rows(store) == [("online", "", T0, T0 + 11_000), ("offline", "timeout", T0 + 11_000, None)]
    assert store.apply_status_change(StatusChange(A, State.ONLINE, "", T0 + 13_000, State.OFFLINE))  # unfenced
    assert _rows(store)[-1] == ("online", "", T0 + 13_000, None)
