"""Stacks as read: a frame, a distinct stack, its fingerprint, and the set of goroutine ids
seen in the current snapshot (a repeated id starts a new dump).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import xxhash

from ..goruntime import GOEXIT, RUNTIME_MAIN, is_go_wrapper

__all__ = ["Frame", "Seen", "Stack", "fingerprint"]


@dataclass
class Frame:
    """One frame as read: a row of the frames table once its stack is stored."""

    function: str
    args: str
    inlined: bool
    file: str
    line: int | None
    offset: int | None
    elided_before: int | None = None


class Stack:
    """A distinct stack: its frames once, plus what every goroutine on it shares."""

    __slots__ = ("entry", "functions", "stack_id", "top")

    def __init__(self, stack_id: int, functions: list[str]):
        self.stack_id = stack_id
        self.functions = functions
        self.top = functions[0] if functions else ""
        # the entry is the function the goroutine started in, as a plain traceback shows it:
        # not the frames crash tracebacks print below it (goexit; a go statement's wrapper;
        # runtime.main under main.main), so every form of one dump gives one entry
        last = len(functions) - 1
        if last > 0 and functions[last] == GOEXIT:
            last -= 1
        while last > 0 and is_go_wrapper(functions[last]):
            last -= 1
        if last > 0 and functions[last] == RUNTIME_MAIN and functions[last - 1] == "main.main":
            last -= 1
        self.entry = functions[last] if functions else ""


def fingerprint(sections: list[list[Frame]], elided: bool) -> int:
    """The ``stack_id`` of a stack: xxh3 of its functions, files, lines and elision marks.

    Parameters
    ----------
    sections : list of list of Frame
        The stack's frames: its own, then each ancestor's (``tracebackancestors``).
    elided : bool
        Whether frames were elided from it.

    Returns
    -------
    int
        The ``stack_id`` (a signed 64-bit int).

    Examples
    --------
    >>> f = Frame("main.main", "", False, "/m.go", 3, None)
    >>> fingerprint([[f]], False) == fingerprint([[f]], False) != fingerprint([[f]], True)
    True
    """
    h = xxhash.xxh3_64()
    for k, frames in enumerate(sections):
        if k:
            h.update(b"\x01ancestor\n")
        for f in frames:
            h.update(f"{f.function}\t{f.file}:{f.line}\t{f.elided_before or ''}\n".encode())
    if elided:
        h.update(b"\x02elided\n")
    return h.intdigest()


class Seen:
    """The goroutine ids of the current snapshot: a set for ids added one by one, sorted
    arrays for the fast path's batches (8 bytes an id instead of a set entry and an int)."""

    __slots__ = ("arrays", "small")

    def __init__(self):
        self.small: set[int] = set()
        self.arrays: list[np.ndarray] = []

    def __contains__(self, x: int) -> bool:
        if x in self.small:
            return True
        for a in self.arrays:
            i = int(a.searchsorted(x))
            if i < len(a) and a[i] == x:
                return True
        return False

    def add(self, x: int) -> None:
        """Note one goroutine id as seen in this snapshot.

        Parameters
        ----------
        x : int
            The id.

        Examples
        --------
        >>> s = Seen()
        >>> s.add(7)
        >>> 7 in s, 8 in s
        (True, False)
        """
        self.small.add(x)

    def any_in(self, ids: np.ndarray) -> bool:
        """Whether any of ``ids`` was seen.

        Parameters
        ----------
        ids : ndarray
            Goroutine ids.

        Returns
        -------
        bool
            True when one of them was seen.

        Examples
        --------
        >>> import numpy as np
        >>> s = Seen()
        >>> s.add_sorted(np.array([3, 5, 9]))
        >>> s.any_in(np.array([4, 9])), s.any_in(np.array([4, 6]))
        (True, False)
        """
        if self.small and not self.small.isdisjoint(ids.tolist()):
            return True
        for a in self.arrays:
            pos = np.minimum(a.searchsorted(ids), len(a) - 1)
            if (a[pos] == ids).any():
                return True
        return False

    def add_sorted(self, ids: np.ndarray) -> None:
        """Note a sorted batch of ids as seen (batches are merged as they grow, like a log-structured
        merge, so that a lookup searches a few arrays).

        Parameters
        ----------
        ids : ndarray
            Goroutine ids, sorted.

        Examples
        --------
        >>> import numpy as np
        >>> s = Seen()
        >>> s.add_sorted(np.array([1, 2])); s.add_sorted(np.array([5, 6]))
        >>> [a.tolist() for a in s.arrays], 6 in s
        ([[1, 2, 5, 6]], True)
        """
        self.arrays.append(ids)
        while len(self.arrays) > 1 and len(self.arrays[-2]) <= 2 * len(self.arrays[-1]):
            last = self.arrays.pop()
            self.arrays[-1] = np.sort(np.concatenate([self.arrays[-1], last]))
