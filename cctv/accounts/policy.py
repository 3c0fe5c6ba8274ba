"""Users, roles and scopes: the access policy, pure (no I/O, no HTTP).

A user has one role and one or more scope nodes of the hierarchy (the city ``""``, a kecamatan, a kelurahan or
an RT); a scope inherits downward. A request is allowed when the role has the permission AND the object lies
within the scope. The web layer answers a missing permission with 403 (the same for every path, so it leaks
nothing) and an object outside the scope with 404 (as if it did not exist).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum

from cctv.sites import CITY, is_within, normalize


class Role(StrEnum):
    ADMIN = "admin"
    OPERATOR = "operator"
    TECHNICIAN = "technician"
    POLICE = "police"
    VIEWER = "viewer"


class Perm(StrEnum):
    STATUS = "status"  # area pages and their counts, /api/areas, /api/cameras, state intervals
    LIVE = "live"  # snapshots, the tile wall, the camera page, the live WebSocket
    STATS = "stats"  # stream statistics and uptime
    ALERTS_ACK = "alerts.ack"  # acknowledge alerts (later)
    RECORDINGS = "recordings"  # play back recordings of cameras in scope (camera page, HLS)
    CLIPS_REQUEST = "clips.request"  # file clip requests; download one's own once ready
    CLIPS_APPROVE = "clips.approve"  # approve / reject / export clip requests covering only cameras in scope
    CLIPS_DOWNLOAD_ANY = "clips.download_any"  # download any ready clip in scope (admins), not only one's own
    USERS = "users"  # manage users
    AUDIT = "audit"  # read the audit log
    SYSTEM = "system"  # node alerts (recording disk full / nearly full) touching cameras in scope; acknowledge them


ROLE_PERMS: dict[Role, frozenset[Perm]] = {
    Role.ADMIN: frozenset(Perm),
    Role.OPERATOR: frozenset(
        {Perm.STATUS, Perm.LIVE, Perm.STATS, Perm.ALERTS_ACK, Perm.RECORDINGS, Perm.CLIPS_APPROVE, Perm.SYSTEM}
    ),
    # technicians diagnose "covered", "moved", "blurred": they see snapshots, never recordings
    Role.TECHNICIAN: frozenset({Perm.STATUS, Perm.LIVE, Perm.STATS, Perm.SYSTEM}),
    # police liaison: which cameras exist and whether they were up; never live pictures
    Role.POLICE: frozenset({Perm.STATUS, Perm.CLIPS_REQUEST}),
    Role.VIEWER: frozenset({Perm.STATUS, Perm.LIVE}),
}


def can(role: Role | str, perm: Perm) -> bool:
    try:
        return perm in ROLE_PERMS[Role(role)]
    except ValueError:
        return False


@dataclass(frozen=True, slots=True)
class Scope:
    """The area paths a user may see, minimal (none lies within another), in a stable order."""

    roots: tuple[str, ...]

    @classmethod
    def of(cls, paths: Iterable[str]) -> Scope:
        norm = sorted({normalize(p) for p in paths})
        if CITY in norm:
            return cls((CITY,))
        roots = tuple(p for p in norm if not any(q != p and is_within(p, q) for q in norm))
        return cls(roots)

    @property
    def is_city(self) -> bool:
        return self.roots == (CITY,)

    @property
    def empty(self) -> bool:
        return not self.roots

    def covers(self, path: str) -> bool:
        """Whether ``path`` (area or camera) lies within one of the roots."""
        return any(is_within(path, root) for root in self.roots)

    def touches(self, path: str) -> bool:
        """Whether ``path`` covers or is covered by a root (an ancestor of a root touches the scope)."""
        path = normalize(path)
        return self.covers(path) or any(is_within(root, path) for root in self.roots)

    def roots_under(self, path: str) -> tuple[str, ...]:
        """The roots that lie within ``path`` (for an ancestor area: what of it the user may see)."""
        return tuple(r for r in self.roots if is_within(r, path))


CITY_SCOPE = Scope((CITY,))
NO_SCOPE = Scope(())


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is asking: the user's name, role and scope."""

    user_id: int
    username: str
    role: Role
    scope: Scope

    def can(self, perm: Perm) -> bool:
        return can(self.role, perm)


def parse_role(value: str) -> Role:
    try:
        return Role(value)
    except ValueError:
        raise ValueError(f"unknown role {value!r}: one of {', '.join(r.value for r in Role)}") from None


USERNAME_RE = r"^[a-z0-9][a-z0-9._-]{0,62}$"


def safe_next(target: str | None, default: str = "/") -> str:
    """A local path to go to after login, or ``default``: never another host (no open redirect).

    Accepts "/x/y?q" only: refuses "//host", "/\\host", schemes, and control characters.
    """
    if not target or not target.startswith("/") or target.startswith(("//", "/\\")):
        return default
    if any(ord(ch) < 0x20 or ch == "\\" for ch in target) or len(target) > 2000:
        return default
    return target
