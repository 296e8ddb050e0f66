"""Event times a file can be trusted with: the plausible range, the epoch unit of a file, the window cap.

Pure numpy. A prediction log's event time decides the window each row lands in; a wrong one (1e300, INT64_MIN, an
epoch in microseconds read as seconds) would create a window in the year 57,700 that never closes, or millions of
windows from one file. So:

- **Plausible range**: an event time before ``earliest`` (default 2000-01-01) or after the file's arrival plus
  ``latest_ahead`` (default 7 days) is a *time error*, like a missing or unparseable one: the row is in no
  event-time window, and is counted by ``quality.time_error_rate`` (SPEC §3) in the window of the file's arrival.
- **Epoch unit per file**: epoch numbers are seconds, milliseconds, microseconds or nanoseconds, decided once per
  file from its values: the unit under which the values fall in the plausible range. Values that fall in range
  only under another unit than the file's (a file mixing seconds and milliseconds), or that fit two units equally
  well, reject the file with a reason (:class:`EpochUnitError`).
- **Windows per file**: a file whose valid rows spread over more than ``max_windows_per_file`` windows is
  rejected with a clear error (memory per file grows with its windows).
"""

from __future__ import annotations

import datetime as _dt
from dataclasses import dataclass
from typing import Final

import numpy as np
from numpy.typing import NDArray

FloatArray = NDArray[np.float64]
BoolArray = NDArray[np.bool_]

DEFAULT_EARLIEST: Final = 946_684_800.0  # 2000-01-01T00:00:00Z
DEFAULT_LATEST_AHEAD: Final = 7 * 86_400
DEFAULT_MAX_WINDOWS_PER_FILE: Final = 1_000
MAX_WINDOWS_PER_FILE_LIMIT: Final = 100_000

#: Epoch units, in the order they are tried, and their number per second.
EPOCH_UNITS: Final = (("s", 1.0), ("ms", 1e3), ("us", 1e6), ("ns", 1e9))
UNIT_NAMES: Final = {"s": "seconds", "ms": "milliseconds", "us": "microseconds", "ns": "nanoseconds"}


class EpochUnitError(ValueError):
    """The epoch numbers of a file do not tell one unit (mixed units, or values that fit two units)."""


@dataclass(frozen=True)
class EventTimeSettings:
    """``event_time`` in the model configuration."""

    earliest: float = DEFAULT_EARLIEST
    latest_ahead: int = DEFAULT_LATEST_AHEAD
    max_windows_per_file: int = DEFAULT_MAX_WINDOWS_PER_FILE

    def bounds(self, now: float) -> tuple[float, float]:
        """The plausible range ``[earliest, now + latest_ahead]`` of a file arriving at ``now``."""
        return self.earliest, now + self.latest_ahead

    def to_dict(self) -> dict[str, object]:
        return {
            "earliest": _dt.datetime.fromtimestamp(self.earliest, _dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "latest_ahead": f"{self.latest_ahead}s",
            "max_windows_per_file": self.max_windows_per_file,
        }


def parse_earliest(value: object) -> float | None:
    """``earliest`` as epoch seconds: a date or datetime (YAML gives those for unquoted ISO dates) or ISO text
    (a date alone is midnight UTC; no offset is UTC). None when it is none of these."""
    if isinstance(value, _dt.datetime):
        moment = value if value.tzinfo else value.replace(tzinfo=_dt.UTC)
        return moment.timestamp()
    if isinstance(value, _dt.date):
        return _dt.datetime(value.year, value.month, value.day, tzinfo=_dt.UTC).timestamp()
    if isinstance(value, str):
        try:
            moment = _dt.datetime.fromisoformat(value.strip())
        except ValueError:
            return None
        return (moment if moment.tzinfo else moment.replace(tzinfo=_dt.UTC)).timestamp()
    return None


class EpochUnit:
    """The epoch unit of one file, decided from its first epoch numbers that fall in the plausible range, and
    checked on every later batch."""

    def __init__(self, lo: float, hi: float) -> None:
        if not lo < hi:
            raise ValueError(f"the plausible range is empty: {lo} .. {hi}")
        self.lo, self.hi = lo, hi
        self.unit: str | None = None

    def to_seconds(self, raw: FloatArray) -> FloatArray:
        """Epoch numbers -> seconds in the file's unit (decided here on the first call that can decide it).
        Values that fit no unit are left to be out of range. Raises :class:`EpochUnitError`."""
        with np.errstate(invalid="ignore", over="ignore"):
            fits = {u: (raw >= self.lo * f) & (raw <= self.hi * f) for u, f in EPOCH_UNITS}
        counts = {u: int(m.sum()) for u, m in fits.items()}
        if self.unit is None:
            ranked = sorted(counts.items(), key=lambda kv: -kv[1])
            (best, n_best), (second, n_second) = ranked[0], ranked[1]
            if n_best == 0:
                return raw.astype(np.float64, copy=True)  # nothing plausible in any unit: all out of range
            if n_second == n_best and not (fits[best] & ~fits[second]).any():
                raise EpochUnitError(
                    f"the epoch numbers fit both {UNIT_NAMES[best]} and {UNIT_NAMES[second]} within the plausible "
                    "range: write one unit that the range tells apart (or raise event_time.earliest)"
                )
            self.unit = best
        factor = dict(EPOCH_UNITS)[self.unit]
        own = fits[self.unit]
        for u, m in fits.items():
            stray = int((m & ~own).sum())
            if u != self.unit and stray:
                raise EpochUnitError(
                    f"the epoch numbers mix units: {stray:,} read as {UNIT_NAMES[u]} where the file's are "
                    f"{UNIT_NAMES[self.unit]}; write one unit per file"
                )
        out: FloatArray = raw / factor
        return out


def in_range(seconds: FloatArray, lo: float, hi: float) -> BoolArray:
    """Finite seconds within ``[lo, hi]`` (NaN and ±inf are not)."""
    with np.errstate(invalid="ignore"):
        out: BoolArray = (seconds >= lo) & (seconds <= hi)
    return out
