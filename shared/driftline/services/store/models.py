"""Models, their configurations, baselines and state, and the evaluator's last run (``MODELS``, ``MODEL#``)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from driftline.services.store.base import StoreBase
from driftline.services.store.records import BaselineRecord, ConfigRecord, ModelState, RunRecord


class ModelsMixin(StoreBase):
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
        """The user's configuration document in force (as ``config_record`` has it, without where it came from)."""
        record = self.config_record(model_id)
        return None if record is None else record.config

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
        record = self.baseline_record(model_id)
        return None if record is None else (record.baseline_id, record.key)

    def get_state(self, model_id: str) -> ModelState:
        item = self.table.get(f"MODEL#{model_id}", "STATE") or {}
        first, last, error = item.get("first_window"), item.get("last_closed"), item.get("evaluate_error")
        return ModelState(
            first_window=None if first is None else int(first),
            last_closed=None if last is None else int(last),
            evaluate_error=None if error is None else str(error),
        )

    def update_state(
        self,
        model_id: str,
        *,
        first_window: int | None = None,
        last_closed: int | None = None,
        evaluate_error: str | None = None,
    ) -> None:
        """Set those of the model's state given (not None); the others stay as they are."""
        values = {"first_window": first_window, "last_closed": last_closed, "evaluate_error": evaluate_error}
        self.table.add(f"MODEL#{model_id}", "STATE", {}, set_values={k: v for k, v in values.items() if v is not None})

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
