"""`cctv user add | list | disable` and `cctv audit verify`.

Each command opens the store named by the config (migrating it), does its work and appends what it did to the
audit log (actor "cli:<os user>"). Passwords come only from stdin (``--password-stdin``), never from argv,
where other users of the machine could read them.
"""

from __future__ import annotations

import argparse
import getpass
import sys
import time
from pathlib import Path

EXIT_OK, EXIT_FAIL, EXIT_USAGE = 0, 1, 2


def register(subparsers: argparse._SubParsersAction) -> None:
    from cctv.accounts.policy import Role

    user = subparsers.add_parser("user", help="accounts: add, list, disable")
    usub = user.add_subparsers(dest="user_command", required=True, metavar="ACTION")

    add = usub.add_parser("add", help="create an account (the password is read from stdin)")
    add.add_argument("name", metavar="NAME")
    add.add_argument("--role", required=True, choices=[r.value for r in Role])
    add.add_argument("--scope", action="append", required=True, metavar="PATH",
                     help="an area the user may see, e.g. kota-baru or kota-baru/paal-lima; '/' for the city. "
                     "Repeat for several.")
    add.add_argument("--password-stdin", action="store_true", required=True,
                     help="read the password from the first line of stdin")
    _config_arg(add)
    add.set_defaults(func=cmd_user_add)

    ls = usub.add_parser("list", help="list accounts (name, role, scopes, disabled)")
    _config_arg(ls)
    ls.set_defaults(func=cmd_user_list)

    dis = usub.add_parser("disable", help="disable an account and end its sessions")
    dis.add_argument("name", metavar="NAME")
    _config_arg(dis)
    dis.set_defaults(func=cmd_user_disable)

    audit = subparsers.add_parser("audit", help="the audit log")
    asub = audit.add_subparsers(dest="audit_command", required=True, metavar="ACTION")
    ver = asub.add_parser("verify", help="check the hash chain: exit 0 when intact, 1 naming the first bad entry")
    _config_arg(ver)
    ver.set_defaults(func=cmd_audit_verify)


def _config_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument("--config", default=None, metavar="FILE", help="config file (default: $CCTV_CONFIG or ./config.yaml)")


def _open(args: argparse.Namespace):  # type: ignore[no-untyped-def]
    from cctv.config.cli import load_or_exit
    from cctv.sites import Sites
    from cctv.store import Store, default_url

    config = load_or_exit(args.config, f"cctv {args.command}")[1]
    store = Store(config.store.url or default_url(Path(config.data_dir)))
    store.migrate()
    return config, Sites(config), store


def _actor() -> str:
    try:
        return f"cli:{getpass.getuser()}"
    except Exception:  # noqa: BLE001 - no login name in some containers
        return "cli"


def _now_ms() -> int:
    return time.time_ns() // 1_000_000


def cmd_user_add(args: argparse.Namespace) -> int:
    from cctv.accounts.users import AccountError, Accounts
    from cctv.audit.log import AuditLog

    line = sys.stdin.readline()
    password = line[:-1] if line.endswith("\n") else line
    password = password.rstrip("\r")
    if not password:
        print("cctv user add: no password on stdin", file=sys.stderr)
        return EXIT_USAGE
    _config, sites, store = _open(args)
    try:
        now = _now_ms()
        try:
            info = Accounts(store.engine).add_user(args.name, password, args.role, args.scope, now, sites)
        except AccountError as exc:
            print(f"cctv user add: {exc}", file=sys.stderr)
            return EXIT_FAIL
        AuditLog(store.engine).append(now, _actor(), "user.add", info.username,
                                      {"role": info.role.value, "scopes": list(info.scopes)})
        print(f"added {info.username} ({info.role.value}) scope {', '.join(s or '/' for s in info.scopes)}")
        return EXIT_OK
    finally:
        store.close()


def cmd_user_list(args: argparse.Namespace) -> int:
    from cctv.accounts.users import Accounts

    _config, _sites, store = _open(args)
    try:
        users = Accounts(store.engine).list_users()
        print(f"{'NAME':<24} {'ROLE':<11} {'STATE':<9} SCOPE")
        for u in users:
            state = "disabled" if u.disabled else "active"
            print(f"{u.username:<24} {u.role.value:<11} {state:<9} {' '.join(s or '/' for s in u.scopes)}")
        return EXIT_OK
    finally:
        store.close()


def cmd_user_disable(args: argparse.Namespace) -> int:
    from cctv.accounts.users import AccountError, Accounts
    from cctv.audit.log import AuditLog

    _config, _sites, store = _open(args)
    try:
        now = _now_ms()
        try:
            Accounts(store.engine).disable_user(args.name, now)
        except AccountError as exc:
            print(f"cctv user disable: {exc}", file=sys.stderr)
            return EXIT_FAIL
        AuditLog(store.engine).append(now, _actor(), "user.disable", args.name, {})
        print(f"disabled {args.name}; their sessions are ended")
        return EXIT_OK
    finally:
        store.close()


def cmd_audit_verify(args: argparse.Namespace) -> int:
    from cctv.audit.log import AuditLog

    _config, _sites, store = _open(args)
    try:
        log = AuditLog(store.engine)
        bad = log.verify()
        if bad is None:
            n = len(log.entries())
            print(f"audit log intact: {n} entries")
            return EXIT_OK
        print(f"audit log BROKEN at entry {bad}: it was edited or deleted, or an entry before it was", file=sys.stderr)
        return EXIT_FAIL
    finally:
        store.close()
