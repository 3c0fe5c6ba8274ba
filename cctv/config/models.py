"""The schema of config.yaml: the site hierarchy, thresholds, storage and the simulator.

The ``checks:`` section is in cctv/config/checks.py. Every field has bounds where a number makes sense and a
description; unknown keys are errors (``extra="forbid"``). Cross-field rules are small named validators at the bottom of each model.
"""

from __future__ import annotations

import ipaddress
import re
from typing import Annotated, Literal
from urllib.parse import urlsplit

from pydantic import Field, field_validator, model_validator

from cctv.config.base import _Model
from cctv.config.checks import Checks  # the checks: section, with its many thresholds
from cctv.config.node import Node  # the node: section (many nodes)

SLUG_RE = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,62}[a-z0-9])?$")

Slug = Annotated[
    str,
    Field(
        pattern=SLUG_RE.pattern,
        description="Stable identifier: lower-case letters, digits and '-', 1-64 characters. "
        "Part of the camera's path, which is its identity everywhere (store, bus, URLs, logs).",
    ),
]
DecodeMode = Literal["keyframes", "sampled", "off"]
SimState = Literal[
    "normal", "motion", "frozen", "black", "dark", "blurred", "covered", "moved", "stalled", "offline"
]


class SimCamera(_Model):
    scene: Literal["street", "alley", "yard", "market", "river", "footage"] = Field(
        "street", description="Synthetic scene the simulator draws for this camera, or 'footage' for a real clip."
    )
    seed: int = Field(0, ge=0, le=1_000_000, description="Seed for the scene's layout, objects and noise.")
    night: bool = Field(False, description="Draw the scene at night (dark, noisy, IR-like grey).")
    state: SimState = Field("normal", description="State the simulated camera starts in.")


Point = Annotated[
    list[Annotated[float, Field(ge=0, le=1)]],
    Field(min_length=2, max_length=2, description="[x, y] in 0..1 of the picture's width and height."),
]
Mask = Annotated[
    list[Point], Field(min_length=3, max_length=64, description="A polygon of 3-64 points.")
]


class Camera(_Model):
    slug: Slug
    name: str = Field(..., min_length=1, max_length=120, description="Human name shown on tiles and pages.")
    url: str = Field(
        ...,
        min_length=8,
        max_length=2048,
        description="RTSP URL of the stream to watch (usually the substream). May contain ${ENV_VAR} "
        "references, resolved at load time, so passwords stay out of config.yaml.",
    )
    decode: DecodeMode | None = Field(
        None, description="Override of ingest.decode for this camera: keyframes, sampled or off."
    )
    enabled: bool = Field(True, description="Whether the camera is ingested at all.")
    record: bool = Field(True, description="Whether this camera is recorded (when recording.enabled).")
    retention_days: float | None = Field(
        None, gt=0, le=3650, description="Override of recording.retention_days for this camera."
    )
    sim: SimCamera | None = Field(
        None, description="How the simulator serves this camera; absent for real cameras."
    )
    masks: list[Mask] = Field(
        default_factory=list, max_length=32,
        description="Areas the motion and frozen checks ignore (an on-screen clock, swaying trees): polygons of "
        "[x, y] points in 0..1 of the picture's width and height.",
    )
    expected_fps: float | None = Field(
        None, gt=0, le=120, description="Frame rate the camera is configured for; empty: learned from the "
        "stream (the highest rate seen). Below checks.low_fps_ratio of it the camera is low_fps.",
    )

    @field_validator("url")
    @classmethod
    def url_is_rtsp(cls, v: str) -> str:
        if "${" in v:  # unresolved reference: the loader substitutes before validation
            raise ValueError("references an environment variable that is not set")
        parts = urlsplit(v)
        if parts.scheme not in ("rtsp", "rtsps"):
            raise ValueError("must be an rtsp:// or rtsps:// URL")
        if not parts.hostname:
            raise ValueError("has no host")
        try:
            parts.port  # noqa: B018  (raises on a bad port)
        except ValueError as exc:
            raise ValueError("has an invalid port") from exc
        return v


class Rt(_Model):
    slug: Slug
    name: str = Field(..., min_length=1, max_length=120, description="Human name, e.g. 'RT 07'.")
    cameras: list[Camera] = Field(..., min_length=1, description="The RT's cameras.")

    @model_validator(mode="after")
    def unique_camera_slugs(self) -> Rt:
        _no_duplicates([c.slug for c in self.cameras], "cameras")
        return self


