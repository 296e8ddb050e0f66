"""One contract for each port, run over the in-memory fake and the AWS adapter on moto; then what only the AWS
adapters have (pagination, retries, error translation, ranged reads, the SNS envelope in SQS)."""

from __future__ import annotations

import hashlib
import io
import json
import math
import threading
from collections.abc import Callable
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from botocore.stub import Stubber

from driftline.adapters.dynamodb import DynamoTable
from driftline.adapters.memory import MemoryAlertSink, MemoryObjectStore, MemoryTable
from driftline.adapters.s3 import RangedReader, S3ObjectStore
from driftline.adapters.sns import SnsAlertSink
from driftline.core.errors import StorageError
from driftline.services.ports import Condition, ConditionFailed, NotFound, Put

pytestmark = pytest.mark.integration


def _no_sleep(_: float) -> None:
    return None


@pytest.fixture(params=["memory", "dynamodb"])
def table(request: pytest.FixtureRequest) -> Any:
    if request.param == "memory":
        return MemoryTable("driftline-test")
    client = request.getfixturevalue("dynamodb_client")
    return DynamoTable(client, request.getfixturevalue("table_name"), sleep=_no_sleep)


@pytest.fixture(params=["memory", "s3"])
def store(request: pytest.FixtureRequest) -> Any:
    if request.param == "memory":
        return MemoryObjectStore("driftline-test-data")
    return S3ObjectStore(request.getfixturevalue("s3_client"), request.getfixturevalue("bucket"))


@pytest.fixture(params=["memory", "sns"])
def sink(request: pytest.FixtureRequest) -> Any:
    if request.param == "memory":
        return MemoryAlertSink()
    return SnsAlertSink(request.getfixturevalue("sns_client"), request.getfixturevalue("topic_arn"))


@pytest.fixture
def dynamo(dynamodb_client: Any, table_name: str) -> DynamoTable:
    return DynamoTable(dynamodb_client, table_name, sleep=_no_sleep)


def _sks(items: Any) -> list[str]:
    return [i["sk"] for i in items]


# -- Table: get, put, conditions, delete ----------------------------------------------------------------------------


def test_put_then_get_returns_the_item_and_absent_keys_give_none(table: Any) -> None:
    # Given an item written
    table.put({"pk": "P", "sk": "S", "name": "churn", "n": 3})
    # When it is read back, and a key never written is read
    # Then the first is found as written, the second is None
    assert table.get("P", "S") == {"pk": "P", "sk": "S", "name": "churn", "n": 3}
    assert table.get("P", "other") is None


def test_condition_absent_refuses_to_overwrite(table: Any) -> None:
    table.put({"pk": "P", "sk": "S", "v": 1}, condition=Condition(absent=True))
    with pytest.raises(ConditionFailed, match=r"pk='P', sk='S'"):
        table.put({"pk": "P", "sk": "S", "v": 2}, condition=Condition(absent=True))
    assert table.get("P", "S")["v"] == 1


def test_condition_attribute_equals(table: Any) -> None:
    # Given an item at version 1
    table.put({"pk": "P", "sk": "HEAD", "version": 1})
    # When a writer expecting version 1 moves it to 2, and a stale writer expecting 1 again tries 3
    table.put({"pk": "P", "sk": "HEAD", "version": 2}, condition=Condition(attr="version", equals=1))
    with pytest.raises(ConditionFailed):
        table.put({"pk": "P", "sk": "HEAD", "version": 3}, condition=Condition(attr="version", equals=1))
    # Then the first write holds; equality is by value across int/float, never across types
    assert table.get("P", "HEAD")["version"] == 2
    table.put({"pk": "P", "sk": "HEAD", "version": 4}, condition=Condition(attr="version", equals=2.0))
    with pytest.raises(ConditionFailed):
        table.put({"pk": "P", "sk": "HEAD", "version": 5}, condition=Condition(attr="version", equals="4"))
    with pytest.raises(ConditionFailed):  # an item that does not exist has no attribute equal to anything
        table.put({"pk": "P", "sk": "NEW", "version": 1}, condition=Condition(attr="version", equals=0))


def test_condition_attribute_absent(table: Any) -> None:
    table.put({"pk": "P", "sk": "S", "claimed_by": None}, condition=Condition(attr="owner", equals=None))
    table.put({"pk": "P", "sk": "S", "owner": "a"}, condition=Condition(attr="owner", equals=None))
    with pytest.raises(ConditionFailed):
        table.put({"pk": "P", "sk": "S", "owner": "b"}, condition=Condition(attr="owner", equals=None))
    assert table.get("P", "S") == {"pk": "P", "sk": "S", "owner": "a"}


