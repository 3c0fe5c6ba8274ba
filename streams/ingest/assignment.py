"""Which live ingest node watches which camera: rendezvous hashing with affinity and capacity. Pure.

Every node computes the same answer from the same inputs (the camera inventory and the live nodes with their
settings), so no node hands out work and there is no cluster protocol: the camera leases in the store
(cctv/store/leases.py) make sure that at most one node reports a camera at a time while the answer changes.

For each camera the nodes are ranked by a hash of (node, camera) — highest first — with the nodes that prefer
the camera's area (``prefers``: area paths, e.g. a kecamatan) ahead of the others. A camera goes to the first
ranked node that still has room (``capacity``); cameras are placed in a fixed order (their own path), so the
answer does not depend on the order the inputs come in. Without capacities, a node leaving moves only its own
cameras and a node joining takes only the cameras it now ranks first for — about 1/n of them — which is why
rendezvous hashing is used. A draining node (maintenance) gets none. An overloaded node may ask to keep fewer
(``soft_capacity``): honoured while other nodes have room, never at the price of a camera nobody watches.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from cctv.sites import is_within


@dataclass(frozen=True, slots=True)
class NodeInfo:
    """A live ingest node as assignment sees it (from its heartbeat)."""

    name: str
    capacity: int | None = None  # the most cameras it takes; None: no limit
    prefers: tuple[str, ...] = ()  # area paths whose cameras it takes first
    draining: bool = False  # maintenance: its cameras move away, it gets none
    # overloaded (streams/ingest/shed.py): what it asks to keep; honoured while another node has room, never
    # at the price of a camera nobody watches
    soft_capacity: int | None = None


def rank(camera: str, nodes: Iterable[NodeInfo]) -> list[NodeInfo]:
    """``nodes`` in the order ``camera`` would choose them: preferring nodes first, each group by hash."""
    return sorted(
        (n for n in nodes if not n.draining),
        key=lambda n: (not any(is_within(camera, p) for p in n.prefers), -_weight(n.name, camera), n.name),
    )


def assign(cameras: Iterable[str], nodes: Sequence[NodeInfo]) -> dict[str, str | None]:
    """Every camera → the node that should watch it, or None when no live node has room for it."""
    names = [n.name for n in nodes]
    if len(set(names)) != len(names):
        raise ValueError(f"node names must be unique, got {sorted(names)}")
    room: dict[str, int | None] = {n.name: n.capacity for n in nodes}
    soft: dict[str, int | None] = {n.name: n.soft_capacity for n in nodes}
    out: dict[str, str | None] = {}
    for camera in sorted(set(cameras)):
        ranked = rank(camera, nodes)
        # within the soft caps of overloaded nodes while another node has room; else within the hard caps only
        chosen = _pick(ranked, room, soft) or _pick(ranked, room, None)
        out[camera] = chosen
        if chosen is not None:
            for caps in (room, soft):
                if caps[chosen] is not None:
                    caps[chosen] -= 1  # type: ignore[operator]
    return out


def _pick(ranked: list[NodeInfo], room: dict[str, int | None], soft: dict[str, int | None] | None) -> str | None:
    for node in ranked:
        left = room[node.name]
        want = soft[node.name] if soft is not None else None
        if (left is None or left > 0) and (want is None or want > 0):
            return node.name
    return None


def moves(
    before: Mapping[str, str | None], after: Mapping[str, str | None]
) -> dict[str, tuple[str | None, str | None]]:
    """The cameras whose node changes: camera → (old node, new node)."""
    return {c: (before.get(c), n) for c, n in after.items() if before.get(c) != n}


def _weight(node: str, camera: str) -> int:
    digest = hashlib.blake2b(f"{node}\x00{camera}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big")
