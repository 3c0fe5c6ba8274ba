"""The site hierarchy (city → kecamatan → kelurahan → RT → camera) and its paths.

A path is the slugs from the top joined by "/": ``"kota-baru"`` (kecamatan),
``"kota-baru/paal-lima"`` (kelurahan), ``"kota-baru/paal-lima/rt-07"`` (RT) and
``"kota-baru/paal-lima/rt-07/cam-1"`` (camera). The city itself is ``""``. A camera's path is its
identity everywhere (store, bus topics, URLs, logs). Pure: built once from a Config, no I/O; every
lookup is a dict access, so 30,000 cameras cost nothing per request.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Literal

from cctv.config.models import Config, DecodeMode, SimCamera
from cctv.redact import redact_url

Level = Literal["city", "kecamatan", "kelurahan", "rt"]
LEVELS: tuple[Level, ...] = ("city", "kecamatan", "kelurahan", "rt")
CITY = ""


@dataclass(frozen=True, slots=True)
class CameraSite:
    """A camera where it sits. ``url`` is the resolved, SECRET URL: log ``url_redacted``."""

    path: str
    slug: str
    name: str
    url: str
    decode: DecodeMode | None
    enabled: bool
    sim: SimCamera | None
    kecamatan: str  # area paths of the camera's ancestors
    kelurahan: str
    rt: str
    record: bool = True
    retention_days: float | None = None

    @property
    def url_redacted(self) -> str:
        return redact_url(self.url)

    def __repr__(self) -> str:  # never show the secret URL
        return f"CameraSite(path={self.path!r}, name={self.name!r}, url={self.url_redacted!r})"


@dataclass(frozen=True, slots=True)
class Area:
    """A node above the cameras: the city (path ""), a kecamatan, a kelurahan or an RT."""

    path: str
    slug: str
    name: str
    level: Level
    parent: str | None  # the parent area's path; None for the city
    children: tuple[str, ...]  # paths of the child areas (empty for an RT)
    cameras: tuple[str, ...]  # paths of every camera beneath, in config order


def normalize(path: str) -> str:
    """Strip surrounding slashes and spaces: "/" and "" both mean the city."""
    return path.strip().strip("/")


def is_within(path: str, scope: str) -> bool:
    """Whether ``path`` (area or camera) is ``scope`` or lies beneath it. Scope "" or "/" is the city.

    Compares whole path segments: "kota" does not contain "kota-baru".
    """
    path, scope = normalize(path), normalize(scope)
    return scope == CITY or path == scope or path.startswith(scope + "/")


class Sites:
    """Index of every area and camera of a Config."""

    def __init__(self, config: Config) -> None:
        cameras: list[CameraSite] = []
        areas: dict[str, Area] = {}
        kec_paths: list[str] = []
        for kec in config.kecamatan:
            kec_path = kec.slug
            kec_paths.append(kec_path)
            kel_paths: list[str] = []
            kec_start = len(cameras)
            for kel in kec.kelurahan:
                kel_path = f"{kec_path}/{kel.slug}"
                kel_paths.append(kel_path)
                rt_paths: list[str] = []
                kel_start = len(cameras)
                for rt in kel.rt:
                    rt_path = f"{kel_path}/{rt.slug}"
                    rt_paths.append(rt_path)
                    rt_start = len(cameras)
                    for cam in rt.cameras:
                        cameras.append(
                            CameraSite(
                                path=f"{rt_path}/{cam.slug}",
                                slug=cam.slug,
                                name=cam.name,
                                url=cam.url,
                                decode=cam.decode,
                                enabled=cam.enabled,
                                sim=cam.sim,
                                kecamatan=kec_path,
                                kelurahan=kel_path,
                                rt=rt_path,
                                record=cam.record,
                                retention_days=cam.retention_days,
                            )
                        )
                    areas[rt_path] = Area(
                        rt_path, rt.slug, rt.name, "rt", kel_path, (), _paths(cameras, rt_start)
                    )
                areas[kel_path] = Area(
                    kel_path,
                    kel.slug,
                    kel.name,
                    "kelurahan",
                    kec_path,
                    tuple(rt_paths),
                    _paths(cameras, kel_start),
                )
            areas[kec_path] = Area(
                kec_path, kec.slug, kec.name, "kecamatan", CITY, tuple(kel_paths), _paths(cameras, kec_start)
            )
        city = Area(
            CITY, "", config.site.name, "city", None, tuple(kec_paths), tuple(c.path for c in cameras)
        )
        # city first, then top-down in config order
        self._areas: dict[str, Area] = {CITY: city}
        for area in sorted(areas.values(), key=lambda a: LEVELS.index(a.level)):
            self._areas[area.path] = area
        self.cameras: list[CameraSite] = cameras
        self._cameras: dict[str, CameraSite] = {c.path: c for c in cameras}
        if len(self._cameras) != len(cameras):
            raise ValueError("duplicate camera paths (config not validated?)")

    # -- lookups --------------------------------------------------------------------------------------

    @property
    def areas(self) -> list[Area]:
        """Every area: the city, then the kecamatan, kelurahan and RTs, each level in config order."""
        return list(self._areas.values())

    @property
    def city(self) -> Area:
        return self._areas[CITY]

    def camera(self, path: str) -> CameraSite:
        """The camera at ``path``; KeyError if there is none."""
        return self._cameras[normalize(path)]

    def area(self, path: str) -> Area:
        """The area at ``path`` ("" or "/" for the city); KeyError if there is none."""
        return self._areas[normalize(path)]

    def has_camera(self, path: str) -> bool:
        return normalize(path) in self._cameras

    def has_area(self, path: str) -> bool:
        return normalize(path) in self._areas

    def level_of(self, path: str) -> Level | Literal["camera"]:
        """ "city", "kecamatan", "kelurahan", "rt" or "camera"; KeyError if unknown."""
        path = normalize(path)
        if path in self._cameras:
            return "camera"
        return self._areas[path].level

    def ancestors(self, path: str) -> list[Area]:
        """The areas above ``path`` (an area or a camera), city first, ``path`` itself excluded.

        KeyError if ``path`` is neither an area nor a camera.
        """
        path = normalize(path)
        if path not in self._cameras and path not in self._areas:
            raise KeyError(path)
        if path == CITY:
            return []
        parts = path.split("/")
        return [self._areas[CITY]] + [self._areas["/".join(parts[:i])] for i in range(1, len(parts))]

    def breadcrumbs(self, path: str) -> list[Area]:
        """The trail to show above a page: the ancestors, then the area itself if ``path`` is an area.

        For a camera it ends at its RT (the camera is not an Area).
        """
        path = normalize(path)
        trail = self.ancestors(path)
        if path in self._areas:
            trail.append(self._areas[path])
        return trail

    def cameras_within(self, scope: str) -> list[CameraSite]:
        """Cameras under ``scope`` (an area path, or a camera path for just that camera)."""
        scope = normalize(scope)
        if scope in self._cameras:
            return [self._cameras[scope]]
        return [self._cameras[p] for p in self._areas[scope].cameras]

    def is_within(self, path: str, scope: str) -> bool:
        """Same as module-level :func:`is_within` (pure path logic; unknown paths are not an error)."""
        return is_within(path, scope)

    def __iter__(self) -> Iterator[CameraSite]:
        return iter(self.cameras)

    def __len__(self) -> int:
        return len(self.cameras)


def _paths(cameras: list[CameraSite], start: int) -> tuple[str, ...]:
    return tuple(c.path for c in cameras[start:])
