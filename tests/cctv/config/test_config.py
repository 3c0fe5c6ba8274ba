"""config.yaml loading: the demo file, every class of error with its line, ${VAR}, secrets, check-config."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError
from ruamel.yaml import YAML

from cctv.config import Config, ConfigError, ConfigIssue, data_dir_of, load_config, parse_config
from cctv.config import cli as config_cli
from cctv.config.models import SLUG_RE
from cctv.sites import Sites
from tests.helpers.paths import REPO

DEMO = REPO / "config.yaml"

VALID = """\
site:
  name: Kota Uji
kecamatan:
  - slug: kota-baru
    name: Kota Baru
    kelurahan:
      - slug: paal-lima
        name: Paal Lima
        rt:
          - slug: rt-07
            name: RT 07
            cameras:
              - slug: cam-1
                name: Gang masjid
                url: rtsp://127.0.0.1:8554/kota-baru/paal-lima/rt-07/cam-1
              - slug: cam-2
                name: Pos ronda
                url: rtsp://127.0.0.1:8554/kota-baru/paal-lima/rt-07/cam-2
          - slug: rt-08
            name: RT 08
            cameras:
              - slug: cam-1
                name: Jalan
                url: rtsp://127.0.0.1:8554/kota-baru/paal-lima/rt-08/cam-1
      - slug: suka-karya
        name: Suka Karya
        rt:
          - slug: rt-01
            name: RT 01
            cameras:
              - slug: cam-1
                name: Simpang
                url: rtsp://127.0.0.1:8554/kota-baru/suka-karya/rt-01/cam-1
  - slug: pelayangan
    name: Pelayangan
    kelurahan:
      - slug: tengah
        name: Tengah
        rt:
          - slug: rt-01
            name: RT 01
            cameras:
              - slug: cam-1
                name: Tepi sungai
                url: rtsp://127.0.0.1:8554/pelayangan/tengah/rt-01/cam-1
