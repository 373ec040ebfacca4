"""Experiment files and override values, read as plain data.

YAML is loaded with a safe loader (no Python objects are ever built) and then held to what an
experiment can mean, so that a hostile or mistaken file is refused with one message rather
than a traceback, a hang or a silent default:

- a file is a regular, non-empty UTF-8 file of at most ``MAX_BYTES``;
- duplicate keys are refused (YAML itself keeps the last one, silently);
- nesting is at most ``MAX_DEPTH`` deep (deeper YAML overflows the parser's recursion);
- aliases may share values but not expand past ``MAX_VALUES`` ("billion laughs") or contain
  themselves;
- keys are text and values are text, numbers, booleans, null, lists or mappings (no dates,
  binary, sets or ordered pairs: quote them);
- numbers are finite and below ``NUMBER_LIMIT`` in size (``check_numbers``: also for
  experiments given as dicts and for values after overrides).
"""
from __future__ import annotations

import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from assay.errors import UserError, did_you_mean

MAX_BYTES = 1 << 20          # 1 MiB; experiment files are a few KB
MAX_DEPTH = 32               # the deepest real experiment is under 10
MAX_VALUES = 100_000         # values after expanding aliases
NUMBER_LIMIT = 1e15          # no step count, size, rate or seed is meant beyond this


class _Refused(Exception):
    def __init__(self, mark: Any, problem: str) -> None:
        super().__init__(problem)
        self.mark, self.problem = mark, problem


class _Loader(yaml.SafeLoader):
    """PyYAML's safe loader, refusing duplicate keys and capping depth and size while it
    composes (before anything is built, so a deep file never reaches the recursion limit)."""

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self._depth = self._nodes = 0

    def compose_node(self, parent: Any, index: Any) -> Any:
        self._depth += 1
        self._nodes += 1
        if self._depth > MAX_DEPTH:
            raise _Refused(self.peek_event().start_mark,
                           f"nested more than {MAX_DEPTH} levels deep; flatten it")
        if self._nodes > MAX_VALUES:
            raise _Refused(self.peek_event().start_mark,
                           f"more than {MAX_VALUES} values; an experiment is far smaller")
        try:
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1

    def compose_mapping_node(self, anchor: Any) -> Any:
        node = super().compose_mapping_node(anchor)
        seen: dict[tuple[str, str], Any] = {}
        for key, _ in node.value:
            if not isinstance(key, yaml.ScalarNode) or key.tag == "tag:yaml.org,2002:merge":
                continue
            ident = (key.tag, key.value)
            if ident in seen:
                raise _Refused(key.start_mark, f"duplicate key {key.value!r} (first at line "
                                               f"{seen[ident].line + 1}); keep one of them")
            seen[ident] = key.start_mark
        return node


def parse_yaml(text: str, where: str, malformed_as_text: bool = False) -> Any:
    """YAML text -> plain data; ``where`` prefixes every message (a file name or a flag).
    ``malformed_as_text``: text that is not YAML at all is returned as it is (an override
    value such as ``-o name=a: b``); what YAML parses but we refuse is still refused."""
    try:
        data = yaml.load(text, Loader=_Loader)
    except _Refused as exc:
        raise UserError(f"{where}: line {exc.mark.line + 1}: {exc.problem}") from None
    except yaml.YAMLError as exc:
        if malformed_as_text:
            return text
        mark = getattr(exc, "problem_mark", None)
        at = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise UserError(f"{where}: malformed YAML{at}: {problem}") from None
    except (RecursionError, MemoryError):
        raise UserError(f"{where}: too deeply nested or too large to read") from None
    check_plain(data, where)
    return data


def read_file(path: str | Path) -> dict[str, Any]:
    """An experiment file -> its mapping, or one UserError saying what is wrong and the fix."""
    p = Path(path)
    text = _read_text(p)
    data = parse_yaml(text, str(path))
    if data is None or data == {}:
        raise UserError(f"{path}: the file is empty; an experiment names at least its model "
                        "and dataset (see examples/quickstart.yaml)")
    if not isinstance(data, dict):
        raise UserError(f"{path}: an experiment file must be a mapping (field: value lines), "
                        f"got a {_kind(data)}")
    return data


def _read_text(p: Path) -> str:
    if not p.exists():
        near = did_you_mean(p.name, [q.name for q in _yaml_files(p.parent)])
        raise UserError(f"experiment file not found: {p}.{near or ' Check the path.'}")
    if p.is_dir():
        inside = ", ".join(q.name for q in _yaml_files(p)[:3])
        hint = f" (it holds {inside})" if inside else ""
        raise UserError(f"{p} is a folder, not an experiment file; name a YAML file in it{hint}")
    if not p.is_file():
        raise UserError(f"{p} is not a regular file; name a YAML experiment file")
    try:
        size = p.stat().st_size
        if size > MAX_BYTES:
            raise UserError(f"{p} is {size / 1e6:.1f} MB; an experiment file is at most "
                            f"{MAX_BYTES // 1024} KB. Is it the right file?")
        with p.open("rb") as f:
            data = f.read(MAX_BYTES + 1)
    except OSError as exc:
        raise UserError(f"cannot read {p}: {exc.strerror or exc}") from None
    if len(data) > MAX_BYTES:
        raise UserError(f"{p} is larger than {MAX_BYTES // 1024} KB; is it the right file?")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data[:exc.start].count(b"\n") + 1
        raise UserError(f"{p}: not UTF-8 text (byte 0x{data[exc.start]:02x} on line {line}); "
                        "save the file as UTF-8") from None


