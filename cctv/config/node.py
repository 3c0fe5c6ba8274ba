"""The ``node:`` section of config.yaml: this node among many (docs/nodes.md)."""

from __future__ import annotations

import socket

from pydantic import Field, model_validator

from cctv.config.base import _Model

NODE_NAME_RE = r"^[A-Za-z0-9](?:[A-Za-z0-9._-]{0,62}[A-Za-z0-9])?$"


class Node(_Model):
    """This node among many (docs/nodes.md). One node alone needs none of it."""

    name: str | None = Field(
        None, pattern=NODE_NAME_RE,
        description="The node's name in the cluster: heartbeats, leases, node alerts, exports. Empty: the host "
        "name. Give each node its own, stable across restarts.",
    )
    capacity: int | None = Field(
        None, ge=1, le=100_000, description="The most cameras assignment gives this ingest node. Empty: no limit.",
    )
    prefers: list[str] = Field(
        default_factory=list, max_length=1000,
        description="Area paths (e.g. a kecamatan's slug) whose cameras this ingest node takes first.",
    )
    lease_ttl_s: float = Field(
        8.0, ge=2, le=600, description="A camera's lease lasts this long unless renewed: a node that stops is "
        "replaced after at most this long.",
    )
    renew_every_s: float = Field(
        2.0, ge=0.5, le=300, description="How often an ingest node renews its leases (well below lease_ttl_s).",
    )

    secret: str | None = Field(
        None, min_length=16, max_length=512, repr=False,
        description="What nodes show each other on their internal API (snapshots, recordings, clips fetched "
        "by a web node from the ingest node that has them): the same on every node, at least 16 characters. "
        "Give it as ${ENV_VAR}, never literally in the file.",
    )
    internal_url: str | None = Field(
        None, max_length=300, pattern=r"^https?://[^/?#@\s]+/?$",
        description="How the other nodes reach this ingest node's internal API (http://host:port). Empty: "
        "http://127.0.0.1:<its port> (nodes on one machine).",
    )
    moves_per_round: int = Field(
        50, ge=1, le=10_000, description="At most this many cameras an ingest node gives away per renewal (and "
        "takes 4 times as many): when a node joins or drains, cameras move gradually (no reconnect storm).",
    )

    @model_validator(mode="after")
    def renew_well_within_ttl(self) -> Node:
        if self.renew_every_s * 2 > self.lease_ttl_s:
            raise ValueError(
                f"renew_every_s ({self.renew_every_s:g}) must be at most half of lease_ttl_s ({self.lease_ttl_s:g})"
            )
        return self


def node_name(node: Node) -> str:
    """The configured name, or the host name."""
    return node.name or socket.gethostname()