class Kelurahan(_Model):
    slug: Slug
    name: str = Field(..., min_length=1, max_length=120, description="Human name of the kelurahan.")
    rt: list[Rt] = Field(..., min_length=1, description="The kelurahan's RTs.")

    @model_validator(mode="after")
    def unique_rt_slugs(self) -> Kelurahan:
        _no_duplicates([r.slug for r in self.rt], "rt")
        return self


class Kecamatan(_Model):
    slug: Slug
    name: str = Field(..., min_length=1, max_length=120, description="Human name of the kecamatan.")
    kelurahan: list[Kelurahan] = Field(..., min_length=1, description="The kecamatan's kelurahan.")

    @model_validator(mode="after")
    def unique_kelurahan_slugs(self) -> Kecamatan:
        _no_duplicates([k.slug for k in self.kelurahan], "kelurahan")
        return self


class Site(_Model):
    name: str = Field(..., min_length=1, max_length=120, description="The city, e.g. 'Kota Jambi'.")
    timezone: str = Field("Asia/Jakarta", description="IANA time zone for dates on pages (WIB by default).")


class Store(_Model):
    url: str | None = Field(
        None,
        description="SQLAlchemy URL of the store. Empty: a SQLite file cctv.sqlite3 in the data directory. "
        "PostgreSQL: postgresql+psycopg://user@host/db. May contain ${ENV_VAR}.",
    )


class Bus(_Model):
    url: str | None = Field(
        None, description="Empty: the in-process bus (one node). redis://host:port/0 (or rediss://, unix://): "
        "the live view crosses nodes over Redis pub/sub (docs/nodes.md). May contain ${ENV_VAR}.",
    )

    @field_validator("url")
    @classmethod
    def redis_url(cls, v: str | None) -> str | None:
        if v and urlsplit(v).scheme not in ("redis", "rediss", "unix"):
            raise ValueError("bus.url must be a redis://, rediss:// or unix:// URL (or empty for one node)")
        return v or None


class Web(_Model):
    host: str = Field("127.0.0.1", description="Address the web server listens on.")
    port: int = Field(8080, ge=1, le=65535, description="TCP port of the web server.")
    trusted_proxies: list[str] = Field(
        default_factory=list, max_length=100,
        description="Addresses or networks (10.0.0.0/8) of the reverse proxies in front of the web node: only "
        "from them is X-Forwarded-For believed for the client's address (login limits, audit).",
    )

    @field_validator("trusted_proxies")
    @classmethod
    def networks(cls, v: list[str]) -> list[str]:
        for entry in v:
            try:
                ipaddress.ip_network(entry, strict=False)
            except ValueError:
                raise ValueError(f"web.trusted_proxies: {entry!r} is not an IP address or network") from None
        return v


class Auth(_Model):
    session_lifetime_s: int = Field(
        12 * 3600, ge=300, le=30 * 86400, description="A session ends this long after login, whatever happens."
    )
    idle_timeout_s: int = Field(
        2 * 3600, ge=60, le=30 * 86400, description="A session ends after this long without a request."
    )
    cookie_secure: bool = Field(
        False, description="Always mark the session cookie Secure (it is Secure anyway when the request came "
        "over https, directly or as X-Forwarded-Proto from a proxy)."
    )
    max_failures: int = Field(
        5, ge=1, le=100, description="Failed logins for one username before it is locked out for a while."
    )
    max_failures_per_ip: int = Field(
        20, ge=1, le=10_000, description="Failed logins from one client address before it is locked out."
    )
    lockout_initial_s: float = Field(
        30.0, ge=1, le=3600, description="First lockout; each further failure while locked out doubles it."
    )
    lockout_max_s: float = Field(3600.0, ge=1, le=86400, description="Cap of the doubling lockout.")
    failure_window_s: float = Field(
        900.0, ge=10, le=86400, description="Failures older than this are forgotten (a success forgets them too)."
    )

    @model_validator(mode="after")
    def lockout_order(self) -> Auth:
        if self.lockout_max_s < self.lockout_initial_s:
            raise ValueError("lockout_max_s must be at least lockout_initial_s")
        return self


