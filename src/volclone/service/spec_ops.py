"""Cinder's extra-spec operators: whether a capability a backend reports meets what a volume
type's extra spec asks (Cinder's ``cinder/scheduler/filters/extra_specs_ops.py``)::

    match("ceph", "<in> ce")            # True: a substring
    match(True, "<is> True")            # True: booleans as oslo reads them
    match(100, ">= 10")                 # True: numbers (also ``=`` is "at least", as in Cinder)
    match("NBD", "<or> ceph <or> NBD")  # True: one of
    match("NBD", "s== NBD")             # True: strings (``s!=``, ``s<``, ``s<=``, ``s>``, ``s>=``)
    match("NBD", "NBD")                 # True: no operator, the value itself

An operand that is not a number for a numeric operator, or a capability of the wrong kind, does
not match (Cinder's ``ValueError``; volclone also turns its ``TypeError`` and an ``<or>`` with no
operand, a 500 in Cinder, into no match).
"""

from __future__ import annotations

import operator
from collections.abc import Callable
from typing import Any

#: oslo.utils' ``bool_from_string`` true words; anything else (not ``strict``) is false.
_TRUE_WORDS = frozenset({"1", "t", "true", "on", "y", "yes"})


def bool_from(value: Any) -> bool:
    """oslo's ``bool_from_string(value)``: a bool is itself; a string true if it reads so."""
    if isinstance(value, bool):
        return value
    return str(value).strip().lower() in _TRUE_WORDS


def _number(value: Any) -> float:
    if isinstance(value, bool):  # float(True) is 1.0, but Cinder's float("True") fails
        raise ValueError(value)
    return float(value)


_OPERATORS: dict[str, Callable[[Any, str], bool]] = {
    "=": lambda cap, want: _number(cap) >= _number(want),
    "==": lambda cap, want: _number(cap) == _number(want),
    "!=": lambda cap, want: _number(cap) != _number(want),
    ">=": lambda cap, want: _number(cap) >= _number(want),
    "<=": lambda cap, want: _number(cap) <= _number(want),
    "<in>": lambda cap, want: want in cap,
    "<is>": lambda cap, want: bool_from(cap) is bool_from(want),
    "s==": operator.eq,
    "s!=": operator.ne,
    "s<": operator.lt,
    "s<=": operator.le,
    "s>": operator.gt,
    "s>=": operator.ge,
}
OR = "<or>"
#: Every operator a spec may start with.
OPERATORS = (*_OPERATORS, OR)


def match(capability: Any, requirement: str | None) -> bool:
    """Whether ``capability`` (None: the backend reports none) meets ``requirement``."""
    if requirement is None:
        return capability is None
    words = requirement.split()
    op = words[0] if words else None
    if op != OR and op not in _OPERATORS:
        return bool(capability == requirement)
    if capability is None:
        return False
    if op == OR:  # "<or> a <or> b <or> c": the values are every other word
        return capability in words[1::2]
    if len(words) < 2:
        return False
    try:
        return bool(_OPERATORS[op](capability, words[1]))
    except (ValueError, TypeError):
        return False
