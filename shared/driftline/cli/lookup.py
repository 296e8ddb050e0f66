"""The CLI's checks of the names a user types — model, metric, column, segment — against what Driftline knows,
with a "did you mean" (never an empty answer for a typo)."""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from driftline.cli.stack import UsageError
from driftline.core import catalogue
from driftline.core.config import ModelConfig


def _hint(name: str, candidates: Iterable[str]) -> str:
    close = difflib.get_close_matches(name, sorted(set(candidates)), n=1, cutoff=0.5)
    return f" (did you mean {close[0]!r}?)" if close else ""


def _listing(names: Iterable[str], limit: int = 12) -> str:
    names = sorted(set(names))
    shown = ", ".join(names[:limit])
    return shown + (f", … ({len(names)} in all)" if len(names) > limit else "") if names else "none"


def check_model(store: Any, model_id: str, *, allow_unconfigured: bool = False) -> None:
    """An unknown model is a one-line error naming the known ones. ``allow_unconfigured``: a model that has no
    configuration but has error records (a baseline dropped for a model never configured) is known too."""
    models = store.list_models()
    if model_id in models:
        return
    if allow_unconfigured and store.error_records(model_id):
        return
    raise UsageError(
        f"unknown model {model_id!r}{_hint(model_id, models)}; models: {_listing(models)} (see `driftline models`)"
    )


def known_metrics(config: ModelConfig | None, seen: Iterable[str] = ()) -> set[str]:
    """The metric names the model's configuration produces (read from the catalogue), and any the store holds."""
    names = set(seen)
    for spec in catalogue.METRICS.values():
        if spec.pattern:  # business.<name>: the configured names below
            continue
        if config is not None:
            if config.task not in spec.tasks or (spec.needs_score and not config.columns.score):
                continue
            if spec.family == "fairness" and not getattr(config, "fairness", None):
                continue
        names.add(spec.name)
    if config is not None:
        names |= {f"business.{b.name}" for b in config.business_metrics}
    return names


def check_metric(metric: str | None, config: ModelConfig | None, seen: Iterable[str] = ()) -> None:
    if not metric:
        return
    known = known_metrics(config, seen)
    if metric not in known:
        raise UsageError(f"unknown metric {metric!r}{_hint(metric, known)}; expected one of: {_listing(known, 40)}")


def check_column(column: str | None, config: ModelConfig | None, seen: Iterable[str] = ()) -> None:
    if not column:
        return
    known = set(seen) | set(config.monitored_columns if config is not None else ())
    if column not in known:
        raise UsageError(f"unknown column {column!r}{_hint(column, known)}; monitored columns: {_listing(known)}")


def check_segment(segment: str | None, config: ModelConfig | None, seen: Iterable[str] = ()) -> None:
    """A segment is ``<column>=<value>`` of a segment column, or ``scenario:<name>``; ``US`` alone is refused with
    the segment it most likely means (``country=US``)."""
    if not segment:
        return
    seen = sorted({s for s in seen if s})
    columns = tuple(config.columns.segments) if config is not None else ()
    if segment in seen or segment.startswith("scenario:"):
        return
    column, eq, _ = segment.partition("=")
    if not eq:
        matches = [s for s in seen if s.partition("=")[2] == segment]
        if not matches and len(columns) == 1:
            matches = [f"{columns[0]}={segment}"]
        hint = f" (did you mean {matches[0]!r}?)" if matches else _hint(segment, seen)
        raise UsageError(
            f"segment {segment!r} is not '<column>=<value>'{hint}; segment columns: {_listing(list(columns))}"
        )
    if columns and column not in columns:
        raise UsageError(
            f"{column!r} is not a segment column{_hint(column, columns)}; segment columns: {_listing(list(columns))}"
        )
    if not columns and config is not None:
        raise UsageError(f"model {config.model_id!r} has no segments configured (columns.segments)")


def parse_time(text: str, *, flag: str = "time") -> float:
    """ISO-8601 (``2026-11-23``, ``2026-11-23T04:00:00Z``) or epoch seconds → epoch seconds; anything else is a
    one-line ``UsageError`` naming the flag."""
    try:
        return float(text)
    except ValueError:
        pass
    try:
        dt = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise UsageError(
            f"{flag}: not a time: {text!r} (use ISO-8601 such as 2026-11-23T04:00:00Z, or epoch seconds)"
        ) from None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return dt.timestamp()
