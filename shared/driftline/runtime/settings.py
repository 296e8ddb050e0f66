"""Environment configuration, read once at the edge into a frozen, validated object."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

from driftline.core.errors import DriftlineError


@dataclass(frozen=True)
class Settings:
    bucket: str
    table: str
    topic_arn: str
    metrics_retention_days: int = 400
    id_retention_days: int = 90
    endpoint_url: str | None = None
    region: str | None = None
    evaluate_queue_url: str | None = None  # set: the scheduled evaluator queues models for workers (fan-out)
    ingest_queue_url: str | None = None  # set: a prediction file above split_bytes is queued there in parts
    split_bytes: int = 256 << 20
    max_receive_count: int = 5  # the queues' maxReceiveCount (template.yaml): the last try reports before the DLQ
    event_bus: str | None = None  # alerts are also put on this EventBridge bus (SPEC §4)

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        e = os.environ if env is None else env
        missing = [k for k in ("DRIFTLINE_BUCKET", "DRIFTLINE_TABLE", "DRIFTLINE_TOPIC_ARN") if not e.get(k)]
        if missing:
            raise DriftlineError(f"environment variable(s) not set: {', '.join(missing)}")

        return cls(
            bucket=e["DRIFTLINE_BUCKET"],
            table=e["DRIFTLINE_TABLE"],
            topic_arn=e["DRIFTLINE_TOPIC_ARN"],
            metrics_retention_days=_whole(e, "DRIFTLINE_METRICS_RETENTION_DAYS", 400, 1, 3650, unit=" of days"),
            id_retention_days=_whole(e, "DRIFTLINE_ID_RETENTION_DAYS", 90, 1, 3650, unit=" of days"),
            endpoint_url=e.get("AWS_ENDPOINT_URL") or None,
            region=e.get("AWS_REGION") or e.get("AWS_DEFAULT_REGION") or None,
            evaluate_queue_url=e.get("DRIFTLINE_EVALUATE_QUEUE_URL") or None,
            ingest_queue_url=e.get("DRIFTLINE_INGEST_QUEUE_URL") or None,
            split_bytes=_whole(e, "DRIFTLINE_SPLIT_BYTES", 256 << 20, 1 << 10, None, unit=" of bytes"),
            max_receive_count=_whole(e, "DRIFTLINE_MAX_RECEIVE_COUNT", 5, 1, 1000),
            event_bus=e.get("DRIFTLINE_EVENT_BUS") or None,
        )


def _whole(e: Mapping[str, str], name: str, default: int, low: int, high: int | None, *, unit: str = "") -> int:
    """The whole number in ``e[name]`` (``default`` when unset), from ``low`` to ``high`` (None: no upper bound)."""
    raw = e.get(name, str(default))
    try:
        value = int(raw)
    except ValueError:
        raise DriftlineError(f"{name} must be a whole number{unit}, got {raw!r}") from None
    if high is None and value < low:
        raise DriftlineError(f"{name} must be at least {low}, got {value}")
    if high is not None and not low <= value <= high:
        raise DriftlineError(f"{name} must be between {low} and {high}, got {value}")
    return value
