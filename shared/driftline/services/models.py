"""Model registry: configs and baselines — registering them from S3 drops, and loading them (cached)."""

from __future__ import annotations

import gzip
import re
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import unquote_plus

from driftline.core.baseline import Baseline
from driftline.core.config import MODEL_ID_RE, ModelConfig, load_config, load_config_dict
from driftline.core.errors import BaselineError, ConfigError, DriftlineError, InputError, NotReadyError
from driftline.services.ports import ObjectStore
from driftline.services.store import Store

PREFIXES = ("models", "baselines", "predictions", "labels")
BASELINE_OBJECT = "_driftline/baselines/{model_id}/{baseline_id}.json.gz"
_SAFE_SEGMENT = re.compile(r"^[^\x00-\x1f\x7f]+$")


@dataclass(frozen=True)
class ObjectRef:
    """One S3 object an event named: the key decoded, its prefix and model."""

    bucket: str
    key: str
    etag: str
    size: int
    prefix: str
    model_id: str


def parse_key(bucket: str, raw_key: str, etag: str = "", size: int = 0, *, encoded: bool = True) -> ObjectRef:
    """Decode and check an S3 key from an event. S3 event keys are URL-encoded (``+`` for spaces): always
    ``unquote_plus``. Raises InputError naming the key when it is under no known prefix or model id, or tries a
    path trick (``..``, empty segments, control characters)."""
    key = unquote_plus(raw_key) if encoded else raw_key
    parts = key.split("/")
    if len(parts) < 3 or parts[0] not in PREFIXES:
        raise InputError(f"not under a known prefix ({', '.join(p + '/' for p in PREFIXES)})", key=key)
    if any(p in ("", ".", "..") for p in parts) or not _SAFE_SEGMENT.match(key):
        raise InputError("the key has an empty, '.' or '..' path segment or a control character", key=key)
    model_id = parts[1]
    if not MODEL_ID_RE.fullmatch(model_id):
        raise InputError(f"{model_id!r} is not a valid model id ([a-z0-9][a-z0-9_-]{{0,62}})", key=key)
    if parts[0] == "models" and (len(parts) != 3 or parts[2] != "config.yaml"):
        raise InputError("a model configuration must be models/<model_id>/config.yaml", key=key)
    return ObjectRef(bucket, key, etag.strip('"'), size, parts[0], model_id)


class ModelRegistry:
    """Configs and baselines of every model, loaded from the store and cached per container."""

    def __init__(
        self,
        store: Store,
        objects: ObjectStore,
        *,
        config_ttl: float = 30.0,
        max_baselines: int = 16,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.store = store
        self.objects = objects
        self.config_ttl = config_ttl
        self.clock = clock
        self._configs: dict[str, tuple[float, ModelConfig]] = {}
        self._baselines: OrderedDict[tuple[str, str], Baseline] = OrderedDict()
        self._max_baselines = max_baselines

    # -- configs -----------------------------------------------------------------------------------------------

    def register_config(self, ref: ObjectRef) -> ModelConfig:
        """Validate a dropped config; on success it is in force. Raises ConfigError (the previous one stays)."""
        text = self.objects.get_bytes(ref.key)
        config = load_config(text, source=ref.key, expected_model_id=ref.model_id)
        self.store.put_config(config.model_id, config.to_dict(), source_key=ref.key, etag=ref.etag)
        self._configs[config.model_id] = (self.clock(), config)
        return config

    def config(self, model_id: str) -> ModelConfig:
        cached = self._configs.get(model_id)
        if cached and self.clock() - cached[0] < self.config_ttl:
            return cached[1]
        data = self.store.get_config(model_id)
        if data is None:
            raise NotReadyError(f"model {model_id!r} has no configuration: put models/{model_id}/config.yaml first")
        try:
            config = load_config_dict(data, source=f"models/{model_id}/config.yaml")
        except ConfigError as err:  # a stored config was valid when stored; a schema change could break it
            raise InputError(f"the stored configuration of {model_id!r} is no longer valid: {err}") from err
        self._configs[model_id] = (self.clock(), config)
        return config

    # -- baselines -----------------------------------------------------------------------------------------------

    def register_baseline(self, ref: ObjectRef, *, progress: Callable[[str, int], None] | None = None) -> Baseline:
        """Build the model's baseline from a dropped reference file and put it in force from now on."""
        from driftline.services.profiling import build_baseline  # pyarrow: only where baselines are built

        config = self.config(ref.model_id)
        created = datetime.fromtimestamp(self.clock(), UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        baseline = build_baseline(
            config, [(ref.key, lambda: self.open_data(ref.key))], created_at=created, progress=progress
        )
        self.save_baseline(baseline)
        return baseline

    def save_baseline(self, baseline: Baseline) -> str:
        key = BASELINE_OBJECT.format(model_id=baseline.model_id, baseline_id=baseline.baseline_id)
        self.objects.put_bytes(key, gzip.compress(baseline.to_json(), 6), content_type="application/json")
        self.store.set_baseline(baseline.model_id, baseline.baseline_id, object_key=key, created_at=baseline.created_at)
        self._baselines[(baseline.model_id, baseline.baseline_id)] = baseline
        return key

    def current_baseline(self, model_id: str) -> Baseline:
        ref = self.store.get_baseline_ref(model_id)
        if ref is None:
            raise NotReadyError(
                f"model {model_id!r} has no baseline yet: drop reference data under baselines/{model_id}/"
            )
        return self.baseline(model_id, ref[0])

    def baseline(self, model_id: str, baseline_id: str) -> Baseline:
        """A baseline by id (immutable, so cached without expiry; the least recently used ones are dropped)."""
        key = (model_id, baseline_id)
        if key in self._baselines:
            self._baselines.move_to_end(key)
            return self._baselines[key]
        obj = BASELINE_OBJECT.format(model_id=model_id, baseline_id=baseline_id)
        try:
            baseline = Baseline.from_json(gzip.decompress(self.objects.get_bytes(obj)))
        except DriftlineError:
            raise
        except OSError as err:
            raise BaselineError(f"the stored baseline {obj} cannot be read: {err}") from err
        self._baselines[key] = baseline
        while len(self._baselines) > self._max_baselines:
            self._baselines.popitem(last=False)
        return baseline

    def open_data(self, key: str):  # type: ignore[no-untyped-def]
        """A stream of a data file: seekable for Parquet (random access), plain streaming otherwise."""
        if key.lower().endswith((".parquet", ".pq")):
            return self.objects.open_seekable(key)
        return self.objects.open(key)
