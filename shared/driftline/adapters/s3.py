"""``ObjectStore`` over one S3 bucket, with the boto3 client; and a seekable reader over ranged GETs.

``open()`` returns the streaming body of ``get_object`` (read it in pieces; never whole); a connection that fails while
it is read (reset, timed out, or a body cut short) raises a retryable ``StorageError`` naming the object, as every
other failure of the adapter does. Formats that need
random access (Parquet reads its footer first) use ``open_seekable()``: a buffered reader over ``RangedReader``,
which fetches ``bytes=a-b`` ranges with a read-ahead buffer, pinned to the object's ETag so a concurrent
overwrite is detected instead of mixing two versions. pyarrow's own S3 filesystem is not used: it bypasses
boto3 (and so moto and the client configuration).
"""

from __future__ import annotations

import io
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any, BinaryIO, cast

import urllib3.exceptions
from botocore.exceptions import BotoCoreError, ClientError

from driftline.adapters._errors import translate
from driftline.core.errors import StorageError
from driftline.services.ports import ListedObject, NotFound

if TYPE_CHECKING:
    from _typeshed import WriteableBuffer
    from mypy_boto3_s3.client import S3Client

READ_AHEAD = 8 * 1024 * 1024

_NOT_FOUND = frozenset({"NoSuchKey", "404", "NotFound"})
_RETRYABLE = frozenset(
    {"SlowDown", "503", "500", "ServiceUnavailable", "InternalError", "RequestTimeout", "ThrottlingException"}
)
_CHANGED = frozenset({"PreconditionFailed", "412"})


def _translate(err: Exception, bucket: str, key: str) -> StorageError:
    where = f"s3://{bucket}/{key}"
    special: dict[str, Callable[[str], StorageError]] = {
        "NoSuchBucket": lambda m: StorageError(f"{where}: bucket {bucket!r} does not exist")
    }
    special.update(dict.fromkeys(_NOT_FOUND, lambda m: NotFound(f"{where}: no such object")))
    special.update(
        dict.fromkeys(
            _CHANGED, lambda m: StorageError(f"{where}: the object changed while it was being read", retryable=True)
        )
    )
    return translate(err, where, retryable=_RETRYABLE, special=special)


_READ_ERRORS = (ClientError, BotoCoreError, urllib3.exceptions.HTTPError)  # what reading a body can raise


class StreamedBody(io.RawIOBase):
    """The streaming body of one ``get_object``, not seekable: read in pieces, its failures translated."""

    def __init__(self, body: Any, bucket: str, key: str) -> None:
        super().__init__()
        self._body = body
        self.bucket = bucket
        self.key = key

    @property
    def name(self) -> str:
        return f"s3://{self.bucket}/{self.key}"

    def readable(self) -> bool:
        return True

    def read(self, size: int | None = -1) -> bytes:
        if self.closed:
            raise ValueError(f"{self.name}: I/O operation on a closed body")
        try:
            return bytes(self._body.read(None if size is None or size < 0 else size))
        except _READ_ERRORS as err:
            raise _translate(err, self.bucket, self.key) from err

    def readall(self) -> bytes:
        return self.read(-1)

    def readinto(self, buffer: WriteableBuffer) -> int:
        out = memoryview(buffer).cast("B")
        data = self.read(len(out))
        out[: len(data)] = data
        return len(data)

    def close(self) -> None:
        if not self.closed:
            self._body.close()
        super().close()


class RangedReader(io.RawIOBase):
    """A seekable raw stream over one S3 object, read through ranged GETs of at least ``read_ahead`` bytes.

    ``etag`` (from the HEAD that gave ``size``) pins every range to one version of the object: if it changes
    meanwhile, reads raise a retryable ``StorageError``. Wrap it in ``io.BufferedReader`` for small reads."""

    def __init__(
        self,
        client: S3Client,
        bucket: str,
        key: str,
        size: int,
        *,
        etag: str | None = None,
        read_ahead: int = READ_AHEAD,
    ) -> None:
        super().__init__()
        if size < 0:
            raise ValueError(f"size must be >= 0, got {size}")
        if read_ahead < 1:
            raise ValueError(f"read_ahead must be >= 1, got {read_ahead}")
        self._client = client
        self.bucket = bucket
        self.key = key
        self.size = size
        self.etag = etag
        self._read_ahead = read_ahead
        self._pos = 0
        self._buf = b""
        self._buf_start = 0
        self.requests = 0  # ranged GETs made so far (for tests and metrics)

    @property
    def name(self) -> str:
        return f"s3://{self.bucket}/{self.key}"

    def _check_open(self) -> None:
        if self.closed:
            raise ValueError(f"{self.name}: I/O operation on a closed reader")

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        self._check_open()
        return self._pos

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        self._check_open()
        if whence == io.SEEK_SET:
            pos = offset
        elif whence == io.SEEK_CUR:
            pos = self._pos + offset
        elif whence == io.SEEK_END:
            pos = self.size + offset
        else:
            raise ValueError(f"invalid whence {whence}")
        if pos < 0:
            raise ValueError(f"{self.name}: negative seek position {pos}")
        self._pos = pos
        return pos

    def readinto(self, buffer: WriteableBuffer) -> int:
        self._check_open()
        out = memoryview(buffer).cast("B")
        wanted = len(out)
        if wanted == 0 or self._pos >= self.size:
            return 0
        offset = self._pos - self._buf_start
        if not 0 <= offset < len(self._buf):
            self._fill(self._pos, max(wanted, self._read_ahead))
            offset = self._pos - self._buf_start
        chunk = self._buf[offset : offset + wanted]
        out[: len(chunk)] = chunk
        self._pos += len(chunk)
        return len(chunk)

    def _fill(self, pos: int, length: int) -> None:
        # A window clipped by the end of the object is moved back to keep its length: a Parquet footer and the
        # metadata before it then come in one request.
        start = max(0, min(pos, self.size - length))
        end = min(self.size, start + length) - 1
        kwargs: dict[str, Any] = {"Bucket": self.bucket, "Key": self.key, "Range": f"bytes={start}-{end}"}
        if self.etag:
            kwargs["IfMatch"] = self.etag
        try:
            resp = self._client.get_object(**kwargs)
            data = resp["Body"].read()
        except _READ_ERRORS as err:
            raise _translate(err, self.bucket, self.key) from err
        self.requests += 1
        if len(data) != end - start + 1:
            raise StorageError(
                f"{self.name}: range {start}-{end} returned {len(data)} bytes; the object changed size?",
                retryable=True,
            )
        self._buf = data
        self._buf_start = start

    def close(self) -> None:
        self._buf = b""
        super().close()


