"""``--set SECTION.KEY=VALUE`` options: nested config overrides from the command line."""

from __future__ import annotations

import json
from typing import Any, Iterable


def parse_value(text: str) -> Any:
    """Parse a flag value: JSON (numbers, true/false, null, lists, quoted strings) or a plain string."""
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text


def set_option(target: dict[str, Any], path: str, value: Any) -> None:
    """Set ``target[a][b] = value`` for ``path == "a.b"``, creating tables as needed."""
    keys = path.split(".")
    if not all(keys):
        raise ValueError(f"invalid option name {path!r}; expected SECTION.KEY or KEY")
    node = target
    for key in keys[:-1]:
        node = node.setdefault(key, {})
        if not isinstance(node, dict):
            raise ValueError(f"option {path!r} conflicts with a value already set for {key!r}")
    node[keys[-1]] = value


def parse_set_options(items: Iterable[str]) -> dict[str, Any]:
    """Turn ``["train.steps=500", "model=kl"]`` into ``{"train": {"steps": 500}, "model": "kl"}``."""
    overrides: dict[str, Any] = {}
    for item in items:
        name, separator, text = item.partition("=")
        if not separator or not name.strip():
            raise ValueError(f"invalid --set {item!r}; expected SECTION.KEY=VALUE, e.g. train.steps=2000")
        set_option(overrides, name.strip(), parse_value(text.strip()))
    return overrides


def set_threads(threads: int | None) -> None:
    """Set torch's CPU thread count when ``threads`` is given (a runtime setting, not part of the config)."""
    if threads is None:
        return
    import torch

    torch.set_num_threads(threads)
