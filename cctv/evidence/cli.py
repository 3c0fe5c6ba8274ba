"""`cctv verify`, `cctv keys show` and `cctv clip export`: evidence clips from the console.

- ``cctv verify CLIP MANIFEST [--pubkey FILE]``: exit 0 when the clip's hash and the manifest's signature hold,
  1 naming the failed check (hash, signature, key mismatch, malformed manifest), 2 when a file is unreadable.
  Needs no config, store or network.
- ``cctv keys show``: the node's public key (PEM) and fingerprint; the key is created if absent.
- ``cctv clip export CAMERA_PATH --start ISO --end ISO --case REF --out DIR``: for an admin at the server. Locks
  the covered segments against retention while it runs, writes the clip and its signed manifest into DIR,
  prints both paths, shows progress on stderr and audits the export (actor ``console:<os user>``).
"""

from __future__ import annotations

import argparse
import getpass
import sys
import time
import uuid
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

EXIT_OK, EXIT_FAIL, EXIT_USAGE = 0, 1, 2


def register(subparsers: argparse._SubParsersAction) -> None:
    ver = subparsers.add_parser(
        "verify",
        help="check an evidence clip against its signed manifest (offline)",
        description="Check the clip's SHA-256 against the manifest and the manifest's Ed25519 signature. Exit 0 "
        "when both hold, 1 naming the failed check, 2 when a file cannot be read.",
    )
    ver.add_argument("clip", metavar="CLIP", type=Path)
    ver.add_argument("manifest", metavar="MANIFEST", type=Path)
    ver.add_argument(
        "--pubkey",
        metavar="FILE",
        type=Path,
        default=None,
        help="the node's public key (PEM, from `cctv keys show` or the published URL); the manifest "
        "must have been signed by it",
    )
    ver.set_defaults(func=cmd_verify)

    keys = subparsers.add_parser("keys", help="the node's evidence signing key")
    ksub = keys.add_subparsers(dest="keys_command", required=True, metavar="ACTION")
    show = ksub.add_parser(
        "show", help="print the public key (PEM) and its fingerprint; creates the key if absent"
    )
    _config_arg(show)
    show.set_defaults(func=cmd_keys_show)

    clip = subparsers.add_parser("clip", help="evidence clips")
    csub = clip.add_subparsers(dest="clip_command", required=True, metavar="ACTION")
    exp = csub.add_parser(
        "export",
        help="export a signed clip of one camera (console, audited)",
        description="Remux the recordings of CAMERA_PATH over [--start, --end) into one MP4 (no re-encode) with a "
        "signed manifest beside it. Times are ISO 8601; without a zone they are in site.timezone.",
    )
    exp.add_argument("camera", metavar="CAMERA_PATH", help="e.g. kota-baru/paal-lima/rt-07/cam-1")
    exp.add_argument("--start", required=True, metavar="ISO8601", help="e.g. 2026-01-01T14:00:00+07:00")
    exp.add_argument("--end", required=True, metavar="ISO8601")
    exp.add_argument("--case", required=True, metavar="REF", help="case or letter number of the request")
    exp.add_argument(
        "--out", required=True, metavar="DIR", type=Path, help="folder to write the clip and manifest to"
    )
    _config_arg(exp)
    exp.set_defaults(func=cmd_clip_export)


def _config_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--config", default=None, metavar="FILE", help="config file (default: $CCTV_CONFIG or ./config.yaml)"
    )


# -- cctv verify ---------------------------------------------------------------------------------------


def cmd_verify(args: argparse.Namespace) -> int:
    from cctv.evidence.verify import Unreadable, render, verify_files

    try:
        report = verify_files(args.clip, args.manifest, args.pubkey)
    except Unreadable as exc:
        print(f"cctv verify: {exc}", file=sys.stderr)
        return EXIT_USAGE
    print(render(report))
    return EXIT_OK if report.ok else EXIT_FAIL


# -- cctv keys show ------------------------------------------------------------------------------------


def cmd_keys_show(args: argparse.Namespace) -> int:
    from cctv.config.cli import load_or_exit
    from cctv.evidence import EvidenceError
    from cctv.evidence.keys import load_or_create

    config = load_or_exit(args.config, "cctv keys show")[1]
    try:
        key = load_or_create(Path(config.data_dir))
    except EvidenceError as exc:
        print(f"cctv keys show: {exc}", file=sys.stderr)
        return EXIT_USAGE
    sys.stdout.write(key.public_pem)
    print(f"fingerprint: {key.fingerprint}")
    print(f"key file: {key.path} (private: never share it)")
    return EXIT_OK


# -- cctv clip export ----------------------------------------------------------------------------------


def parse_time(value: str, tz: ZoneInfo, what: str) -> int:
    """UTC ms of an ISO 8601 time; one without a zone is in ``tz``. ValueError saying what is wrong."""
    try:
        t = datetime.fromisoformat(value.strip())
    except ValueError:
        raise ValueError(
            f"{what} {value!r} is not an ISO 8601 time (e.g. 2026-01-01T14:00:00+07:00)"
        ) from None
    if t.tzinfo is None:
        t = t.replace(tzinfo=tz)
    return round(t.timestamp() * 1000)


