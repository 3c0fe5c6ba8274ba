"""The evidence job: export a clip, describe it in a manifest, sign it, write both side by side.

Used by ``cctv clip export`` and by the web's approved clip requests. The caller locks the covered segments
against retention for the duration (``cctv.store.segments.lock`` / ``unlock``) and audits the result.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cctv.evidence import EvidenceError
from cctv.evidence import manifest as mf
from cctv.evidence.export import ExportResult, Locate, Progress, export_clip
from cctv.evidence.keys import NodeKey
from cctv.sites import Sites
from cctv.store import Store

_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


@dataclass(frozen=True)
class Evidence:
    clip: Path
    manifest: Path
    export: ExportResult
    document: dict[str, Any]


def clip_stem(case_ref: str, camera: str, start_ms: int) -> str:
    """``<case>_<camera path with _>_<UTC start>``, safe as a file name on any system."""
    case = _UNSAFE.sub("-", case_ref).strip("-.")[:60] or "case"
    stamp = mf.iso_ms(start_ms).replace("-", "").replace(":", "").replace(".", "")
    return f"{case}_{camera.replace('/', '_')}_{stamp}"


def free_stem(out_dir: Path, stem: str) -> str:
    """``stem``, or ``stem-2``, ``stem-3``... so that no earlier clip or manifest is ever overwritten."""
    candidate, n = stem, 1
    while any(
        (out_dir / f"{candidate}{suffix}").exists() for suffix in (".mp4", ".mp4.partial", mf.MANIFEST_SUFFIX)
    ):
        n += 1
        candidate = f"{stem}-{n}"
    return candidate


def produce(
    store: Store,
    sites: Sites,
    root: Path,
    key: NodeKey,
    *,
    camera: str,
    start_ms: int,
    end_ms: int,
    case_ref: str,
    approver: str,
    out_dir: Path,
    now_ms: int,
    request_id: str | None = None,
    progress: Progress | None = None,
    locate: Locate | None = None,
) -> Evidence:
    """Export ``camera`` over [start_ms, end_ms) into ``out_dir`` with its signed manifest beside it."""
    if not sites.has_camera(camera):
        raise EvidenceError(f"unknown camera {camera!r}")
    if not case_ref.strip():
        raise EvidenceError("the case (or letter) reference is empty")
    cam = sites.camera(camera)
    out_dir = Path(out_dir)
    stem = free_stem(out_dir, clip_stem(case_ref, cam.path, start_ms))
    result = export_clip(
        store, root, cam.path, start_ms, end_ms, out_dir, name=f"{stem}.mp4", progress=progress, locate=locate
    )
    body = mf.build_body(
        case_ref=case_ref,
        request_id=request_id,
        camera_path=cam.path,
        camera_name=cam.name,
        area_path=cam.rt,
        area_names=[a.name for a in sites.ancestors(cam.path)],
        requested=(start_ms, end_ms),
        actual=(result.start_ms, result.end_ms),
        approver=approver,
        segments=[
            {
                "path": s.path,
                "sha256": s.sha256,
                "size_bytes": s.size_bytes,
                "start_ms": s.start_ms,
                "end_ms": s.end_ms,
                **({"node": s.node} if s.node else {}),  # many nodes: the one that recorded it
            }
            for s in result.segments
        ],
        gaps=[(g.start_ms, g.end_ms) for g in result.gaps],
        clip_file=result.path.name,
        clip_sha256=result.sha256,
        clip_size_bytes=result.size_bytes,
        clip_packets=result.packets,
        created_ms=now_ms,
        key=key,
    )
    doc = mf.sign(body, key)
    try:
        manifest_path = mf.write(doc, out_dir / f"{stem}{mf.MANIFEST_SUFFIX}")
    except BaseException:
        result.path.unlink(missing_ok=True)  # a clip without its manifest is no evidence: leave neither
        raise
    return Evidence(result.path, manifest_path, result, doc)
