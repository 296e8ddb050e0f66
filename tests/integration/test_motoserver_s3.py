"""The local cloud's moto server patches for large objects (driftline.cli.local.motoserver): a ranged GET reads only
its range, a multipart upload is completed part by part; the answers are moto's own (bytes, ETag, errors)."""

from __future__ import annotations

import hashlib
import os
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws
from moto.s3.models import FakeKey, FakeMultipart
from moto.s3.responses import S3Response

from driftline.cli.local import motoserver

MIB = 1 << 20


@pytest.fixture
def s3(monkeypatch: pytest.MonkeyPatch) -> Any:
    whole_reads = []
    original = motoserver._key_value

    def counted(key: FakeKey) -> bytes:
        whole_reads.append(key.name)
        return original.fget(key)  # type: ignore[no-any-return]

    monkeypatch.setattr(motoserver, "_key_value", property(counted, original.fset))
    monkeypatch.setattr(FakeKey, "value", property(motoserver._value, motoserver._set_value))
    monkeypatch.setattr(S3Response, "key_response", motoserver._ranged_key_response)
    monkeypatch.setattr(FakeMultipart, "complete", motoserver._complete_streamed)
    with mock_aws():
        client = boto3.client("s3", region_name="us-east-1")
        client.create_bucket(Bucket="big")
        client.whole_reads = whole_reads
        yield client


def upload(s3: Any, key: str, parts: list[bytes]) -> str:
    upload_id = s3.create_multipart_upload(Bucket="big", Key=key)["UploadId"]
    etags = [
        s3.upload_part(Bucket="big", Key=key, UploadId=upload_id, PartNumber=n, Body=body)["ETag"]
        for n, body in enumerate(parts, start=1)
    ]
    done = s3.complete_multipart_upload(
        Bucket="big", Key=key, UploadId=upload_id,
        MultipartUpload={"Parts": [{"PartNumber": n, "ETag": e} for n, e in enumerate(etags, start=1)]},
    )  # fmt: skip
    return str(done["ETag"])


def test_a_multipart_upload_completes_with_moto_s_bytes_and_etag(s3: Any) -> None:
    parts = [os.urandom(5 * MIB), os.urandom(5 * MIB), os.urandom(MIB)]
    etag = upload(s3, "k", parts)
    digests = b"".join(hashlib.md5(p).digest() for p in parts)
    assert etag.strip('"') == f"{hashlib.md5(digests).hexdigest()}-3"
    obj = s3.get_object(Bucket="big", Key="k")
    assert obj["ContentLength"] == 11 * MIB
    assert obj["Body"].read() == b"".join(parts)


def test_a_part_too_small_or_unknown_is_refused_as_moto_does(s3: Any) -> None:
    with pytest.raises(ClientError, match="EntityTooSmall"):
        upload(s3, "small", [b"a" * 100, b"b" * 100])
    upload_id = s3.create_multipart_upload(Bucket="big", Key="bad")["UploadId"]
    with pytest.raises(ClientError, match="InvalidPart"):
        s3.complete_multipart_upload(
            Bucket="big", Key="bad", UploadId=upload_id,
            MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": '"0123"'}]},
        )  # fmt: skip


def test_ranged_gets_read_only_their_range(s3: Any) -> None:
    data = os.urandom(12 * MIB)
    s3.put_object(Bucket="big", Key="r", Body=data)
    s3.whole_reads.clear()
    for first, last in [(0, 99), (5 * MIB, 9 * MIB - 1), (len(data) - 10, len(data) + 50)]:
        got = s3.get_object(Bucket="big", Key="r", Range=f"bytes={first}-{last}")
        assert got["Body"].read() == data[first : last + 1]
        assert got["ContentRange"] == f"bytes {first}-{min(last, len(data) - 1)}/{len(data)}"
    assert s3.get_object(Bucket="big", Key="r", Range="bytes=-100")["Body"].read() == data[-100:]
    assert s3.whole_reads == []  # no ranged GET read the whole object
    with pytest.raises(ClientError, match="InvalidRange"):
        s3.get_object(Bucket="big", Key="r", Range=f"bytes={len(data) + 1}-")
    assert s3.get_object(Bucket="big", Key="r")["Body"].read() == data  # a plain GET: the whole object
    assert s3.whole_reads == ["r"]


def test_a_multipart_upload_with_a_checksum_gets_moto_s_checksum(s3: Any) -> None:
    from moto.s3.utils import compute_checksum

    parts = [os.urandom(5 * MIB), os.urandom(2 * MIB)]
    key = "crc"
    upload_id = s3.create_multipart_upload(Bucket="big", Key=key, ChecksumAlgorithm="CRC32")["UploadId"]
    done = [
        s3.upload_part(Bucket="big", Key=key, UploadId=upload_id, PartNumber=n, Body=b, ChecksumAlgorithm="CRC32")
        for n, b in enumerate(parts, start=1)
    ]
    s3.complete_multipart_upload(
        Bucket="big", Key=key, UploadId=upload_id,
        MultipartUpload={"Parts": [{"PartNumber": n, "ETag": d["ETag"], "ChecksumCRC32": d["ChecksumCRC32"]}
                                   for n, d in enumerate(done, start=1)]},
    )  # fmt: skip
    expected = compute_checksum(b"".join(compute_checksum(p, "CRC32", encode_base64=False) for p in parts), "CRC32")
    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.s3.models import s3_backends

    stored = s3_backends[DEFAULT_ACCOUNT_ID]["aws"].buckets["big"].keys[key]
    assert stored.checksum_value == expected.decode()
    assert s3.get_object(Bucket="big", Key=key)["Body"].read() == b"".join(parts)