class S3ObjectStore:
    """``ports.ObjectStore`` over one bucket. ``client`` is a boto3 S3 client created once by the runtime."""

    def __init__(self, client: S3Client, bucket: str, *, read_ahead: int = READ_AHEAD) -> None:
        self._client = client
        self.bucket = bucket
        self._read_ahead = read_ahead

    def open(self, key: str) -> BinaryIO:
        """The object's streaming body (not seekable; read it in pieces). Raises NotFound; reads raise a retryable
        StorageError when the connection fails."""
        try:
            resp = self._client.get_object(Bucket=self.bucket, Key=key)
        except (ClientError, BotoCoreError) as err:
            raise _translate(err, self.bucket, key) from err
        return cast(BinaryIO, StreamedBody(resp["Body"], self.bucket, key))

    def open_seekable(self, key: str) -> io.BufferedReader:
        """A seekable, buffered reader of the object through ranged GETs (for Parquet). Raises NotFound."""
        try:
            head = self._client.head_object(Bucket=self.bucket, Key=key)
        except (ClientError, BotoCoreError) as err:
            raise _translate(err, self.bucket, key) from err
        raw = RangedReader(
            self._client,
            self.bucket,
            key,
            int(head["ContentLength"]),
            etag=head.get("ETag"),
            read_ahead=self._read_ahead,
        )
        return io.BufferedReader(raw)

    def get_bytes(self, key: str) -> bytes:
        body = self.open(key)
        try:
            return body.read()
        finally:
            body.close()

    def get_range(self, key: str, start: int, end: int) -> bytes:
        """Bytes ``start`` to ``end`` (exclusive), in one ranged GET."""
        if end <= start:
            return b""
        try:
            resp = self._client.get_object(Bucket=self.bucket, Key=key, Range=f"bytes={start}-{end - 1}")
            return bytes(resp["Body"].read())
        except (ClientError, BotoCoreError) as err:
            raise _translate(err, self.bucket, key) from err

    def put_bytes(
        self,
        key: str,
        data: bytes,
        *,
        content_type: str = "application/octet-stream",
        storage_class: str | None = None,
    ) -> None:
        """Encryption is left to the bucket's default (SSE-S3 or SSE-KMS as configured on the bucket)."""
        request: dict[str, Any] = {"Bucket": self.bucket, "Key": key, "Body": data, "ContentType": content_type}
        if storage_class:
            request["StorageClass"] = storage_class
        try:
            self._client.put_object(**request)
        except (ClientError, BotoCoreError) as err:
            raise _translate(err, self.bucket, key) from err

    def open_from(self, key: str, start: int, *, etag: str) -> BinaryIO:
        """The object's body from byte ``start`` on, streamed, only if its ETag is still ``etag`` (a part of a split
        file must not mix two versions). Raises NotFound; a changed object is a retryable StorageError."""
        try:
            resp = self._client.get_object(Bucket=self.bucket, Key=key, Range=f"bytes={start}-", IfMatch=f'"{etag}"')
        except (ClientError, BotoCoreError) as err:
            raise _translate(err, self.bucket, key) from err
        return cast(BinaryIO, StreamedBody(resp["Body"], self.bucket, key))

    def list_objects(self, prefix: str) -> Iterator[ListedObject]:
        """``ports.ObjectLister``: ListObjectsV2 pages under ``prefix`` (1,000 keys a page), in key order."""
        kwargs: dict[str, Any] = {"Bucket": self.bucket, "Prefix": prefix}
        while True:
            try:
                resp = self._client.list_objects_v2(**kwargs)
            except (ClientError, BotoCoreError) as err:
                raise _translate(err, self.bucket, prefix) from err
            for o in resp.get("Contents", []):
                yield ListedObject(
                    str(o["Key"]),
                    str(o.get("ETag", "")).strip('"'),
                    int(o.get("Size", 0)),
                    o["LastModified"].timestamp(),
                )
            if not resp.get("IsTruncated"):
                return
            kwargs["ContinuationToken"] = resp["NextContinuationToken"]

    def notified_queues(self) -> dict[str, str]:
        """The bucket's S3 → SQS notifications: key prefix of each queue configuration's filter → queue ARN."""
        try:
            conf = self._client.get_bucket_notification_configuration(Bucket=self.bucket)
        except (ClientError, BotoCoreError) as err:
            raise _translate(err, self.bucket, "") from err
        out: dict[str, str] = {}
        for qc in conf.get("QueueConfigurations", []):
            rules = qc.get("Filter", {}).get("Key", {}).get("FilterRules", [])
            prefix = next((str(r["Value"]) for r in rules if str(r.get("Name", "")).lower() == "prefix"), "")
            out[prefix] = str(qc["QueueArn"])
        return out