"""


def line_of(text: str, needle: str, nth: int = 1) -> int:
    """1-based line of the nth line containing ``needle``."""
    hits = [i for i, line in enumerate(text.splitlines(), 1) if needle in line]
    assert len(hits) >= nth, f"{needle!r} found {len(hits)} times"
    return hits[nth - 1]


def issues_of(text: str, env: dict[str, str] | None = None) -> list[ConfigIssue]:
    with pytest.raises(ConfigError) as info:
        parse_config(text, env=env or {})
    return info.value.issues


def one_issue(text: str, env: dict[str, str] | None = None) -> ConfigIssue:
    issues = issues_of(text, env)
    assert len(issues) == 1, issues
    return issues[0]


def replace_once(text: str, old: str, new: str, nth: int = 1) -> str:
    parts = text.split(old)
    assert len(parts) > nth, f"{old!r} occurs {len(parts) - 1} times"
    return old.join(parts[:nth]) + new + old.join(parts[nth:])


# -- the demo config ----------------------------------------------------------------------------------


def test_demo_config_loads_with_the_expected_size() -> None:
    config = load_config(DEMO, env={})
    sites = Sites(config)
    levels = [a.level for a in sites.areas]
    assert config.site.name == "Kota Jambi"
    assert levels.count("kecamatan") >= 4
    assert levels.count("kelurahan") >= 20
    assert 60 <= len(sites.cameras) <= 80
    paths = [c.path for c in sites.cameras]
    assert len(set(paths)) == len(paths)
    assert all(
        c.url.startswith("rtsp://") and c.url.endswith("127.0.0.1:8554/" + c.path) for c in sites.cameras
    )
    assert all(c.sim is not None and 0 <= c.sim.seed <= 3 for c in sites.cameras)
    assert any(c.sim.night for c in sites.cameras if c.sim)
    assert config.status.offline_after_s == 10
    assert config.ingest.stall_timeout_s == 6


def test_demo_secret_references_resolve_from_env_or_default() -> None:
    with_defaults = Sites(load_config(DEMO, env={}))
    secret = [c for c in with_defaults.cameras if "@" in c.url]
    assert 1 <= len(secret) <= 2
    assert secret[0].url.startswith("rtsp://admin:rahasia@127.0.0.1:8554/")
    assert secret[0].url_redacted.startswith("rtsp://***:***@127.0.0.1:8554/")
    from_env = Sites(load_config(DEMO, env={"SIM_CAM_USER": "op", "SIM_CAM_PASS": "pw-from-env"}))
    assert from_env.camera(secret[0].path).url.startswith("rtsp://op:pw-from-env@127.0.0.1:8554/")


def test_demo_keeps_comments_for_readers() -> None:
    text = DEMO.read_text()
    assert text.startswith("#")
    assert "offline_after_s: 10" in text and "stall_timeout_s: 6" in text


# -- data_dir -----------------------------------------------------------------------------------------


def test_relative_data_dir_is_relative_to_the_config_file(tmp_path: Path) -> None:
    sub = tmp_path / "etc"
    sub.mkdir()
    (sub / "c.yaml").write_text("data_dir: ../var/cctv\n" + VALID)
    config = load_config(sub / "c.yaml", env={})
    assert data_dir_of(config) == tmp_path / "var" / "cctv"
    assert Path(config.data_dir).is_absolute()


def test_default_data_dir_is_beside_the_config(tmp_path: Path) -> None:
    (tmp_path / "c.yaml").write_text(VALID)
    assert data_dir_of(load_config(tmp_path / "c.yaml", env={})) == tmp_path / "data"


def test_cctv_data_dir_overrides(tmp_path: Path) -> None:
    (tmp_path / "c.yaml").write_text("data_dir: ./here\n" + VALID)
    config = load_config(tmp_path / "c.yaml", env={"CCTV_DATA_DIR": str(tmp_path / "elsewhere")})
    assert data_dir_of(config) == tmp_path / "elsewhere"


# -- ${VAR} -------------------------------------------------------------------------------------------


def test_env_substitution_and_default() -> None:
    text = VALID.replace("rtsp://127.0.0.1:8554/pelayangan", "rtsp://${U}:${P:-dflt}@${HOST}:8554/pelayangan")
    text = text.replace("name: Kota Uji", "name: ${CITY:-Kota Default}")
    config = parse_config(text, env={"U": "op", "HOST": "10.0.0.9"})
    assert config.site.name == "Kota Default"
    cam = Sites(config).camera("pelayangan/tengah/rt-01/cam-1")
    assert cam.url == "rtsp://op:dflt@10.0.0.9:8554/pelayangan/tengah/rt-01/cam-1"
    # an empty value counts as unset for ${VAR:-default}; $${ is a literal
    config = parse_config(text.replace("Gang masjid", "Gang $${X}"), env={"U": "op", "HOST": "h", "P": ""})
    assert Sites(config).camera("pelayangan/tengah/rt-01/cam-1").url.startswith("rtsp://op:dflt@h:")
    assert Sites(config).camera("kota-baru/paal-lima/rt-07/cam-1").name == "Gang ${X}"


def test_unset_env_var_is_reported_at_its_line_without_values() -> None:
    text = VALID.replace(
        "url: rtsp://127.0.0.1:8554/kota-baru/suka-karya",
        "url: rtsp://op:${CAM_PASS}@127.0.0.1:8554/kota-baru/suka-karya",
    )
    issue = one_issue(text, env={"OTHER": "x"})
    assert issue.path == "kecamatan[0].kelurahan[1].rt[0].cameras[0].url"
    assert issue.line == line_of(text, "${CAM_PASS}")
    assert "CAM_PASS" in issue.message and "not set" in issue.message


# -- every class of bad config, with its line ---------------------------------------------------------


@pytest.mark.parametrize(
    ("level", "old", "new", "nth_first", "nth_second"),
    [
        ("kecamatan", "- slug: pelayangan", "- slug: kota-baru", 1, 1),
        ("kelurahan", "- slug: suka-karya", "- slug: paal-lima", 1, 1),
        ("rt", "- slug: rt-08", "- slug: rt-07", 1, 1),
        ("cameras", "- slug: cam-2", "- slug: cam-1", 1, 2),
    ],
)
def test_duplicate_slug_at_each_level(
    level: str, old: str, new: str, nth_first: int, nth_second: int
) -> None:
    text = VALID.replace(old, new)
    issue = one_issue(text)
    slug = new.split(": ")[1]
    first, second = line_of(text, new, nth_first), line_of(text, new, nth_second)
    if first == second:  # the duplicate is the second line carrying that slug
        second = line_of(text, new, 2)
    assert issue.line == second
    assert issue.path.endswith(".slug") and f"{level}[" in issue.path.rsplit(".", 2)[-2]
    assert issue.message == f"duplicate slug {slug!r} (first at line {first})"


def test_same_slug_in_different_parents_is_fine() -> None:
    config = parse_config(VALID, env={})  # rt-01 and cam-1 repeat under different parents
    assert len(Sites(config).cameras) == 5


def test_unknown_top_level_key() -> None:
    text = VALID + "statsu:\n  offline_after_s: 5\n"
    issue = one_issue(text)
    assert (issue.path, issue.line) == ("statsu", line_of(text, "statsu:"))
    assert issue.message == "unknown key (did you mean 'status'?)"


def test_unknown_nested_key() -> None:
    text = "ingest:\n  decode: keyframes\n  stall_timout_s: 5\n" + VALID
    issue = one_issue(text)
    assert (issue.path, issue.line) == ("ingest.stall_timout_s", 3)
    assert "did you mean 'stall_timeout_s'" in issue.message


def test_unknown_key_deep_in_the_hierarchy() -> None:
    text = replace_once(
        VALID,
        "                name: Pos ronda\n",
        "                name: Pos ronda\n                ptz: true\n",
    )
    issue = one_issue(text)
    assert issue.path == "kecamatan[0].kelurahan[0].rt[0].cameras[1].ptz"
    assert issue.line == line_of(text, "ptz: true")
    assert issue.message.startswith("unknown key")


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("http://127.0.0.1:8554/x", "must be an rtsp:// or rtsps:// URL"),
        ("rtsp:///kota-baru/x", "has no host"),
        ("rtsp://127.0.0.1:99999/x", "has an invalid port"),
        ("rtsp://127.0.0.1:port/x", "has an invalid port"),
    ],
)
def test_bad_url(url: str, message: str) -> None:
    text = VALID.replace("url: rtsp://127.0.0.1:8554/kota-baru/paal-lima/rt-08/cam-1", f"url: {url}")
    issue = one_issue(text)
    assert issue.path == "kecamatan[0].kelurahan[0].rt[1].cameras[0].url"
    assert issue.line == line_of(text, url)
    assert issue.message.startswith(message)


def test_secret_in_a_bad_url_is_not_in_the_message(tmp_path: Path) -> None:
    url = "http://admin:hunter2-secret@10.1.2.3:554/Streaming/Channels/102"
    text = VALID.replace("url: rtsp://127.0.0.1:8554/pelayangan/tengah/rt-01/cam-1", f"url: {url}")
    (tmp_path / "c.yaml").write_text(text)
    with pytest.raises(ConfigError) as info:
        load_config(tmp_path / "c.yaml", env={})
    rendered = str(info.value)
    assert "hunter2-secret" not in rendered and "admin" not in rendered
    assert "http://***:***@10.1.2.3:554/Streaming/Channels/102" in rendered


def test_secret_from_env_is_not_in_the_message() -> None:
    text = VALID.replace(
        "url: rtsp://127.0.0.1:8554/pelayangan/tengah/rt-01/cam-1",
        "url: rtsp://u:${PW}@10.1.2.3:99999/${TOKEN}",
    )
    issue = one_issue(text, env={"PW": "pw-from-vault", "TOKEN": "tok-abcdef"})
    assert "has an invalid port" in issue.message
    assert "pw-from-vault" not in issue.message and "tok-abcdef" not in issue.message


def test_out_of_range_threshold() -> None:
    text = "status:\n  offline_after_s: 0\n" + VALID
    issue = one_issue(text)
    assert (issue.path, issue.line) == ("status.offline_after_s", 2)
    assert "greater than or equal to 1" in issue.message


def test_cross_field_rule_is_reported_at_its_section() -> None:
    text = VALID + "ingest:\n  backoff_initial_s: 10\n  backoff_max_s: 5\n"
    issue = one_issue(text)
    assert (issue.path, issue.line) == ("ingest", line_of(text, "ingest:"))
    assert issue.message == "backoff_max_s must be at least backoff_initial_s"


@pytest.mark.parametrize(
    ("snippet", "path", "needle", "fragment"),
    [
        ("web:\n  port: eighty\n", "web.port", "port: eighty", "valid integer"),
        ("web:\n  port: 80.5\n", "web.port", "port: 80.5", "integer"),
        ("status: 5\n", "status", "status: 5", "dictionary"),
        (
            "ingest:\n  decode: everything\n",
            "ingest.decode",
            "decode: everything",
            "'keyframes', 'sampled' or 'off'",
        ),
    ],
)
def test_wrong_type(snippet: str, path: str, needle: str, fragment: str) -> None:
    text = snippet + VALID
    issue = one_issue(text)
    assert (issue.path, issue.line) == (path, line_of(text, needle))
    assert fragment in issue.message


def test_wrong_type_in_the_hierarchy() -> None:
    text = replace_once(
        VALID,
        "                name: Jalan\n",
        "                name: Jalan\n                enabled: maybe\n",
    )
    issue = one_issue(text)
    assert issue.path == "kecamatan[0].kelurahan[0].rt[1].cameras[0].enabled"
    assert issue.line == line_of(text, "enabled: maybe")


def test_missing_required_key_points_at_the_enclosing_mapping() -> None:
    text = VALID.replace("                url: rtsp://127.0.0.1:8554/kota-baru/paal-lima/rt-08/cam-1\n", "")
    issue = one_issue(text)
    assert issue.path == "kecamatan[0].kelurahan[0].rt[1].cameras[0].url"
    assert issue.line == line_of(text, "name: Jalan") - 1  # the "- slug: cam-1" line opening the camera
    assert issue.message == "required key is missing"


def test_missing_top_level_section() -> None:
    text = VALID.replace("site:\n  name: Kota Uji\n", "")
    issue = one_issue(text)
    assert (issue.path, issue.line, issue.message) == ("site", 1, "required key is missing")


def test_empty_list_is_rejected() -> None:
    text = "site:\n  name: X\nkecamatan: []\n"
    issue = one_issue(text)
    assert (issue.path, issue.line) == ("kecamatan", 3)
    assert "at least 1 item" in issue.message


def test_bad_slug() -> None:
    text = VALID.replace("- slug: rt-08", "- slug: RT 08")
    issue = one_issue(text)
    assert issue.path == "kecamatan[0].kelurahan[0].rt[1].slug"
    assert issue.line == line_of(text, "slug: RT 08")


def test_yaml_syntax_error_has_its_line(tmp_path: Path) -> None:
    text = "site:\n  name: X\nweb: [1, 2\nkecamatan: []\n"
    (tmp_path / "c.yaml").write_text(text)
    with pytest.raises(ConfigError) as info:
        load_config(tmp_path / "c.yaml", env={})
    (issue,) = info.value.issues
    assert issue.line in (3, 4)
    assert issue.message.startswith("YAML syntax error")
    assert str(info.value).startswith(f"{tmp_path / 'c.yaml'}:{issue.line}: YAML syntax error")


def test_bad_indentation_is_a_syntax_error() -> None:
    issue = one_issue("site:\n  name: X\n   timezone: UTC\n")
    assert issue.line == 3 and "YAML syntax error" in issue.message


def test_duplicate_yaml_keys() -> None:
    text = (
        "site:\n  name: A\n  timezone: UTC\n  name: B\n"
        + VALID.replace("site:\n  name: Kota Uji\n", "")
        + "site: {}\n"
    )
    issues = issues_of(text)
    assert [(i.path, i.line) for i in issues] == [("site.name", 4), ("site", line_of(text, "site: {}"))]
    assert issues[0].message == "duplicate key 'name' (first at line 2)"
    assert issues[1].message == "duplicate key 'site' (first at line 1)"


def test_every_issue_is_reported_at_once() -> None:
    text = "status:\n  offline_after_s: 0\nweb:\n  port: 0\nbogus: 1\n" + VALID.replace(
        "- slug: rt-08", "- slug: rt-07"
    )
    issues = issues_of(text)
    assert [i.path for i in issues] == [
        "status.offline_after_s",
        "web.port",
        "bogus",
        "kecamatan[0].kelurahan[0].rt[1].slug",
    ]
    assert [i.line for i in issues] == sorted(i.line for i in issues)  # file order


def test_missing_empty_and_non_mapping_files(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="config file not found"):
        load_config(tmp_path / "nope.yaml")
    (tmp_path / "empty.yaml").write_text("# nothing\n")
    with pytest.raises(ConfigError, match="empty"):
        load_config(tmp_path / "empty.yaml")
    (tmp_path / "list.yaml").write_text("- a\n- b\n")
    with pytest.raises(ConfigError, match="top level must be a mapping"):
        load_config(tmp_path / "list.yaml")


def test_error_format_is_file_line_path_message(tmp_path: Path) -> None:
    (tmp_path / "c.yaml").write_text("status:\n  offline_after_s: 0\n" + VALID)
    with pytest.raises(ConfigError) as info:
        load_config(tmp_path / "c.yaml", env={})
    assert str(info.value) == (
        f"{tmp_path / 'c.yaml'}:2: status.offline_after_s: Input should be greater than or equal to 1"
    )


# -- property: any valid hierarchy round-trips --------------------------------------------------------

slugs = st.from_regex(SLUG_RE, fullmatch=True).filter(lambda s: len(s) <= 64)
names = st.text(
    alphabet=st.characters(
        codec="utf-8", exclude_categories=("Cs", "Cc", "Zl", "Zp"), exclude_characters="$"
    ),
    min_size=1,
    max_size=30,
)


def unique_by_slug(children: st.SearchStrategy, max_size: int) -> st.SearchStrategy:
    return st.lists(children, min_size=1, max_size=max_size, unique_by=lambda d: d["slug"])


cameras = st.builds(
    lambda slug, name, port: {"slug": slug, "name": name, "url": f"rtsp://10.0.0.1:{port}/{slug}"},
    slugs,
    names,
    st.integers(1, 65535),
)
rts = st.builds(
    lambda s, n, c: {"slug": s, "name": n, "cameras": c}, slugs, names, unique_by_slug(cameras, 3)
)
kels = st.builds(lambda s, n, r: {"slug": s, "name": n, "rt": r}, slugs, names, unique_by_slug(rts, 3))
kecs = st.builds(
    lambda s, n, k: {"slug": s, "name": n, "kelurahan": k}, slugs, names, unique_by_slug(kels, 3)
)


@settings(max_examples=60, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])
@given(hierarchy=unique_by_slug(kecs, 3), city=names)
def test_any_valid_hierarchy_round_trips(hierarchy: list[dict], city: str) -> None:
    import io

    doc = {"site": {"name": city}, "kecamatan": hierarchy}
    buf = io.StringIO()
    YAML(typ="rt").dump(doc, buf)
    config = parse_config(buf.getvalue(), env={})
    assert config.model_dump(include={"site": {"name"}, "kecamatan": True}, exclude_defaults=True) == doc
    expected = [
        f"{k['slug']}/{kel['slug']}/{rt['slug']}/{cam['slug']}"
        for k in hierarchy
        for kel in k["kelurahan"]
        for rt in kel["rt"]
        for cam in rt["cameras"]
    ]
    assert [c.path for c in Sites(config).cameras] == expected


# -- check-config -------------------------------------------------------------------------------------


def run_cli(*argv: str) -> int:
    parser = argparse.ArgumentParser(prog="cctv")
    config_cli.register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(list(argv))
    return args.func(args)


def test_check_config_valid(capsys: pytest.CaptureFixture[str]) -> None:
    assert run_cli("check-config", str(DEMO)) == 0
    out = capsys.readouterr().out
    assert out.count("\n") == 1
    assert "Kota Jambi" in out and "kecamatan" in out and "cameras" in out


def test_check_config_invalid(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.yaml"
    text = "status:\n  offline_after_s: 0\nxyzzy: 1\n" + VALID
    bad.write_text(
        text.replace("rtsp://127.0.0.1:8554/pelayangan", "http://u:pw-zz@127.0.0.1:8554/pelayangan")
    )
    assert run_cli("check-config", "--config", str(bad)) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    lines = captured.err.splitlines()
    assert lines[0] == f"{bad}:2: status.offline_after_s: Input should be greater than or equal to 1"
    assert lines[1] == f"{bad}:3: xyzzy: unknown key"
    assert lines[2].startswith(
        f"{bad}:{line_of(bad.read_text(), 'http://')}: kecamatan[1].kelurahan[0].rt[0].cameras[0].url: "
    )
    assert "pw-zz" not in captured.err
    assert lines[-1] == f"{bad}: 3 problems"


def test_check_config_default_file_from_env(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "site.yaml").write_text(VALID)
    monkeypatch.setenv("CCTV_CONFIG", str(tmp_path / "site.yaml"))
    assert run_cli("check-config") == 0
    assert "2 kecamatan, 3 kelurahan, 4 RT, 5 cameras" in capsys.readouterr().out


def test_check_config_defaults_to_config_yaml_in_cwd(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("CCTV_CONFIG", raising=False)
    monkeypatch.chdir(tmp_path)
    assert run_cli("check-config") == 2
    assert capsys.readouterr().err.startswith("config.yaml: config file not found")
    (tmp_path / "config.yaml").write_text(VALID)
    assert run_cli("check-config") == 0


def test_config_is_frozen() -> None:
    config = parse_config(VALID, env={})
    assert isinstance(config, Config)
    with pytest.raises(Exception):  # noqa: B017  (pydantic raises ValidationError on frozen assignment)
        config.site.name = "x"  # type: ignore[misc]


# -- redaction ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("rtsp://admin:pa:ss@10.0.0.7:554/sub?ch=1", "rtsp://***:***@10.0.0.7:554/sub?ch=1"),
        ("rtsp://admin:p@ss@10.0.0.7/sub", "rtsp://***:***@10.0.0.7/sub"),
        ("rtsp://token@cam.example/s", "rtsp://***@cam.example/s"),
        ("rtsp://10.0.0.7:554/sub", "rtsp://10.0.0.7:554/sub"),
        ("rtsp://u:p@[::1]:8554/x", "rtsp://***:***@[::1]:8554/x"),
    ],
)
def test_redact_url(url: str, expected: str) -> None:
    from cctv.redact import redact_url

    assert redact_url(url) == expected


def test_redact_text_masks_urls_and_known_secrets() -> None:
    from cctv.redact import redact_text

    text = "open rtsp://admin:hunter2@10.0.0.7/s failed; key=abc123xyz; http://u:p@h ok"
    out = redact_text(text, ["abc123xyz", ""])
    assert out == "open rtsp://***:***@10.0.0.7/s failed; key=***; http://***:***@h ok"


# -- node: (docs/nodes.md) ----------------------------------------------------------------------------------


def test_node_section_defaults_bounds_and_preferred_areas() -> None:
    from cctv.config.node import node_name

    base = {"site": {"name": "Kota Jambi"}, "kecamatan": [{"slug": "kota-baru", "name": "Kota Baru", "kelurahan": [
        {"slug": "paal-lima", "name": "Paal Lima", "rt": [{"slug": "rt-07", "name": "RT 07", "cameras": [
            {"slug": "cam-1", "name": "Simpang", "url": "rtsp://10.0.0.7/sub"}]}]}]}]}
    cfg = Config.model_validate(base)
    assert cfg.node.name is None and node_name(cfg.node) and cfg.node.lease_ttl_s == 8.0
    named = Config.model_validate({**base, "node": {"name": "ingest-3", "prefers": ["kota-baru/paal-lima"],
                                                    "capacity": 400}})
    assert node_name(named.node) == "ingest-3" and named.node.prefers == ["kota-baru/paal-lima"]
    with pytest.raises(ValidationError, match="do not exist: 'telanaipura'"):
        Config.model_validate({**base, "node": {"prefers": ["telanaipura"]}})
    with pytest.raises(ValidationError, match="at most half of lease_ttl_s"):
        Config.model_validate({**base, "node": {"lease_ttl_s": 4, "renew_every_s": 3}})
    with pytest.raises(ValidationError, match="name"):
        Config.model_validate({**base, "node": {"name": "bad name!"}})
