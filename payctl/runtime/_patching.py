"""Reversible monkeypatches of moto internals, guarded by the moto version they were written against.

Every shim that reaches into moto's private classes goes through :class:`Patcher`, so that leaving
``moto_session()`` restores moto exactly, and an untested moto release fails at start-up instead of
misbehaving half-way through a workflow.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import moto

# The moto releases whose internals every shim has been read against and tested with.
TESTED_MOTO_VERSIONS: frozenset[str] = frozenset({"5.2.5"})

_MISSING = object()


class UntestedMotoVersion(RuntimeError):
    """The installed moto is not a release the shims were verified against."""


def require_tested_moto(gap: str, version: str | None = None) -> None:
    """Refuse to patch moto internals of a release nobody has checked ``gap`` against."""
    installed = version if version is not None else moto.__version__
    if installed not in TESTED_MOTO_VERSIONS:
        raise UntestedMotoVersion(
            f"the local runtime shim for '{gap}' was written against moto "
            f"{', '.join(sorted(TESTED_MOTO_VERSIONS))} but moto {installed} is installed; "
            "re-read the moto source this shim patches, then extend TESTED_MOTO_VERSIONS"
        )


@dataclass
class _Applied:
    target: Any
    attribute: str
    original: Any


class Patcher:
    """Sets attributes on moto objects and remembers how to put every one of them back."""

    def __init__(self) -> None:
        self._applied: list[_Applied] = []

    def setattr(self, target: Any, attribute: str, value: Any, *, gap: str, create: bool = False) -> None:
        """Set ``target.attribute``; ``create`` allows adding an attribute moto does not define."""
        require_tested_moto(gap)
        original = target.__dict__.get(attribute, _MISSING) if hasattr(target, "__dict__") else _MISSING
        if original is _MISSING and not create and not hasattr(target, attribute):
            raise AttributeError(f"{target!r} has no attribute {attribute!r} to patch for '{gap}'")
        self._applied.append(_Applied(target, attribute, original))
        setattr(target, attribute, value)

    def wrap(
        self,
        target: Any,
        attribute: str,
        make_wrapper: Callable[[Any], Any],
        *,
        gap: str,
    ) -> None:
        """Replace ``target.attribute`` by ``make_wrapper(current_value)``."""
        current = getattr(target, attribute)
        self.setattr(target, attribute, make_wrapper(current), gap=gap)

    def add_callback(self, undo: Callable[[], None]) -> None:
        """Register an undo step for a change that is not a plain attribute (a list entry, say)."""
        self._applied.append(_Applied(undo, "", _MISSING))

    def undo_all(self) -> None:
        while self._applied:
            applied = self._applied.pop()
            if applied.attribute == "":
                applied.target()
            elif applied.original is _MISSING:
                delattr(applied.target, applied.attribute)
            else:
                setattr(applied.target, applied.attribute, applied.original)

    def __len__(self) -> int:
        return len(self._applied)