def test_delete_plain_and_conditional(table: Any) -> None:
    table.put({"pk": "P", "sk": "A", "seq": "t1"})
    table.put({"pk": "P", "sk": "B"})
    with pytest.raises(ConditionFailed):
        table.delete("P", "A", condition=Condition(attr="seq", equals="t0"))
    table.delete("P", "A", condition=Condition(attr="seq", equals="t1"))
    table.delete("P", "B")
    table.delete("P", "never-written")  # deleting nothing is not an error
    assert table.get("P", "A") is None
    assert table.get("P", "B") is None


def test_keys_must_be_non_empty_strings(table: Any) -> None:
    with pytest.raises(StorageError, match="'sk'"):
        table.put({"pk": "P", "v": 1})
    with pytest.raises(StorageError, match="'pk'"):
        table.put({"pk": "", "sk": "S"})
    with pytest.raises(StorageError, match="'gsi1pk'"):
        table.put({"pk": "P", "sk": "S", "gsi1pk": 7, "gsi1sk": "x"})


# -- Table: add ---------------------------------------------------------------------------------------------------


def test_add_creates_then_increments_counters_and_sets_values(table: Any) -> None:
    # When counters are added twice, with values set on the way
    first = table.add("P", "C", {"rows": 10, "score": 0.1}, set_values={"status": "open"})
    second = table.add("P", "C", {"rows": 5, "score": 0.2}, set_values={"status": "done", "note": None})
    # Then the item was created, then incremented (in decimal: 0.1 + 0.2 is 0.3), and the new item is returned
    assert first == {"pk": "P", "sk": "C", "rows": 10, "score": 0.1, "status": "open"}
    assert second == {"pk": "P", "sk": "C", "rows": 15, "score": 0.3, "status": "done", "note": None}
    assert table.get("P", "C") == second


def test_add_with_only_set_values_or_nothing(table: Any) -> None:
    assert table.add("P", "STATE", {}, set_values={"last": 5}) == {"pk": "P", "sk": "STATE", "last": 5}
    assert table.add("P", "STATE", {}) == {"pk": "P", "sk": "STATE", "last": 5}
    assert table.add("P", "EMPTY", {}) == {"pk": "P", "sk": "EMPTY"}
    assert table.get("P", "EMPTY") == {"pk": "P", "sk": "EMPTY"}


def test_add_refuses_key_attributes_and_non_numbers(table: Any) -> None:
    with pytest.raises(ValueError, match="'sk'"):
        table.add("P", "C", {"sk": 1})
    with pytest.raises(ValueError, match="'n'"):
        table.add("P", "C", {"n": True})
    table.put({"pk": "P", "sk": "C", "n": "text"})
    with pytest.raises(StorageError):
        table.add("P", "C", {"n": 1})


def test_add_is_atomic_under_concurrent_writers(table: Any, request: pytest.FixtureRequest) -> None:
    if isinstance(table, DynamoTable):
        # moto's UpdateItem is a read-modify-write without a lock, so threads lose increments on moto (not on
        # DynamoDB, where ADD is atomic): check instead that the adapter sends one ADD, not a read then a write.
        sent: list[dict[str, Any]] = []
        client = request.getfixturevalue("dynamodb_client")
        client.meta.events.register("provide-client-params.dynamodb.*", lambda params, **_: sent.append(params))
        table.add("P", "COUNT", {"n": 1, "m": 2.5}, set_values={"at": 5})
        assert [p.get("UpdateExpression") for p in sent] == ["ADD #n0 :v0, #n1 :v1 SET #n2 = :v2"]
        return
    # Given 4 threads each adding 1, 25 times, to the same counter

    def work() -> None:
        for _ in range(25):
            table.add("P", "COUNT", {"n": 1})

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    # Then no increment was lost
    assert table.get("P", "COUNT")["n"] == 100


# -- Table: query -------------------------------------------------------------------------------------------------


@pytest.fixture
def filled(table: Any) -> Any:
    table.batch_put(
        [{"pk": "W", "sk": f"A#{i:03d}", "i": i} for i in range(10)]
        + [{"pk": "W", "sk": f"B#{i:03d}", "i": i} for i in range(5)]
        + [{"pk": "OTHER", "sk": "A#000"}]
    )
    return table


