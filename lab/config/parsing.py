"""Turning parsed TOML into typed, frozen dataclasses (:mod:`lab.config`, ``jobs/scheduler/spec.py``).

Every value is coerced to its field's type (dates, tuples, whole numbers, booleans) with an error
that names the ``section.key``, the value received and the form expected; unknown keys are refused.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import math
import re
import tomllib
import types
import typing
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

from lab.errors import ConfigError

__all__ = ["DateRange", "read_toml", "build", "as_date", "flatten", "parse_date_param", "parse_number_param"]


@dataclass(frozen=True)
class DateRange:
    """An inclusive range of calendar dates (ET trading dates)."""

    start: dt.date
    end: dt.date

    def __str__(self) -> str:
        return f"{self.start.isoformat()}..{self.end.isoformat()}"


def read_toml(path: str | Path, missing: str) -> dict[str, Any]:
    """The tables of a TOML file.

    ``missing`` is the error when the file is absent, ``{path}`` standing for the quoted path
    (e.g. ``"configuration file {path} does not exist; pass --config ..."``). Not TOML: a
    :class:`ConfigError` naming the file, line and column.
    """
    path = Path(path)
    if not path.is_file():
        raise ConfigError(missing.format(path=repr(str(path))))
    try:
        return tomllib.loads(path.read_text(encoding="utf-8-sig"))  # a byte-order mark (Windows editors) ignored
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from None


def build(cls: type, raw: Mapping[str, Any], where: str) -> Any:
    """An instance of the frozen dataclass ``cls`` from a TOML table: unknown keys refused, every
    value coerced to its field's type, errors naming ``where.key``, the value and the form expected."""
    if not isinstance(raw, Mapping):
        raise ConfigError(f"[{where}] must be a table, got {raw!r}")
    hints = typing.get_type_hints(cls)
    names = {f.name for f in dataclasses.fields(cls) if f.name != "source"}
    unknown = sorted(set(raw) - names)
    if unknown:
        section = f"[{where}]" if where else "top level"
        raise ConfigError(
            f"{section}: unknown key(s) {', '.join(map(repr, unknown))}; valid keys: {', '.join(sorted(names))}"
        )
    kwargs = {}
    for name in names & set(raw):
        key = f"{where}.{name}" if where else name
        kwargs[name] = _coerce(hints[name], raw[name], key)
    return cls(**kwargs)


def _coerce(hint: Any, value: Any, key: str) -> Any:
    if hint is DateRange:
        if isinstance(value, DateRange):
            return value
        if isinstance(value, Mapping) and set(value) == {"start", "end"}:
            value = [value["start"], value["end"]]
        if not (isinstance(value, (list, tuple)) and len(value) == 2):
            raise ConfigError(f"{key} = {value!r} must be a pair of dates, e.g. [\"2023-01-01\", \"2023-12-31\"]")
        return DateRange(_coerce(dt.date, value[0], key), _coerce(dt.date, value[1], key))
    if dataclasses.is_dataclass(hint):
        if isinstance(value, hint):
            return value
        return build(hint, value, key)
    if hint is dt.date:
        try:
            return as_date(value)
        except ValueError as exc:
            raise ConfigError(f"{key} = {value!r} {_not_a_date(value, exc)}") from None
    origin = typing.get_origin(hint)
    if origin is tuple:
        (item,) = {a for a in typing.get_args(hint) if a is not Ellipsis}
        if not isinstance(value, (list, tuple)):
            raise ConfigError(f"{key} = {value!r} must be a list")
        return tuple(_coerce(item, v, f"{key}[{i}]") for i, v in enumerate(value))
    if hint is bool:
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in ("true", "false"):
            return value.lower() == "true"
        raise ConfigError(f"{key} = {value!r} must be true or false")
    if hint is int:
        if isinstance(value, bool):
            raise ConfigError(f"{key} = {value!r} must be a whole number")
        try:
            number = float(value)
        except (TypeError, ValueError):
            raise ConfigError(f"{key} = {value!r} must be a whole number") from None
        _check_finite(key, value, number)
        if number != int(number):
            raise ConfigError(f"{key} = {value!r} must be a whole number")
        return int(number)
    if hint is float:
        if isinstance(value, bool):
            raise ConfigError(f"{key} = {value!r} must be a number")
        try:
            number = float(value)
        except (TypeError, ValueError):
            raise ConfigError(f"{key} = {value!r} must be a number") from None
        _check_finite(key, value, number)
        return number
    if hint is str:
        if not isinstance(value, (str, int, float)) or isinstance(value, bool):
            raise ConfigError(f"{key} = {value!r} must be a string")
        return str(value)
    if isinstance(hint, types.UnionType):  # pragma: no cover - not used by the contract today
        return value
    raise ConfigError(f"{key}: unsupported configuration type {hint!r}")


def _check_finite(key: str, value: Any, number: float) -> None:
    """Every number of the configuration is finite: a NaN cost or threshold compares false everywhere."""
    if not math.isfinite(number):
        raise ConfigError(f"{key} = {value!r} must be a finite number (nan and inf are not allowed); "
                          "write a plain number, e.g. 1.0")


def _not_a_date(value: object, exc: ValueError) -> str:
    """Why ``value`` is no date, and the fix: ``is not a calendar date (day is out of range for month); ...``."""
    shaped = re.fullmatch(r"\d{4}-\d{2}-\d{2}", str(value).strip()) is not None
    why = f"is not a calendar date ({exc})" if shaped else "is not a date"
    return f"{why}; write an existing date as YYYY-MM-DD, e.g. 2019-02-28"


def parse_date_param(option: str, text: str) -> dt.date:
    """The date of a job's parameter (``-P start=``, ``--from``), refused naming the parameter.

    Raises
    ------
    ConfigError
        ``option = 'text' is not a calendar date (month must be in 1..12); write ...``.
    """
    try:
        return as_date(str(text).strip())
    except ValueError as exc:
        raise ConfigError(f"{option} = {text!r} {_not_a_date(text, exc)}") from None


def parse_number_param(option: str, text: str, example: str) -> float:
    """A finite number from a job's parameter (``-P threshold=``), refused naming the parameter."""
    try:
        number = float(str(text).strip())
    except ValueError:
        raise ConfigError(f"{option} = {text!r} is not a number; write e.g. {example}") from None
    if not math.isfinite(number):
        raise ConfigError(f"{option} = {text!r} must be a finite number; write e.g. {example}")
    return number


def as_date(value: object) -> dt.date:
    """A date from a ``date``, a ``datetime``/``Timestamp`` or ``"YYYY-MM-DD"``; ValueError otherwise."""
    if isinstance(value, dt.datetime):  # also pandas.Timestamp
        return value.date()
    if isinstance(value, dt.date):
        return value
    return dt.date.fromisoformat(str(value))


def flatten(prefix: str, node: Mapping[str, Any], out: dict[str, str]) -> None:
    for key, value in node.items():
        name = f"{prefix}.{key}" if prefix else key
        if isinstance(value, Mapping) and set(value) == {"start", "end"}:
            out[name] = f"{value['start']}..{value['end']}"
        elif isinstance(value, Mapping):
            flatten(name, value, out)
        elif isinstance(value, (list, tuple)):
            out[name] = ",".join(str(v) for v in value)
        else:
            out[name] = str(value)
