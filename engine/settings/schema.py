"""Typed, validated settings from TOML: one small validator shared by config.toml and scenes.

A settings section is a frozen dataclass. Each field may carry `meta(...)` with a range, choices or a
description. `build(cls, data, source, where)` turns a dict from tomllib into that dataclass, or raises
`SettingsError` listing *every* problem at once, each naming the file, the key, what was expected and
what was found. Unknown keys are rejected with a "did you mean". Nothing half-loads.
"""

from __future__ import annotations

import dataclasses
import difflib
import os
import stat
import tomllib
import types
import typing
from pathlib import Path
from typing import Any


MAX_PROBLEMS = 20          # lines one error reports: a file of 100,000 unknown keys is still one short report
MAX_SETTINGS_BYTES = 64 << 10  # a settings file larger than this is not one a person wrote


class SettingsError(ValueError):
    """One or more problems in a settings file; `problems` holds one line each (the first MAX_PROBLEMS, then
    how many more)."""

    def __init__(self, problems: list[str]):
        if len(problems) > MAX_PROBLEMS:
            problems = problems[:MAX_PROBLEMS] + [f"... and {len(problems) - MAX_PROBLEMS} more problems"]
        self.problems = problems
        super().__init__("\n".join(problems))


def meta(description: str = "", *, min: float | None = None, max: float | None = None,
         choices: tuple | None = None, by_loader: bool = False) -> dict:
    """Field metadata: `field(default=..., metadata=meta("what it is", min=0))`; `by_loader`: a value the
    loader sets (where the file lies), which no file may write."""
    return {"description": description, "min": min, "max": max, "choices": choices, "by_loader": by_loader}


def field(default: Any, description: str = "", **limits) -> Any:
    """A dataclass field with a default and validation metadata."""
    if isinstance(default, (list, dict)):
        return dataclasses.field(default_factory=lambda: type(default)(default),
                                 metadata=meta(description, **limits))
    return dataclasses.field(default=default, metadata=meta(description, **limits))


def read_toml(path: Path, folder: Path | None = None) -> dict:
    """Parse a TOML file or raise SettingsError naming the file, line and column. Only a regular file of at
    most MAX_SETTINGS_BYTES is read (a FIFO would block, a link to /dev/zero would fill the memory); with
    `folder`, only one whose links resolve inside it."""
    path = Path(path)
    if folder is not None and not path.resolve().is_relative_to(Path(folder).resolve()):
        raise SettingsError([f"{path}: expected a file in {folder}, found a link to {path.resolve()}"])
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)  # opening a FIFO must not wait for a writer
        with open(fd, "rb") as f:
            st = os.fstat(fd)
            if not stat.S_ISREG(st.st_mode):
                raise SettingsError([f"{path}: expected a regular file, found a device, FIFO or socket"])
            if st.st_size > MAX_SETTINGS_BYTES:
                raise SettingsError([f"{path}: expected at most {MAX_SETTINGS_BYTES // 1024} KiB, found "
                                     f"{st.st_size:,} bytes"])
            return tomllib.loads(f.read(MAX_SETTINGS_BYTES + 1).decode("utf-8"))
    except FileNotFoundError:
        raise SettingsError([f"{path}: file not found"]) from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as e:
        raise SettingsError([f"{path}: not valid TOML: {e}"]) from None
    except RecursionError:
        raise SettingsError([f"{path}: not valid TOML: nested too deeply"]) from None
    except OSError as e:
        raise SettingsError([f"{path}: cannot read: {e.strerror}"]) from None


def build(cls: type, data: Any, source: str, where: str = "") -> Any:
    """Build dataclass `cls` from `data`, validating everything; raise SettingsError with all problems."""
    problems: list[str] = []
    value = _convert(cls, data, source, where, problems)
    if problems:
        raise SettingsError(problems)
    return value


def _name(where: str, key: str) -> str:
    return f"{where}.{key}" if where else key


def _describe(value: Any) -> str:
    kind = {bool: "a boolean", int: "an integer", float: "a number", str: "a string",
            list: "a list", dict: "a table"}.get(type(value), type(value).__name__)
    text = repr(value)
    return f"{kind} ({text if len(text) <= 40 else text[:37] + '...'})"