class Ingest(_Model):
    decode: DecodeMode = Field(
        "keyframes",
        description="What to decode: keyframes only (default, cheapest that still checks health and motion), "
        "sampled (decode all, analyse sample_fps), off (count packets only).",
    )
    sample_fps: float = Field(2.0, gt=0, le=30, description="Frames analysed per second in 'sampled' mode.")
    connect_timeout_s: float = Field(10.0, ge=1, le=120, description="Deadline for opening a stream.")
    stall_timeout_s: float = Field(
        6.0, ge=1, le=300, description="No packet for this long on an open stream: drop it and reconnect."
    )
    backoff_initial_s: float = Field(1.0, ge=0.1, le=60, description="First wait before reconnecting.")
    backoff_max_s: float = Field(30.0, ge=1, le=3600, description="Cap of the exponential reconnect backoff.")
    analysis_width: int = Field(160, ge=32, le=1920, description="Width frames are scaled to for the checks.")
    snapshot_width: int = Field(320, ge=64, le=1920, description="Width of the JPEG snapshot kept per camera.")
    snapshot_interval_s: float = Field(2.0, ge=0.5, le=600, description="Least time between two snapshots.")
    queue_size: int = Field(
        256, ge=8, le=100_000, description="Bound of the channels from workers to the status machine: ×8 droppable messages (samples, "
        "stats, snapshots), and never fewer than 4 per camera the channel serves."
    )
    procs: int = Field(
        0, ge=0, le=64,
        description="Ingest processes the cameras are spread over: 0 picks one per core (one per 50 cameras "
        "at most); `cctv run --ingest-procs N` overrides it.",
    )
    transport: Literal["tcp", "udp"] = Field(
        "tcp", description="RTP transport: tcp (interleaved on the RTSP connection, native client) or udp "
        "(FFmpeg's RTSP client on a thread per camera).",
    )
    client: Literal["native", "ffmpeg"] = Field(
        "native", description="RTSP client: native (asyncio, many cameras per thread, H.264/H.265 over TCP) or "
        "ffmpeg (PyAV demuxer, a thread per camera; used anyway for what the native client cannot read).",
    )
    auth_failures_to_open: int = Field(
        3, ge=1, le=100, description="Authentication failures in a row after which a camera is retried only "
        "every auth_retry_s (cameras lock out an address after a few failed logins).",
    )
    auth_retry_s: float = Field(
        600.0, ge=10, le=86_400, description="Wait between attempts while the authentication breaker is open."
    )

    @model_validator(mode="after")
    def backoff_order(self) -> Ingest:
        if self.backoff_max_s < self.backoff_initial_s:
            raise ValueError("backoff_max_s must be at least backoff_initial_s")
        return self


class Status(_Model):
    offline_after_s: float = Field(
        10.0, ge=1, le=3600, description="No packet for this long (or a failed connect) makes a camera offline."
    )
    degraded_after_s: float = Field(
        4.0, ge=0, le=3600, description="A health problem must persist this long before the camera is degraded."
    )
    recover_after_s: float = Field(
        4.0, ge=0, le=3600, description="A camera must be clean this long before it is online again."
    )
    motion_hold_s: float = Field(
        10.0, ge=0.5, le=600,
        description="Motion ends this long after the last sample that saw it: one rule for the live status, "
        "the stored motion events and `cctv analyze`.",
    )
    stats_every_s: float = Field(
        5.0, ge=1, le=60,
        description="How often an ingest node publishes its cameras' stream stats (fps, bitrate, reconnects) "
        "for the camera page and /api/cameras: one message per period for all of its cameras.",
    )


class Alerts(_Model):
    stable_after_s: float = Field(
        300.0, ge=10, le=86400,
        description="An alert closes once its camera has stayed online this long; a problem within it folds "
        "into the same alert (a flapping camera is one alert, not a hundred).",
    )


