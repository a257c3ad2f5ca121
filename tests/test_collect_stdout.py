"""StdOutCollector: Katib's TEXT parsing rules, our NaN/step additions, incremental reading."""

from __future__ import annotations

import math
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tunery.collect import stdout
from tunery.collect.stdout import (
    DEFAULT_FILTER,
    StdOutCollector,
    TextLineParser,
    parse_timestamp,
    parse_value,
)
from tunery.errors import SpecError
from tunery.model import MetricRecord

T0 = datetime(2024, 1, 31, 12, 0, tzinfo=UTC).timestamp()


def parse(
    line: str, names: tuple[str, ...] = ("loss", "accuracy"), filters: tuple[str, ...] = ()
) -> list[MetricRecord]:
    return TextLineParser(names, filters)(line)


def write(path: Path, text: str | bytes, mode: str = "a") -> None:
    data = text.encode() if isinstance(text, str) else text
    with open(path, mode + "b") as f:
        f.write(data)


# --------------------------------------------------------------------------- line parsing


def test_default_regex_is_katibs() -> None:
    assert DEFAULT_FILTER == r"([\w|-]+)\s*=\s*([+-]?\d*(\.\d+)?([Ee][+-]?\d+)?)"


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("loss=0.3", 0.3),
        ("loss = .98", 0.98),
        ("loss=-7.53e-05", -7.53e-05),
        ("loss=-7.53e+05", -7.53e05),
        ("loss=1E0", 1.0),
        ("loss=1.23E10", 1.23e10),
        ("loss=+4", 4.0),
        ("loss=12", 12.0),
    ],
)
def test_katib_number_forms(text: str, value: float) -> None:
    assert parse(text) == [MetricRecord("loss", value)]


def test_all_matches_on_a_line_are_taken() -> None:
    records = parse("epoch 3: loss=0.5, accuracy=0.8 loss=0.4 other=1")
    assert records == [
        MetricRecord("loss", 0.5),
        MetricRecord("accuracy", 0.8),
        MetricRecord("loss", 0.4),
    ]


def test_line_must_name_a_metric_and_names_must_match_exactly() -> None:
    assert parse("val_loss=0.3") == []  # contains "loss" but the name is val_loss
    assert parse("nothing here=1") == []
    assert parse("loss-x=1") == []
    assert parse("my-metric=2", names=("my-metric",)) == [MetricRecord("my-metric", 2.0)]


def test_unparsable_values_are_skipped() -> None:
    assert parse("loss=abc accuracy=0.5") == [MetricRecord("accuracy", 0.5)]
    assert parse("loss=") == []
    assert parse("loss=.") == []


@pytest.mark.parametrize("word", ["nan", "NaN", "inf", "-inf", "+Infinity", "INF"])
def test_nan_and_inf_are_unavailable(word: str) -> None:
    assert parse(f"loss={word} accuracy=0.5") == [
        MetricRecord("loss", None),
        MetricRecord("accuracy", 0.5),
    ]


def test_words_starting_with_nan_or_inf_are_not_values() -> None:
    assert parse("loss=information") == []
    assert parse("loss=nanometer") == []


def test_overflow_is_unavailable() -> None:
    assert parse("loss=1e999") == [MetricRecord("loss", None)]


def test_timestamps() -> None:
    [r] = parse("2024-01-31T12:00:00Z loss=1")
    assert r.timestamp == T0
    [r] = parse("2024-01-31T12:00:00.123456789Z loss=1")
    assert r.timestamp is not None and math.isclose(r.timestamp, T0 + 0.123456789, abs_tol=1e-6)
    [r] = parse("2024-01-31T14:00:00+02:00 loss=1")
    assert r.timestamp == T0
    [r] = parse("2024-01-31T07:30:00.5-04:30 loss=1")
    assert r.timestamp == T0 + 0.5
    [r] = parse("epoch 1 loss=1")
    assert r.timestamp is None
    [r] = parse("2024-13-31T12:00:00Z loss=1")  # month 13
    assert r.timestamp is None
    [r] = parse("[2024-01-31T12:00:00Z] loss=1")
    assert r.timestamp is None


@pytest.mark.parametrize(
    "text",
    ["2024-01-31", "2024-01-31 12:00:00Z", "2024-01-31T12:00:00", "2024-01-31T12:00:00+2:00", "x"],
)
def test_not_timestamps(text: str) -> None:
    assert parse_timestamp(text) is None


def test_parse_value() -> None:
    assert parse_value(" 1.5 ") == (True, 1.5)
    assert parse_value("1_000") == (False, None)  # Python's float() would take it
    assert parse_value("nan") == (True, None)
    assert parse_value("0x10") == (False, None)


