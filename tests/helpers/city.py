"""A generated city of N simulated cameras for ingest tests (one kecamatan, one kelurahan, RTs of 8 cameras)."""

from __future__ import annotations

from pathlib import Path


def camera_paths(n: int) -> list[str]:
    return [f"kec-uji/kel-uji/rt-{i // 8 + 1:02d}/cam-{i % 8 + 1}" for i in range(n)]


def write_city(tmp_path: Path, rtsp_port: int, control_port: int, n: int, *, extra: str = "",
               credentials: dict[str, str] | None = None) -> Path:
    """config.yaml for ``n`` cameras on one simulator; ``credentials`` maps a camera path to ``user:password``
    (the simulator then requires it)."""
    credentials = credentials or {}
    paths = camera_paths(n)
    rts: dict[str, list[str]] = {}
    for p in paths:
        rts.setdefault(p.split("/")[2], []).append(p)
    lines = [
        "site: {name: Kota Uji}",
        "data_dir: data",
        "ingest: {connect_timeout_s: 3, stall_timeout_s: 2.5, backoff_initial_s: 0.2, backoff_max_s: 1}",
        "status: {offline_after_s: 5, degraded_after_s: 2, recover_after_s: 2}",
        f"sim: {{rtsp_port: {rtsp_port}, control_port: {control_port}, clip_seconds: 4}}",
        extra,
        "kecamatan:",
        "  - {slug: kec-uji, name: Kecamatan Uji, kelurahan: [{slug: kel-uji, name: Kelurahan Uji, rt: [",
    ]
    for rt, cams in rts.items():
        entries = []
        for p in cams:
            cred = f"{credentials[p]}@" if p in credentials else ""
            url = f"rtsp://{cred}127.0.0.1:{rtsp_port}/{p}"
            entries.append(f'{{slug: {p.split("/")[-1]}, name: "Kamera {p}", url: "{url}", '
                           f"sim: {{scene: street, seed: 1}}}}")
        lines.append(f"      {{slug: {rt}, name: {rt.upper()}, cameras: [{', '.join(entries)}]}},")
    lines.append("  ]}]}")
    path = tmp_path / "config.yaml"
    path.write_text("\n".join(lines) + "\n")
    return path
