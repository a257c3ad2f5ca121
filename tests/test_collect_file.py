"""FileCollector (TEXT and JSON) and the collector factory."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from tunery.collect import FileCollector, PushCollector, StdOutCollector, make_collector
from tunery.errors import SpecError, TuneryError
from tunery.model import (
    CollectorKind,
    FileFormat,
    FileSystemKind,
    MetricRecord,
    MetricsCollectorSpec,
)

T0 = datetime(2024, 1, 31, 12, 0, tzinfo=UTC).timestamp()
NAMES = ["loss", "accuracy"]


def read_json(tmp_path: Path, *lines: str, final: bool = True) -> list[MetricRecord]:
    path = tmp_path / "metrics.json"
    path.write_text("".join(line + "\n" for line in lines))
    records, _ = FileCollector(NAMES, FileFormat.JSON).read(str(path), None, final=final)
    return records


# --------------------------------------------------------------------------- JSON


def test_json_strings_and_numbers(tmp_path: Path) -> None:
    records = read_json(
        tmp_path,
        json.dumps({"loss": "0.5", "accuracy": 0.75, "other": 1}),
        json.dumps({"accuracy": 1}),
    )
    assert records == [
        MetricRecord("loss", 0.5),
        MetricRecord("accuracy", 0.75),
        MetricRecord("accuracy", 1.0),
    ]


def test_json_timestamps(tmp_path: Path) -> None:
    records = read_json(
        tmp_path,
        json.dumps({"loss": 1, "timestamp": "2024-01-31T12:00:00Z"}),
        json.dumps({"loss": 2, "timestamp": "2024-01-31T13:00:00.25+01:00"}),
        json.dumps({"loss": 3, "timestamp": 1706702400.5}),
        json.dumps({"loss": 4, "timestamp": "yesterday"}),
        json.dumps({"loss": 5, "timestamp": True}),
    )
    assert [r.timestamp for r in records] == [T0, T0 + 0.25, 1706702400.5, None, None]


def test_json_nan_and_bad_values(tmp_path: Path) -> None:
    records = read_json(
        tmp_path,
        '{"loss": NaN, "accuracy": "inf"}',
        '{"loss": "abc", "accuracy": null}',
        '{"loss": true, "accuracy": [1]}',
        '{"loss": {"v": 1}, "accuracy": "-Infinity"}',
    )
    assert records == [
        MetricRecord("loss", None),
        MetricRecord("accuracy", None),
        MetricRecord("accuracy", None),
    ]


def test_json_bad_lines_are_ignored(tmp_path: Path) -> None:
    records = read_json(
        tmp_path,
        "not json",
        '{"loss": 1',
        "[1, 2]",
        '"loss"',
        "",
        "   ",
        '  {"loss": 2}  ',
    )
    assert records == [MetricRecord("loss", 2.0)]


def test_json_step(tmp_path: Path) -> None:
    records = read_json(
        tmp_path,
        json.dumps({"loss": 1, "step": 10, "epoch": 1}),
        json.dumps({"loss": 2, "epoch": "2"}),
        json.dumps({"loss": 3, "step": 1.5}),
    )
    assert [r.step for r in records] == [10, 2, None]


def test_json_partial_line_waits(tmp_path: Path) -> None:
    path = tmp_path / "m.json"
    path.write_text('{"loss": 1}\n{"loss": ')
    c = FileCollector(NAMES, "JSON")
    records, cursor = c.read(str(path), None)
    assert records == [MetricRecord("loss", 1.0)]
    with open(path, "a") as f:
        f.write("2}\n")
    records, cursor = c.read(str(path), cursor)
    assert records == [MetricRecord("loss", 2.0)]


def test_json_ignores_filters(tmp_path: Path) -> None:
    path = tmp_path / "m.json"
    path.write_text('{"loss": 1}\n')
    c = FileCollector(NAMES, FileFormat.JSON, [r"(\w+):(\d+)"])
    assert c.read(str(path), None)[0] == [MetricRecord("loss", 1.0)]


# --------------------------------------------------------------------------- TEXT


def test_text_like_stdout(tmp_path: Path) -> None:
    path = tmp_path / "metrics.log"
    path.write_text("2024-01-31T12:00:00Z loss=0.5 accuracy=0.9\nepoch=3 loss=nan\n")
    records, _ = FileCollector(NAMES).read(str(path), None)
    assert records == [
        MetricRecord("loss", 0.5, T0),
        MetricRecord("accuracy", 0.9, T0),
        MetricRecord("loss", None, None, 3),
    ]
    stdout_records, _ = StdOutCollector(NAMES).read(str(path), None)
    assert stdout_records == records


def test_text_files_read_json_lines_by_the_filters_only(tmp_path: Path) -> None:
    # As on Katib: a TEXT file is read by the filters; JSON lines need format JSON.
    path = tmp_path / "metrics.log"
    path.write_text('{"loss": "0.5"}\n{"accuracy": 0.25, "msg": "loss=0.75"}\n')
    records, _ = FileCollector(NAMES).read(str(path), None)
    assert records == [MetricRecord("loss", 0.75)]
    stdout_records, _ = StdOutCollector(NAMES).read(str(path), None)
    assert stdout_records == [MetricRecord("loss", 0.5), MetricRecord("loss", 0.75)]


def test_text_with_filters(tmp_path: Path) -> None:
    path = tmp_path / "metrics.log"
    path.write_text("loss: 0.5 | accuracy: 0.25\n")
    records, _ = FileCollector(NAMES, FileFormat.TEXT, [r"(\w+):\s*(\d+\.\d+)"]).read(
        str(path), None
    )
    assert [r.value for r in records] == [0.5, 0.25]


def test_unknown_format() -> None:
    with pytest.raises(TuneryError, match="format"):
        FileCollector(NAMES, "XML")


# --------------------------------------------------------------------------- factory


def test_factory_kinds() -> None:
    assert isinstance(make_collector(MetricsCollectorSpec(), NAMES), StdOutCollector)
    spec = MetricsCollectorSpec(
        kind=CollectorKind.FILE,
        path="out/metrics.json",
        path_kind=FileSystemKind.FILE,
        file_format=FileFormat.JSON,
    )
    collector = make_collector(spec, NAMES)
    assert isinstance(collector, FileCollector)
    assert collector.file_format is FileFormat.JSON
    text = make_collector(MetricsCollectorSpec(kind=CollectorKind.FILE, path="m.log"), NAMES)
    assert isinstance(text, FileCollector) and text.file_format is FileFormat.TEXT
    assert make_collector(MetricsCollectorSpec(kind=CollectorKind.NONE), NAMES) is None
    assert isinstance(
        make_collector(MetricsCollectorSpec(kind=CollectorKind.PUSH), NAMES), PushCollector
    )


def test_factory_passes_filters(tmp_path: Path) -> None:
    spec = MetricsCollectorSpec(metrics_format=(r"(\w+):\s*(\d+)",))
    collector = make_collector(spec, NAMES)
    assert collector is not None
    path = tmp_path / "out.log"
    path.write_text("loss: 3 accuracy=1\n")
    assert collector.read(str(path), None)[0] == [MetricRecord("loss", 3.0)]
    with pytest.raises(SpecError):
        make_collector(MetricsCollectorSpec(metrics_format=("(broken",)), NAMES)


def test_factory_refusals() -> None:
    with pytest.raises(SpecError, match="TensorFlowEvent metrics collector needs a path"):
        make_collector(MetricsCollectorSpec(kind=CollectorKind.TENSORFLOW_EVENT), NAMES)
    for kind in (CollectorKind.PROMETHEUS, CollectorKind.CUSTOM):
        with pytest.raises(SpecError, match="not supported locally") as err:
            make_collector(MetricsCollectorSpec(kind=kind), NAMES)
        assert err.value.hint
    with pytest.raises(SpecError, match="needs a path"):
        make_collector(MetricsCollectorSpec(kind=CollectorKind.FILE), NAMES)
    directory = MetricsCollectorSpec(
        kind=CollectorKind.FILE, path="logs", path_kind=FileSystemKind.DIRECTORY
    )
    with pytest.raises(SpecError, match="directory"):
        make_collector(directory, NAMES)
