"""The collector contract suite.

:class:`CollectorContract` is a pytest test class every collector must pass; a test module
subclasses it and provides a ``collector_case`` fixture returning a :class:`CollectorCase`:
a factory of the collector and a hypothesis strategy of lines in its format (metric lines
mixed with noise).  The central property: however a file is split into appended chunks, and
whether or not the collector is re-created from a JSON cursor between reads (a controller
restart), incremental reading yields exactly the records of one read of the whole file.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tunery.collect.base import Collector
from tunery.model import MetricRecord


@dataclass(frozen=True)
class CollectorCase:
    """One collector implementation under test."""

    make: Callable[[], Collector]
    #: Lines (without their newline) in the collector's format, metric lines and noise.
    lines: st.SearchStrategy[str]
    #: A line that yields at least one record.
    sample_line: str
    #: The collector with small read bounds: ``make_bounded(max_records, max_bytes)``.
    make_bounded: Callable[[int, int], Collector] | None = None
    #: The most records one line (or event) yields.
    records_per_line: int = 4


def text_lines(metric_names: list[str]) -> st.SearchStrategy[str]:
    """TEXT lines: ``name=value`` pairs, timestamps, NaN, other names and arbitrary text."""
    names = st.sampled_from([*metric_names, "other", "step", "epoch"])
    numbers = st.one_of(
        st.integers(-1000, 1000).map(str),
        st.floats(allow_nan=False, allow_infinity=False, width=32).map(repr),
        st.sampled_from(["nan", "inf", "-inf", ".5", "1e-3", "abc", ""]),
    )
    pair = st.builds(
        lambda n, v, sep: f"{n}{sep}{v}", names, numbers, st.sampled_from(["=", " = "])
    )
    stamp = st.sampled_from(["", "2024-01-31T12:00:00Z ", "2024-01-31T12:00:00.123456789+02:00 "])
    metric_line = st.builds(
        lambda ts, pairs, glue: ts + glue.join(pairs),
        stamp,
        st.lists(pair, min_size=1, max_size=4),
        st.sampled_from([" ", ", ", "\t"]),
    )
    return st.one_of(metric_line, st.text(max_size=40))


def json_lines(metric_names: list[str]) -> st.SearchStrategy[str]:
    """JSON lines: objects with number/string metric values, timestamps, noise."""
    value = st.one_of(
        st.floats(allow_nan=False, allow_infinity=False, width=32),
        st.integers(-1000, 1000),
        st.floats(allow_nan=False, allow_infinity=False, width=32).map(str),
        st.sampled_from(["NaN", "x", None, True]),
    )
    keys = st.sampled_from([*metric_names, "other", "step"])
    obj = st.dictionaries(keys, value, max_size=4).flatmap(
        lambda d: st.sampled_from([1_700_000_000.5, "2024-01-31T12:00:00Z", None]).map(
            lambda ts: {**d, "timestamp": ts} if ts is not None else d
        )
    )
    return st.one_of(obj.map(json.dumps), st.text(max_size=30), st.just("[1, 2]"))


def _roundtrip(cursor: Mapping[str, Any]) -> dict[str, Any]:
    result: dict[str, Any] = json.loads(json.dumps(cursor))
    return result


def _read_all(case: CollectorCase, path: str) -> list[MetricRecord]:
    records, _ = case.make().read(path, None, final=True)
    return records


class CollectorContract:
    """Behaviour every collector must have.  Subclass it; provide a ``collector_case`` fixture."""

    @settings(
        max_examples=60,
        deadline=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    )
    @given(data=st.data())
    def test_any_chunking_gives_the_same_records(
        self, collector_case: CollectorCase, data: st.DataObject
    ) -> None:
        lines = data.draw(st.lists(collector_case.lines, max_size=12), label="lines")
        trailing = data.draw(st.booleans(), label="trailing newline")
        content = "\n".join(lines) + ("\n" if trailing and lines else "")
        raw = content.encode("utf-8", errors="surrogatepass")
        cuts = sorted(data.draw(st.lists(st.integers(0, len(raw)), max_size=6), label="cuts"))
        restart = data.draw(st.booleans(), label="new collector per read")
        with tempfile.TemporaryDirectory() as tmp:
            path = os.path.join(tmp, "metrics.log")
            collector = collector_case.make()
            cursor: dict[str, Any] | None = None
            got: list[MetricRecord] = []
            previous = 0
            for cut in [*cuts, len(raw)]:
                with open(path, "ab") as f:
                    f.write(raw[previous:cut])
                previous = cut
                if restart:
                    collector = collector_case.make()
                records, new_cursor = collector.read(path, cursor, final=False)
                got.extend(records)
                cursor = _roundtrip(new_cursor)
            records, new_cursor = collector.read(path, cursor, final=True)
            got.extend(records)
            assert got == _read_all(collector_case, path)
            again, last = collector_case.make().read(path, _roundtrip(new_cursor), final=True)
            assert again == []
            assert last == new_cursor

    @settings(
        max_examples=40,
        deadline=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    )
    @given(data=st.data())
    def test_bounded_reads_go_on_from_the_cursor(
        self, collector_case: CollectorCase, data: st.DataObject
    ) -> None:
        """Reads that stop at their bounds, resumed from the cursor, give every record once."""
        make_bounded = collector_case.make_bounded
        if make_bounded is None:
            return
        lines = data.draw(st.lists(collector_case.lines, max_size=12), label="lines")
        trailing = data.draw(st.booleans(), label="trailing newline")
        content = "\n".join(lines) + ("\n" if trailing and lines else "")
        raw = content.encode("utf-8", errors="surrogatepass")
        max_records = data.draw(st.integers(1, 3), label="max_records")
        max_bytes = data.draw(st.integers(1, 40), label="max_bytes")
        cut = data.draw(st.integers(0, len(raw)), label="cut")
        with tempfile.TemporaryDirectory() as tmp:
            path = os.path.join(tmp, "metrics.log")
            got: list[MetricRecord] = []
            cursor: dict[str, Any] | None = None
            for final, start, end in ((False, 0, cut), (True, cut, len(raw))):
                with open(path, "ab") as f:
                    f.write(raw[start:end])
                for _ in range(len(raw) + 2):
                    records, new_cursor = make_bounded(max_records, max_bytes).read(
                        path, cursor, final=final
                    )
                    assert len(records) < max_records + collector_case.records_per_line
                    got.extend(records)
                    cursor = _roundtrip(new_cursor)
                    if not cursor.get("more"):
                        break
                else:
                    raise AssertionError("the bounded reads never caught up")
            assert got == _read_all(collector_case, path)

    def test_missing_file(self, collector_case: CollectorCase) -> None:
        with tempfile.TemporaryDirectory() as tmp:
            path = os.path.join(tmp, "not-yet.log")
            records, cursor = collector_case.make().read(path, None)
            assert records == []
            cursor = _roundtrip(cursor)
            with open(path, "w") as f:
                f.write(collector_case.sample_line + "\n")
            records, _ = collector_case.make().read(path, cursor)
            assert records

    def test_partial_line_waits_for_its_end(self, collector_case: CollectorCase) -> None:
        collector = collector_case.make()
        line = collector_case.sample_line
        with tempfile.TemporaryDirectory() as tmp:
            path = os.path.join(tmp, "m.log")
            with open(path, "w") as f:
                f.write(line)
            records, cursor = collector.read(path, None)
            assert records == []
            assert cursor["offset"] == 0
            with open(path, "a") as f:
                f.write("\n")
            records, cursor = collector.read(path, cursor)
            assert records
            assert cursor["offset"] == len(line.encode()) + 1
            assert collector.read(path, cursor) == ([], cursor)

    def test_final_consumes_the_partial_line(self, collector_case: CollectorCase) -> None:
        collector = collector_case.make()
        with tempfile.TemporaryDirectory() as tmp:
            path = os.path.join(tmp, "m.log")
            with open(path, "w") as f:
                f.write(collector_case.sample_line)
            records, cursor = collector.read(path, None, final=True)
            assert records
            assert collector.read(path, cursor, final=True) == ([], cursor)

    def test_incremental_reads_only_new_lines(self, collector_case: CollectorCase) -> None:
        collector = collector_case.make()
        line = collector_case.sample_line + "\n"
        with tempfile.TemporaryDirectory() as tmp:
            path = os.path.join(tmp, "m.log")
            with open(path, "w") as f:
                f.write(line)
            first, cursor = collector.read(path, None)
            with open(path, "a") as f:
                f.write(line * 2)
            second, cursor = collector.read(path, cursor)
            assert len(second) == 2 * len(first) > 0
            assert cursor["line"] == 3

    def test_binary_garbage_is_ignored(self, collector_case: CollectorCase) -> None:
        collector = collector_case.make()
        with tempfile.TemporaryDirectory() as tmp:
            path = os.path.join(tmp, "m.log")
            with open(path, "wb") as f:
                f.write(bytes(b for b in range(256) if b != 10) + b"\n\xff\xfe\x00garbage\n")
                f.write(collector_case.sample_line.encode() + b"\n")
            records, cursor = collector.read(path, None)
            assert len(records) >= 1
            assert cursor["line"] == 3


__all__ = ["CollectorCase", "CollectorContract", "json_lines", "text_lines"]
