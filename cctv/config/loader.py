"""Read config.yaml into a validated :class:`~cctv.config.models.Config`.

Steps: parse with ruamel.yaml's round-trip loader (it keeps the line of every key and item), look for
duplicate keys and duplicate slugs, substitute ``${VAR}`` / ``${VAR:-default}`` in string values
(cctv/config/env_refs.py), validate with pydantic, and turn every problem into a :class:`ConfigIssue` with its key path and YAML line.
All issues are collected and raised together as one :class:`ConfigError`; messages never contain a
secret (URLs are redacted, resolved ``${VAR}`` values are masked).
"""

from __future__ import annotations

import difflib
import os
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError
from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.constructor import DuplicateKeyError
from ruamel.yaml.error import MarkedYAMLError, YAMLError
from ruamel.yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from cctv.config.env_refs import Loc, substitute
from cctv.config.models import Config
from cctv.redact import redact_text, redact_url

__all__ = ["ConfigError", "ConfigIssue", "data_dir_of", "load_config", "parse_config"]

DATA_DIR_ENV = "CCTV_DATA_DIR"
HIERARCHY = ("kecamatan", "kelurahan", "rt", "cameras")  # list keys, top down; items carry a slug



@dataclass(frozen=True)
class ConfigIssue:
    """One problem in a config file: where (key path and 1-based line) and what."""

    path: str
    line: int | None
    message: str

    def format(self, source: str) -> str:
        where = f"{source}:{self.line}" if self.line is not None else source
        return f"{where}: {self.path}: {self.message}" if self.path else f"{where}: {self.message}"


class ConfigError(Exception):
    """A config file that cannot be used. ``issues`` lists every problem found, in file order."""

    def __init__(self, issues: list[ConfigIssue], source: str = "config.yaml") -> None:
        self.issues = sorted(issues, key=lambda i: (i.line is None, i.line or 0, i.path))
        self.source = source
        super().__init__(str(self))

    def lines(self) -> list[str]:
        return [issue.format(self.source) for issue in self.issues]

    def __str__(self) -> str:
        return "\n".join(self.lines())


# -- public entry points ------------------------------------------------------------------------------


def load_config(path: str | Path, env: Mapping[str, str] | None = None) -> Config:
    """Load, substitute, validate. Raises :class:`ConfigError` listing every problem.

    ``env`` defaults to ``os.environ``. The returned config's ``data_dir`` is absolute: ``CCTV_DATA_DIR``
    if set (relative to the working directory), else the file's value relative to the file's folder.
    """
    env = os.environ if env is None else env
    source = str(path)
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError([ConfigIssue("", None, "config file not found")], source) from None
    except IsADirectoryError:
        raise ConfigError([ConfigIssue("", None, "is a directory, not a config file")], source) from None
    except UnicodeDecodeError as exc:
        raise ConfigError([ConfigIssue("", None, f"not UTF-8 text ({exc.reason})")], source) from None
    except OSError as exc:
        raise ConfigError([ConfigIssue("", None, f"cannot read: {exc.strerror}")], source) from None
    config = parse_config(text, env=env, source=source)
    return config.model_copy(update={"data_dir": str(_resolve_data_dir(config.data_dir, p, env))})


def parse_config(text: str, env: Mapping[str, str] | None = None, source: str = "config.yaml") -> Config:
    """Validate config text (``data_dir`` left as written). ``source`` names the file in messages.

    A valid file takes the fast path: the safe loader (libyaml when ruamel.yaml.clib is installed), no
    line bookkeeping. Any problem sends the text through the round-trip loader, which knows every line.
    """
    env = os.environ if env is None else env
    try:
        data = _yaml_fast().load(text)
    except YAMLError:
        data = None  # the precise pass reports it with its line
    if isinstance(data, dict):
        env_issues: list[tuple[Loc, str]] = []
        plain = substitute(data, (), env, env_issues, set())
        if not env_issues and not _has_duplicate_slugs(plain):
            try:
                return Config.model_validate(plain)
            except ValidationError:
                pass
    return _parse_precisely(text, env, source)


