"""A name -> object registry: how metrics, claim kinds, figures and model architectures are
extended.

Each registered object owns its validation, its measurement (or row extraction) and its text; adding
one is one call, from the package or from a test or plugin, with no other module edited, and its
name is written once: `KINDS.add(ClaimKind("bound", ...))` takes the name the object carries, and
`@FIGURE_DRAWERS.register("attention_curve")` names a function. Unknown names get one line with a
"did you mean" suggestion."""

from __future__ import annotations

import difflib
from collections.abc import Callable, Iterator
from typing import Any, Generic, TypeVar

T = TypeVar("T")
_DECORATE = object()  # register(name) without an item: used as a decorator


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

    def register(self, name: str, item: Any = _DECORATE, *, replace: bool = False) -> Any:
        """Add `item` under `name`; without `item`, a decorator that adds the function it wraps. A
        second registration of a name is an error unless `replace`."""
        if item is _DECORATE:

            def decorate(fn: Callable[..., Any]) -> Callable[..., Any]:
                self.register(name, fn, replace=replace)
                return fn

            return decorate
        if name in self._items and not replace:
            raise ValueError(f"{self.what} {name!r} is already registered")
        self._items[name] = item
        return item

    def add(self, item: T, *, replace: bool = False) -> T:
        """Add an object under the name it carries (`item.name`)."""
        return self.register(item.name, item, replace=replace)  # type: ignore[attr-defined]

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