def test_query_ranges_prefix_reverse_and_limit(filled: Any) -> None:
    t = filled
    a = [f"A#{i:03d}" for i in range(10)]
    b = [f"B#{i:03d}" for i in range(5)]
    assert _sks(t.query("W")) == a + b
    assert _sks(t.query("W", sk_prefix="B#")) == b
    assert _sks(t.query("W", sk_from="A#003", sk_to="A#005")) == a[3:6]
    assert _sks(t.query("W", sk_from="A#008")) == a[8:] + b
    assert _sks(t.query("W", sk_to="A#001")) == a[:2]
    assert _sks(t.query("W", sk_prefix="A#", sk_from="A#007")) == a[7:]
    assert _sks(t.query("W", sk_prefix="A#", sk_to="B#999")) == a
    assert _sks(t.query("W", sk_prefix="A#", sk_from="A#002", sk_to="A#004", reverse=True)) == a[4:1:-1]
    assert _sks(t.query("W", sk_prefix="A#", sk_to="B#999", reverse=True)) == a[::-1]
    assert _sks(t.query("W", reverse=True)) == (a + b)[::-1]
    assert _sks(t.query("W", limit=3)) == a[:3]
    assert _sks(t.query("W", sk_prefix="B#", reverse=True, limit=2)) == b[::-1][:2]
    assert _sks(t.query("W", limit=0)) == []
    assert list(t.query("NOTHING")) == []
    with pytest.raises(ValueError, match="sk_from"):
        t.query("W", sk_from="B", sk_to="A")
    with pytest.raises(ValueError, match="index"):
        t.query("W", index="gsi9")


def test_query_on_gsi1_is_sparse_and_sorted_by_gsi1sk(table: Any) -> None:
    table.batch_put(
        [
            {"pk": f"MET#m#{col}", "sk": f"{ws:012d}", "gsi1pk": "MET#m", "gsi1sk": f"{ws:012d}#{col}", "v": ws}
            for ws in (300, 100, 200)
            for col in ("age", "income")
        ]
        + [{"pk": "MET#m#x", "sk": "000000000100", "gsi1pk": "MET#m"}]  # no gsi1sk: not in the index
    )
    found = list(table.query("MET#m", index="gsi1"))
    assert [i["gsi1sk"] for i in found] == sorted(f"{ws:012d}#{c}" for ws in (100, 200, 300) for c in ("age", "income"))
    assert found[0] == {
        "pk": "MET#m#age",
        "sk": "000000000100",
        "gsi1pk": "MET#m",
        "gsi1sk": "000000000100#age",
        "v": 100,
    }
    window = list(table.query("MET#m", index="gsi1", sk_prefix="000000000200#"))
    assert [i["pk"] for i in window] == ["MET#m#age", "MET#m#income"]
    latest = list(table.query("MET#m", index="gsi1", reverse=True, limit=1))
    assert latest[0]["gsi1sk"] == "000000000300#income"
    between = list(table.query("MET#m", index="gsi1", sk_from="000000000150", sk_to="000000000250"))
    assert len(between) == 2


def test_query_follows_pages_beyond_one_megabyte(table: Any, request: pytest.FixtureRequest) -> None:
    # Given 300 items of 8 KB (2.4 MB: DynamoDB returns at most 1 MB per page)
    pad = "x" * 8192
    table.batch_put([{"pk": "BIG", "sk": f"{i:05d}", "pad": pad} for i in range(300)])
    calls = []
    if isinstance(table, DynamoTable):
        client = request.getfixturevalue("dynamodb_client")
        client.meta.events.register("before-call.dynamodb.Query", lambda **_: calls.append(1))
    # When the partition is read whole, from the end, from a range and with a limit beyond one page
    everything = _sks(table.query("BIG"))
    backwards = _sks(table.query("BIG", reverse=True))
    limited = _sks(table.query("BIG", sk_from="00010", limit=250))
    # Then every item comes, in order, across pages
    expected = [f"{i:05d}" for i in range(300)]
    assert everything == expected
    assert backwards == expected[::-1]
    assert limited == expected[10:260]
    if isinstance(table, DynamoTable):
        assert len(calls) >= 3 + 3 + 2  # more than one page per query: pagination happened


# -- Table: batches and transactions ------------------------------------------------------------------------------


def test_batch_put_of_60_items_and_duplicate_keys(table: Any) -> None:
    items = [{"pk": "B", "sk": f"{i:03d}", "i": i} for i in range(60)]
    table.batch_put([*items, {"pk": "B", "sk": "000", "i": "last wins"}])
    found = list(table.query("B"))
    assert len(found) == 60
    assert found[0]["i"] == "last wins"
    assert found[59] == {"pk": "B", "sk": "059", "i": 59}
    table.batch_put([])


