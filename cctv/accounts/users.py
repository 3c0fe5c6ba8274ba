"""Accounts and server-side sessions in the store (synchronous; the web runs them through Store.aread/awrite).

A session's cookie carries a random token (256 bits); the store keeps only its SHA-256, so a leaked database
does not yield live sessions. A session ends at ``expires_ms`` (absolute lifetime), after ``idle_s`` without a
request, at logout, or when its user is disabled.
"""

from __future__ import annotations

import hashlib
import os
import re
import secrets
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from sqlalchemy import Engine, delete, func, select, update
from sqlalchemy.exc import IntegrityError

from cctv.accounts.passwords import DEFAULT, Params, hash_password, verify_dummy, verify_password
from cctv.accounts.policy import USERNAME_RE, Principal, Role, Scope, parse_role
from cctv.sites import Sites, normalize
from cctv.store.models import Session, User, UserScope

TOUCH_EVERY_MS = 60_000  # last_seen_ms is written at most once a minute per session
ADMIN_ENV = "CCTV_ADMIN_PASSWORD"


class AccountError(ValueError):
    """A request about accounts that cannot be done (unknown user, duplicate name, bad scope)."""


@dataclass(frozen=True, slots=True)
class UserInfo:
    """What may be shown about a user: never the password hash."""

    id: int
    username: str
    role: Role
    scopes: tuple[str, ...]
    disabled: bool
    created_ms: int


@dataclass(frozen=True, slots=True)
class SessionInfo:
    principal: Principal
    csrf_token: str
    id_hash: str
    last_seen_ms: int


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def validate_username(name: str) -> str:
    if not re.match(USERNAME_RE, name):
        raise AccountError(
            f"invalid username {name!r}: lower-case letters, digits, '.', '_' and '-', 1-63 characters"
        )
    return name


def validate_scopes(paths: Iterable[str], sites: Sites | None) -> tuple[str, ...]:
    """Normalised scope paths ("/" is the city); with ``sites``, each must be an area of the config."""
    out = []
    for p in paths:
        n = normalize(p)
        if sites is not None and not sites.has_area(n):
            raise AccountError(f"unknown scope {p!r}: not an area of the config (use '/' for the city)")
        out.append(n)
    if not out:
        raise AccountError("at least one --scope is needed")
    return tuple(dict.fromkeys(out))


