"""A benchmark city: a config YAML with K simulated cameras, for the simulator and `cctv run` alike.

Cameras are laid out one per RT (``rt-NN/cam-1``), 10 RTs per kelurahan (``kel-NN``), 10 kelurahan per
kecamatan (``kec-NN``), up to 9,900 cameras; or, with a ``Layout`` such as ``JAKARTA`` (44 kecamatan of 6
kelurahan, a few cameras per RT), spread evenly over every kelurahan of the layout, for cities of tens of
thousands of cameras (the synthetic web benchmark, which opens no RTSP). Their pictures cycle through a few
(scene, seed, night) combinations, the first ones the demo city (config.yaml) uses, so the simulator's clip
cache (``<cache>/``, shared with ``cctv sim`` on the demo config) encodes each clip once, ever.

Recording is off (the benchmark measures ingest: packets, keyframe decode, checks, snapshots).

    .venv/bin/python -m bench.citygen 200 /tmp/city-200.yaml --rtsp-port 18554 --control-port 18555
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML

# (scene, seed, night): every camera loops one of these; each costs ~7 s of encoding the first time only
PICTURES: tuple[tuple[str, int, bool], ...] = (
    ("street", 0, False),
    ("alley", 1, False),
    ("yard", 2, False),
    ("market", 3, False),
    ("river", 0, True),
    ("street", 1, False),
)
PER_KELURAHAN = 10  # RTs (one camera each) per kelurahan
PER_KECAMATAN = 100  # cameras per kecamatan
MAX_CAMERAS = 99 * PER_KECAMATAN


def camera_path(i: int) -> str:
    """The path of the ``i``-th camera (0-based), e.g. ``kec-01/kel-03/rt-07/cam-1`` for i = 26."""
    kec, rest = divmod(i, PER_KECAMATAN)
    kel, rt = divmod(rest, PER_KELURAHAN)
    return f"kec-{kec + 1:02d}/kel-{kel + 1:02d}/rt-{rt + 1:02d}/cam-1"


@dataclass(frozen=True, slots=True)
class Layout:
    """A city of ``kecamatan`` x ``kelurahan_per_kecamatan`` kelurahan; each kelurahan gets an even share of
    the cameras, ``cameras_per_rt`` to an RT (at most 99 RT per kelurahan)."""

    kecamatan: int
    kelurahan_per_kecamatan: int
    cameras_per_rt: int

    @property
    def kelurahan(self) -> int:
        return self.kecamatan * self.kelurahan_per_kecamatan

    @property
    def capacity(self) -> int:
        return self.kelurahan * 99 * self.cameras_per_rt

    def path(self, i: int, k: int) -> str:
        """The path of the ``i``-th of ``k`` cameras: kelurahan ``i * K // k`` (K kelurahan in all), so every
        kelurahan holds ``k // K`` or one more, in path order."""
        kel_index = i * self.kelurahan // k
        first = -(-kel_index * k // self.kelurahan)  # the first camera of that kelurahan
        kec, kel = divmod(kel_index, self.kelurahan_per_kecamatan)
        rt, cam = divmod(i - first, self.cameras_per_rt)
        return f"kec-{kec + 1:02d}/kel-{kel + 1:02d}/rt-{rt + 1:02d}/cam-{cam + 1}"


# Jakarta-like: 44 kecamatan, 264 kelurahan (DKI has 44 and 267); 30,000 cameras are ~114 a kelurahan
JAKARTA = Layout(kecamatan=44, kelurahan_per_kecamatan=6, cameras_per_rt=4)


def city_config(
    k: int,
    *,
    data_dir: str | Path,
    rtsp_port: int = 8554,
    control_port: int = 8555,
    web_port: int = 8080,
    host: str = "127.0.0.1",
    layout: Layout | None = None,
) -> dict[str, Any]:
    """The config of a city of ``k`` simulated cameras served at ``rtsp://host:rtsp_port/<path>``; laid out
    one per RT (``camera_path``) or, given a ``layout``, spread over its kelurahan (``Layout.path``)."""
    most = layout.capacity if layout is not None else MAX_CAMERAS
    if not 1 <= k <= most:
        raise ValueError(f"camera count must be 1..{most}, got {k}")
    kecamatan: list[dict[str, Any]] = []
    for i in range(k):
        path = camera_path(i) if layout is None else layout.path(i, k)
        kec_slug, kel_slug, rt_slug, cam_slug = path.split("/")
        if not kecamatan or kecamatan[-1]["slug"] != kec_slug:
            kecamatan.append({"slug": kec_slug, "name": f"Kecamatan {kec_slug[4:]}", "kelurahan": []})
        kels = kecamatan[-1]["kelurahan"]
        if not kels or kels[-1]["slug"] != kel_slug:
            kels.append({"slug": kel_slug, "name": f"Kelurahan {kec_slug[4:]}.{kel_slug[4:]}", "rt": []})
        scene, seed, night = PICTURES[i % len(PICTURES)]
        sim: dict[str, Any] = {"scene": scene, "seed": seed}
        if night:
            sim["night"] = True
        rts = kels[-1]["rt"]
        if not rts or rts[-1]["slug"] != rt_slug:
            rts.append({"slug": rt_slug, "name": f"RT {rt_slug[3:]}", "cameras": []})
        rts[-1]["cameras"].append(
            {"slug": cam_slug, "name": f"Camera {i + 1}", "url": f"rtsp://{host}:{rtsp_port}/{path}", "sim": sim}
        )
    return {
        "site": {"name": f"Benchmark city ({k} cameras)", "timezone": "Asia/Jakarta"},
        "data_dir": str(data_dir),
        "web": {"host": "127.0.0.1", "port": web_port},
        "ingest": {"decode": "keyframes"},
        "recording": {"enabled": False},
        "sim": {"host": host, "rtsp_port": rtsp_port, "control_port": control_port, "clip_seconds": 20},
        "kecamatan": kecamatan,
    }


def write_city(path: str | Path, k: int, **kwargs: Any) -> Path:
    """Write :func:`city_config` as YAML to ``path``; returns the path."""
    config = city_config(k, **kwargs)  # first: a bad argument writes nothing
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    yaml = YAML()
    yaml.default_flow_style = False
    with path.open("w", encoding="utf-8") as f:
        f.write(f"# Generated by bench/citygen.py: {k} simulated cameras. Do not edit; regenerate.\n")
        yaml.dump(config, f)
    return path


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="Write a benchmark city config with K simulated cameras.")
    ap.add_argument("k", type=int, help="number of cameras")
    ap.add_argument("out", type=Path, help="config file to write")
    ap.add_argument(
        "--data-dir", default="./data", help="data_dir of the config (default ./data, next to it)"
    )
    ap.add_argument("--rtsp-port", type=int, default=8554)
    ap.add_argument("--control-port", type=int, default=8555)
    ap.add_argument("--web-port", type=int, default=8080)
    args = ap.parse_args(argv)
    try:
        write_city(
            args.out,
            args.k,
            data_dir=args.data_dir,
            rtsp_port=args.rtsp_port,
            control_port=args.control_port,
            web_port=args.web_port,
        )
    except ValueError as exc:
        print(f"citygen: {exc}", file=sys.stderr)
        return 2
    print(f"{args.out}: {args.k} cameras")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
