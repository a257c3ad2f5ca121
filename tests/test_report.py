"""The in-trial reporting helper speaks the collector's language."""

from __future__ import annotations

import io
import math

import pytest

from tunery.collect.stdout import StdOutCollector
from tunery.report import format_metrics, report


def test_line_round_trips_through_the_stdout_collector(tmp_path) -> None:  # type: ignore[no-untyped-def]
    buf = io.StringIO()
    report(loss=0.25, accuracy=1e-07, step=3, file=buf)
    report(loss=math.nan, file=buf)
    assert buf.getvalue().splitlines()[0] == "step=3 loss=0.25 accuracy=1e-07"
    log = tmp_path / "out.log"
    log.write_text(buf.getvalue())
    records, _ = StdOutCollector(["loss", "accuracy"]).read(str(log), None, final=True)
    assert [(r.name, r.value, r.step) for r in records] == [
        ("loss", 0.25, 3),
        ("accuracy", 1e-07, 3),
        ("loss", None, None),
    ]


def test_bad_input_is_refused() -> None:
    with pytest.raises(ValueError, match="at least one metric"):
        format_metrics()
    with pytest.raises(ValueError, match="cannot be collected"):
        format_metrics(**{"val acc": 1.0})