def test_batch_get_returns_the_items_that_exist(table: Any) -> None:
    table.batch_put([{"pk": "G", "sk": f"{i:03d}", "i": i} for i in range(150)])
    keys = [("G", f"{i:03d}") for i in range(0, 300, 2)] + [("G", "000"), ("NOPE", "x")]
    found = table.batch_get(keys)
    assert sorted(i["i"] for i in found) == list(range(0, 150, 2))
    assert table.batch_get([]) == []


def test_transact_applies_every_operation(table: Any) -> None:
    # Given a head at version 1
    table.put({"pk": "T", "sk": "HEAD", "version": 1})
    # When a transaction puts, every condition holding
    table.transact(
        [
            Put({"pk": "T", "sk": "NEW", "v": 1}, condition=Condition(absent=True)),
            Put({"pk": "T", "sk": "HEAD", "version": 2}, condition=Condition(attr="version", equals=1)),
            Put({"pk": "T", "sk": "OTHER"}, condition=Condition(attr="gone", equals=None)),
        ]
    )
    # Then all of it happened
    assert _sks(table.query("T")) == ["HEAD", "NEW", "OTHER"]
    assert table.get("T", "NEW") == {"pk": "T", "sk": "NEW", "v": 1}
    assert table.get("T", "HEAD") == {"pk": "T", "sk": "HEAD", "version": 2}
    table.transact([])


def test_transact_is_all_or_nothing(table: Any) -> None:
    # Given a head at version 1
    table.put({"pk": "T", "sk": "HEAD", "version": 1})
    table.put({"pk": "T", "sk": "KEEP"})
    # When a transaction one of whose conditions fails also puts elsewhere
    with pytest.raises(ConditionFailed, match="HEAD"):
        table.transact(
            [
                Put({"pk": "T", "sk": "NEW"}),
                Put({"pk": "T", "sk": "KEEP", "changed": True}),
                Put({"pk": "T", "sk": "HEAD", "version": 3}, condition=Condition(attr="version", equals=2)),
            ]
        )
    # Then none of it happened
    assert _sks(table.query("T")) == ["HEAD", "KEEP"]
    assert table.get("T", "KEEP") == {"pk": "T", "sk": "KEEP"}
    # And an absent condition on an existing item fails it too
    with pytest.raises(ConditionFailed, match="KEEP"):
        table.transact(
            [Put({"pk": "T", "sk": "NEW"}), Put({"pk": "T", "sk": "KEEP"}, condition=Condition(absent=True))]
        )
    assert table.get("T", "NEW") is None


def test_transact_refuses_too_many_or_repeated_items(table: Any) -> None:
    with pytest.raises(ValueError, match="at most 100"):
        table.transact([Put({"pk": "T", "sk": f"{i}"}) for i in range(101)])
    with pytest.raises(ValueError, match="same item"):
        table.transact([Put({"pk": "T", "sk": "A"}), Put({"pk": "T", "sk": "A", "v": 2})])


# -- Table: values ------------------------------------------------------------------------------------------------


def test_values_round_trip(table: Any) -> None:
    # Given every kind of value an item may hold
    item = {
        "pk": "V",
        "sk": "ALL",
        "int": 42,
        "big": 12345678901234567890123,
        "int64": 2**63 - 1,
        "past_float": 2**53 + 1,
        "neg": -7,
        "float": 0.1,
        "tiny": -2.5e-7,
        "large": 1.5e100,
        "sum_sq": 1.2345678e16,
        "whole": 3.0,
        "bytes": b"\x00\xff\x10",
        "empty_bytes": b"x",
        "text": "héllo ✓",
        "empty": "",
        "none": None,
        "yes": True,
        "no": False,
        "nested": {"list": [1, 2.5, "x", b"y", {"z": None}, [True]], "map": {}, "deep": {"f": 0.333}},
        "empty_list": [],
    }
    table.put(item)
    got = table.get("V", "ALL")
    # Then ints, non-integral floats, bytes, bools, None and nesting come back as written;
    # an integral float comes back as an int of the same value (DynamoDB keeps no number type)
    assert got == item
    for name in ("int", "big", "int64", "past_float"):
        assert type(got[name]) is int
    assert type(got["float"]) is float
    assert got["float"] == 0.1
    assert type(got["tiny"]) is float
    assert got["tiny"] == -2.5e-7
    assert type(got["large"]) is float
    assert got["large"] == 1.5e100
    assert type(got["sum_sq"]) is float
    assert got["sum_sq"] == 1.2345678e16
    assert type(got["whole"]) is int
    assert got["whole"] == 3
    assert type(got["bytes"]) is bytes
    assert type(got["yes"]) is bool
    assert type(got["no"]) is bool
    assert type(got["nested"]["list"][1]) is float
    assert type(got["nested"]["list"][3]) is bytes
    assert got["nested"]["deep"]["f"] == 0.333


