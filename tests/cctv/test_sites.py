"""The site hierarchy: paths, areas, ancestors, scope checks."""

from __future__ import annotations

import pytest

from cctv.config import Config, parse_config
from cctv.sites import Sites, is_within
from tests.helpers.paths import REPO

TEXT = """\
site:
  name: Kota Uji
kecamatan:
  - slug: kota
    name: Kota
    kelurahan:
      - slug: pusat
        name: Pusat
        rt:
          - slug: rt-01
            name: RT 01
            cameras:
              - {slug: cam-1, name: A, url: "rtsp://127.0.0.1/kota/pusat/rt-01/cam-1"}
  - slug: kota-baru
    name: Kota Baru
    kelurahan:
      - slug: paal-lima
        name: Paal Lima
        rt:
          - slug: rt-07
            name: RT 07
            cameras:
              - {slug: cam-1, name: B, url: "rtsp://op:s3cr3t-pw@10.0.0.7:554/sub"}
              - {slug: cam-2, name: C, url: "rtsp://127.0.0.1/x", enabled: false, decode: sampled}
          - slug: rt-070
            name: RT 070
            cameras:
              - {slug: cam-1, name: D, url: "rtsp://127.0.0.1/y", sim: {scene: river, seed: 2, night: true}}
      - slug: suka-karya
        name: Suka Karya
        rt:
          - slug: rt-01
            name: RT 01
            cameras:
              - {slug: cam-1, name: E, url: "rtsp://127.0.0.1/z"}
"""


@pytest.fixture(scope="module")
def sites() -> Sites:
    return Sites(parse_config(TEXT, env={}))


def test_cameras_in_config_order_with_their_areas(sites: Sites) -> None:
    assert [c.path for c in sites.cameras] == [
        "kota/pusat/rt-01/cam-1",
        "kota-baru/paal-lima/rt-07/cam-1",
        "kota-baru/paal-lima/rt-07/cam-2",
        "kota-baru/paal-lima/rt-070/cam-1",
        "kota-baru/suka-karya/rt-01/cam-1",
    ]
    cam = sites.camera("kota-baru/paal-lima/rt-07/cam-2")
    assert (cam.slug, cam.name, cam.enabled, cam.decode) == ("cam-2", "C", False, "sampled")
    assert (cam.kecamatan, cam.kelurahan, cam.rt) == (
        "kota-baru",
        "kota-baru/paal-lima",
        "kota-baru/paal-lima/rt-07",
    )
    sim = sites.camera("kota-baru/paal-lima/rt-070/cam-1").sim
    assert sim is not None and (sim.scene, sim.seed, sim.night) == ("river", 2, True)


def test_secret_url_is_kept_but_redacted_for_display(sites: Sites) -> None:
    cam = sites.camera("kota-baru/paal-lima/rt-07/cam-1")
    assert cam.url == "rtsp://op:s3cr3t-pw@10.0.0.7:554/sub"
    assert cam.url_redacted == "rtsp://***:***@10.0.0.7:554/sub"
    assert "s3cr3t" not in repr(cam)


def test_areas(sites: Sites) -> None:
    areas = sites.areas
    assert [a.level for a in areas] == ["city"] + ["kecamatan"] * 2 + ["kelurahan"] * 3 + ["rt"] * 4
    city = sites.area("")
    assert (city.path, city.name, city.parent, city.children) == ("", "Kota Uji", None, ("kota", "kota-baru"))
    assert len(city.cameras) == 5
    kel = sites.area("kota-baru/paal-lima")
    assert (kel.slug, kel.name, kel.level, kel.parent) == ("paal-lima", "Paal Lima", "kelurahan", "kota-baru")
    assert kel.children == ("kota-baru/paal-lima/rt-07", "kota-baru/paal-lima/rt-070")
    assert kel.cameras == (
        "kota-baru/paal-lima/rt-07/cam-1",
        "kota-baru/paal-lima/rt-07/cam-2",
        "kota-baru/paal-lima/rt-070/cam-1",
    )
    assert sites.area("kota").cameras == ("kota/pusat/rt-01/cam-1",)
    rt = sites.area("kota-baru/paal-lima/rt-07")
    assert (rt.level, rt.children, len(rt.cameras)) == ("rt", (), 2)


def test_lookups_normalize_slashes_and_reject_unknown(sites: Sites) -> None:
    assert sites.area("/") is sites.area("") is sites.city
    assert sites.area("/kota-baru/") is sites.area("kota-baru")
    with pytest.raises(KeyError):
        sites.area("kota-lama")
    with pytest.raises(KeyError):
        sites.camera("kota-baru/paal-lima/rt-07/cam-9")
    with pytest.raises(KeyError):
        sites.camera("kota-baru/paal-lima")  # an area is not a camera
    with pytest.raises(KeyError):
        sites.area("kota-baru/paal-lima/rt-07/cam-1")  # a camera is not an area
    assert sites.level_of("kota-baru/paal-lima/rt-07/cam-1") == "camera"
    assert sites.level_of("kota-baru/paal-lima") == "kelurahan"


