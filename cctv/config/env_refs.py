"""``${VAR}`` and ``${VAR:-default}`` in config.yaml's string values, resolved from the environment (``$${`` is a
literal ``${``). Every resolved value is collected as a secret, so no message about the config ever shows it."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

# ${NAME} or ${NAME:-default}; $${ is a literal "${".
_REF_RE = re.compile(r"\$\$\{|\$\{([^}]*)\}")
_NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")

Loc = tuple[str | int, ...]


def substitute(
    node: Any, loc: Loc, env: Mapping[str, str], issues: list[tuple[Loc, str]], secrets: set[str]
) -> Any:
    """A plain-Python copy of the YAML tree with ${VAR} resolved in string values."""
    if isinstance(node, dict):
        return {str(k): substitute(v, loc + (str(k),), env, issues, secrets) for k, v in node.items()}
    if isinstance(node, list):
        return [substitute(v, loc + (i,), env, issues, secrets) for i, v in enumerate(node)]
    if isinstance(node, str):
        return _substitute_str(str(node), loc, env, issues, secrets) if "$" in node else str(node)
    if isinstance(node, bool) or node is None:
        return node
    if isinstance(node, int):
        return int(node)
    if isinstance(node, float):
        return float(node)
    return node


def _substitute_str(
    value: str, loc: Loc, env: Mapping[str, str], issues: list[tuple[Loc, str]], secrets: set[str]
) -> str:
    def replace(m: re.Match[str]) -> str:
        if m.group(0) == "$${":
            return "${"
        body = m.group(1)
        name, sep, default = body.partition(":-")
        if not _NAME_RE.match(name):
            issues.append((loc, f"bad environment reference ${{{name}}}"))
            return m.group(0)
        got = env.get(name)
        if got is None or (sep and got == ""):
            if not sep:
                issues.append((loc, f"environment variable {name} is not set"))
                return m.group(0)
            got = default
        if len(got) >= 3:  # shorter values would mask unrelated text; they leak little anyway
            secrets.add(got)
        return got

    return _REF_RE.sub(replace, value)