def _yaml_files(folder: Path) -> list[Path]:
    try:
        return sorted(q for q in folder.iterdir() if q.suffix in (".yaml", ".yml"))
    except OSError:
        return []


_ODD = {"bytes": "binary value (!!binary)", "set": "set (!!set)", "tuple": "pair (!!pairs)",
        "date": "date", "datetime": "timestamp"}


def _kind(value: Any) -> str:
    return {list: "list", str: "text", int: "number", float: "number",
            bool: "boolean"}.get(type(value), type(value).__name__)


def _join(path: str, key: Any, in_list: bool = False) -> str:
    if in_list:
        return f"{path}[{key}]"
    return f"{path}.{key}" if path else str(key)


def check_plain(data: Any, where: str) -> None:
    """Refuse what YAML allows but an experiment cannot mean: keys that are not text, values
    that are not text/number/boolean/null/list/mapping, aliases that contain themselves or
    expand past ``MAX_VALUES``. Shared values are walked once (sizes are memoised)."""
    sizes: dict[int, int] = {}

    def size(obj: Any, path: str, open_: set[int]) -> int:
        if obj is None or isinstance(obj, (str, bool, int, float)):
            return 1
        if not isinstance(obj, (dict, list)):
            kind = _ODD.get(type(obj).__name__, type(obj).__name__)
            raise UserError(f"{where}: {path or 'the document'}: {str(obj)[:40]!r} is a {kind}, "
                            "not plain data (text, number, boolean, list or mapping); quote it "
                            "if it is text")
        if id(obj) in open_:
            raise UserError(f"{where}: {path or 'the document'}: a YAML alias contains "
                            "itself; write the value out")
        if id(obj) in sizes:
            return sizes[id(obj)]
        open_.add(id(obj))
        n = 1
        for key, value in (obj.items() if isinstance(obj, dict) else enumerate(obj)):
            if isinstance(obj, dict) and not isinstance(key, str):
                raise UserError(f"{where}: {_join(path, key)}: the key {key!r} is a "
                                f"{_kind(key)}, not text; quote it")
            n += size(value, _join(path, key, isinstance(obj, list)), open_)
            if n > MAX_VALUES:
                raise UserError(f"{where}: {path or 'the document'} expands to more than "
                                f"{MAX_VALUES} values (YAML aliases?); write it out plainly")
        open_.discard(id(obj))
        sizes[id(obj)] = n
        return n

    size(data, "", set())


def shown_number(value: float) -> str:
    """A number as YAML spells it (``.inf``, ``.nan``), so the message matches the file."""
    if isinstance(value, float) and math.isnan(value):
        return ".nan"
    if isinstance(value, float) and math.isinf(value):
        return ".inf" if value > 0 else "-.inf"
    return f"{value:g}" if isinstance(value, float) else str(value)


def check_numbers(data: Any, path: str = "", _seen: set[int] | None = None,
                  _depth: int = 0) -> None:
    """Refuse numbers that cannot be meant anywhere in ``data``: NaN, infinities, and sizes
    beyond ``NUMBER_LIMIT`` (e.g. ``steps: 1.0e+29``). Booleans are not numbers here."""
    seen = set() if _seen is None else _seen
    if isinstance(data, bool) or data is None or isinstance(data, str):
        return
    if isinstance(data, (int, float)):
        _check_number(data, path)
        return
    if isinstance(data, (Mapping, list, tuple)):
        if id(data) in seen:
            return
        if _depth > MAX_DEPTH:
            raise UserError(f"{path}: nested more than {MAX_DEPTH} levels deep; flatten it")
        seen.add(id(data))
        items = data.items() if isinstance(data, Mapping) else enumerate(data)
        for key, value in items:
            check_numbers(value, _join(path, key, not isinstance(data, Mapping)), seen,
                          _depth + 1)


def _check_number(value: float, path: str) -> None:
    where = path or "value"
    if isinstance(value, float) and not math.isfinite(value):
        raise UserError(f"{where}: {shown_number(value)} is not a finite number; give a finite "
                        "value")
    if abs(value) > NUMBER_LIMIT:
        raise UserError(f"{where}: {shown_number(value)} is astronomically large (no number in "
                        f"an experiment may exceed {NUMBER_LIMIT:g}); give a realistic value")
