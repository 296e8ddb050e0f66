"""The DynamoDB key design, written once over the ``Table`` port (a DynamoDB table or the in-memory fake).

    pk                               sk                                   what
    MODELS                           <model>                              the registry of models
    MODEL#<model>                    CONFIG                               the model's config (JSON) in force
    MODEL#<model>                    BASELINE                             the current baseline: id and S3 key
    MODEL#<model>                    STATE                                first window seen, last window closed
    MODEL#<model>                    FILES                                files received / done / failed; the last one
    MODEL#<model>                    RUN                                  the evaluator's last run, its errors
    MODEL#<model>                    LEASE                                the evaluator holding the model, until when
    FILE#<file id>                   FILE                                 one input file: status, key, rows
    PROF#<model>#<window start>      F#<file id>#p<part>                  one file's profiles of one window
    PROF#<model>#<window start>      R#HEAD / R#<version>#<token>#p<part> the window's rolled-up profiles
    PROF#<model>#<window start>      C#FILES                              files written to the window (a counter)
    PROF#<model>#<window start>      S#<file id>#<segment>                the part of a split file that counts it
    DIRTY#<model>                    <window start>                       windows with new files or labels (+ rows)
    OPEN#<model>                     L#<window start>                     early looks at a window while it was open
    OPEN#<model>                     P#<window start>#p<part>             an open window's partial points, packed
    MET#<model>#<metric>#<col>#<seg> <window start>                       one metric point (gsi1: MET#<model>)
    ALERT#<model>                    S#<rule>#<col>#<seg>                 a rule's state for a column, segment
    ALERT#<model>                    H#<window start>#<rule>#<col>#<seg>#<state>   an alert, written once
    ERR#<model>                      <time>#<file id>                     a file that could not be processed
    KEY#<model>#<key hash>           KEY                                  the counted version (file id) of a data key
    JOIN#<model>                     <position> / R#<position>            the label join's log: a file's place,
                                                                          and its result once joined
    JOINF#<model>                    <P|L>#<file id>                      a file's place and result, by file

Window starts are zero-padded epoch seconds, so sort keys sort by time. Blobs (profiles) are zlib-compressed
JSON, split into parts below DynamoDB's 400 KB item limit.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import time
import uuid
import zlib
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from driftline.core.errors import StorageError
from driftline.core.metrics import MetricPoint
from driftline.core.profile import Profile
from driftline.services.ports import Condition, ConditionFailed, Item, Table

PART_BYTES = 280_000  # AWS counts binary bytes; moto 5.0 counts their base64 (4/3): fits both
NONE = "-"  # stands for "no column" / "whole population" inside keys


PARTIAL_TTL = 2 * 86_400  # an open window's packed partial points expire this long after the window ends
KEY_EPOCH_OFFSET = 10**12  # keys of times before 1970 stay non-negative, so they sort like the times


def ws_key(window_start: float) -> str:
    """A time as a sort key: 13 digits of whole seconds (offset so that pre-1970 times sort too), and for a
    non-integral time a fraction, e.g. ``1001763856000`` or ``1001763856000.250000``."""
    shifted = window_start + KEY_EPOCH_OFFSET
    return f"{shifted:013d}" if isinstance(shifted, int) else f"{shifted:020.6f}"


def file_id_for(bucket: str, key: str, etag: str) -> str:
    """One id per object version: the same (bucket, key, ETag) always gives the same id."""
    return hashlib.sha256(f"{bucket}\0{key}\0{etag}".encode()).hexdigest()[:24]


def _pack(obj: Any) -> bytes:
    return zlib.compress(json.dumps(obj, separators=(",", ":"), allow_nan=False).encode(), 6)


def _unpack(data: bytes) -> Any:
    return json.loads(zlib.decompress(data))


def _parts(blob: bytes) -> list[bytes]:
    return [blob[i : i + PART_BYTES] for i in range(0, max(len(blob), 1), PART_BYTES)] or [b""]


def profiles_to_doc(profiles: dict[str | None, Profile]) -> dict[str, Any]:
    return {(NONE if seg is None else seg): p.to_dict() for seg, p in profiles.items()}


def doc_to_profiles(doc: dict[str, Any]) -> dict[str | None, Profile]:
    return {(None if seg == NONE else seg): Profile.from_dict(p) for seg, p in doc.items()}


@dataclass(frozen=True)
class FileRecord:
    file_id: str
    model_id: str
    key: str
    status: str  # processing | done | failed
    kind: str


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


class Store:
    """Driftline's persistent state over one table. Clock and TTLs are passed in, never read from the env."""

    def __init__(
        self, table: Table, *, metrics_retention_days: int = 400, id_retention_days: int = 90, clock: Any = time.time
    ) -> None:
        self.table = table
        self.metrics_ttl = metrics_retention_days * 86_400
        self.id_ttl = id_retention_days * 86_400
        self.clock = clock

    # -- models, configs, baselines ------------------------------------------------------------------------------

    def put_config(self, model_id: str, config: dict[str, Any], *, source_key: str, etag: str) -> None:
        now = self.clock()
        self.table.put(
            {
                "pk": f"MODEL#{model_id}",
                "sk": "CONFIG",
                "config": json.dumps(config),
                "key": source_key,
                "etag": etag,
                "updated_at": now,
            }
        )
        self.table.put({"pk": "MODELS", "sk": model_id, "model_id": model_id, "updated_at": now})

    def get_config(self, model_id: str) -> dict[str, Any] | None:
        item = self.table.get(f"MODEL#{model_id}", "CONFIG")
        return None if item is None else dict(json.loads(item["config"]))

    def list_models(self) -> list[str]:
        return [str(i["sk"]) for i in self.table.query("MODELS")]

    def set_baseline(self, model_id: str, baseline_id: str, *, object_key: str, created_at: str) -> None:
        self.table.put(
            {
                "pk": f"MODEL#{model_id}",
                "sk": "BASELINE",
                "baseline_id": baseline_id,
                "key": object_key,
                "created_at": created_at,
            }
        )

    def config_record(self, model_id: str) -> ConfigRecord | None:
        item = self.table.get(f"MODEL#{model_id}", "CONFIG")
        if item is None:
            return None
        return ConfigRecord(
            model_id,
            str(item.get("key", "")),
            str(item.get("etag", "")),
            float(item.get("updated_at", 0)),
            dict(json.loads(item["config"])),
        )

    def baseline_record(self, model_id: str) -> BaselineRecord | None:
        item = self.table.get(f"MODEL#{model_id}", "BASELINE")
        if item is None:
            return None
        return BaselineRecord(str(item["baseline_id"]), str(item["key"]), str(item.get("created_at", "")))

    def get_baseline_ref(self, model_id: str) -> tuple[str, str] | None:
        """(baseline id, S3 key) of the model's current baseline."""
        item = self.table.get(f"MODEL#{model_id}", "BASELINE")
        return None if item is None else (str(item["baseline_id"]), str(item["key"]))

    def get_state(self, model_id: str) -> Item:
        return self.table.get(f"MODEL#{model_id}", "STATE") or {}

    def update_state(self, model_id: str, **values: Any) -> None:
        self.table.add(f"MODEL#{model_id}", "STATE", {}, set_values=values)

    # -- files: exactly-once accounting --------------------------------------------------------------------------

    def claim_file(self, file_id: str, *, model_id: str, key: str, kind: str) -> bool:
        """True when this file should be processed now: it is new, or an earlier attempt did not finish.
        False when it was already done (a duplicate delivery)."""
        item = {
            "pk": f"FILE#{file_id}",
            "sk": "FILE",
            "model_id": model_id,
            "key": key,
            "kind": kind,
            "status": "processing",
            "started_at": self.clock(),
            "expires_at": int(self.clock()) + self.metrics_ttl,
        }
        try:
            self.table.put(item, condition=Condition(absent=True))
        except ConditionFailed:
            existing = self.table.get(f"FILE#{file_id}", "FILE")
            # done, failed for good, or split (its parts were queued, each claimed on its own) → a duplicate delivery
            return existing is None or existing.get("status") not in ("done", "failed", "split")
        last = {"last_key": key, "last_kind": kind, "last_at": item["started_at"], "last_file_id": file_id}
        self.table.add(f"MODEL#{model_id}", "FILES", {"received": 1}, set_values=last)
        return True

    def finish_file(self, file_id: str, *, status: str, rows: int = 0, reason: str | None = None) -> None:
        values: dict[str, Any] = {"status": status, "rows": rows, "finished_at": self.clock()}
        if reason:
            values["reason"] = reason
        item = self.table.add(f"FILE#{file_id}", "FILE", {}, set_values=values)
        if item.get("model_id") and status in ("done", "failed", "dead_lettered"):
            self.table.add(f"MODEL#{item['model_id']}", "FILES", {status: 1})

    def file_counts(self, model_id: str) -> FileCounts:
        item = self.table.get(f"MODEL#{model_id}", "FILES") or {}
        return FileCounts(
            int(item.get("received", 0)),
            int(item.get("done", 0)),
            int(item.get("failed", 0)),
            item.get("last_key"),
            item.get("last_kind"),
            None if item.get("last_at") is None else float(item["last_at"]),
            item.get("last_file_id"),
            int(item.get("dead_lettered", 0)),
        )

    def get_file(self, file_id: str) -> Item | None:
        return self.table.get(f"FILE#{file_id}", "FILE")

    def file_statuses(self, file_ids: Sequence[str]) -> dict[str, str]:
        """The status (processing | done | failed) of those of ``file_ids`` ever claimed (one batched read)."""
        items = self.table.batch_get([(f"FILE#{fid}", "FILE") for fid in file_ids])
        return {str(i["pk"]).removeprefix("FILE#"): str(i.get("status", "")) for i in items}

    def claim_key(self, model_id: str, key: str, file_id: str) -> str | None:
        """Record that ``file_id`` is the version of ``key`` that counts. Returns the file id of another version
        that already counts (the key was overwritten with new content), else None. A version that failed or was
        dead-lettered does not count: a new version replaces it."""
        pk = f"KEY#{model_id}#{hashlib.sha256(key.encode()).hexdigest()[:32]}"
        item = {"pk": pk, "sk": "KEY", "file_id": file_id, "expires_at": int(self.clock()) + self.metrics_ttl}
        try:
            self.table.put(item, condition=Condition(absent=True))
            return None
        except ConditionFailed:
            existing = self.table.get(pk, "KEY")
        earlier = None if existing is None else str(existing["file_id"])
        if earlier is None or earlier == file_id:
            return None
        status = (self.get_file(earlier) or {}).get("status")
        if status in ("failed", "dead_lettered"):
            self.table.put(item)
            return None
        return earlier

    # -- profiles --------------------------------------------------------------------------------------------------

    def put_file_profiles(
        self, model_id: str, file_id: str, profiles: dict[tuple[int, str | None], Profile]
    ) -> list[int]:
        """Write one file's profiles (one blob per window) and mark those windows dirty. Idempotent: a second
        write of the same file writes the same items under the same keys."""
        by_window: dict[int, dict[str | None, Profile]] = {}
        for (ws, seg), prof in profiles.items():
            by_window.setdefault(ws, {})[seg] = prof
        items: list[Item] = []
        for ws, segs in by_window.items():
            blob = _pack(profiles_to_doc(segs))
            parts = _parts(blob)
            for i, part in enumerate(parts):
                items.append(
                    {
                        "pk": f"PROF#{model_id}#{ws_key(ws)}",
                        "sk": f"F#{file_id}#p{i:03d}",
                        "data": part,
                        "parts": len(parts),
                        "file_id": file_id,
                    }
                )
        self.table.batch_put(items)
        for ws, segs in by_window.items():
            population = segs.get(None)
            self.mark_dirty(model_id, ws, rows=0 if population is None else population.rows)
        return sorted(by_window)

    def mark_dirty(self, model_id: str, window_start: int, *, rows: int = 0) -> None:
        """Mark the window changed (a new token), adding ``rows`` to the rows its mark has counted (what the
        evaluator reads to know when an open window is due for a look, without reading its profiles)."""
        self.table.add(
            f"DIRTY#{model_id}",
            ws_key(window_start),
            {"rows": rows},
            set_values={"window_start": window_start, "seq": uuid.uuid4().hex, "updated_at": self.clock()},
        )

    def dirty_windows(self, model_id: str, *, until: int | None = None) -> list[tuple[int, str]]:
        """(window start, change token) of the windows with unevaluated changes, oldest first."""
        items = self.table.query(f"DIRTY#{model_id}", sk_to=None if until is None else ws_key(until))
        return [(int(i["window_start"]), str(i["seq"])) for i in items]

    def has_dirty(self, model_id: str, *, until: int | None = None) -> bool:
        """Whether some window (up to ``until``) has unevaluated changes: one item read at most."""
        items = self.table.query(f"DIRTY#{model_id}", sk_to=None if until is None else ws_key(until), limit=1)
        return next(iter(items), None) is not None

    # -- leases: one evaluator per model at a time -------------------------------------------------------------------

    def acquire_lease(self, model_id: str, owner: str, *, seconds: float) -> bool:
        """Hold the model for ``seconds`` (or renew one's own hold): True when ``owner`` holds it now. A lease
        held by another and not expired is respected; an expired one is taken over. Every write carries a new
        token and is conditional on the token read, so of two takers only one wins, and a late renewal by the
        expired holder cannot slip in after a takeover."""
        pk, now = f"MODEL#{model_id}", self.clock()
        item = {"pk": pk, "sk": "LEASE", "owner": owner, "until": now + seconds, "token": uuid.uuid4().hex}
        current = self.table.get(pk, "LEASE")
        if current is not None and current.get("owner") != owner and float(current.get("until", 0)) > now:
            return False
        cond = Condition(absent=True) if current is None else Condition(attr="token", equals=current.get("token"))
        try:
            self.table.put(item, condition=cond)
            return True
        except ConditionFailed:
            return False

    def release_lease(self, model_id: str, owner: str) -> None:
        """Give the model up, if ``owner`` still holds it (a lease taken over after expiry is left alone)."""
        with contextlib.suppress(ConditionFailed):
            self.table.delete(f"MODEL#{model_id}", "LEASE", condition=Condition(attr="owner", equals=owner))

    def clear_dirty(self, model_id: str, window_start: int, token: str) -> bool:
        """Clear the mark unless a newer change set it again meanwhile."""
        try:
            self.table.delete(f"DIRTY#{model_id}", ws_key(window_start), condition=Condition(attr="seq", equals=token))
            return True
        except ConditionFailed:
            return False

    def claim_file_window(
        self, model_id: str, window_start: int, segment: str | None, *, file_id: str, part: str
    ) -> bool:
        """Whether ``part`` (of the split file ``file_id``) counts the file in this window and segment: the first
        part to ask claims it (a conditional write), and keeps it when it asks again (a retry)."""
        pk, sk = f"PROF#{model_id}#{ws_key(window_start)}", f"S#{file_id}#{segment or NONE}"
        try:
            self.table.put({"pk": pk, "sk": sk, "part": part}, condition=Condition(absent=True))
            return True
        except ConditionFailed:
            existing = self.table.get(pk, sk)
            return existing is not None and existing.get("part") == part

    def count_window_file(self, model_id: str, window_start: int) -> int:
        """Count one more file written to the window (an atomic counter); the count so far."""
        return int(self.table.add(f"PROF#{model_id}#{ws_key(window_start)}", "C#FILES", {"files": 1})["files"])

    def window_profiles(self, model_id: str, window_start: int) -> WindowProfiles:
        """The window's rollup merged with every file item it does not include yet."""
        pk = f"PROF#{model_id}#{ws_key(window_start)}"
        for _ in range(3):
            items = list(self.table.query(pk))
            head = next((i for i in items if i["sk"] == "R#HEAD"), None)
            if head is None or _complete(items, f"R#{int(head['version']):08d}#{head['token']}#"):
                break
            # a rollup moved on while the pages were read (the parts read are an older one's): read again
        else:
            raise StorageError(f"window {pk}: its rollup kept moving while it was read", retryable=True)
        version = int(head["version"]) if head else 0
        rolled: dict[str | None, Profile] = {}
        consumed: frozenset[str] = frozenset()
        if head is not None:
            live = f"R#{version:08d}#{head['token']}#"
            doc = _unpack(_join(i for i in items if i["sk"].startswith(live)))
            rolled = doc_to_profiles(doc["profiles"])
            consumed = frozenset(doc["consumed"])
        files: dict[str, list[Item]] = {}
        for i in items:
            if i["sk"].startswith("F#"):
                files.setdefault(str(i["file_id"]), []).append(i)
        # An id whose items are gone is forgotten once its file is finished: a finished file is never ingested again
        # (FILE# markers), but an unfinished one (its attempt failed after writing) is redelivered and writes the
        # same items again, which must not count twice.
        gone = consumed - frozenset(files)
        consumed = (consumed - gone) | self._unfinished(gone)
        merged = dict(rolled)
        used: set[str] = set()
        for fid in sorted(files):
            parts = files[fid]
            if fid in consumed or len(parts) != int(parts[0]["parts"]):
                continue  # already in the rollup, or a write still in flight (the window stays dirty)
            for seg, prof in doc_to_profiles(_unpack(_join(parts))).items():
                merged[seg] = merged[seg].merge(prof) if seg in merged else prof
            used.add(fid)
        file_sks = tuple(str(i["sk"]) for fid in sorted(used) for i in files[fid])
        rollup_sks = tuple(str(i["sk"]) for i in items if i["sk"].startswith("R#") and i["sk"] != "R#HEAD")
        return WindowProfiles(window_start, merged, frozenset(used), consumed, version, file_sks, rollup_sks)

    def _unfinished(self, file_ids: frozenset[str]) -> frozenset[str]:
        """Those of ``file_ids`` whose file is still being processed (or will be again)."""
        if not file_ids:
            return frozenset()
        items = self.table.batch_get([(f"FILE#{fid}", "FILE") for fid in sorted(file_ids)])
        return frozenset(str(i["pk"]).removeprefix("FILE#") for i in items if i.get("status") not in ("done", "failed"))

    def roll_up(self, model_id: str, wp: WindowProfiles) -> bool:
        """Store ``wp.profiles`` as the window's new rollup and drop the file items it includes.

        Crash-safe: the new rollup records the file ids it includes, so files not yet deleted are not counted
        twice; the head moves only if no other evaluator moved it first (optimistic concurrency)."""
        if not wp.file_ids:
            return False
        pk = f"PROF#{model_id}#{ws_key(wp.window_start)}"
        version = wp.version + 1
        token = uuid.uuid4().hex[:12]  # this writer's parts: a concurrent writer of the same version has others
        doc = {"profiles": profiles_to_doc(wp.profiles), "consumed": sorted(wp.file_ids | wp.consumed)}
        parts = _parts(_pack(doc))
        sks = [f"R#{version:08d}#{token}#p{i:03d}" for i in range(len(parts))]
        self.table.batch_put(
            [{"pk": pk, "sk": sk, "data": p, "parts": len(parts)} for sk, p in zip(sks, parts, strict=True)]
        )
        cond = Condition(absent=True) if wp.version == 0 else Condition(attr="version", equals=wp.version)
        try:
            self.table.put({"pk": pk, "sk": "R#HEAD", "version": version, "token": token}, condition=cond)
        except ConditionFailed:  # another evaluator rolled this window up first: drop our parts only
            for sk in sks:
                self.table.delete(pk, sk)
            return False
        # The rollup is in force: drop the parts of the rollups read and the file items it now includes (keys
        # known from the read: no second query; a file that arrived since is not among them).
        for sk in (*wp.rollup_sks, *wp.file_sks):
            self.table.delete(pk, sk)
        return True

    # -- metrics -----------------------------------------------------------------------------------------------

    def put_points(self, points: Sequence[MetricPoint]) -> None:
        now = int(self.clock())
        items = []
        for p in points:
            col, seg = p.column or NONE, p.segment or NONE
            items.append(
                {
                    "pk": f"MET#{p.model_id}#{p.metric}#{col}#{seg}",
                    "sk": ws_key(p.window_start),
                    "gsi1pk": f"MET#{p.model_id}",
                    "gsi1sk": f"{ws_key(p.window_start)}#{p.metric}#{col}#{seg}",
                    "model_id": p.model_id,
                    "metric": p.metric,
                    "column": p.column,
                    "segment": p.segment,
                    "window_start": p.window_start,
                    "window_end": p.window_end,
                    "value": _storable(p.value),
                    "rows": p.rows,
                    "expires_at": now + self.metrics_ttl,
                }
            )
        self.table.batch_put(items)

    def series(
        self, model_id: str, metric: str, column: str | None, segment: str | None, *, start: int, end: int
    ) -> list[MetricPoint]:
        """One metric's points over [start, end) in one Query."""
        pk = f"MET#{model_id}#{metric}#{column or NONE}#{segment or NONE}"
        closed = [_point(i) for i in self.table.query(pk, sk_from=ws_key(start), sk_to=ws_key(max(end - 1, start)))]
        done = {p.window_start for p in closed}
        partial = [
            p
            for p in self._partial_points(model_id, start=start, end=end)
            if (p.metric, p.column, p.segment) == (metric, column, segment) and p.window_start not in done
        ]
        return sorted(closed + partial, key=lambda p: p.window_start)

    def points(self, model_id: str, *, start: int, end: int) -> Iterator[MetricPoint]:
        """Every point of a model over [start, end), through gsi1, then the partial points of the windows still
        open (``partial=True``; a window whose closed points are written shows those only)."""
        items = self.table.query(
            f"MET#{model_id}", index="gsi1", sk_from=ws_key(start), sk_to=ws_key(max(end - 1, start)) + "#~"
        )
        partial = self._partial_points(model_id, start=start, end=end)
        if not partial:
            return (_point(i) for i in items)
        closed = [_point(i) for i in items]
        done = {p.window_start for p in closed}
        return iter(closed + [p for p in partial if p.window_start not in done])

    # -- open windows: early looks and partial points (SPEC §3, §4) -------------------------------------------------

    def open_window(self, model_id: str, window_start: int) -> OpenWindow:
        """The open window's mark and looks, in one batched read of two small items."""
        sk = ws_key(window_start)
        found = {
            str(i["pk"]): i for i in self.table.batch_get([(f"DIRTY#{model_id}", sk), (f"OPEN#{model_id}", f"L#{sk}")])
        }
        return _open_window(window_start, found.get(f"DIRTY#{model_id}") or {}, found.get(f"OPEN#{model_id}") or {})

    def window_looks(self, model_id: str, window_start: int) -> OpenWindow:
        """The looks made at a window while it was open (none: ``looks == 0``); rows and token are not read."""
        return _open_window(window_start, {}, self.table.get(f"OPEN#{model_id}", f"L#{ws_key(window_start)}") or {})

    def record_look(
        self, model_id: str, window_start: int, *, looks: int, looked_rows: int, checked: str, parts: int | None = None
    ) -> None:
        """Count a look (once its partial points are written — ``parts`` of them — and before it is judged: a crash
        before this leaves the look to the next tick, one after it spends the look's share without judging, which
        only lowers the false-alarm rate) or, with ``looks`` unchanged, the token last checked without a look."""
        values: dict[str, Any] = {
            "looks": looks,
            "looked_rows": looked_rows,
            "checked": checked,
            "expires_at": int(self.clock()) + self.metrics_ttl,  # kept: a window judged again later needs its looks
        }
        if parts is not None:
            values["parts"] = parts
        self.table.add(f"OPEN#{model_id}", f"L#{ws_key(window_start)}", {}, set_values=values)

    def put_partial_points(
        self, model_id: str, window_start: int, window_end: int, points: Sequence[MetricPoint], *, old_parts: int
    ) -> int:
        """Replace the open window's partial points with ``points``: one packed item (a few parts for a very wide
        model) instead of one item per point, so a look costs a few write units, not two per point. Returns the
        number of parts. They are not deleted at the close (a delete costs as much as the write): the closed
        window's points hide them from :meth:`points` and :meth:`series`, and DynamoDB's TTL drops them, free,
        two days after the window ends."""
        sk = ws_key(window_start)
        rows = [[p.metric, p.column, p.segment, p.window_end, _storable(p.value), p.rows] for p in points]
        parts = _parts(_pack(rows))
        pk = f"OPEN#{model_id}"
        expires = window_end + PARTIAL_TTL
        self.table.batch_put(
            [{"pk": pk, "sk": f"P#{sk}#p{i:03d}", "data": d, "parts": len(parts), "expires_at": expires}
             for i, d in enumerate(parts)]
        )  # fmt: skip
        for i in range(len(parts), old_parts):
            self.table.delete(pk, f"P#{sk}#p{i:03d}")
        return len(parts)

    def _partial_points(self, model_id: str, *, start: int, end: int) -> list[MetricPoint]:
        items = self.table.query(
            f"OPEN#{model_id}", sk_from=f"P#{ws_key(start)}", sk_to=f"P#{ws_key(max(end - 1, start))}~"
        )
        by_window: dict[str, list[Item]] = {}
        for i in items:
            by_window.setdefault(str(i["sk"]).split("#")[1], []).append(i)
        out: list[MetricPoint] = []
        for key, parts in by_window.items():
            if len(parts) != int(parts[0]["parts"]):
                continue  # a write in flight
            ws = int(key) - KEY_EPOCH_OFFSET
            for m, c, seg, we, v, r in _unpack(_join(parts)):
                out.append(MetricPoint(model_id, m, c, seg, ws, int(we), float(v), int(r), partial=True))
        return out

    # -- the label join's log (driftline.services.labels) -------------------------------------------------------

    def join_log(self, model_id: str, *, start: int | None = None, end: int | None = None) -> JoinLog:
        """The entries (and results) of the model's join log at positions ``start`` to ``end`` (inclusive; default:
        all), by position."""
        pk = f"JOIN#{model_id}"
        if end is not None and end < (start or 0):
            return JoinLog((), {})
        lo, hi = f"{start or 0:012d}", "999999999999" if end is None else f"{end:012d}"
        entries = [_join_entry(i) for i in self.table.query(pk, sk_from=lo, sk_to=hi)]
        results = {r.position: r for r in map(_join_result, self.table.query(pk, sk_from=f"R#{lo}", sk_to=f"R#{hi}"))}
        return JoinLog(tuple(entries), results)

    def last_join_position(self, model_id: str) -> int | None:
        last = next(iter(self.table.query(f"JOIN#{model_id}", sk_to="999999999999", reverse=True, limit=1)), None)
        return None if last is None else int(last["sk"])

    def append_join_entry(
        self, model_id: str, position: int, *, kind: str, file_id: str, windows: Sequence[int] | None
    ) -> bool:
        """Take ``position`` for a file (kind ``P`` or ``L``); False when another file took it first."""
        item: Item = {
            "pk": f"JOIN#{model_id}",
            "sk": f"{position:012d}",
            "kind": kind,
            "file_id": file_id,
            "at": self.clock(),
            "expires_at": int(self.clock()) + self.id_ttl,
        }
        if windows is not None:
            item["ws"] = [int(w) for w in windows]
        try:
            self.table.put(item, condition=Condition(absent=True))
            return True
        except ConditionFailed:
            return False

    def join_file(self, model_id: str, kind: str, file_id: str) -> JoinFile | None:
        item = self.table.get(f"JOINF#{model_id}", f"{kind}#{file_id}")
        return None if item is None else _join_file(item)

    def join_files(self, model_id: str, kind: str) -> list[JoinFile]:
        """Every file of ``kind`` in the join (in retention): placed or being placed, with its result if any."""
        return [_join_file(i) for i in self.table.query(f"JOINF#{model_id}", sk_prefix=f"{kind}#")]

    def put_join_file(self, model_id: str, kind: str, file_id: str, *, position: int | None, at: float) -> None:
        item: Item = {"pk": f"JOINF#{model_id}", "sk": f"{kind}#{file_id}", "at": at}
        if position is not None:
            item["pos"] = position
        item["expires_at"] = int(self.clock()) + self.id_ttl
        self.table.put(item)

    def put_join_result(self, result: JoinResult, *, model_id: str) -> None:
        """The result in the log (by position) and on the file's item (by file)."""
        values: Item = {"kind": result.kind, "file_id": result.file_id, "n": result.count}
        if result.windows is not None:
            values["rws"] = [int(w) for w in result.windows]
        expires = int(self.clock()) + self.id_ttl
        self.table.put({"pk": f"JOIN#{model_id}", "sk": f"R#{result.position:012d}", **values, "expires_at": expires})
        self.table.put(
            {
                "pk": f"JOINF#{model_id}",
                "sk": f"{result.kind}#{result.file_id}",
                "pos": result.position,
                "at": self.clock(),
                **values,
                "expires_at": expires,
            }
        )

    # -- alerts and errors ---------------------------------------------------------------------------------------

    def open_alarms(self, model_id: str) -> list[AlarmRecord]:
        return [
            AlarmRecord(
                str(i.get("rule", "")),
                i.get("column"),
                i.get("segment"),
                None if i.get("updated_at") is None else float(i["updated_at"]),
            )
            for i in self.get_alert_states(model_id).values()
            if i.get("state") == "ALARM"
        ]

    def put_run(self, model_id: str, *, at: float, windows: int, windows_left: int, errors: Sequence[str]) -> None:
        """The evaluator's run for the model (one item, overwritten each run)."""
        self.table.put(
            {
                "pk": f"MODEL#{model_id}",
                "sk": "RUN",
                "at": at,
                "windows": windows,
                "windows_left": windows_left,
                "errors": json.dumps([str(e)[:1000] for e in errors[:20]]),
            }
        )

    def last_run(self, model_id: str) -> RunRecord | None:
        item = self.table.get(f"MODEL#{model_id}", "RUN")
        if item is None:
            return None
        return RunRecord(
            float(item["at"]), int(item["windows"]), int(item["windows_left"]), tuple(json.loads(item["errors"]))
        )

    def get_alert_states(self, model_id: str) -> dict[str, Item]:
        return {str(i["sk"]): i for i in self.table.query(f"ALERT#{model_id}", sk_prefix="S#")}

    def put_alert_states(
        self, model_id: str, states: Mapping[str, Item], *, previous: Mapping[str, Item] | None = None
    ) -> int:
        """Write several targets' states (state key → values) in batched requests (25 items each: the write units
        of one PutItem per item, far fewer requests). A state whose values equal its ``previous`` item (as
        ``get_alert_states`` read it), ``updated_at`` aside, is not written. Returns how many were written."""
        previous = previous or {}
        items = [
            {**values, "pk": f"ALERT#{model_id}", "sk": key}
            for key, values in states.items()
            if not _same_state(previous.get(key), values)
        ]
        if items:
            self.table.batch_put(items)
        return len(items)

    def record_alert(self, model_id: str, history_key: str, payload: Item) -> bool:
        """Write an alert once; False when it was already written (it was, or is being, published)."""
        try:
            self.table.put(
                {
                    **payload,
                    "pk": f"ALERT#{model_id}",
                    "sk": history_key,
                    "published": False,
                    "evented": False,  # put on the event bus (when the stack has one)
                    "attempt": 0,
                    "recorded_at": self.clock(),
                    "expires_at": int(self.clock()) + self.metrics_ttl,
                },
                condition=Condition(absent=True),
            )
            return True
        except ConditionFailed:
            return False

    def mark_published(self, model_id: str, history_key: str, message_id: str) -> None:
        self.table.add(f"ALERT#{model_id}", history_key, {}, set_values={"published": True, "message_id": message_id})

    def mark_evented(self, model_id: str, history_key: str, event_id: str) -> None:
        self.table.add(f"ALERT#{model_id}", history_key, {}, set_values={"evented": True, "event_id": event_id})

    def unpublished_alerts(self, model_id: str, *, older_than: float, events: bool = False) -> list[Item]:
        """Alerts recorded (or last retried) more than ``older_than`` seconds ago and still not published (or, with
        ``events``, not yet put on the event bus): their publisher died between recording and publishing. Younger
        ones may be being published right now. Alerts recorded before the bus existed (no ``evented``) are not
        put on it afterwards."""
        cutoff = self.clock() - older_than
        return [
            i
            for i in self.table.query(f"ALERT#{model_id}", sk_prefix="H#")
            if (not i.get("published") or (events and i.get("evented") is False))
            and float(i.get("recorded_at", 0)) <= cutoff
        ]

    def claim_retry(self, item: Item) -> bool:
        """Take an unpublished alert over for publication: exactly one of concurrent retriers wins."""
        attempt = int(item.get("attempt", 0))
        try:
            self.table.put(
                {**item, "attempt": attempt + 1, "recorded_at": self.clock()},
                condition=Condition(attr="attempt", equals=item.get("attempt")),
            )
            return True
        except ConditionFailed:
            return False

    def alert_history(self, model_id: str, *, start: int, end: int) -> list[Item]:
        return list(self.table.query(f"ALERT#{model_id}", sk_from=f"H#{ws_key(start)}", sk_to=f"H#{ws_key(end)}~"))

    def record_error(
        self,
        model_id: str,
        *,
        key: str,
        file_id: str,
        reason: str,
        at: float | None = None,
        kind: str = "failed",
    ) -> None:
        """A file that could not be processed, dated ``at`` (default: now): one item per file and date. ``kind``:
        see ``ErrorRecord``."""
        now = self.clock() if at is None else at
        self.table.put(
            {
                "pk": f"ERR#{model_id}",
                "sk": f"{now:017.6f}#{file_id}",
                "key": key,
                "reason": reason,
                "file_id": file_id,
                "kind": kind,
                "at": now,
                "expires_at": int(now) + self.metrics_ttl,
            }
        )

    def errors(self, model_id: str) -> list[Item]:
        return list(self.table.query(f"ERR#{model_id}", reverse=True))

    def error_records(self, model_id: str) -> list[ErrorRecord]:
        """The model's error records, newest first."""
        return [
            ErrorRecord(
                float(i["at"]),
                str(i.get("key", "")),
                str(i.get("file_id", "")),
                str(i.get("reason", "")),
                str(i.get("kind", "failed")),
            )
            for i in self.errors(model_id)
        ]