def test_step_and_epoch_attach_to_the_line() -> None:
    assert parse("step=7 loss=0.1") == [MetricRecord("loss", 0.1, step=7)]
    assert parse("epoch=2 loss=0.1") == [MetricRecord("loss", 0.1, step=2)]
    assert parse("epoch=2 step=70 loss=0.1") == [MetricRecord("loss", 0.1, step=70)]
    assert parse("epoch=2.5 loss=0.1") == [MetricRecord("loss", 0.1)]
    # A metric named epoch is both a record and the step.
    assert parse("epoch=3 loss=1", names=("loss", "epoch")) == [
        MetricRecord("epoch", 3.0, step=3),
        MetricRecord("loss", 1.0, step=3),
    ]


def test_custom_filters() -> None:
    filters = (r"(\w+):\s*([+-]?\d+(\.\d+)?)", r"\{(\w+)\|(\d+)\}")
    assert parse("loss: 0.5 {accuracy|1} accuracy=9", filters=filters) == [
        MetricRecord("loss", 0.5),
        MetricRecord("accuracy", 1.0),
    ]
    # A custom regex may capture nan itself.
    assert parse("loss: nan", filters=(r"(\w+):\s*(\S+)",)) == [MetricRecord("loss", None)]


#: Katib's examples/v1beta1/nas/darts-cpu.yaml metricsFormat.
DARTS_FILTER = r"([\w-]+)=(Genotype.*)"
GENOTYPE = (
    "Genotype(normal=[[('max_pooling_3x3',0),('max_pooling_3x3',1)]],normal_concat=range(2,3),"
    "reduce=[[('max_pooling_3x3',0),('max_pooling_3x3',1)]],reduce_concat=range(2,3))"
)


def test_a_custom_filter_keeps_a_string_value_verbatim_as_katib_stores_it() -> None:
    got = parse(f"Best-Genotype={GENOTYPE}", names=("Best-Genotype",), filters=(DARTS_FILTER,))
    assert got == [MetricRecord("Best-Genotype", None, text=GENOTYPE)]
    # Numbers stay numbers (no text); surrounding blanks are stripped, an empty value skipped.
    filters = (r"(\w+)\s*=\s*(.*)",)
    assert parse("loss = 0.25", filters=filters) == [MetricRecord("loss", 0.25)]
    assert parse("loss = best one ", filters=filters) == [
        MetricRecord("loss", None, text="best one")
    ]
    assert parse("loss =  ", filters=filters) == []
    # The default filter captures numbers only: a string is skipped, as before.
    assert parse(f"loss={GENOTYPE}") == []


def test_a_huge_string_value_is_cut_at_max_text() -> None:
    value = "G" * (stdout.MAX_TEXT + 10)
    (record,) = parse(f"loss={value}", filters=(r"(\w+)=(\S+)",))
    assert record.value is None and record.text is not None
    assert len(record.text) == stdout.MAX_TEXT and record.text.endswith("…")
    assert record.text[:-1] == value[: stdout.MAX_TEXT - 1]


def test_a_trial_log_with_its_genotype_line_is_collected(tmp_path: Path) -> None:
    """The lines Katib's darts trial prints: only the Best-Genotype line is a record."""
    log = tmp_path / "output.log"
    write(
        log,
        ">>> All Primitives\nEpoch 0: accuracy=0.31\n"
        f"Model genotype = {GENOTYPE}\nBest-Genotype={GENOTYPE}\n",
    )
    collector = StdOutCollector(["Best-Genotype"], [DARTS_FILTER])
    records, cursor = collector.read(str(log), None, final=True)
    assert records == [MetricRecord("Best-Genotype", None, text=GENOTYPE)]
    assert cursor["line"] == 4


@pytest.mark.parametrize("bad", [r"(\w+)=", r"(unclosed", r"\w+=\d+"])
def test_bad_filters_are_spec_errors(bad: str) -> None:
    with pytest.raises(SpecError) as info:
        StdOutCollector(["loss"], [bad])
    assert info.value.path == "spec.metricsCollectorSpec.source.filter.metricsFormat[0]"


@given(st.text(max_size=200))
def test_any_text_never_raises(text: str) -> None:
    for record in parse(text):
        assert record.value is None or math.isfinite(record.value)


# --------------------------------------------------------------------------- reading


def test_incremental_reading(tmp_path: Path) -> None:
    path = tmp_path / "output.log"
    c = StdOutCollector(["loss"])
    write(path, "loss=1\nnoise\nloss=2")
    records, cursor = c.read(str(path), None)
    assert [r.value for r in records] == [1.0]
    assert cursor == {"offset": 13, "line": 2, "skipping": False}
    write(path, "5\nloss=3\n")
    records, cursor = c.read(str(path), cursor)
    assert [r.value for r in records] == [25.0, 3.0]
    assert cursor["line"] == 4
    assert c.read(str(path), cursor) == ([], cursor)