def _parse_precisely(text: str, env: Mapping[str, str], source: str) -> Config:
    """The round-trip pass: every issue with its key path and line, raised as one ConfigError."""
    root = _parse_yaml(text, source)
    secrets: set[str] = set()
    duplicates = _duplicate_slugs(root)
    issues = list(duplicates)
    env_issues: list[tuple[Loc, str]] = []
    plain = substitute(root, (), env, env_issues, secrets)
    issues += [ConfigIssue(_fmt(loc), _line_of(root, loc), msg) for loc, msg in env_issues]
    env_paths = {_fmt(loc) for loc, _ in env_issues}
    try:
        config = Config.model_validate(plain)
    except ValidationError as exc:
        issues += _validation_issues(exc, root, plain, skip_duplicates=bool(duplicates), skip_paths=env_paths)
        config = None
    if issues:
        clean = [ConfigIssue(i.path, i.line, redact_text(i.message, secrets)) for i in issues]
        raise ConfigError(clean, source)
    assert config is not None
    return config


def data_dir_of(config: Config) -> Path:
    """The data directory as a Path (absolute when the config came from :func:`load_config`)."""
    return Path(config.data_dir)


# -- parsing ------------------------------------------------------------------------------------------


def _yaml() -> YAML:
    return YAML(typ="rt")


def _yaml_fast() -> YAML:
    return YAML(typ="safe")  # the C parser when ruamel.yaml.clib is installed


def _parse_yaml(text: str, source: str) -> CommentedMap:
    try:
        root = _yaml().load(text)
    except DuplicateKeyError:
        raise ConfigError(_duplicate_keys(text), source) from None
    except MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else None
        message = "YAML syntax error: " + "; ".join(m for m in (exc.context, exc.problem) if m)
        raise ConfigError([ConfigIssue("", line, redact_text(message))], source) from None
    except YAMLError as exc:
        raise ConfigError([ConfigIssue("", None, f"YAML error: {redact_text(str(exc))}")], source) from None
    if root is None:
        raise ConfigError([ConfigIssue("", None, "the file is empty")], source)
    if not isinstance(root, CommentedMap):
        raise ConfigError([ConfigIssue("", 1, "the top level must be a mapping of keys")], source)
    return root


def _duplicate_keys(text: str) -> list[ConfigIssue]:
    """Every key repeated within one mapping, at its second occurrence (from the node graph)."""
    issues: list[ConfigIssue] = []
    seen_nodes: set[int] = set()

    def walk(node: Node, loc: Loc) -> None:
        if id(node) in seen_nodes:
            return
        seen_nodes.add(id(node))
        if isinstance(node, MappingNode):
            first: dict[str, int] = {}
            for key_node, value_node in node.value:
                if (
                    not isinstance(key_node, ScalarNode) or key_node.value == "<<"
                ):  # merge keys repeat legally
                    continue
                key, line = str(key_node.value), key_node.start_mark.line + 1
                if key in first:
                    issues.append(
                        ConfigIssue(
                            _fmt(loc + (key,)), line, f"duplicate key {key!r} (first at line {first[key]})"
                        )
                    )
                else:
                    first[key] = line
                walk(value_node, loc + (key,))
        elif isinstance(node, SequenceNode):
            for i, item in enumerate(node.value):
                walk(item, loc + (i,))

    walk(_yaml().compose(text), ())
    return issues or [ConfigIssue("", None, "duplicate key")]


def _duplicate_slugs(root: CommentedMap) -> list[ConfigIssue]:
    """Slugs repeated among siblings (kecamatan, kelurahan of one kecamatan, ...), at the second one."""
    issues: list[ConfigIssue] = []

    def walk(mapping: CommentedMap, depth: int, loc: Loc) -> None:
        key = HIERARCHY[depth]
        seq = mapping.get(key)
        if not isinstance(seq, CommentedSeq):
            return
        first: dict[str, int] = {}
        for i, item in enumerate(seq):
            if not isinstance(item, CommentedMap):
                continue
            item_loc = loc + (key, i)
            slug = item.get("slug")
            if isinstance(slug, str):
                line = item.lc.value("slug")[0] + 1
                if slug in first:
                    issues.append(
                        ConfigIssue(
                            _fmt(item_loc + ("slug",)),
                            line,
                            f"duplicate slug {slug!r} (first at line {first[slug]})",
                        )
                    )
                else:
                    first[slug] = line
            if depth + 1 < len(HIERARCHY):
                walk(item, depth + 1, item_loc)

    walk(root, 0, ())
    return issues