def test_ancestors_city_first(sites: Sites) -> None:
    cam = "kota-baru/paal-lima/rt-07/cam-1"
    assert [a.path for a in sites.ancestors(cam)] == [
        "",
        "kota-baru",
        "kota-baru/paal-lima",
        "kota-baru/paal-lima/rt-07",
    ]
    assert [a.path for a in sites.ancestors("kota-baru/paal-lima")] == ["", "kota-baru"]
    assert [a.path for a in sites.ancestors("kota")] == [""]
    assert sites.ancestors("") == []
    with pytest.raises(KeyError):
        sites.ancestors("kota-baru/nowhere")


def test_breadcrumbs(sites: Sites) -> None:
    assert [a.name for a in sites.breadcrumbs("kota-baru/paal-lima")] == [
        "Kota Uji",
        "Kota Baru",
        "Paal Lima",
    ]
    assert [a.name for a in sites.breadcrumbs("kota-baru/paal-lima/rt-07/cam-2")] == [
        "Kota Uji",
        "Kota Baru",
        "Paal Lima",
        "RT 07",
    ]
    assert [a.level for a in sites.breadcrumbs("/")] == ["city"]


@pytest.mark.parametrize(
    ("path", "scope", "expected"),
    [
        ("kota-baru/paal-lima/rt-07/cam-1", "", True),
        ("kota-baru/paal-lima/rt-07/cam-1", "/", True),
        ("", "", True),
        ("kota-baru/paal-lima/rt-07/cam-1", "kota-baru", True),
        ("kota-baru/paal-lima/rt-07/cam-1", "kota-baru/paal-lima", True),
        ("kota-baru/paal-lima/rt-07/cam-1", "kota-baru/paal-lima/rt-07", True),
        ("kota-baru/paal-lima/rt-07/cam-1", "kota-baru/paal-lima/rt-07/cam-1", True),
        ("kota-baru", "kota-baru", True),
        ("kota-baru", "/kota-baru/", True),
        ("kota-baru/paal-lima", "kota", False),  # prefix of a slug is not a parent
        ("kota-baru", "kota", False),
        ("kota/pusat/rt-01/cam-1", "kota-baru", False),
        ("kota-baru/paal-lima/rt-070/cam-1", "kota-baru/paal-lima/rt-07", False),
        ("kota-baru/paal-lima/rt-07/cam-10", "kota-baru/paal-lima/rt-07/cam-1", False),
        ("kota-baru", "kota-baru/paal-lima", False),  # a parent is not within its child
        ("", "kota-baru", False),  # nor the city within a kecamatan
    ],
)
def test_is_within(sites: Sites, path: str, scope: str, expected: bool) -> None:
    assert is_within(path, scope) is expected
    assert sites.is_within(path, scope) is expected


def test_is_within_agrees_with_area_camera_lists(sites: Sites) -> None:
    for area in sites.areas:
        inside = [c.path for c in sites.cameras if is_within(c.path, area.path)]
        assert inside == list(area.cameras)
        assert [c.path for c in sites.cameras_within(area.path)] == inside


def test_demo_config_areas_cover_every_camera_once() -> None:
    from cctv.config import load_config

    sites = Sites(load_config(REPO / "config.yaml", env={}))
    assert set(sites.city.cameras) == {c.path for c in sites.cameras}
    for level in ("kecamatan", "kelurahan", "rt"):
        per_level = [p for a in sites.areas if a.level == level for p in a.cameras]
        assert sorted(per_level) == sorted(sites.city.cameras)
    assert sites.area("kota-baru/paal-lima").name == "Paal Lima"


def test_thirty_thousand_cameras_index_fast() -> None:
    kec = [
        {
            "slug": f"kec-{k}",
            "name": f"Kec {k}",
            "kelurahan": [
                {
                    "slug": f"kel-{j}",
                    "name": f"Kel {j}",
                    "rt": [
                        {
                            "slug": f"rt-{r}",
                            "name": f"RT {r}",
                            "cameras": [{"slug": "cam-1", "name": "C", "url": f"rtsp://10.{k}.{j}.{r}/s"}],
                        }
                        for r in range(100)
                    ],
                }
                for j in range(30)
            ],
        }
        for k in range(10)
    ]
    config = Config.model_validate({"site": {"name": "Besar"}, "kecamatan": kec})
    sites = Sites(config)
    assert len(sites.cameras) == 30_000
    assert len(sites.areas) == 1 + 10 + 300 + 30_000
    for c in sites.cameras:
        assert sites.camera(c.path) is c
        assert [a.level for a in sites.ancestors(c.path)][:1] == ["city"]
    assert len(sites.area("kec-3").cameras) == 3_000