def test_partial_line_and_final(tmp_path: Path) -> None:
    path = tmp_path / "output.log"
    c = StdOutCollector(["loss"])
    write(path, "loss=1")
    records, cursor = c.read(str(path), None)
    assert records == []
    assert cursor["offset"] == 0
    records, cursor = c.read(str(path), cursor, final=True)
    assert records == [MetricRecord("loss", 1.0)]
    assert cursor == {"offset": 6, "line": 1, "skipping": False}


def test_missing_file(tmp_path: Path) -> None:
    cursor = {"offset": 0, "line": 0}
    records, new = StdOutCollector(["loss"]).read(str(tmp_path / "nope"), cursor, final=True)
    assert records == []
    assert new["offset"] == 0 and new["line"] == 0


def test_garbage_and_invalid_utf8(tmp_path: Path) -> None:
    path = tmp_path / "output.log"
    write(path, b"\x00\xff\xfeloss=\xff1\n\x07\xff loss=2\x1b[0m\nloss\xe2\x82=3\n")
    records, _ = StdOutCollector(["loss"]).read(str(path), None)
    assert [r.value for r in records] == [2.0]


def test_crlf_lines(tmp_path: Path) -> None:
    path = tmp_path / "output.log"
    write(path, "loss=1\r\nloss=2\r\n")
    records, _ = StdOutCollector(["loss"]).read(str(path), None)
    assert [r.value for r in records] == [1.0, 2.0]


def test_huge_line_is_skipped(tmp_path: Path) -> None:
    path = tmp_path / "output.log"
    huge = "loss=9 " + "x" * (stdout.MAX_LINE + 10)
    write(path, f"loss=1\n{huge}\nloss=2\n")
    records, cursor = StdOutCollector(["loss"]).read(str(path), None)
    assert [r.value for r in records] == [1.0, 2.0]
    assert cursor["line"] == 3
    assert cursor["offset"] == path.stat().st_size


