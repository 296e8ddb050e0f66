"""The typed, frozen records the store hands up (as Powertools' idempotency layer hands up a ``DataRecord``): only
the store knows item attribute names and encodings."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from driftline.core.profile import Profile
from driftline.core.rules import TargetState


@dataclass(frozen=True)
class OpenWindow:
    """What the store knows of a window while it is open (SPEC §4 early looks): the rows its files have brought so
    far (an upper bound: a file delivered twice adds twice; the profiles are exact), the dirty mark's change token,
    and the looks made: how many, at how many rows, the token last checked, the partial points' parts."""

    window_start: int
    rows: int
    token: str | None
    looks: int = 0
    looked_rows: int = 0
    checked: str | None = None
    parts: int = 0


@dataclass(frozen=True)
class WindowProfiles:
    """What the store holds for one window: the merged profiles per segment, and what they were made of."""

    window_start: int
    profiles: dict[str | None, Profile]
    file_ids: frozenset[str]  # file items merged in (not yet rolled up)
    consumed: frozenset[str]  # file ids the current rollup includes whose items were still there
    version: int  # the rollup's version (0: none yet)
    file_sks: tuple[str, ...] = ()  # the sort keys of the merged file items
    rollup_sks: tuple[str, ...] = ()  # the sort keys of the rollup parts read


@dataclass(frozen=True)
class ConfigRecord:
    """The configuration in force: when it was stored and from which object version."""

    model_id: str
    key: str
    etag: str
    updated_at: float
    config: dict[str, Any]


@dataclass(frozen=True)
class BaselineRecord:
    baseline_id: str
    key: str
    created_at: str


@dataclass(frozen=True, kw_only=True)
class ModelState:
    """What the evaluator keeps of a model between runs: the first window any file brought (None: no data yet),
    the last window closed and judged (None: none yet), and the last reason the model could not be evaluated."""

    first_window: int | None = None
    last_closed: int | None = None
    evaluate_error: str | None = None


@dataclass(frozen=True, kw_only=True)
class FileRecord:
    """One input file (one object version), as claimed: ``status`` processing | done | failed | dead_lettered |
    split (its parts were queued); ``started_at``: the first claim's time."""

    file_id: str
    model_id: str | None
    key: str
    kind: str
    status: str
    started_at: float | None
    finished_at: float | None = None
    rows: int = 0
    reason: str | None = None


@dataclass(frozen=True)
class FileCounts:
    """A model's files since its first: received (claimed once each), finished done or failed, and the last one
    received. A file still being processed (or whose attempt died, until its redelivery) is neither done nor failed."""

    received: int = 0
    done: int = 0
    failed: int = 0
    last_key: str | None = None
    last_kind: str | None = None
    last_at: float | None = None
    last_file_id: str | None = None
    dead_lettered: int = 0  # its message went to a dead-letter queue after its last try

    @property
    def processing(self) -> int:
        return max(self.received - self.done - self.failed - self.dead_lettered, 0)


@dataclass(frozen=True, kw_only=True)
class AlertStateRecord:
    """A rule's state for one target (column, segment): ``state`` ALARM or OK, ``target`` what the state machine
    keeps between judgements (core.rules.step), ``updated_at`` when it was last written."""

    rule: str
    column: str | None
    segment: str | None
    state: str
    target: TargetState = field(default_factory=TargetState)
    updated_at: float | None = None


@dataclass(frozen=True, kw_only=True)
class AlertRecord:
    """An alert as recorded, in the history or the outbox: ``alert`` is SPEC §4's JSON object, ``key`` its history
    key, ``op`` its rule's comparison; ``published`` on SNS, ``evented`` on the event bus; ``attempt``: how many
    retries took it over; ``recorded_at``: when it was recorded or last retried."""

    model_id: str
    key: str
    alert: Mapping[str, Any]
    op: str = "above"
    published: bool = False
    evented: bool = False
    attempt: int = 0
    recorded_at: float = 0.0
    message_id: str | None = None
    event_id: str | None = None
    expires_at: int | None = None

    def listed(self) -> dict[str, Any]:
        """SPEC §4's object with ``published``: a row of ``driftline alerts`` and of the report's alert history."""
        return {**self.alert, "published": self.published}


@dataclass(frozen=True)
class AlarmRecord:
    """A rule's target (column, segment) whose state is ALARM."""

    rule: str
    column: str | None
    segment: str | None
    since: float | None  # when the state was last written


@dataclass(frozen=True)
class RunRecord:
    """The evaluator's last run for a model."""

    at: float
    windows: int
    windows_left: int
    errors: tuple[str, ...]


@dataclass(frozen=True)
class ErrorRecord:
    """A file that could not be processed. ``kind``: ``failed`` (processing failed), ``dead_letter`` (its message
    went to a dead-letter queue), ``rejected`` (a key that names no usable object), as the writer says."""

    at: float
    key: str
    file_id: str
    reason: str
    kind: str = "failed"


@dataclass(frozen=True)
class JoinEntry:
    """A file's place in the label join's log: ``kind`` P (predictions with ids) or L (labels); ``windows``: the
    windows of its rows (a label file: of its labels' event times; None: too many to list, or some unknown)."""

    position: int
    kind: str
    file_id: str
    windows: tuple[int, ...] | None
    at: float  # when it took its place


@dataclass(frozen=True)
class JoinResult:
    """What a file of the join wrote once joined: ``count`` ids (a label file: left unmatched; a prediction file:
    early labels completed), and ``windows``, the windows of a label file's unmatched labels (None: any)."""

    position: int
    kind: str
    file_id: str
    count: int
    windows: tuple[int, ...] | None


@dataclass(frozen=True)
class JoinFile:
    """A file of the join, by file: its place (None: being placed now) and its result (None: not yet)."""

    kind: str
    file_id: str
    position: int | None
    at: float
    result: JoinResult | None


@dataclass(frozen=True)
class JoinLog:
    entries: tuple[JoinEntry, ...]  # by position
    results: Mapping[int, JoinResult]

    def position_of(self, file_id: str) -> int | None:
        return next((e.position for e in self.entries if e.file_id == file_id), None)