def test_stored_values_cannot_be_changed_through_references(table: Any) -> None:
    item: dict[str, Any] = {"pk": "M", "sk": "1", "list": [1, 2], "map": {"a": 1}}
    table.put(item)
    item["list"].append(3)
    item["map"]["a"] = 2
    got = table.get("M", "1")
    got["list"].append(4)
    assert table.get("M", "1") == {"pk": "M", "sk": "1", "list": [1, 2], "map": {"a": 1}}


@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf])
def test_nan_and_infinities_are_refused_naming_the_attribute(table: Any, bad: float) -> None:
    with pytest.raises(StorageError, match="'psi'"):
        table.put({"pk": "N", "sk": "1", "psi": bad})
    with pytest.raises(StorageError, match=r"'scores\.ks\[1\]'"):
        table.put({"pk": "N", "sk": "2", "scores": {"ks": [0.1, bad]}})
    with pytest.raises(StorageError, match="'n'"):
        table.add("N", "3", {"n": bad})
    assert table.get("N", "1") is None


def test_numbers_out_of_dynamodb_range_are_refused(table: Any) -> None:
    with pytest.raises(StorageError, match="'huge'"):
        table.put({"pk": "N", "sk": "1", "huge": 10**40})
    with pytest.raises(StorageError, match="'far'"):
        table.put({"pk": "N", "sk": "1", "far": 1e200})


def test_oversized_items_are_refused_naming_the_key_and_size(table: Any) -> None:
    # Given an item of 280 KB (below the limit; moto 5.0 counts binary as base64, 373 KB) and one of 410 KB
    table.put({"pk": "BLOB", "sk": "ok", "data": b"\x01" * 280_000, "parts": 1})
    # When the second is written, alone, in a batch or in a transaction
    # Then it is refused before anything is written, with its key and size in the message
    big = {"pk": "BLOB", "sk": "too-big", "data": b"\x01" * 410_000}
    with pytest.raises(StorageError, match=r"pk='BLOB', sk='too-big'.*4100\d\d bytes"):
        table.put(big)
    with pytest.raises(StorageError, match="too-big"):
        table.batch_put([{"pk": "BLOB", "sk": "small"}, big])
    with pytest.raises(StorageError, match="too-big"):
        table.transact([Put(big)])
    assert _sks(table.query("BLOB")) == ["ok"]
    assert len(table.get("BLOB", "ok")["data"]) == 280_000


# -- Table: fault injection and error translation -----------------------------------------------------------------


def test_memory_table_fault_injection() -> None:
    t = MemoryTable()
    t.put({"pk": "P", "sk": "S"})
    t.fail_next("get", StorageError("injected", retryable=True))
    t.fail_next("query", StorageError("injected query"))
    with pytest.raises(StorageError, match="injected") as info:
        t.get("P", "S")
    assert info.value.retryable
    assert t.get("P", "S") == {"pk": "P", "sk": "S"}  # only the next call failed
    results = t.query("P")
    with pytest.raises(StorageError, match="injected query"):
        list(results)
    with pytest.raises(ValueError, match="unknown operation"):
        t.fail_next("scan", StorageError("x"))


@pytest.mark.parametrize(
    "code",
    [
        "ProvisionedThroughputExceededException",
        "ThrottlingException",
        "RequestLimitExceeded",
        "InternalServerError",
        "ServiceUnavailable",
    ],
)
def test_dynamo_throttling_and_server_errors_are_retryable(
    dynamo: DynamoTable, dynamodb_client: Any, code: str
) -> None:
    with Stubber(dynamodb_client) as stub:
        stub.add_client_error("get_item", service_error_code=code, http_status_code=400)
        stub.add_client_error("put_item", service_error_code=code, http_status_code=400)
        with pytest.raises(StorageError, match=rf"driftline-test.*pk='P', sk='S'.*{code}") as got:
            dynamo.get("P", "S")
        assert got.value.retryable
        assert isinstance(got.value.__cause__, Exception)
        with pytest.raises(StorageError) as put:
            dynamo.put({"pk": "P", "sk": "S"})
        assert put.value.retryable