def test_huge_line_across_reads(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(stdout, "MAX_LINE", 32)
    monkeypatch.setattr(stdout, "_BLOCK", 8)
    path = tmp_path / "output.log"
    c = StdOutCollector(["loss"])
    write(path, "loss=1\nloss=5 " + "y" * 40)
    records, cursor = c.read(str(path), None)
    assert [r.value for r in records] == [1.0]
    assert cursor["skipping"] is True
    write(path, "z" * 40)
    records, cursor = c.read(str(path), cursor)
    assert records == []
    write(path, "\nloss=2\n" + "loss=3 " + "w" * 25 + "\n")
    records, cursor = c.read(str(path), cursor)
    assert [r.value for r in records] == [2.0, 3.0]
    assert cursor == {"offset": path.stat().st_size, "line": 4, "skipping": False}
    # Read in one go, the result is the same.
    records, _ = StdOutCollector(["loss"]).read(str(path), None)
    assert [r.value for r in records] == [1.0, 2.0, 3.0]


def test_huge_partial_line_at_the_end(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(stdout, "MAX_LINE", 16)
    path = tmp_path / "output.log"
    write(path, "loss=1\nloss=2" + "x" * 30)
    records, cursor = StdOutCollector(["loss"]).read(str(path), None, final=True)
    assert [r.value for r in records] == [1.0]
    assert cursor == {"offset": path.stat().st_size, "line": 2, "skipping": False}


def test_old_cursor_without_skipping_key(tmp_path: Path) -> None:
    path = tmp_path / "output.log"
    write(path, "loss=1\nloss=2\n")
    records, _ = StdOutCollector(["loss"]).read(str(path), {"offset": 7, "line": 1})
    assert records == [MetricRecord("loss", 2.0)]


# --------------------------------------------------------------------------- bounded reads


def test_a_flood_is_read_in_bounded_slices(tmp_path: Path) -> None:
    path = tmp_path / "output.log"
    n = 3 * stdout.READ_RECORDS + 5
    write(path, "".join(f"noise\nloss={i}\n" for i in range(n)) + "loss=-1")
    c = StdOutCollector(["loss"])
    values: list[float | None] = []
    cursor = None
    reads = 0
    while True:
        records, cursor = c.read(str(path), cursor, final=True)
        reads += 1
        assert len(records) <= stdout.READ_RECORDS
        values.extend(r.value for r in records)
        if not cursor.get("more"):
            break
    assert reads == 4
    # Every line once, in order; the partial last line only with the read that reached the end.
    assert values == [float(i) for i in range(n)] + [-1.0]
    assert cursor == {"offset": path.stat().st_size, "line": 2 * n + 1, "skipping": False}


def test_a_read_stops_after_its_bytes(tmp_path: Path) -> None:
    path = tmp_path / "output.log"
    write(path, "noise " * 10 + "\n" + "loss=1\n" * 3)
    c = StdOutCollector(["loss"], max_bytes=20)
    records, cursor = c.read(str(path), None)
    assert records == [] and cursor == {"offset": 61, "line": 1, "skipping": False, "more": True}
    records, cursor = c.read(str(path), cursor)
    assert [r.value for r in records] == [1.0, 1.0, 1.0] and "more" not in cursor


def test_an_endless_line_is_skipped_in_bounded_reads(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(stdout, "MAX_LINE", 16)
    monkeypatch.setattr(stdout, "_BLOCK", 8)
    path = tmp_path / "output.log"
    write(path, "loss=1\n" + "x" * 400 + "\nloss=2\n")
    c = StdOutCollector(["loss"], max_bytes=64)
    got: list[float | None] = []
    cursor: dict[str, Any] = {}
    reads = 0
    while reads < 100:
        reads += 1
        before = cursor.get("offset", 0)
        records, cursor = c.read(str(path), cursor)
        got.extend(r.value for r in records)
        # A read consumes its bytes, plus at most a line's worth and a block.
        assert cursor["offset"] - before <= 64 + 16 + 8
        if not cursor.get("more"):
            break
    assert reads > 5
    assert got == [1.0, 2.0]


# --------------------------------------------------------------------------- Kubeflow JSON lines


def test_kubeflow_json_line_gives_the_metrics_with_step_and_timestamp() -> None:
    # What kubeflow.optimizer.report_metrics prints: sorted keys, string values.
    line = (
        '{"accuracy":"0.92","epoch":2,"loss":"0.31","step":7,'
        '"timestamp":"2024-01-31T12:00:00.250000+00:00"}'
    )
    assert parse(line) == [
        MetricRecord("loss", 0.31, T0 + 0.25, 7),
        MetricRecord("accuracy", 0.92, T0 + 0.25, 7),
    ]


def test_json_line_numbers_numeric_strings_and_nan() -> None:
    assert parse('  {"loss": 0.5, "accuracy": "1e-3"}  ') == [
        MetricRecord("loss", 0.5),
        MetricRecord("accuracy", 0.001),
    ]
    assert parse('{"loss": "nan", "accuracy": NaN}') == [
        MetricRecord("loss", None),
        MetricRecord("accuracy", None),
    ]
    assert parse('{"epoch": "3", "loss": 1}') == [MetricRecord("loss", 1.0, None, 3)]
    assert parse('{"loss": 1, "timestamp": 1706702400}') == [MetricRecord("loss", 1.0, T0)]
    # Only metric names give records; other numeric keys are fine.
    assert parse('{"lr": 0.1, "loss": 2}') == [MetricRecord("loss", 2.0)]


@pytest.mark.parametrize(
    "line",
    [
        '{"loss": "0.31"',  # cut short
        '{"loss": "0.31"} trailing',
        '[{"loss": 0.31}]',
        '{"loss": {"value": 0.31}}',
        '{"loss": true}',
        '{"loss": null}',
        '{"loss": "low"}',
        '{"loss": ' * 100_000 + "1" + "}" * 100_000,  # deeper than the JSON parser goes
    ],
)
def test_malformed_or_non_numeric_json_is_no_metrics_line(line: str) -> None:
    assert parse(line) == []


def test_a_json_log_line_that_is_not_metrics_is_parsed_by_the_filters() -> None:
    # A structured log line (a value is not a number): Katib's filter reads it as before.
    assert parse('{"level": "info", "msg": "epoch 2 loss=0.25"}') == [MetricRecord("loss", 0.25)]
    assert parse('{"loss": 0.1, "msg": "loss=0.2"}') == [MetricRecord("loss", 0.2)]


def test_filters_still_apply_to_other_lines_but_not_to_json_metric_lines() -> None:
    fmt = (r'"?(\w+)"?\s*:\s*"?([\d.]+)',)
    parser = TextLineParser(("loss",), fmt)
    assert parser("loss: 0.5") == [MetricRecord("loss", 0.5)]
    # Read once, as JSON (the filter would match it too).
    assert parser('{"loss": "0.4", "step": 2}') == [MetricRecord("loss", 0.4, None, 2)]
    assert parse("loss=0.3 step=4") == [MetricRecord("loss", 0.3, None, 4)]


def test_a_log_mixing_katib_and_json_lines_is_read_in_order(tmp_path: Path) -> None:
    path = tmp_path / "output.log"
    write(
        path,
        "epoch 1\nloss=0.9\n"
        '{"loss": "0.8", "step": 2}\n'
        '{"loss": "0.7",\n'  # broken: ignored like any other line
        "loss=0.6\n"
        '{"loss":0.5}',
    )
    c = StdOutCollector(["loss"])
    records, cursor = c.read(str(path), None)
    assert [r.value for r in records] == [0.9, 0.8, 0.6]
    records, _ = c.read(str(path), cursor, final=True)
    assert [r.value for r in records] == [0.5]
