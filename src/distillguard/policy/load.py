"""Load a YAML policy; an invalid one fails here, naming file, line and key."""

from __future__ import annotations

from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from ..errors import ConfigError
from .model import Policy

__all__ = ["PolicyError", "default_policy", "load_policy", "parse_policy"]


class PolicyError(ConfigError):
    """A policy document is invalid; ``file``, ``line`` and ``key`` say where."""

    def __init__(self, message: str, *, file: str, line: int | None, key: str) -> None:
        self.file = file
        self.line = line
        self.key = key
        where = f"{file}:{line}" if line is not None else file
        super().__init__(f"{where} [{key}] {message}")


def _node_at(node: yaml.Node, loc: tuple[int | str, ...]) -> tuple[yaml.Node, bool]:
    """Walk a composed YAML tree along a pydantic error location.

    Returns the deepest node reached and whether the whole path was found (when it was
    not, the key is missing and the parent mapping is the best place to point at).
    """
    cur = node
    for part in loc:
        if isinstance(cur, yaml.MappingNode):
            nxt = None
            for key_node, value_node in cur.value:
                if str(key_node.value) == str(part):
                    # an unknown key points at the key itself, a bad value at the value
                    nxt = value_node
                    break
            if nxt is None:
                return cur, False
            cur = nxt
        elif isinstance(cur, yaml.SequenceNode) and isinstance(part, int):
            if part >= len(cur.value):
                return cur, False
            cur = cur.value[part]
        else:
            return cur, False
    return cur, True


def _key_line(node: yaml.Node, loc: tuple[int | str, ...]) -> int | None:
    parent, _ = _node_at(node, loc[:-1]) if loc else (node, True)
    if loc and isinstance(parent, yaml.MappingNode):
        for key_node, _value in parent.value:
            if str(key_node.value) == str(loc[-1]):
                return int(key_node.start_mark.line) + 1
    found, _ = _node_at(node, loc)
    return int(found.start_mark.line) + 1


def parse_policy(text: str, file: str = "<policy>") -> Policy:
    """Validate a YAML policy given as text; ``file`` names it in errors."""
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
        data: Any = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = int(mark.line) + 1 if mark is not None else None
        raise PolicyError(f"not valid YAML: {exc}", file=file, line=line, key="") from exc
    if root is None or not isinstance(data, dict):
        raise PolicyError("a policy is a YAML mapping", file=file, line=1, key="")
    try:
        return Policy.model_validate(data)
    except ValidationError as exc:
        err = exc.errors()[0]
        # strip pydantic's discriminator-like entries (e.g. the Literal key position)
        loc = tuple(p for p in err["loc"] if isinstance(p, int | str))
        key = ".".join(str(p) for p in loc) or "(document)"
        line = _key_line(root, loc)
        more = f" (and {len(exc.errors()) - 1} more)" if len(exc.errors()) > 1 else ""
        raise PolicyError(f"{err['msg']}{more}", file=file, line=line, key=key) from None


def load_policy(path: str | Path | None) -> Policy:
    """Load a policy file; ``None`` gives the packaged default policy."""
    if path is None:
        return default_policy()
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as exc:
        raise PolicyError(f"cannot read: {exc.strerror}", file=str(p), line=None, key="") from exc
    return parse_policy(text, file=str(p))


@lru_cache(maxsize=1)
def default_policy() -> Policy:
    """The policy shipped with the package (``distillguard/policy/default.yaml``)."""
    res = resources.files("distillguard.policy").joinpath("default.yaml")
    return parse_policy(res.read_text(encoding="utf-8"), file=str(res))