def test_dynamo_other_errors_are_not_retryable(dynamodb_client: Any, dynamo: DynamoTable) -> None:
    with Stubber(dynamodb_client) as stub:
        stub.add_client_error("query", service_error_code="ValidationException", http_status_code=400)
        with pytest.raises(StorageError, match="ValidationException") as got:
            list(dynamo.query("P"))
        assert not got.value.retryable
    missing = DynamoTable(dynamodb_client, "no-such-table")
    with pytest.raises(StorageError, match=r"no-such-table.*not found") as got:
        missing.get("P", "S")
    assert not got.value.retryable
    assert not isinstance(got.value, ConditionFailed)


def test_dynamo_batch_put_retries_unprocessed_items(dynamodb_client: Any, table_name: str) -> None:
    # Given a client whose first BatchWriteItem leaves one item unprocessed
    sleeps: list[float] = []
    t = DynamoTable(dynamodb_client, table_name, max_attempts=3, sleep=sleeps.append)
    left = {table_name: [{"PutRequest": {"Item": {"pk": {"S": "U"}, "sk": {"S": "1"}}}}]}
    with Stubber(dynamodb_client) as stub:
        stub.add_response("batch_write_item", {"UnprocessedItems": left})
        stub.add_response("batch_write_item", {"UnprocessedItems": {}})
        # When a batch is written, then it succeeds after one backoff
        t.batch_put([{"pk": "U", "sk": "1"}, {"pk": "U", "sk": "2"}])
        assert len(sleeps) == 1
        assert 0 <= sleeps[0] <= 0.05
        stub.assert_no_pending_responses()
        # When the items stay unprocessed, then a retryable StorageError after max_attempts
        for _ in range(3):
            stub.add_response("batch_write_item", {"UnprocessedItems": left})
        with pytest.raises(StorageError, match=r"unprocessed after 3 attempts.*\('U', '1'\)") as got:
            t.batch_put([{"pk": "U", "sk": "1"}])
        assert got.value.retryable


def test_dynamo_batch_get_retries_unprocessed_keys(dynamodb_client: Any, table_name: str) -> None:
    t = DynamoTable(dynamodb_client, table_name, sleep=_no_sleep)
    key2 = {"pk": {"S": "U"}, "sk": {"S": "2"}}
    with Stubber(dynamodb_client) as stub:
        stub.add_response(
            "batch_get_item",
            {
                "Responses": {table_name: [{"pk": {"S": "U"}, "sk": {"S": "1"}, "n": {"N": "1"}}]},
                "UnprocessedKeys": {table_name: {"Keys": [key2], "ConsistentRead": True}},
            },
        )
        stub.add_response("batch_get_item", {"Responses": {table_name: [{**key2, "n": {"N": "2.5"}}]}})
        found = t.batch_get([("U", "1"), ("U", "2")])
    assert sorted(found, key=lambda i: i["sk"]) == [{"pk": "U", "sk": "1", "n": 1}, {"pk": "U", "sk": "2", "n": 2.5}]


def test_dynamo_cancelled_transactions(dynamodb_client: Any, dynamo: DynamoTable) -> None:
    with Stubber(dynamodb_client) as stub:
        stub.add_client_error(
            "transact_write_items",
            service_error_code="TransactionCanceledException",
            modeled_fields={"CancellationReasons": [{"Code": "None"}, {"Code": "TransactionConflict"}]},
        )
        with pytest.raises(StorageError, match="TransactionConflict") as got:
            dynamo.transact([Put({"pk": "T", "sk": "1"}), Put({"pk": "T", "sk": "2"})])
        assert got.value.retryable
        assert not isinstance(got.value, ConditionFailed)


# -- ObjectStore --------------------------------------------------------------------------------------------------


def _parquet_bytes(rows: int = 20_000) -> tuple[bytes, pa.Table]:
    data = pa.table(
        {
            "id": pa.array(range(rows), pa.int64()),
            "score": pa.array([i / rows for i in range(rows)], pa.float64()),
            "segment": pa.array([f"s{i % 7}" for i in range(rows)]),
        }
    )
    buf = io.BytesIO()
    pq.write_table(data, buf, row_group_size=3_000)
    return buf.getvalue(), data


def test_store_put_open_get_and_etag(store: Any) -> None:
    body = b"timestamp,prediction\n" + b"1,0.5\n" * 10_000
    store.put_bytes("in/model/part-0.csv", body, content_type="text/csv")
    stream = store.open("in/model/part-0.csv")
    pieces = []
    while chunk := stream.read(4096):
        pieces.append(chunk)
    stream.close()
    assert b"".join(pieces) == body
    assert store.get_bytes("in/model/part-0.csv") == body
    (listed,) = store.list_objects("in/model/part-0.csv")
    assert listed.etag == hashlib.md5(body).hexdigest()  # single-part upload


