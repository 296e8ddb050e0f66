"""Where a CSV file may be cut into parts: its record boundaries, found by quote parity (RFC 4180), vectorised.

A quoted CSV field may hold line breaks, so a line break ends a record only outside quotes. With the quoting of
RFC 4180 (what pandas, pyarrow and Python's ``csv`` module write) a line break is outside quotes exactly where the
count of ``"`` before it in the file is even (an escaped quote ``""`` adds two). That holds for pyarrow's parser
(double quotes, no escape character, ``,`` as the delimiter: how Driftline reads CSV) when every quote is *well
placed*: a quote that opens a field (even count before it) follows a delimiter, a line break, the start of the
file or the closing quote of a ``""`` pair; a quote that closes one (odd count before it) is followed by a
delimiter, a line break, another quote (a ``""`` pair) or the end of the file. A stray quote — ``5'11"`` in an
unquoted field, a space before an opening quote, text after a closing one — makes pyarrow read that quote as a
character, where counting would not: the file has no safe cut points, and is then profiled whole (or refused
when too large for one function; ``services/split.py``). Nothing is ever counted from a guess.

:class:`CsvCuts` streams the file once (the splitter's pass; memory: one chunk) and finds, for each target
offset, the first record boundary at or after it. Per chunk it finds the quotes and line breaks with numpy
(``flatnonzero``), the parity before each by ``searchsorted``; no per-byte Python.
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

_QUOTE, _COMMA, _LF, _CR = 0x22, 0x2C, 0x0A, 0x0D
_BOM = b"\xef\xbb\xbf"
_BEFORE_OPEN = np.array([_COMMA, _LF, _CR, _QUOTE], dtype=np.uint8)
_AFTER_CLOSE = np.array([_COMMA, _LF, _CR, _QUOTE], dtype=np.uint8)


class CsvCuts:
    """Record boundaries of one CSV stream, fed in order (:meth:`feed`), for the given target offsets.

    A boundary ``c`` is an offset whose previous byte is a line break outside quotes: the records before it and
    from it parse as they do in the whole file. After the stream: :attr:`header_end` (the first boundary: the
    header record's end, None when the file holds one record), :attr:`cuts` (for each target, the first boundary at
    or after it; ascending, distinct), and :attr:`stray` (the offset of the first badly placed quote, or None;
    when set, :attr:`cuts` are not to be used)."""

    def __init__(self, targets: Iterable[int]) -> None:
        """``targets``: ascending offsets (> 0)."""
        self._targets = iter(targets)  # ascending (a range: never listed)
        self._target: int | None = next(self._targets, None)
        self.cuts: list[int] = []
        self.header_end: int | None = None
        self.stray: int | None = None
        self.quotes = 0  # quotes seen so far (its parity: inside a quoted field or not)
        self._pos = 0  # offset of the next byte fed
        self._prev = _LF  # the byte before the next one fed (the start of the file counts as a line start)
        self._check_next = False  # the last byte fed was a closing quote: the next byte must be allowed after one

    def feed(self, data: bytes) -> bool:
        """The next bytes of the stream. Returns False once a stray quote was found (further bytes change nothing)."""
        if self.stray is not None:
            return False
        if not data:
            return True
        b = np.frombuffer(data, dtype=np.uint8)
        base, parity = self._pos, self.quotes & 1
        if base == 0 and data.startswith(_BOM):
            self._prev, b = _LF, b[len(_BOM) :]  # pyarrow skips a UTF-8 byte order mark: so does the scan
            self._pos = base = len(_BOM)
            if not b.size:
                return True
        if self._check_next and b[0] not in _AFTER_CLOSE:
            self.stray = base - 1
            return False
        qi = np.flatnonzero(b == _QUOTE)
        if qi.size:
            before = (parity + np.arange(qi.size)) & 1  # the parity before each quote
            opening = qi[before == 0]
            if opening.size:
                prev = b[np.maximum(opening - 1, 0)]
                if opening[0] == 0:
                    prev[0] = self._prev
                bad = ~np.isin(prev, _BEFORE_OPEN)
                if bad.any():
                    self.stray = base + int(opening[np.argmax(bad)])
                    return False
            closing = qi[before == 1]
            inner = closing[closing + 1 < b.size]
            if inner.size:
                bad = ~np.isin(b[inner + 1], _AFTER_CLOSE)
                if bad.any():
                    self.stray = base + int(inner[np.argmax(bad)])
                    return False
            self._check_next = bool(closing.size) and int(closing[-1]) == b.size - 1
        else:
            self._check_next = False
        self._find_cuts(b, qi, base, parity)
        self.quotes += int(qi.size)
        self._pos += b.size
        self._prev = int(b[-1])
        return True

    def _find_cuts(self, b: np.ndarray, qi: np.ndarray, base: int, parity: int) -> None:
        end = base + b.size
        while True:
            if self.header_end is None:
                lo = 0
            elif self._target is not None and self._target - 1 < end:
                lo = max(self._target - 1 - base, 0)  # a boundary c >= t has its line break at c - 1 >= t - 1
            else:
                return
            lf = np.flatnonzero(b[lo:] == _LF) + lo
            if not lf.size:
                return
            outside = ((parity + np.searchsorted(qi, lf)) & 1) == 0
            if not outside.any():
                return
            cut = base + int(lf[np.argmax(outside)]) + 1
            if self.header_end is None:
                self.header_end = cut
            else:
                self.cuts.append(cut)
            while self._target is not None and self._target <= cut:
                self._target = next(self._targets, None)


def header_end(data: bytes) -> int | None:
    """The end of the first CSV record in ``data`` (after its line break), None when ``data`` holds no whole one."""
    finder = CsvCuts(())
    finder.feed(data)
    return finder.header_end
