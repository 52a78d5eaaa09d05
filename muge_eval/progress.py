"""Progress bars on stderr, all switched off together by ``--quiet``. tqdm is imported
when a bar is drawn, not with this module (the quick commands draw none)."""

from __future__ import annotations

import sys
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, TypeVar

if TYPE_CHECKING:
    from tqdm import tqdm

T = TypeVar("T")


@dataclass(frozen=True)
class Progress:
    quiet: bool = False

    def iterate(self, items: Iterable[T], total: int | None, desc: str, unit: str = "it") -> Iterator[T]:
        from tqdm.auto import tqdm

        yield from tqdm(items, total=total, desc=desc, unit=unit, disable=self.quiet, file=sys.stderr, leave=False)

    def bar(self, total: int, desc: str, unit: str = "it") -> tqdm:
        from tqdm.auto import tqdm

        return tqdm(total=total, desc=desc, unit=unit, disable=self.quiet, file=sys.stderr, leave=False)

    def message(self, text: str) -> None:
        if not self.quiet:
            print(text, file=sys.stderr)