class Recording(_Model):
    enabled: bool = Field(True, description="Record every enabled camera continuously by stream copy.")
    dir: str | None = Field(
        None, description="Where segment files go. Empty: 'recordings' in the data directory. Relative paths are "
        "relative to the data directory.",
    )
    segment_s: float = Field(
        60.0, ge=4, le=600, description="Target length of one segment file; cut at the first keyframe after it."
    )
    retention_days: float = Field(
        7.0, gt=0, le=3650, description="Segments older than this are deleted (oldest first), unless locked."
    )
    quota_gb: float | None = Field(
        None, gt=0, le=1_000_000, description="Disk quota for all segments; over it, the oldest unlocked segments "
        "go first. Empty: no quota (the days still apply).",
    )
    retention_check_s: float = Field(60.0, ge=1, le=86_400, description="How often retention runs.")
    disk_full_retry_s: float = Field(
        30.0, ge=1, le=3600, description="After a write fails for lack of space, a camera's recording pauses this "
        "long before it tries again (ingest and checks go on meanwhile).",
    )
    writer_queue_packets: int = Field(
        4096, ge=8, le=1_000_000, description="Packets an ingest process's segment writer thread may have queued "
        "(all its cameras together). When the disk is slower than that, cameras drop to their next keyframe "
        "(counted, a gap in the index) rather than wait.",
    )
    warn_free_pct: float = Field(
        5.0, ge=0, le=50, description="Raise a 'disk nearly full' node alert when free space on the recording "
        "disk falls under this share. 0: never.",
    )
    alert_clear_s: float = Field(
        60.0, ge=1, le=86_400, description="A disk node alert closes once its condition has been absent this long.",
    )


class Sim(_Model):
    host: str = Field("127.0.0.1", description="Address the simulator's RTSP server listens on.")
    rtsp_port: int = Field(8554, ge=1, le=65535, description="TCP port of the simulator's RTSP server.")
    control_port: int = Field(8555, ge=1, le=65535, description="TCP port of the simulator's control channel.")
    footage_dir: str | None = Field(
        None, description="Folder of real clips for cameras whose scene is 'footage' (e.g. ../shared/footage)."
    )
    clip_seconds: int = Field(
        20, ge=4, le=600, description="Length of each pre-encoded loop (a multiple of the 2 s GOP)."
    )

    @model_validator(mode="after")
    def distinct_ports(self) -> Sim:
        if self.rtsp_port == self.control_port:
            raise ValueError("rtsp_port and control_port must differ")
        return self


class Config(_Model):
    site: Site = Field(..., description="The city this installation watches: its name and time zone.")
    data_dir: str = Field(
        "./data", description="Where the server writes (store, snapshots). CCTV_DATA_DIR overrides it. "
        "Relative paths are relative to the config file.",
    )
    store: Store = Field(default_factory=Store, description="The database.")
    bus: Bus = Field(default_factory=Bus, description="The message bus.")
    web: Web = Field(default_factory=Web, description="The web server.")
    auth: Auth = Field(default_factory=Auth, description="Logins, sessions and their limits.")
    ingest: Ingest = Field(default_factory=Ingest, description="Stream ingestion.")
    status: Status = Field(default_factory=Status, description="Status debounce.")
    alerts: Alerts = Field(default_factory=Alerts, description="The alert feed (docs/web.md).")
    checks: Checks = Field(default_factory=Checks, description="Thresholds of the picture checks.")
    recording: Recording = Field(default_factory=Recording, description="Continuous recording and retention.")
    sim: Sim = Field(default_factory=Sim, description="The camera simulator.")
    node: Node = Field(default_factory=Node, description="This node among many (docs/nodes.md).")
    kecamatan: list[Kecamatan] = Field(..., min_length=1, description="The city's kecamatan, top of the hierarchy.")

    @model_validator(mode="after")
    def unique_kecamatan_slugs(self) -> Config:
        _no_duplicates([k.slug for k in self.kecamatan], "kecamatan")
        return self

    @model_validator(mode="after")
    def preferred_areas_exist(self) -> Config:
        areas = {k.slug for k in self.kecamatan}
        for k in self.kecamatan:
            for kel in k.kelurahan:
                areas.add(f"{k.slug}/{kel.slug}")
                areas.update(f"{k.slug}/{kel.slug}/{rt.slug}" for rt in kel.rt)
        unknown = [p for p in self.node.prefers if p.strip("/") not in areas]
        if unknown:
            raise ValueError(f"node.prefers names areas that do not exist: {', '.join(map(repr, unknown))}")
        return self


def _no_duplicates(slugs: list[str], what: str) -> None:
    seen: set[str] = set()
    for s in slugs:
        if s in seen:
            raise ValueError(f"duplicate slug {s!r} in {what}")
        seen.add(s)