def test_store_missing_objects_raise_not_found_naming_the_key(store: Any) -> None:
    for call in (store.open, store.get_bytes, store.open_seekable):
        with pytest.raises(NotFound, match=r"in/missing.parquet"):
            call("in/missing.parquet")


def test_store_open_seekable_reads_parquet_in_batches(store: Any) -> None:
    # Given a Parquet object of several row groups
    blob, data = _parquet_bytes()
    store.put_bytes("in/model/day.parquet", blob)
    # When pyarrow iterates its batches through the seekable reader
    with store.open_seekable("in/model/day.parquet") as f:
        pf = pq.ParquetFile(f)
        batches = list(pf.iter_batches(batch_size=4096, columns=["id", "score"]))
    # Then every row comes back
    assert pf.metadata.num_row_groups == 7
    assert sum(b.num_rows for b in batches) == data.num_rows
    assert pa.Table.from_batches(batches).equals(data.select(["id", "score"]))


def test_s3_open_is_a_stream_not_a_whole_read(s3_client: Any, bucket: str) -> None:
    store = S3ObjectStore(s3_client, bucket)
    store.put_bytes("k", b"abc" * 1000)
    body = store.open("k")
    assert not body.seekable()
    assert body.read(3) == b"abc"
    body.close()


def test_ranged_reader_random_access(s3_client: Any, bucket: str) -> None:
    # Given an object of 10 000 bytes and a reader with a 1 000-byte read-ahead
    data = bytes(range(256)) * 39 + bytes(16)
    s3_client.put_object(Bucket=bucket, Key="r", Body=data)
    raw = RangedReader(s3_client, bucket, "r", len(data), read_ahead=1000)
    # When it is read at scattered places, across window edges, and past the end
    raw.seek(9_990)
    assert raw.read(50) == data[9_990:]  # the window is moved back to end at the object's end
    assert raw.read(10) == b""
    raw.seek(995)
    assert raw.read(10) == data[995:1005]
    raw.seek(1990)
    assert raw.read(10) == data[1990:1995]  # a raw read stops at its window's edge
    assert raw.read(10) == data[1995:2005]
    raw.seek(-20, io.SEEK_END)
    assert raw.read(20) == data[-20:]
    raw.seek(5, io.SEEK_SET)
    raw.seek(5, io.SEEK_CUR)
    assert raw.tell() == 10
    # Then a buffered reader over it reads anything, and requests are few
    buffered = io.BufferedReader(RangedReader(s3_client, bucket, "r", len(data), read_ahead=1000))
    assert buffered.read() == data
    buffered.seek(1234)
    assert buffered.read(4000) == data[1234:5234]
    assert raw.requests == 4
    with pytest.raises(ValueError, match="negative"):
        raw.seek(-1)
    raw.close()
    with pytest.raises(ValueError, match="closed"):
        raw.read(1)
    empty = RangedReader(s3_client, bucket, "r", 0)
    assert empty.read() == b""


def test_ranged_reader_detects_an_overwrite(s3_client: Any, bucket: str) -> None:
    # Given a reader opened on one version of an object, with a small read-ahead
    store = S3ObjectStore(s3_client, bucket, read_ahead=1000)
    store.put_bytes("v", b"a" * 100_000)
    f = store.open_seekable("v")
    assert f.read(10) == b"a" * 10
    # When the object is overwritten, and the reader needs another range
    store.put_bytes("v", b"b" * 100_000)
    f.seek(50_000)
    # Then it refuses to mix versions
    with pytest.raises(StorageError, match="changed") as got:
        f.read(10)
    assert got.value.retryable


def test_s3_errors_are_translated(s3_client: Any, bucket: str) -> None:
    store = S3ObjectStore(s3_client, bucket)
    with Stubber(s3_client) as stub:
        stub.add_client_error("get_object", service_error_code="SlowDown", http_status_code=503)
        stub.add_client_error("head_object", service_error_code="403", http_status_code=403)
        with pytest.raises(StorageError, match=r"s3://driftline-test-data/k.*SlowDown") as got:
            store.open("k")
        assert got.value.retryable
        with pytest.raises(StorageError, match="403") as denied:
            store.open_seekable("k")
        assert not denied.value.retryable
        assert not isinstance(denied.value, NotFound)
    with pytest.raises(StorageError, match="bucket 'no-such-bucket'"):
        S3ObjectStore(s3_client, "no-such-bucket").put_bytes("k", b"x")


