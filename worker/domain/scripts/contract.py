"""How Python and a Lua script agree on a call: named fields, not counted positions.

Each script has one input dataclass. Its fields, in order, are the script's KEYS (fields typed
`Key`) and ARGV (the rest), exactly as the script's header lists them:

    -- KEYS
    --   1 job              the job's status record
    -- ARGV
    --   1 job_id

`tests/domain/test_script_contract.py` reads every header and compares it with the dataclass,
so adding a field means adding it once on each side, by name. `call_of` turns an input into the
two lists, encoding values the way every script reads them:

    None  -> ''     (absent)
    True  -> '1'    (a flag; False -> '')
    int   -> as is  (the wire encodes it in decimal)
    str   -> as is

A tri-state (the known retweeted state: '1', '0' or unknown '') is a `str` field; `tristate`
builds it.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, fields
from operator import attrgetter
from typing import Annotated, Any, get_origin, get_type_hints

Value = str | int | bool | None
Encoded = str | int

_HEADER_ENTRY = re.compile(r"^--\s+(\d+)\s+([a-z][a-z0-9_]*)\b")
_SECTION = re.compile(r"^--\s+(KEYS|ARGV)(\s+\(.*\))?\s*$")


class _KeyMark:
    """Marks a field of a script input as one of its KEYS."""


Key = Annotated[str, _KeyMark]


@dataclass(frozen=True, slots=True)
class ScriptCall:
    """The two lists a script is called with."""

    keys: list[str]
    args: Sequence[Value]


def call_of(values: Any) -> ScriptCall:
    """A script input dataclass as the script's KEYS and ARGV, in the header's order."""
    key_getter, arg_getter = _getters(type(values))
    return ScriptCall(list(key_getter(values)), encode(arg_getter(values)))


def packed_call_of(values: Any) -> ScriptCall:
    """The same, with ARGV left as they are for `PackedScript.pack`, which encodes them while
    it packs (one pass over the values instead of two, on the worker's per-job path)."""
    key_getter, arg_getter = _getters(type(values))
    return ScriptCall(list(key_getter(values)), arg_getter(values))


def args_of(values: Any) -> tuple[Value, ...]:
    """A dataclass of ARGV values only (e.g. one job's group of enqueue.lua), not yet encoded
    (`PackedScript.pack` encodes)."""
    return _getters(type(values))[1](values)


def encode(values: tuple[Value, ...]) -> list[Encoded]:
    return [("" if value is None or value is False else "1" if value is True else value)
            for value in values]


def tristate(value: bool | None) -> str:
    """'1', '0', or '' for unknown."""
    return "" if value is None else ("1" if value else "0")


def key_names(cls: type) -> tuple[str, ...]:
    return tuple(f.name for f in fields(cls) if _is_key(cls, f.name))


def arg_names(cls: type) -> tuple[str, ...]:
    return tuple(f.name for f in fields(cls) if not _is_key(cls, f.name))


def _is_key(cls: type, name: str) -> bool:
    hint = get_type_hints(cls, include_extras=True)[name]
    return get_origin(hint) is Annotated and _KeyMark in hint.__metadata__


Getter = Callable[[Any], tuple[Any, ...]]


_GETTERS: dict[type, tuple[Getter, Getter]] = {}


def _getters(cls: type) -> tuple[Getter, Getter]:
    """(KEYS getter, ARGV getter) for an input class, made once per class."""
    found = _GETTERS.get(cls)
    if found is None:
        found = _GETTERS[cls] = (_tuple_getter(key_names(cls)), _tuple_getter(arg_names(cls)))
    return found


def _tuple_getter(names: tuple[str, ...]) -> Getter:
    if not names:
        return lambda _values: ()
    if len(names) == 1:  # attrgetter of one name returns the value, not a tuple
        single = attrgetter(names[0])
        return lambda values: (single(values),)
    getter: Getter = attrgetter(*names)
    return getter


def read_header(source: str) -> dict[str, list[str]]:
    """The names a script's header lists, per section ('KEYS', 'ARGV', or 'ARGV each' for a
    section that repeats per item, such as enqueue.lua's jobs), checking each is numbered in
    order from 1."""
    sections: dict[str, list[str]] = {}
    current: str | None = None
    for line in source.splitlines():
        if not line.startswith("--"):
            break  # the header is the comment block the script opens with
        section = _SECTION.match(line)
        if section:
            current = section.group(1) + (" each" if "each" in (section.group(2) or "") else "")
            sections[current] = []
            continue
        entry = _HEADER_ENTRY.match(line)
        if current is not None and entry:
            names = sections[current]
            number = int(entry.group(1))
            if number != len(names) + 1:
                raise ValueError(f"{current} {number} {entry.group(2)}: expected number "
                                 f"{len(names) + 1}")
            names.append(entry.group(2))
    return sections
