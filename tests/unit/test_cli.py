"""The command line without AWS: model validate, and profile's performance rows."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from driftline.cli.main import main
from driftline.testing import encode, generate
from tests.conftest import FIXTURES


def test_model_validate_prints_ok_or_every_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["model", "validate", str(FIXTURES / "churn-v3.yaml")]) == 0
    assert capsys.readouterr().out.startswith("OK churn-v3")
    bad = tmp_path / "bad.yaml"
    bad.write_text("model_id: x\ntask: nope\n")
    assert main(["model", "validate", str(bad)]) == 1
    err = capsys.readouterr().err
    assert "task:" in err and "window:" in err and "columns:" in err


def test_profile_counts_labelled_rows_for_performance(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # Given a reference and a current file of the demo's model, labels in the current file for some rows
    from driftline.testing import CONFIG_YAML

    config = tmp_path / "config.yaml"
    config.write_text(CONFIG_YAML)
    ref = tmp_path / "ref.parquet"
    ref.write_bytes(encode(generate(3_000, seed=1, start=1_763_856_000, span=3_599), "parquet"))
    cur_table = generate(1_000, seed=2, start=1_763_856_000, span=3_599)
    labels = cur_table.column("churned").to_pylist()
    cur_table = cur_table.set_column(
        cur_table.schema.get_field_index("churned"), "churned", [[v if i % 2 else None for i, v in enumerate(labels)]]
    )
    cur = tmp_path / "cur.parquet"
    cur.write_bytes(encode(cur_table, "parquet"))
    # When it is profiled
    assert main(["profile", str(cur), "--config", str(config), "--baseline", str(ref)]) == 0
    points = json.loads(capsys.readouterr().out)
    population = [p for p in points if p["segment"] is None]
    # Then volume counts every row, performance the labelled ones
    assert {p["rows"] for p in population if p["metric"] == "volume.rows"} == {1_000}
    assert {p["rows"] for p in population if p["metric"].startswith("performance.")} == {500}