def _open_window(window_start: int, mark: Item, look: Item) -> OpenWindow:
    return OpenWindow(
        window_start,
        int(mark.get("rows", 0)),
        None if "seq" not in mark else str(mark["seq"]),
        int(look.get("looks", 0)),
        int(look.get("looked_rows", 0)),
        None if look.get("checked") is None else str(look["checked"]),
        int(look.get("parts", 0)),
    )


def _storable(x: float) -> float:
    """DynamoDB numbers span 1e-130 .. 1e125 in magnitude: smaller values (p-values) are stored as 0."""
    return 0.0 if abs(x) < 1e-120 else x


_STATE_META = frozenset({"pk", "sk", "updated_at"})


def _same_state(stored: Item | None, values: Item) -> bool:
    """Whether writing ``values`` over the ``stored`` state item would change nothing but ``updated_at``."""
    if stored is None:
        return False
    content = {k: v for k, v in values.items() if k not in _STATE_META}
    return content == {k: v for k, v in stored.items() if k not in _STATE_META}


def _complete(items: Sequence[Item], prefix: str) -> bool:
    parts = [i for i in items if str(i["sk"]).startswith(prefix)]
    return bool(parts) and len(parts) == int(parts[0]["parts"])


def _join_entry(i: Item) -> JoinEntry:
    ws = i.get("ws")
    windows = None if ws is None else tuple(int(w) for w in ws)
    return JoinEntry(int(i["sk"]), str(i["kind"]), str(i["file_id"]), windows, float(i.get("at", 0)))


def _join_result(i: Item, position: int | None = None) -> JoinResult:
    rws = i.get("rws")
    pos = int(str(i["sk"]).removeprefix("R#")) if position is None else position
    return JoinResult(pos, str(i["kind"]), str(i["file_id"]), int(i["n"]), None if rws is None else tuple(rws))


def _join_file(i: Item) -> JoinFile:
    kind, file_id = str(i["sk"]).split("#", 1)
    pos = None if i.get("pos") is None else int(i["pos"])
    result = None if i.get("n") is None or pos is None else _join_result({**i, "kind": kind, "file_id": file_id}, pos)
    return JoinFile(kind, file_id, pos, float(i.get("at", 0)), result)


def _join(parts: Iterable[Item]) -> bytes:
    ordered = sorted(parts, key=lambda i: str(i["sk"]))
    return b"".join(bytes(i["data"]) for i in ordered)


def _point(i: Item) -> MetricPoint:
    return MetricPoint(
        str(i["model_id"]),
        str(i["metric"]),
        i.get("column"),
        i.get("segment"),
        int(i["window_start"]),
        int(i["window_end"]),
        float(i["value"]),
        int(i["rows"]),
    )