class Accounts:
    def __init__(self, engine: Engine, params: Params = DEFAULT) -> None:
        self.engine = engine
        self.params = params

    # -- users ---------------------------------------------------------------------------------------

    def count_users(self) -> int:
        with self.engine.connect() as conn:
            return int(conn.execute(select(func.count()).select_from(User)).scalar_one())

    def add_user(self, username: str, password: str, role: str, scopes: Iterable[str], now_ms: int,
                 sites: Sites | None = None) -> UserInfo:
        validate_username(username)
        r = parse_role(role)
        paths = validate_scopes(scopes, sites)
        if len(password) < 8:
            raise AccountError("the password must have at least 8 characters")
        encoded = hash_password(password, self.params)
        try:
            with self.engine.begin() as conn:
                uid = conn.execute(
                    User.__table__.insert()
                    .values(username=username, password_hash=encoded, role=r.value, disabled=False,
                            created_ms=now_ms)
                    .returning(User.id)
                ).scalar_one()
                conn.execute(UserScope.__table__.insert(), [{"user_id": uid, "path": p} for p in paths])
        except IntegrityError:
            raise AccountError(f"user {username!r} exists already") from None
        return UserInfo(int(uid), username, r, paths, False, now_ms)

    def list_users(self) -> list[UserInfo]:
        with self.engine.connect() as conn:
            users = conn.execute(
                select(User.id, User.username, User.role, User.disabled, User.created_ms).order_by(User.username)
            ).all()
            scopes: dict[int, list[str]] = {}
            for uid, path in conn.execute(select(UserScope.user_id, UserScope.path).order_by(UserScope.path)):
                scopes.setdefault(uid, []).append(path)
        return [UserInfo(u.id, u.username, Role(u.role), tuple(scopes.get(u.id, ())), bool(u.disabled),
                         u.created_ms) for u in users]

    def user(self, username: str) -> UserInfo | None:
        return next((u for u in self.list_users() if u.username == username), None)

    def disable_user(self, username: str, now_ms: int) -> UserInfo:
        """Disable ``username`` and end every session of theirs."""
        with self.engine.begin() as conn:
            uid = conn.execute(select(User.id).where(User.username == username)).scalar()
            if uid is None:
                raise AccountError(f"no user {username!r}")
            conn.execute(update(User).where(User.id == uid).values(disabled=True, disabled_ms=now_ms))
            conn.execute(delete(Session).where(Session.user_id == uid))
        info = self.user(username)
        assert info is not None
        return info

    def authenticate(self, username: str, password: str) -> tuple[UserInfo | None, str]:
        """(the user, "ok") when the password matches an enabled account; else (None, why) with why one of
        "unknown", "disabled", "bad_password". Unknown names cost the same hashing time as known ones."""
        with self.engine.connect() as conn:
            row = conn.execute(
                select(User.id, User.password_hash, User.disabled).where(User.username == username)
            ).first()
        if row is None:
            verify_dummy(password)
            return None, "unknown"
        ok = verify_password(password, row.password_hash)
        if not ok:
            return None, "bad_password"
        if row.disabled:
            return None, "disabled"
        return self.user(username), "ok"

    # -- sessions ------------------------------------------------------------------------------------

    def create_session(self, user_id: int, now_ms: int, lifetime_s: float) -> tuple[str, str]:
        """A new session: (cookie token, CSRF token). The token itself is never stored."""
        token = secrets.token_urlsafe(32)
        csrf = secrets.token_urlsafe(32)
        with self.engine.begin() as conn:
            conn.execute(Session.__table__.insert().values(
                id_hash=token_hash(token), user_id=user_id, csrf_token=csrf, created_ms=now_ms,
                last_seen_ms=now_ms, expires_ms=now_ms + int(lifetime_s * 1000),
            ))
        return token, csrf

    def session(self, token: str, now_ms: int, idle_s: float) -> SessionInfo | None:
        """The live session of ``token`` (its user enabled), or None."""
        h = token_hash(token)
        with self.engine.connect() as conn:
            row = conn.execute(
                select(Session.user_id, Session.csrf_token, Session.last_seen_ms, Session.expires_ms,
                       User.username, User.role, User.disabled)
                .join(User, User.id == Session.user_id)
                .where(Session.id_hash == h)
            ).first()
            if row is None or row.disabled or now_ms >= row.expires_ms:
                return None
            if now_ms - row.last_seen_ms > idle_s * 1000:
                return None
            paths = conn.execute(select(UserScope.path).where(UserScope.user_id == row.user_id)).scalars().all()
        principal = Principal(row.user_id, row.username, Role(row.role), Scope.of(paths))
        return SessionInfo(principal, row.csrf_token, h, row.last_seen_ms)

    def touch_session(self, id_hash: str, now_ms: int) -> None:
        with self.engine.begin() as conn:
            conn.execute(update(Session).where(Session.id_hash == id_hash).values(last_seen_ms=now_ms))

    def delete_session(self, token: str) -> None:
        with self.engine.begin() as conn:
            conn.execute(delete(Session).where(Session.id_hash == token_hash(token)))

    def purge_sessions(self, now_ms: int, idle_s: float) -> int:
        """Delete expired and idle sessions; returns how many."""
        with self.engine.begin() as conn:
            return conn.execute(
                delete(Session).where(
                    (Session.expires_ms <= now_ms) | (Session.last_seen_ms < now_ms - int(idle_s * 1000))
                )
            ).rowcount or 0


def ensure_admin(accounts: Accounts, now_ms: int, *, env: dict[str, str] | None = None,
                 out: Callable[[str], None] | None = None, audit: Callable[..., object] | None = None) -> bool:
    """On first start (no users at all) create ``admin`` with the city as scope. The password comes from
    $CCTV_ADMIN_PASSWORD, or is generated and printed once. Returns whether an account was created."""
    if accounts.count_users():
        return False
    env = os.environ if env is None else env
    if out is None:
        def out(line: str) -> None:
            print(line, flush=True)
    password = env.get(ADMIN_ENV) or ""
    generated = not password
    if generated:
        password = secrets.token_urlsafe(18)
    try:
        accounts.add_user("admin", password, "admin", ["/"], now_ms)
    except AccountError:
        return False  # another node created it first
    if audit is not None:
        audit(now_ms, "system", "user.add", "admin", {"role": "admin", "scopes": ["/"], "first_start": True})
    if generated:
        out(f"Created the first account: user 'admin', password {password} (shown once: keep it; "
            "`cctv user add` makes more accounts)")
    else:
        out(f"Created the first account: user 'admin' with the password from ${ADMIN_ENV}")
    return True
