"""Use cases without AWS: profile one data file against a baseline; build a baseline from reference files."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import BinaryIO

import pyarrow as pa

from driftline.core.baseline import (
    Baseline,
    BinSettings,
    ReferenceSampler,
    baseline_id_for,
    calibrate,
    reference_nulls,
)
from driftline.core.config import ModelConfig
from driftline.core.errors import InputError
from driftline.core.group_estimation import group_calibrations
from driftline.core.profile import Profile, merge_all
from driftline.core.profiler import GroupKey, PreparedBatch, ProfileBuilder
from driftline.core.thresholds import MAX_CHUNKS, MIN_CHUNK_ROWS
from driftline.io.prepare import (
    BatchPreparer,
    PrepareStats,
    sample_reference,
    string_columns,
    value_columns,
    wanted_columns,
)
from driftline.io.readahead import read_ahead
from driftline.io.readers import iter_batches

Source = str | os.PathLike[str] | BinaryIO
Opener = Callable[[], Source]
Progress = Callable[[str, int], None]  # (file name, rows read so far in it)

DEFAULT_BATCH_ROWS = 131_072
#: Reference batches up to this many bytes (Arrow) are kept from the sampling pass for the profiling pass, so a
#: reference file of up to about a million rows is read and decoded once; a larger one is read twice, streamed.
REFERENCE_CACHE_BYTES = 256 << 20


@dataclass
class FileProfile:
    """The profiles of one file, per (window start, segment), and what its rows looked like."""

    profiles: dict[GroupKey, Profile]
    stats: PrepareStats


def _batches(
    source: Source,
    name: str,
    config: ModelConfig,
    batch_rows: int,
    *,
    ids: bool = False,
    reference: bool = False,
    row_groups: Sequence[int] | None = None,
) -> Iterable[pa.RecordBatch]:
    """The file's batches with the columns Driftline reads: the id column only when the caller needs ids, the
    event time only in prediction logs (reference rows all count, whatever their time)."""
    skip = {config.columns.id} if not ids else set()
    if reference:
        skip.add(config.columns.timestamp)
    skip.difference_update(value_columns(config))  # a column also profiled is read whatever its other role
    columns = [c for c in wanted_columns(config) if c not in skip]
    return iter_batches(
        source,
        name=name,
        columns=columns,
        string_columns=string_columns(config),
        batch_rows=batch_rows,
        row_groups=row_groups,
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
    on_batch: Callable[[pa.RecordBatch, PreparedBatch], None] | None = None,
    read_ahead_batches: int = 2,
    row_groups: Sequence[int] | None = None,
    allow_empty: bool = False,
    now: float | None = None,
) -> FileProfile:
    """One streamed pass over a prediction log. Raises InputError when the file cannot be used at all.
    ``row_groups`` (Parquet) and ``allow_empty``: one part of a split file (``driftline.io.parts``), which may
    hold no rows.
    ``on_batch`` sees each prepared batch with the Arrow rows it was made of. The next
    ``read_ahead_batches`` batches are read in a background thread while one is profiled (0: no thread). ``now``:
    the file's arrival, which bounds its plausible event times (default: the current time)."""
    preparer = BatchPreparer(config, baseline.spec, now=now)
    builder = ProfileBuilder(config, baseline.spec, baseline.baseline_id)
    batches = _batches(source, name, config, batch_rows, ids=on_batch is not None, row_groups=row_groups)
    for i, batch in enumerate(read_ahead(batches, read_ahead_batches)):
        try:
            prepared, rows = preparer.prepare_rows(batch)
        except InputError as err:
            if err.key is None:
                raise InputError(err.reason, key=name) from err
            raise
        if i == 0:
            _check_required(preparer.stats, config, name, reference=False)
        builder.add(prepared)
        if on_batch is not None and prepared.n:
            on_batch(rows, prepared)
        if progress:
            progress(name, preparer.stats.rows)
    if preparer.stats.rows == 0 and not allow_empty:
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
    cache_bytes: int = REFERENCE_CACHE_BYTES,
) -> Baseline:
    """Two streamed passes over the reference files: sample and freeze the bins, then profile on them. The
    first pass keeps its batches while they hold at most ``cache_bytes`` in all; the second pass reads those
    instead of the files (a larger reference is read again, so memory stays bounded)."""
    if not sources:
        raise InputError("no reference file given")
    sampler = ReferenceSampler(config, settings or BinSettings())
    kept: list[list[pa.RecordBatch]] | None = []
    held = 0
    for name, opener in sources:
        stats = PrepareStats()
        batches: list[pa.RecordBatch] = []
        for batch in _batches(opener(), name, config, batch_rows, reference=True):
            stats.rows += batch.num_rows
            if stats.rows == batch.num_rows and batch.schema.get_field_index(config.columns.prediction) < 0:
                stats.missing_columns.add(config.columns.prediction)
                _check_required(stats, config, name, reference=True)
            sample_reference(sampler, batch)
            if kept is not None:
                held += batch.nbytes
                if held <= cache_bytes:
                    batches.append(batch)
                else:
                    kept, batches = None, []  # too large to hold: the second pass reads the files again
            if progress:
                progress(name, stats.rows)
        if kept is not None:
            kept.append(batches)
    spec = sampler.freeze()
    names = [n for n, _ in sources]
    bid = baseline_id_for(config.model_id, names, spec)
    # Profiled in chunks of rows, in the order they come (time order for logs appended over time): the reference is
    # their merge (exact), and the chunks' differences give each column's overdispersion (core.thresholds).
    chunk_rows = max(-(-sampler.rows // MAX_CHUNKS), MIN_CHUNK_ROWS)
    results: list[dict[GroupKey, Profile]] = []
    builder, in_chunk = ProfileBuilder(config, spec, bid, reference=True), 0
    for i, (name, opener) in enumerate(sources):
        preparer = BatchPreparer(config, spec, reference=True)
        again = kept[i] if kept is not None else _batches(opener(), name, config, batch_rows, reference=True)
        for batch in again:
            offset = 0
            while offset < batch.num_rows:
                part = batch.slice(offset, min(chunk_rows - in_chunk, batch.num_rows - offset))
                builder.add(preparer.prepare(part))
                offset += part.num_rows
                in_chunk += part.num_rows
                if in_chunk >= chunk_rows:
                    results.append(builder.result())
                    builder, in_chunk = ProfileBuilder(config, spec, bid, reference=True), 0
    if in_chunk:
        results.append(builder.result())
    by_segment: dict[str | None, list[Profile]] = {}
    chunks: list[Profile] = []
    for result in results:
        for (_, segment), prof in result.items():
            by_segment.setdefault(segment, []).append(prof)
            if segment is None:
                chunks.append(prof)
    reference = {seg: merge_all(profs, bid) for seg, profs in by_segment.items()}
    reference.setdefault(None, Profile.empty(bid))
    calibration = None
    score_hist = reference[None].performance.score_hist
    if score_hist is not None and score_hist[0].sum() > 0 and score_hist[1].sum() > 0:
        calibration = calibrate(score_hist)
    groups = {}
    if calibration is not None:
        for col, scores in reference[None].performance.group_scores.items():
            groups[col] = group_calibrations(calibration, scores)
    nulls = reference_nulls(spec, reference[None], chunks, config.monitored_columns, sampler.selection)
    return Baseline(
        bid, config.model_id, created_at, spec, reference, calibration, tuple(names), nulls, group_calibration=groups
    )
