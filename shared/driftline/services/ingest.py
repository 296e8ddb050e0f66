"""Ingest: one S3 object → configs, baselines, prediction profiles, label joins. Exactly once per object.

``IngestService.handle(ref)`` is what every SQS-triggered function calls. A file that cannot be used at all is
recorded as an error and reported as an ``ingest.error`` alert, and is not retried (retrying cannot help);
transient failures (AWS throttling, network) propagate so the message is retried and, after a bounded number
of tries, dead-lettered.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from driftline.core.errors import BaselineError, ConfigError, InputError
from driftline.core.profile import Profile
from driftline.services.alerts import Alert, AlertPublisher
from driftline.services.merge import WindowMerger
from driftline.services.models import ModelRegistry, ObjectRef
from driftline.services.ports import NotFound
from driftline.services.store import Store, file_id_for

if TYPE_CHECKING:
    from driftline.io.parts import Part
    from driftline.services.split import FileSplitter

# The data paths (predictions, labels) import pyarrow where they run: a configuration drop needs only numpy and
# YAML, so the config function ships without the 100 MB Arrow layer (a faster cold start).

log = logging.getLogger(__name__)


@dataclass
class Outcome:
    key: str
    model_id: str
    status: str  # processed | duplicate | failed
    rows: int = 0
    windows: list[int] = field(default_factory=list)
    reason: str | None = None
    details: dict[str, Any] = field(default_factory=dict)


class IngestService:
    def __init__(
        self,
        store: Store,
        registry: ModelRegistry,
        alerts: AlertPublisher,
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.store = store
        self.registry = registry
        self.alerts = alerts
        self.clock = clock
        self.merger = WindowMerger(store)
        self.splitter: FileSplitter | None = None  # large files in parts (services/split.py), set by the runtime

    def handle(self, ref: ObjectRef, part: Part | None = None) -> Outcome:
        """One object, or one ``part`` of a split one (services/split.py): each claimed once."""
        file_id = file_id_for(ref.bucket, ref.key, ref.etag)
        if part is not None:
            from driftline.services.split import part_id

            file_id = part_id(file_id, part)
        if not self.store.claim_file(file_id, model_id=ref.model_id, key=ref.key, kind=ref.prefix):
            log.info("duplicate delivery skipped", extra={"key": ref.key})
            return Outcome(ref.key, ref.model_id, "duplicate")
        try:
            if ref.prefix == "models":
                outcome = self._config(ref)
            elif ref.prefix == "baselines":
                outcome = self._baseline(ref)
            elif ref.prefix == "predictions":
                if part is None:  # a part's file was checked when it was split
                    self._check_overwrite(ref, file_id)
                    if self.splitter is not None and self.splitter.should_split(ref):
                        parts = self.splitter.split(ref, file_id)
                        return Outcome(ref.key, ref.model_id, "split", details={"parts": len(parts)})
                outcome = self._predictions(ref, file_id, part)
            else:
                self._check_overwrite(ref, file_id)
                outcome = self._labels(ref, file_id)
        except (InputError, ConfigError, BaselineError, NotFound) as err:
            if isinstance(err, NotFound) and not str(err).endswith(f"/{ref.key}: no such object"):
                raise  # something else is missing (a baseline object): not this file's fault
            reason = "the object was deleted before it was read" if isinstance(err, NotFound) else _reason(err)
            # Reported before the file is marked failed: should reporting fail, the redelivery finds the file
            # unfinished, fails the same way and reports again, under the same keys (the time of the first claim).
            started = self.store.claimed_at(file_id)
            where = ref.key if part is None else f"{ref.key} (part {part.index + 1} of {part.count})"
            self.report_failure(ref.model_id, where, file_id, reason, at=started)
            self.store.finish_file(file_id, status="failed", reason=reason)
            return Outcome(ref.key, ref.model_id, "failed", reason=reason)
        self.store.finish_file(file_id, status="done", rows=outcome.rows)
        if outcome.windows:  # windows of any number of files: every Nth file merges the window (services/merge.py)
            self.merger.after_file(ref.model_id, outcome.windows)
        return outcome

    def report_failure(
        self, model_id: str, key: str, file_id: str, reason: str, *, at: float | None = None, kind: str = "failed"
    ) -> None:
        """An error record and an ``ingest.error`` alert (SPEC §4), dated ``at`` (default: now). Idempotent for a
        given ``at``: the same error record, and the alert recorded (and published) once."""
        now = self.clock() if at is None else at
        self.store.record_error(model_id, key=key, file_id=file_id, reason=reason, at=now, kind=kind)
        self.alerts.publish(
            Alert(
                model_id=model_id,
                rule="ingest-error",
                state="ALARM",
                severity="critical",
                metric="ingest.error",
                evaluated_at=now,
                details={"key": key, "reason": reason, "file_id": file_id},
            )
        )

    def _check_overwrite(self, ref: ObjectRef, file_id: str) -> None:
        """A data key overwritten with new content (a new ETag) is refused: the version counted first stays (its
        rows may already be rolled up into judged windows, which cannot forget them). Corrected data goes under a
        new key. A version that failed does not count: a corrected file under the same key is accepted."""
        if self.store.claim_key(ref.model_id, ref.key, file_id) is not None:
            raise InputError(
                "the object was overwritten with new content (a new ETag): the version counted first stays; "
                "write corrected data under a new key",
                key=ref.key,
            )

    # -- per prefix ----------------------------------------------------------------------------------------------

    def _config(self, ref: ObjectRef) -> Outcome:
        config = self.registry.register_config(ref)
        return Outcome(ref.key, ref.model_id, "processed", details={"task": config.task})

    def _baseline(self, ref: ObjectRef) -> Outcome:
        baseline = self.registry.register_baseline(ref)
        return Outcome(
            ref.key,
            ref.model_id,
            "processed",
            rows=baseline.population.rows,
            details={"baseline_id": baseline.baseline_id},
        )

    def _predictions(self, ref: ObjectRef, file_id: str, part: Part | None = None) -> Outcome:
        from driftline.services.labels import LabelService, PredictionIds
        from driftline.services.profiling import profile_file

        config = self.registry.config(ref.model_id)
        baseline = self.registry.current_baseline(ref.model_id)
        ids = PredictionIds(config, baseline.baseline_id) if config.columns.label else None
        if part is not None and self.splitter is None:
            raise InputError("a part of a split file, but this service handles no parts", key=ref.key)
        in_parts = part is not None
        # The file's arrival: the first claim's time (a redelivery finds the same), which bounds its plausible event
        # times and names the window its time errors are counted in (SPEC §3 quality.time_error_rate).
        claimed = self.store.claimed_at(file_id)
        arrived = self.clock() if claimed is None else claimed
        result = profile_file(
            self.splitter.open_part(ref, part) if in_parts else self.registry.open_data(ref.key),  # type: ignore[union-attr,arg-type]
            name=ref.key,
            config=config,
            baseline=baseline,
            on_batch=ids.add if ids else None,
            row_groups=part.groups() if part is not None and part.row_groups else None,
            allow_empty=part is not None,
            now=arrived,
        )
        if in_parts:  # the file counts once in volume.files, whichever parts have rows in a window
            file_key = file_id.rsplit(".", 1)[0]
            result.profiles = self.splitter.count_file_once(ref.model_id, file_key, file_id, result.profiles)  # type: ignore[union-attr]
        # Every row read counts once in the rows read of one window: a valid row in its event-time window, a time
        # error in the window of the file's arrival (so a file without time errors touches only its own windows).
        for key, prof in result.profiles.items():
            if key[1] is None:
                result.profiles[key] = replace(prof, rows_read=prof.rows)
        if result.stats.bad_timestamp:
            width = config.window_seconds
            arrival = (int(arrived // width) * width, None)
            bad = result.stats.bad_timestamp
            errors = Profile(baseline.baseline_id, rows_read=bad, time_errors=bad)
            result.profiles[arrival] = result.profiles[arrival].merge(errors) if arrival in result.profiles else errors
        if ids is not None and config.columns.label not in result.stats.missing_columns:
            ids = None  # labels came with the predictions: nothing to join later
        if ids is not None and not ids.rows and result.stats.profiled:
            result.stats.missing_columns.add(config.columns.id)  # labels will not find these predictions
        profiles = result.profiles
        details: dict[str, Any] = {}
        if ids is not None and ids.rows:  # labels that came first are joined now, into this file's profiles
            early, joined = LabelService(self.store, self.registry).join_predictions(ref.model_id, file_id, ids)
            for key, prof in early.items():
                profiles[key] = profiles[key].merge(prof) if key in profiles else prof
            if joined:
                details["labels_joined"] = joined
        windows = self.store.put_file_profiles(ref.model_id, file_id, profiles)
        self._note_first_window(ref.model_id, windows)
        if result.stats.bad_timestamp:
            details["rows_with_time_errors"] = result.stats.bad_timestamp
        if result.stats.missing_columns:
            details["missing_columns"] = sorted(result.stats.missing_columns)
        if result.stats.profiled == 0 and (part is None or result.stats.rows):
            raise InputError(
                f"none of the {result.stats.rows} rows has a valid event time in column {config.columns.timestamp!r} "
                "(missing, unparseable or outside the plausible range; counted in quality.time_error_rate)",
                key=ref.key,
            )
        return Outcome(ref.key, ref.model_id, "processed", rows=result.stats.profiled, windows=windows, details=details)

    def _note_first_window(self, model_id: str, windows: list[int]) -> None:
        if not windows:
            return
        first = self.store.get_state(model_id).first_window
        if first is None or windows[0] < first:
            self.store.update_state(model_id, first_window=windows[0])

    def _labels(self, ref: ObjectRef, file_id: str) -> Outcome:
        from driftline.services.labels import LabelService

        profiles, details = LabelService(self.store, self.registry).join_labels(ref, file_id)
        windows = self.store.put_file_profiles(ref.model_id, file_id, profiles) if profiles else []
        return Outcome(ref.key, ref.model_id, "processed", rows=details["matched"], windows=windows, details=details)


def _reason(err: Exception) -> str:
    if isinstance(err, InputError):
        return err.reason
    return str(err)