def cmd_clip_export(args: argparse.Namespace) -> int:
    from cctv.config.cli import load_or_exit

    config = load_or_exit(args.config, "cctv clip export")[1]
    prog = "cctv clip export"
    try:
        tz = ZoneInfo(config.site.timezone)
        start_ms = parse_time(args.start, tz, "--start")
        end_ms = parse_time(args.end, tz, "--end")
    except (ValueError, KeyError) as exc:
        return _usage(prog, str(exc))
    if end_ms <= start_ms:
        return _usage(prog, f"--end ({args.end}) must be after --start ({args.start})")
    if not args.case.strip():
        return _usage(prog, "--case is empty")
    out_dir: Path = args.out
    problem = _unwritable(out_dir)
    if problem:
        return _usage(prog, problem)
    from cctv.sites import Sites, normalize

    sites = Sites(config)
    camera = normalize(args.camera)
    if not sites.has_camera(camera):
        return _usage(prog, f"unknown camera {args.camera!r} (a camera path, e.g. {sites.cameras[0].path})")
    return _export(args, config, sites, camera, start_ms, end_ms, out_dir)


def _export(args, config, sites, camera: str, start_ms: int, end_ms: int, out_dir: Path) -> int:  # type: ignore[no-untyped-def]
    from cctv.audit.log import AuditLog
    from cctv.evidence import EvidenceError
    from cctv.evidence.clip import produce
    from cctv.evidence.export import NoRecordings, covering_segments
    from cctv.evidence.files import sha256_file
    from cctv.evidence.keys import load_or_create
    from cctv.evidence.manifest import iso_ms
    from cctv.recording import recordings_root
    from cctv.store import Store, default_url
    from cctv.store.segments import lock, unlock

    prog = "cctv clip export"
    store = Store(config.store.url or default_url(Path(config.data_dir)))
    try:
        store.migrate()
        try:
            key = load_or_create(Path(config.data_dir))
        except EvidenceError as exc:
            return _usage(prog, str(exc))
        ids = [s.id for s in covering_segments(store, camera, start_ms, end_ms)]
        if not ids:
            return _usage(prog, f"no recordings of {camera} between {iso_ms(start_ms)} and {iso_ms(end_ms)}")
        holder = f"console-export:{uuid.uuid4()}"
        actor = _actor()
        root = Path(recordings_root(config.data_dir, config.recording.dir))
        print(
            f"{prog}: {camera} from {iso_ms(start_ms)} to {iso_ms(end_ms)} (UTC), {len(ids)} segments",
            file=sys.stderr,
        )
        lock(store, ids, holder, _now_ms())
        try:
            ev = produce(
                store,
                sites,
                root,
                key,
                camera=camera,
                start_ms=start_ms,
                end_ms=end_ms,
                case_ref=args.case.strip(),
                approver=actor,
                out_dir=out_dir,
                now_ms=_now_ms(),
                progress=_progress_printer(),
            )
        except NoRecordings as exc:
            return _usage(prog, str(exc))
        except (EvidenceError, OSError) as exc:
            detail = exc.strerror if isinstance(exc, OSError) and exc.strerror else exc
            print(f"{prog}: export failed: {detail}", file=sys.stderr)
            return EXIT_FAIL
        finally:
            unlock(store, holder)
        r = ev.export
        manifest_sha, _ = sha256_file(ev.manifest)
        AuditLog(store.engine).append(
            _now_ms(),
            actor,
            "clip.export",
            camera,
            {
                "case": args.case.strip(),
                "via": "console",
                "requested": [iso_ms(start_ms), iso_ms(end_ms)],
                "actual": [iso_ms(r.start_ms), iso_ms(r.end_ms)],
                "clip": ev.clip.name,
                "clip_sha256": r.sha256,
                "size_bytes": r.size_bytes,
                "manifest": ev.manifest.name,
                "manifest_sha256": manifest_sha,
                "key": key.fingerprint,
                "segments": len(r.segments),
                "gaps": len(r.gaps),
                "out_dir": str(out_dir.resolve()),
            },
        )
        if sys.stderr.isatty():
            print(file=sys.stderr)  # end the progress line
        if r.gaps:
            print(f"{prog}: {len(r.gaps)} gap(s) without recording, listed in the manifest", file=sys.stderr)
        print(ev.clip)
        print(ev.manifest)
        return EXIT_OK
    finally:
        store.close()


def _unwritable(out_dir: Path) -> str | None:
    if not out_dir.is_dir():
        return f"--out {out_dir} is not a folder"
    probe = out_dir / f".cctv-write-test-{uuid.uuid4().hex}"
    try:
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as exc:
        return f"--out {out_dir} is not writable: {exc.strerror or exc}"
    return None


def _progress_printer():  # type: ignore[no-untyped-def]
    tty = sys.stderr.isatty()
    last = [-1]

    def show(fraction: float) -> None:
        pct = int(fraction * 100)
        if tty and pct != last[0]:
            print(f"\rexporting: {pct:3d}%", end="", file=sys.stderr, flush=True)
            last[0] = pct
        elif not tty and pct // 10 != last[0] // 10:
            print(f"exporting: {pct}%", file=sys.stderr, flush=True)
            last[0] = pct

    return show


def _usage(prog: str, message: str) -> int:
    print(f"{prog}: {message}", file=sys.stderr)
    return EXIT_USAGE


def _actor() -> str:
    try:
        return f"console:{getpass.getuser()}"
    except Exception:  # noqa: BLE001 - no login name in some containers
        return "console"


def _now_ms() -> int:
    return time.time_ns() // 1_000_000
