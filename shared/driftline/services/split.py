"""Large prediction files fanned out in parts (issue 17, item 1), on the ingest queue itself.

A prediction file above ``split_bytes`` (Parquet, CSV, JSON Lines; not gzip, which cannot be entered in the
middle) is not profiled by the invocation that receives its S3 notification: that one plans its parts
(``driftline.io.parts``; a CSV file from one streamed read that finds its record boundaries, ``_plan_csv``), sends
one message per part to the ingest queue and marks the file ``split``. Each part
message is then handled like a file of its own: claimed as (bucket, key, ETag, part) — a part retried or
delivered twice changes nothing —, profiled (its row groups, or the lines that begin in its byte range, read with
ranged GETs pinned to the ETag), its profiles written under the part's id, its status and errors recorded per
part (an error names the key and the part). The file counts once in ``volume.files``: in each (window, segment)
the first part to write claims it with a conditional write, and only the claiming part's profile counts the file
(a claiming part that is retried claims it again); every row is in exactly one part.
"""

from __future__ import annotations

import dataclasses
import json
from typing import Any, BinaryIO

from driftline.core.errors import InputError
from driftline.core.profile import Profile
from driftline.io.parts import Part, first_line, open_line_range, plan_csv, plan_parts, read_start, splittable
from driftline.services.models import ObjectRef, parse_key
from driftline.services.ports import MessageQueue, ObjectStore
from driftline.services.store import Store

PART_KEY = "driftline_part"
# A gzip stream cannot be entered in the middle, so a .gz file is profiled by one function. Measured: 2.02 GiB of
# gzip JSON Lines (18.5M rows) in 300 s (README, "Profiling throughput"): Lambda's 900 s fit about 6 GiB; above
# 4 GiB (a third kept in hand) such a file is refused with the reason, instead of timing out again and again.
GZIP_MAX_BYTES = 4 << 30
# A CSV file with a stray quote (services/split.py, io/csvcuts.py) cannot be cut safely and is profiled by one
# function. Measured: CSV profiles at about 42 MB/s on one core (README, "Profiling throughput": 1M rows, 200 MB,
# in 4.8 s): 15 minutes hold about 35 GiB; above 16 GiB (a Lambda core is slower, and the file was read once
# already to find it cannot be cut) such a file is refused with the reason.
CSV_WHOLE_MAX_BYTES = 16 << 30


def part_message(ref: ObjectRef, part: Part) -> str:
    body = {
        PART_KEY: {
            "bucket": ref.bucket, "key": ref.key, "etag": ref.etag, "size": ref.size, "index": part.index,
            "count": part.count, "start": part.start, "end": part.end, "row_groups": part.row_groups,
        }
    }  # fmt: skip
    return json.dumps(body, separators=(",", ":"))


def is_part_message(body: object) -> bool:
    """Whether an SQS body is a part message, without parsing it: :func:`part_message` writes its one key first."""
    return isinstance(body, str) and body.startswith(f'{{"{PART_KEY}":')


def parse_part_message(body: str) -> tuple[ObjectRef, Part] | None:
    """The (object, part) of a part message; None when the body is not one. Raises InputError when it claims to
    be one and is malformed."""
    try:
        msg = json.loads(body)
    except (TypeError, ValueError):
        return None
    if not isinstance(msg, dict) or PART_KEY not in msg:
        return None
    try:
        p = msg[PART_KEY]
        ref = parse_key(str(p["bucket"]), str(p["key"]), str(p["etag"]), int(p["size"]), encoded=False)
        part = Part(int(p["index"]), int(p["count"]), int(p["start"]), int(p["end"]), bool(p["row_groups"]))
    except (KeyError, TypeError, ValueError) as err:
        raise InputError(f"a malformed part message: {err}") from err
    if not 0 <= part.index < part.count or part.start > part.end:
        raise InputError(f"a malformed part message: part {part}")
    return ref, part


def part_id(file_id: str, part: Part) -> str:
    return f"{file_id}.{part.index:05d}"