def _has_duplicate_slugs(plain: Any, depth: int = 0) -> bool:
    items = plain.get(HIERARCHY[depth]) if isinstance(plain, dict) else None
    if not isinstance(items, list):
        return False
    slugs = [item.get("slug") for item in items if isinstance(item, dict)]
    if len(set(slugs)) != len(slugs):
        return True
    return depth + 1 < len(HIERARCHY) and any(_has_duplicate_slugs(item, depth + 1) for item in items)


# -- pydantic errors -> issues ------------------------------------------------------------------------


def _validation_issues(
    exc: ValidationError, root: CommentedMap, plain: Any, *, skip_duplicates: bool, skip_paths: set[str]
) -> list[ConfigIssue]:
    out: list[ConfigIssue] = []
    for err in exc.errors(include_url=False, include_input=False, include_context=False):
        loc: Loc = tuple(err["loc"])
        path = _fmt(loc)
        msg = str(err["msg"])
        kind = err["type"]
        if path in skip_paths:
            continue  # already reported (an unset ${VAR})
        if skip_duplicates and "duplicate slug" in msg:
            continue  # the YAML walk reported it with both lines
        if msg.startswith("Value error, "):
            msg = msg[len("Value error, ") :]
        if kind == "missing":
            msg = "required key is missing"
        elif kind == "extra_forbidden":
            msg = "unknown key" + _did_you_mean(loc)
        if loc and loc[-1] == "url" and kind == "value_error":
            got = _value_at(plain, loc)
            if isinstance(got, str):
                msg += f" (got {redact_url(got)!r})"
        out.append(ConfigIssue(path, _line_of(root, loc, key_line=kind == "extra_forbidden"), msg))
    return out


def _line_of(root: CommentedMap, loc: Loc, *, key_line: bool = False) -> int | None:
    """1-based line of the node at ``loc``, or of the deepest enclosing node that exists.

    A scalar value: the value's line. A mapping or list value: the line of its key (or item).
    With ``key_line``, the last step gives the key's line (an unknown key).
    """
    node: Any = root
    line: int | None = root.lc.line + 1
    for i, part in enumerate(loc):
        last = i == len(loc) - 1
        if isinstance(node, CommentedMap) and isinstance(part, str) and part in node:
            child = node[part]
            if isinstance(child, CommentedMap | CommentedSeq) or (last and key_line):
                line = node.lc.key(part)[0] + 1
            else:
                line = node.lc.value(part)[0] + 1
        elif isinstance(node, CommentedSeq) and isinstance(part, int) and 0 <= part < len(node):
            child = node[part]
            line = node.lc.item(part)[0] + 1
        else:
            break
        node = child
    return line


def _value_at(plain: Any, loc: Loc) -> Any:
    node = plain
    for part in loc:
        try:
            node = node[part]
        except (KeyError, IndexError, TypeError):
            return None
    return node


def _did_you_mean(loc: Loc) -> str:
    model: type[BaseModel] | None = Config
    for part in loc[:-1]:
        if isinstance(part, int):
            continue
        field = model.model_fields.get(part) if model else None
        model = _model_in(field.annotation) if field else None
    if model is None or not isinstance(loc[-1], str):
        return ""
    close = difflib.get_close_matches(loc[-1], list(model.model_fields), n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


def _model_in(annotation: Any) -> type[BaseModel] | None:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    if typing.get_origin(annotation) in (list, typing.Union, types.UnionType):
        for arg in typing.get_args(annotation):
            found = _model_in(arg)
            if found is not None:
                return found
    return None


# -- helpers ------------------------------------------------------------------------------------------


def _fmt(loc: Loc) -> str:
    """('kecamatan', 0, 'name') -> 'kecamatan[0].name'."""
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _resolve_data_dir(value: str, config_path: Path, env: Mapping[str, str]) -> Path:
    override = env.get(DATA_DIR_ENV)
    if override:
        base, raw = Path.cwd(), override
    else:
        base, raw = config_path.resolve().parent, value
    p = Path(raw).expanduser()
    return (p if p.is_absolute() else base / p).resolve()
