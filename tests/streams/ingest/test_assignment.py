"""Rendezvous assignment of cameras to ingest nodes: deterministic, balanced, minimal movement, affinity,
capacity and draining (streams/ingest/assignment.py)."""

from __future__ import annotations

import random

import pytest

from streams.ingest.assignment import NodeInfo, assign, moves, rank

CAMERAS = [f"kec-{k}/kel-{k}-{j}/rt-{i}/cam-1" for k in range(4) for j in range(5) for i in range(50)]  # 1,000


def nodes(*names: str, **kw: object) -> list[NodeInfo]:
    return [NodeInfo(n, **kw) for n in names]  # type: ignore[arg-type]


def test_every_camera_gets_one_node_whatever_the_input_order() -> None:
    ns = nodes("a", "b", "c")
    got = assign(CAMERAS, ns)
    assert set(got) == set(CAMERAS) and set(got.values()) == {"a", "b", "c"}
    shuffled = CAMERAS[:]
    random.Random(7).shuffle(shuffled)
    assert assign(shuffled, list(reversed(ns))) == got


def test_spread_is_even_without_limits() -> None:
    got = assign(CAMERAS, nodes("a", "b", "c", "d", "e"))
    per = [list(got.values()).count(n) for n in "abcde"]
    assert all(150 <= n <= 250 for n in per), per  # 200 each, give or take the hash


def test_a_node_leaving_moves_only_its_own_cameras_and_a_node_joining_takes_about_its_share() -> None:
    three = assign(CAMERAS, nodes("a", "b", "c"))
    two = assign(CAMERAS, nodes("a", "c"))
    moved = moves(three, two)
    assert set(moved) == {c for c, n in three.items() if n == "b"}
    assert all(old == "b" for old, _ in moved.values())
    four = assign(CAMERAS, nodes("a", "b", "c", "d"))
    joined = moves(three, four)
    assert all(new == "d" for _, new in joined.values())  # nothing moves between the old nodes
    assert 150 <= len(joined) <= 350  # about a quarter of 1,000


def test_affinity_first_then_the_rest() -> None:
    ns = [NodeInfo("east", prefers=("kec-0", "kec-1")), NodeInfo("west", prefers=("kec-2",)), NodeInfo("spare")]
    got = assign(CAMERAS, ns)
    assert all(got[c] == "east" for c in CAMERAS if c.startswith(("kec-0/", "kec-1/")))
    assert all(got[c] == "west" for c in CAMERAS if c.startswith("kec-2/"))
    rest = {got[c] for c in CAMERAS if c.startswith("kec-3/")}
    assert rest == {"east", "west", "spare"}  # no preference: hashed over all
    assert [n.name for n in rank("kec-2/kel-2-0/rt-1/cam-1", ns)][0] == "west"
    # a preference is an area path, not a string prefix: kec-1 says nothing about kec-10
    kec10 = [f"kec-10/x/rt-{i}/cam-1" for i in range(100)]
    assert set(assign(kec10, [NodeInfo("east", prefers=("kec-1",)), NodeInfo("b")]).values()) == {"east", "b"}


def test_capacity_caps_a_node_and_the_rest_spill_over_or_wait() -> None:
    got = assign(CAMERAS, [NodeInfo("small", capacity=100), NodeInfo("big")])
    assert list(got.values()).count("small") == 100 and list(got.values()).count("big") == 900
    full = assign(CAMERAS, [NodeInfo("a", capacity=300), NodeInfo("b", capacity=300)])
    assert list(full.values()).count(None) == 400  # no room: unassigned, not crammed onto a node


def test_a_draining_node_gets_nothing() -> None:
    got = assign(CAMERAS, [NodeInfo("a"), NodeInfo("b", draining=True)])
    assert set(got.values()) == {"a"}
    assert set(assign(CAMERAS[:5], [NodeInfo("b", draining=True)]).values()) == {None}


def test_node_names_must_be_unique() -> None:
    with pytest.raises(ValueError, match="unique"):
        assign(CAMERAS, nodes("a", "a"))


def test_an_overloaded_node_sheds_cameras_only_to_nodes_with_room() -> None:
    cams = [f"k/l/rt-{i:03d}/cam-1" for i in range(300)]
    free = assign(cams, [NodeInfo("a"), NodeInfo("b")])
    share = sum(1 for n in free.values() if n == "a")
    tired = assign(cams, [NodeInfo("a", soft_capacity=share - 30), NodeInfo("b")])
    assert sum(1 for n in tired.values() if n == "a") == share - 30 and None not in tired.values()
    moved = [c for c in cams if free[c] != tired[c]]
    assert len(moved) == 30 and all(free[c] == "a" and tired[c] == "b" for c in moved)  # only a's, to b
    # nobody else has room: the overloaded node keeps them (a camera nobody watches is worse)
    full = assign(cams, [NodeInfo("a", soft_capacity=10), NodeInfo("b", capacity=len(cams) - share)])
    assert None not in full.values() and sum(1 for n in full.values() if n == "a") == share