class FileSplitter:
    def __init__(
        self, store: Store, objects: ObjectStore, queue: MessageQueue | None, *, split_bytes: int = 256 << 20
    ) -> None:
        """``queue``: where parts are sent (None: files are not split here; parts are still handled)."""
        self.store, self.objects, self.queue, self.split_bytes = store, objects, queue, split_bytes

    def should_split(self, ref: ObjectRef) -> bool:
        return (
            self.queue is not None
            and ref.prefix == "predictions"
            and ref.size > self.split_bytes
            and (splittable(ref.key) or ref.size > GZIP_MAX_BYTES)
        )

    def split(self, ref: ObjectRef, file_id: str) -> list[Part]:
        """Plan the file's parts, queue them, mark the file split (its parts are then claimed one by one)."""
        if not splittable(ref.key):
            raise InputError(
                f"a gzip file cannot be split, and one of {ref.size / 2**30:.1f} GiB does not fit one function's 15 "
                f"minutes (at most {GZIP_MAX_BYTES >> 30} GiB): write smaller files, or uncompressed ones",
                key=ref.key,
            )
        metadata = None
        if ref.key.lower().endswith((".parquet", ".pq")):
            import pyarrow as pa
            import pyarrow.parquet as pq

            try:
                metadata = pq.ParquetFile(self.objects.open_seekable(ref.key)).metadata
            except (pa.ArrowException, OSError) as err:
                raise InputError(f"not a readable Parquet file ({type(err).__name__})", key=ref.key) from err
        from driftline.io.readers import FileFormat, detect_format  # pyarrow: only where files are read

        whole = ""
        if detect_format(ref.key)[0] is FileFormat.CSV:
            parts, whole = self._plan_csv(ref)
        else:
            parts = plan_parts(ref.key, ref.size, part_bytes=self.split_bytes, parquet_metadata=metadata)
        assert self.queue is not None  # should_split said so
        self.queue.send_batch([part_message(ref, p) for p in parts])
        self.store.finish_file(
            file_id, status="split", reason=f"queued in {len(parts)} part{'s' * (len(parts) > 1)}{whole}"
        )
        return parts

    def _plan_csv(self, ref: ObjectRef) -> tuple[list[Part], str]:
        """A CSV file cut at record boundaries (one streamed pass over it, ``driftline.io.parts.plan_csv``); one
        with a stray quote, which cannot be cut safely, in one part (profiled whole), or refused when too large."""
        raw = self.objects.open_from(ref.key, 0, etag=ref.etag)
        try:
            parts, stray = plan_csv(raw, ref.size, part_bytes=self.split_bytes)
        finally:
            raw.close()
        if parts is not None:
            return parts, ""
        why = (
            f"a quote at byte {stray:,} is not where RFC 4180 quoting puts one (a field's first or last character), "
            "so where its records end cannot be found without reading it whole"
        )
        if ref.size > CSV_WHOLE_MAX_BYTES:
            raise InputError(
                f"a CSV file of {ref.size / 2**30:.1f} GiB cannot be cut into parts: {why}; and one function cannot "
                f"profile more than {CSV_WHOLE_MAX_BYTES >> 30} GiB of CSV: quote fields as RFC 4180 does, or write "
                "smaller files",
                key=ref.key,
            )
        return [Part(0, 1, 0, ref.size, False)], f" (profiled whole: {why})"

    def open_part(self, ref: ObjectRef, part: Part) -> BinaryIO:
        """The part's rows as a stream the readers take (Parquet: the seekable file, read by row groups)."""
        if part.row_groups:
            return self.objects.open_seekable(ref.key)
        header = b""
        if part.index > 0 and ref.key.lower().removesuffix(".gz").endswith(".csv"):
            head = self.objects.open_from(ref.key, 0, etag=ref.etag)
            try:
                header = first_line(head)
            finally:
                head.close()
        raw = self.objects.open_from(ref.key, read_start(part), etag=ref.etag)
        return open_line_range(raw, part, header=header)

    def count_file_once(
        self, model_id: str, file_id: str, pid: str, profiles: dict[Any, Profile]
    ) -> dict[Any, Profile]:
        """The part's profiles with ``files`` 1 where this part claimed the file's (window, segment), else 0."""
        out = {}
        for (ws, seg), prof in profiles.items():
            owned = prof.files > 0 and self.store.claim_file_window(model_id, ws, seg, file_id=file_id, part=pid)
            out[(ws, seg)] = dataclasses.replace(prof, files=1 if owned else 0)
        return out
