"""Reading TOML run configurations and merging them with command-line overrides.

Each stage keeps its own frozen dataclass config next to the code that uses it
(``nbody.SimulationConfig``, ``gn.TrainConfig`` ...). This module only turns files
and flag dictionaries into those dataclasses, with errors that name the bad key.
"""

from __future__ import annotations

import dataclasses
import os
import sys
from typing import Any, Mapping, TypeVar

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

ConfigT = TypeVar("ConfigT")


def load_toml(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Read a TOML file into a dictionary, with a clear error when it is invalid."""
    try:
        with open(path, "rb") as handle:
            return tomllib.load(handle)
    except FileNotFoundError:
        raise FileNotFoundError(f"config file not found: {os.fspath(path)!r}") from None
    except tomllib.TOMLDecodeError as error:
        raise ValueError(f"config file {os.fspath(path)!r} is not valid TOML: {error}") from None
    except UnicodeDecodeError:
        raise ValueError(f"config file {os.fspath(path)!r} is not a text file; pass a TOML file such as the "
                         "config.toml a run writes") from None


def merge(base: Mapping[str, Any], overrides: Mapping[str, Any]) -> dict[str, Any]:
    """Return ``base`` updated with ``overrides``; nested tables merge key by key.

    ``None`` values in ``overrides`` mean "not given" and leave ``base`` unchanged, so
    unset command-line flags never clobber values from a config file.
    """
    merged = dict(base)
    for key, value in overrides.items():
        if value is None:
            continue
        if isinstance(value, Mapping) and isinstance(merged.get(key), Mapping):
            merged[key] = merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def from_dict(cls: type[ConfigT], values: Mapping[str, Any], section: str = "") -> ConfigT:
    """Build the dataclass ``cls`` from ``values``, rejecting unknown keys by name."""
    known = {field.name for field in dataclasses.fields(cls)}  # type: ignore[arg-type]
    unknown = sorted(set(values) - known)
    if unknown:
        where = f" in [{section}]" if section else ""
        raise ValueError(
            f"unknown option(s){where}: {', '.join(unknown)}; valid options are: {', '.join(sorted(known))}"
        )
    values = _check_value_types(cls, values, section)
    try:
        return cls(**values)
    except ValueError as error:
        if not section or str(error).startswith(section):
            raise
        raise ValueError(f"[{section}] {error}") from None


def _check_value_types(cls: type, values: Mapping[str, Any], section: str) -> dict[str, Any]:
    """Return ``values`` with integral floats for integer options made ints; reject mistyped values by name.

    Command-line overrides arrive as text when not parsable as TOML values, so a string
    given for a numeric or boolean option is reported here, as are booleans and
    fractions given for an integer option (``steps = true``, ``steps = 1.5``).
    """
    prefix = f"{section}." if section else ""
    checked = dict(values)
    for field in dataclasses.fields(cls):  # type: ignore[arg-type]
        if field.name not in values:
            continue
        value = values[field.name]
        # Annotations are strings under postponed evaluation, e.g. "int | None".
        annotation = field.type if isinstance(field.type, str) else getattr(field.type, "__name__", str(field.type))
        words = set(annotation.replace("|", " ").replace("[", " ").replace("]", " ").replace(",", " ").split())
        if words & {"str", "Any", "Literal", "object"} or not words & {"int", "float", "bool"}:
            continue
        numeric = words & {"int", "float"}
        if isinstance(value, str):
            kind = "a number" if numeric else "true or false"
            raise ValueError(f"{prefix}{field.name} must be {kind}, got {value!r}")
        if numeric and "bool" not in words and isinstance(value, bool):
            raise ValueError(f"{prefix}{field.name} must be a number, got {value!r}")
        if numeric == {"int"} and isinstance(value, float):
            if not value.is_integer():
                raise ValueError(f"{prefix}{field.name} must be an integer, got {value!r}")
            checked[field.name] = int(value)
    return checked


def to_dict(config: Any) -> dict[str, Any]:
    """Return a dataclass config as a plain dictionary suitable for JSON or TOML."""
    return dataclasses.asdict(config)
