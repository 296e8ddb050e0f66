"""Use cases without AWS: profile one data file against a baseline; build a baseline from reference files."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import BinaryIO

from driftline.core.baseline import Baseline, BinSettings, ReferenceSampler, baseline_id_for, calibrate
from driftline.core.config import ModelConfig
from driftline.core.errors import InputError
from driftline.core.profile import Profile, merge_all
from driftline.core.profiler import GroupKey, PreparedBatch, ProfileBuilder
from driftline.io.prepare import BatchPreparer, PrepareStats, sample_reference, string_columns, wanted_columns
from driftline.io.readahead import read_ahead
from driftline.io.readers import iter_batches

Source = str | os.PathLike[str] | BinaryIO
Opener = Callable[[], Source]
Progress = Callable[[str, int], None]  # (file name, rows read so far in it)

DEFAULT_BATCH_ROWS = 131_072


@dataclass
class FileProfile:
    """The profiles of one file, per (window start, segment), and what its rows looked like."""

    profiles: dict[GroupKey, Profile]
    stats: PrepareStats


def _batches(source: Source, name: str, config: ModelConfig, batch_rows: int, *, ids: bool = False) -> Iterable:  # type: ignore[type-arg]
    """The file's batches with the columns Driftline reads (the id column only when the caller needs ids)."""
    columns = [c for c in wanted_columns(config) if ids or c != config.columns.id]
    return iter_batches(
        source, name=name, columns=columns, string_columns=string_columns(config), batch_rows=batch_rows
    )


def _check_required(stats: PrepareStats, config: ModelConfig, name: str, *, reference: bool) -> None:
    required = [config.columns.prediction] if reference else [config.columns.timestamp, config.columns.prediction]
    absent = [c for c in required if c in stats.missing_columns]
    if absent:
        raise InputError(f"required column {', '.join(repr(c) for c in absent)} not found in the file", key=name)


def profile_file(
    source: Source,
    *,
    name: str,
    config: ModelConfig,
    baseline: Baseline,
    batch_rows: int = DEFAULT_BATCH_ROWS,
    progress: Progress | None = None,
    on_batch: Callable[[BatchPreparer, PreparedBatch], None] | None = None,
    read_ahead_batches: int = 2,
) -> FileProfile:
    """One streamed pass over a prediction log. Raises InputError when the file cannot be used at all.
    ``on_batch`` sees each prepared batch (``preparer.last_batch`` holds its Arrow rows). The next
    ``read_ahead_batches`` batches are read in a background thread while one is profiled (0: no thread)."""
    preparer = BatchPreparer(config, baseline.spec)
    builder = ProfileBuilder(config, baseline.spec, baseline.baseline_id)
    batches = _batches(source, name, config, batch_rows, ids=on_batch is not None)
    for i, batch in enumerate(read_ahead(batches, read_ahead_batches)):
        prepared = preparer.prepare(batch)
        if i == 0:
            _check_required(preparer.stats, config, name, reference=False)
        builder.add(prepared)
        if on_batch is not None and prepared.n:
            on_batch(preparer, prepared)
        if progress:
            progress(name, preparer.stats.rows)
    if preparer.stats.rows == 0:
        raise InputError("the file holds no rows", key=name)
    return FileProfile(builder.result(), preparer.stats)


def build_baseline(
    config: ModelConfig,
    sources: Sequence[tuple[str, Opener]],
    *,
    created_at: str,
    settings: BinSettings | None = None,
    batch_rows: int = DEFAULT_BATCH_ROWS,
    progress: Progress | None = None,
) -> Baseline:
    """Two streamed passes over the reference files: sample and freeze the bins, then profile on them."""
    if not sources:
        raise InputError("no reference file given")
    sampler = ReferenceSampler(config, settings or BinSettings())
    for name, opener in sources:
        stats = PrepareStats()
        for batch in _batches(opener(), name, config, batch_rows):
            stats.rows += batch.num_rows
            if stats.rows == batch.num_rows and batch.schema.get_field_index(config.columns.prediction) < 0:
                stats.missing_columns.add(config.columns.prediction)
                _check_required(stats, config, name, reference=True)
            sample_reference(sampler, batch)
            if progress:
                progress(name, stats.rows)
    spec = sampler.freeze()
    names = [n for n, _ in sources]
    bid = baseline_id_for(config.model_id, names, spec)
    builder = ProfileBuilder(config, spec, bid)
    for name, opener in sources:
        preparer = BatchPreparer(config, spec, reference=True)
        for batch in _batches(opener(), name, config, batch_rows):
            builder.add(preparer.prepare(batch))
    by_segment: dict[str | None, list[Profile]] = {}
    for (_, segment), prof in builder.result().items():
        by_segment.setdefault(segment, []).append(prof)
    reference = {seg: merge_all(profs, bid) for seg, profs in by_segment.items()}
    reference.setdefault(None, Profile.empty(bid))
    calibration = None
    score_hist = reference[None].performance.score_hist
    if score_hist is not None and score_hist[0].sum() > 0 and score_hist[1].sum() > 0:
        calibration = calibrate(score_hist)
    return Baseline(bid, config.model_id, created_at, spec, reference, calibration, tuple(names))
