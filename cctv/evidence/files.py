"""Small file helpers for evidence: hashing, fsync, crash-safe names."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

PARTIAL = ".partial"


def sha256_file(path: Path) -> tuple[str, int]:
    """(hex SHA-256, size in bytes) of a file, read in 1 MiB chunks."""
    h = hashlib.sha256()
    size = 0
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            h.update(chunk)
            size += len(chunk)
    return h.hexdigest(), size


def fsync_file(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def publish(partial: Path, final: Path) -> None:
    """fsync ``partial``, rename it to ``final`` and fsync the folder: the final name only ever holds a
    complete file."""
    fsync_file(partial)
    os.replace(partial, final)
    fsync_dir(final.parent)
