"""``cctv sim``: run the camera simulator in the foreground, or switch / list its cameras' states."""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from pathlib import Path

from streams.sim.control import STATES, SimControl, SimError


def register(subparsers) -> None:
    """Add the ``sim`` sub-command (with ``ctl`` and ``ls``) to an argparse subparsers object."""
    p = subparsers.add_parser("sim", help="run the camera simulator (RTSP) or control it",
                              description="Serve every camera of the config that has a 'sim' section over RTSP.")
    p.add_argument("--config", default=None, help="config file (default: $CCTV_CONFIG or ./config.yaml)")
    p.add_argument("--footage", type=Path, default=None, help="folder of real clips (e.g. ../shared/footage): every camera loops one of them "
                   "instead of its synthetic scene")
    p.add_argument("--ground-truth", type=Path, default=None,
                   help="JSON-lines file of applied state changes (default: <data_dir>/sim-ground-truth.jsonl)")
    p.add_argument("--rtsp-port", type=int, default=None, help="RTSP port (default: sim.rtsp_port)")
    p.add_argument("--control-port", type=int, default=None, help="control port (default: sim.control_port)")
    p.set_defaults(func=run)
    sub = p.add_subparsers(dest="sim_command", metavar="{ctl,ls}")
    ctl = sub.add_parser("ctl", help="switch one simulated camera's state")
    ctl.add_argument("camera", metavar="CAMERA_PATH", help="e.g. kota-baru/paal-lima/rt-07/cam-1")
    ctl.add_argument("state", metavar="STATE", help=", ".join(STATES))
    ls = sub.add_parser("ls", help="list simulated cameras and their states")
    for q in (ctl, ls):
        # SUPPRESS: a value given before the sub-command (cctv sim --config X ctl ...) is kept.
        q.add_argument("--config", default=argparse.SUPPRESS, help="config file")
        q.add_argument("--control-port", type=int, default=argparse.SUPPRESS, help="control port")
    ctl.set_defaults(func=ctl_command)
    ls.set_defaults(func=ls_command)


def _load(args):
    from cctv.config.cli import load_or_exit

    return load_or_exit(getattr(args, "config", None), "cctv sim")


def _control(args) -> SimControl:
    _, config = _load(args)
    return SimControl("127.0.0.1", getattr(args, "control_port", None) or config.sim.control_port)


def run(args) -> int:
    from cctv.logs import setup_logging
    from streams.sim.process import SimulatorProcess

    setup_logging("INFO")
    path, config = _load(args)
    data = Path(config.data_dir)  # absolute, CCTV_DATA_DIR applied by the loader
    footage = args.footage
    if footage is None and config.sim.footage_dir:
        fd = Path(config.sim.footage_dir)
        footage = fd if fd.is_absolute() else path.resolve().parent / fd
    sim = SimulatorProcess(config, data / "sim-cache", args.ground_truth or data / "sim-ground-truth.jsonl",
                           footage_dir=footage, rtsp_port=args.rtsp_port, control_port=args.control_port,
                           all_footage=args.footage is not None)
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    try:
        print(f"cctv sim: preparing {len(sim.cameras)} cameras (clips cached in {data / 'sim-cache'})", flush=True)
        sim.start()
        print(f"cctv sim: serving {len(sim.cameras)} cameras at rtsp://{sim.host}:{sim.rtsp_port}/ "
              f"(control http://127.0.0.1:{sim.control_port}/cameras); Ctrl-C stops", flush=True)
        while not stop.wait(1.0):
            if not sim.running:
                print("cctv sim: the server process exited", file=sys.stderr)
                return 1
        return 0
    except SimError as exc:
        print(f"cctv sim: {exc}", file=sys.stderr)
        return 2
    finally:
        sim.stop()


def ctl_command(args) -> int:
    if args.state not in STATES:
        print(f"cctv sim ctl: unknown state {args.state!r}; one of {', '.join(STATES)}", file=sys.stderr)
        return 2
    try:
        _control(args).set_state(args.camera, args.state)
    except (SimError, OSError, ValueError) as exc:
        print(f"cctv sim ctl: {exc}", file=sys.stderr)
        return 2
    print(f"{args.camera}: {args.state}")
    return 0


def ls_command(args) -> int:
    try:
        states = _control(args).states()
    except (SimError, OSError, ValueError) as exc:
        print(f"cctv sim ls: {exc}", file=sys.stderr)
        return 2
    width = max((len(p) for p in states), default=0)
    for path, state in sorted(states.items()):
        print(f"{path:<{width}}  {state}")
    return 0