# -- AlertSink ----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("subject", "fault"),
    [
        ("x" * 100, "fewer than 100"),
        ("line one\nline two", "line breaks"),
        ("drift détecté", "ASCII"),
        (" leading space", "begin"),
        ("", "non-empty"),
    ],
)
def test_sink_refuses_subjects_sns_would_refuse(sink: Any, subject: str, fault: str) -> None:
    with pytest.raises(ValueError, match=fault):
        sink.publish(subject=subject, messages={"default": "m"}, attributes={})


def test_sink_refuses_bad_messages_and_attributes(sink: Any) -> None:
    with pytest.raises(ValueError, match="'default'"):
        sink.publish(subject="s", messages={"email": "m"}, attributes={})
    with pytest.raises(ValueError, match=r"AWS.model"):
        sink.publish(subject="s", messages={"default": "m"}, attributes={"AWS.model": "x"})
    with pytest.raises(ValueError, match="'model'"):
        sink.publish(subject="s", messages={"default": "m"}, attributes={"model": ""})
    with pytest.raises(ValueError, match="at most 10"):
        sink.publish(subject="s", messages={"default": "m"}, attributes={f"a{i}": "v" for i in range(11)})


def test_sink_publish_returns_a_message_id(sink: Any) -> None:
    subject = "[driftline] churn-v3: drift on income (PSI 0.31 > 0.2)"
    message_id = sink.publish(subject=subject, messages={"default": "text"}, attributes={"model": "churn-v3"})
    assert isinstance(message_id, str)
    assert message_id
    if isinstance(sink, MemoryAlertSink):
        assert sink.published == [
            {
                "message_id": message_id,
                "subject": subject,
                "messages": {"default": "text"},
                "attributes": {"model": "churn-v3"},
            }
        ]


def test_sns_delivers_the_default_message_in_the_sqs_envelope(
    sns_client: Any, topic_arn: str, alerts_queue_url: str, read_alerts: Callable[[str], list[dict[str, Any]]]
) -> None:
    # Given a queue subscribed to the topic (raw delivery off)
    sink = SnsAlertSink(sns_client, topic_arn)
    # When an alert with a default and an email message is published
    detail = json.dumps({"model": "churn-v3", "rule": "psi", "value": 0.31})
    message_id = sink.publish(
        subject="[driftline] churn-v3: drift on income",
        messages={"default": detail, "email": "Drift on income: PSI 0.31 > 0.2"},
        attributes={"model": "churn-v3", "severity": "critical"},
    )
    # Then the queue holds one SNS envelope carrying the default message (no "sqs" key), the subject and
    # the String attributes
    [envelope] = read_alerts(alerts_queue_url)
    assert envelope["Type"] == "Notification"
    assert envelope["MessageId"] == message_id
    assert envelope["TopicArn"] == topic_arn
    assert envelope["Subject"] == "[driftline] churn-v3: drift on income"
    assert json.loads(envelope["Message"]) == {"model": "churn-v3", "rule": "psi", "value": 0.31}
    assert envelope["MessageAttributes"] == {
        "model": {"Type": "String", "Value": "churn-v3"},
        "severity": {"Type": "String", "Value": "critical"},
    }


def test_sns_delivers_the_sqs_message_when_there_is_one(
    sns_client: Any, topic_arn: str, alerts_queue_url: str, read_alerts: Callable[[str], list[dict[str, Any]]]
) -> None:
    sink = SnsAlertSink(sns_client, topic_arn)
    sink.publish(subject="s", messages={"default": "for everyone", "sqs": "for queues"}, attributes={})
    [envelope] = read_alerts(alerts_queue_url)
    assert envelope["Message"] == "for queues"
    assert read_alerts(alerts_queue_url) == []


def test_sns_errors_are_translated(sns_client: Any, topic_arn: str) -> None:
    sink = SnsAlertSink(sns_client, topic_arn)
    with Stubber(sns_client) as stub:
        stub.add_client_error("publish", service_error_code="Throttled", http_status_code=400)
        with pytest.raises(StorageError, match="Throttled") as got:
            sink.publish(subject="s", messages={"default": "m"}, attributes={})
        assert got.value.retryable
    gone = SnsAlertSink(sns_client, topic_arn + "-deleted")
    with pytest.raises(StorageError, match="not found") as missing:
        gone.publish(subject="s", messages={"default": "m"}, attributes={})
    assert not missing.value.retryable