def _expected(tp: Any) -> str:
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        return " or ".join(_expected(a) for a in typing.get_args(tp))
    if origin is list:
        return f"a list of {_expected(typing.get_args(tp)[0]).removeprefix('a ').removeprefix('an ')}s"
    if origin is tuple:
        return f"a list of {len(typing.get_args(tp))} values"
    if origin is dict:
        return "a table"
    if dataclasses.is_dataclass(tp):
        return "a table"
    return {bool: "a boolean", int: "an integer", float: "a number", str: "a string",
            type(None): "nothing"}.get(tp, getattr(tp, "__name__", str(tp)))


def _convert(tp: Any, value: Any, source: str, where: str, problems: list[str]) -> Any:
    """Check `value` against type `tp`; append problems; return the converted value (or None)."""
    origin = typing.get_origin(tp)
    if dataclasses.is_dataclass(tp):
        if not isinstance(value, dict):
            problems.append(f"{source}: {where or 'top level'}: expected a table, found {_describe(value)}")
            return None
        return _convert_table(tp, value, source, where, problems)
    if origin in (typing.Union, types.UnionType):
        for option in typing.get_args(tp):
            trial: list[str] = []
            converted = _convert(option, value, source, where, trial)
            if not trial:
                return converted
        problems.append(f"{source}: {where}: expected {_expected(tp)}, found {_describe(value)}")
        return None
    if origin is list:
        if not isinstance(value, list):
            problems.append(f"{source}: {where}: expected {_expected(tp)}, found {_describe(value)}")
            return None
        (item,) = typing.get_args(tp)
        return [_convert(item, v, source, f"{where}[{i}]", problems) for i, v in enumerate(value)]
    if origin is tuple:
        args = typing.get_args(tp)
        if not isinstance(value, list) or len(value) != len(args):
            problems.append(f"{source}: {where}: expected {_expected(tp)}, found {_describe(value)}")
            return None
        return tuple(_convert(a, v, source, f"{where}[{i}]", problems) for i, (a, v) in enumerate(zip(args, value)))
    if origin is dict:
        key_type, item = typing.get_args(tp)
        if not isinstance(value, dict):
            problems.append(f"{source}: {where}: expected a table, found {_describe(value)}")
            return None
        return {k: _convert(item, v, source, _name(where, k), problems) for k, v in value.items()}
    if tp is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if tp is type(None) and value is None:
        return None
    if isinstance(tp, type) and isinstance(value, tp) and not (tp is int and isinstance(value, bool)):
        return value
    problems.append(f"{source}: {where}: expected {_expected(tp)}, found {_describe(value)}")
    return None


def _convert_table(cls: type, data: dict, source: str, where: str, problems: list[str]) -> Any:
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls) if not f.metadata.get("by_loader")}
    values = {}
    for key, value in data.items():
        if key not in fields:
            close = difflib.get_close_matches(key, fields, n=1)
            hint = f" (did you mean '{close[0]}'?)" if close else f" (known keys: {', '.join(fields)})"
            problems.append(f"{source}: {_name(where, key)}: unknown key{hint}")
            continue
        before = len(problems)
        converted = _convert(hints[key], value, source, _name(where, key), problems)
        if len(problems) == before:
            _check_limits(fields[key], converted, source, _name(where, key), problems)
        values[key] = converted
    for name, f in fields.items():
        if name not in data and f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
            problems.append(f"{source}: {_name(where, name)}: missing required key ({_expected(hints[name])})")
    if len(problems):
        return None
    return cls(**values)


def _check_limits(f: dataclasses.Field, value: Any, source: str, where: str, problems: list[str]) -> None:
    m = f.metadata
    items = value if isinstance(value, (list, tuple)) else [value]
    for v in items:
        if m.get("choices") is not None and v not in m["choices"]:
            close = difflib.get_close_matches(str(v), [str(c) for c in m["choices"]], n=1)
            hint = f" (did you mean '{close[0]}'?)" if close else ""
            problems.append(f"{source}: {where}: expected one of {', '.join(map(str, m['choices']))}, "
                            f"found {v!r}{hint}")
            return
        if isinstance(v, (int, float)) and not isinstance(v, bool):
            low, high = m.get("min"), m.get("max")
            if (low is not None and v < low) or (high is not None and v > high):
                span = (f"between {low} and {high}" if low is not None and high is not None
                        else f"at least {low}" if low is not None else f"at most {high}")
                problems.append(f"{source}: {where}: expected a value {span}, found {v!r}")
                return


def describe_fields(cls: type) -> dict[str, str]:
    """Field name -> description, for docs and `--help` texts."""
    return {f.name: f.metadata.get("description", "") for f in dataclasses.fields(cls)}
