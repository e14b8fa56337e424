"""A name -> object registry: how metrics, claim kinds, figures and model architectures are
extended.

Each registered object owns its validation, its measurement (or row extraction) and its text; adding
one is one `register` call, from the package or from a test or plugin, with no other module edited.
Unknown names get one line with a "did you mean" suggestion."""

from __future__ import annotations

import difflib
from collections.abc import Iterator
from typing import Generic, TypeVar

T = TypeVar("T")


def suggestion(name: str, allowed: list[str] | tuple[str, ...] | set[str]) -> str:
    """ " (did you mean 'x'?)" for a close name, else the allowed names."""
    close = difflib.get_close_matches(str(name), sorted(allowed), n=1, cutoff=0.6)
    return (
        f" (did you mean '{close[0]}'?)" if close else f" (allowed: {', '.join(sorted(allowed))})"
    )


class Registry(Generic[T]):
    """Objects by name, in registration order."""

    def __init__(self, what: str):
        self.what = what
        self._items: dict[str, T] = {}

    def register(self, name: str, item: T, *, replace: bool = False) -> T:
        """Add `item` under `name`; a second registration of a name is an error unless `replace`."""
        if name in self._items and not replace:
            raise ValueError(f"{self.what} {name!r} is already registered")
        self._items[name] = item
        return item

    def unregister(self, name: str) -> None:
        self._items.pop(name, None)

    def get(self, name: str) -> T:
        """The object named `name`; ValueError with a suggestion when there is none."""
        try:
            return self._items[name]
        except (KeyError, TypeError):
            raise ValueError(
                f"unknown {self.what} {name!r}" + suggestion(str(name), list(self._items))
            ) from None

    def names(self) -> tuple[str, ...]:
        return tuple(self._items)

    def __contains__(self, name: object) -> bool:
        return name in self._items

    def __iter__(self) -> Iterator[str]:
        return iter(self._items)

    def __len__(self) -> int:
        return len(self._items)
