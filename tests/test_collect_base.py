"""The collector contract suite over every collector implementation."""

from __future__ import annotations

import json

import pytest

from tunery.collect.file import FileCollector
from tunery.collect.stdout import StdOutCollector
from tunery.model import FileFormat
from tunery.testing.collect import CollectorCase, CollectorContract, json_lines, text_lines

NAMES = ["loss", "accuracy"]


def _cases() -> dict[str, CollectorCase]:
    return {
        "stdout": CollectorCase(
            make=lambda: StdOutCollector(NAMES),
            lines=text_lines(NAMES),
            sample_line="epoch=1 loss=0.25 accuracy=0.9",
            make_bounded=lambda r, b: StdOutCollector(NAMES, max_records=r, max_bytes=b),
        ),
        "stdout-filter": CollectorCase(
            make=lambda: StdOutCollector(NAMES, [r"(\w+):\s*([+-]?\d+(\.\d+)?)"]),
            lines=text_lines(NAMES).map(lambda s: s.replace("=", ":")),
            sample_line="loss: 0.25",
        ),
        "file-text": CollectorCase(
            make=lambda: FileCollector(NAMES, FileFormat.TEXT),
            lines=text_lines(NAMES),
            sample_line="2024-01-31T12:00:00Z loss=0.25",
            make_bounded=lambda r, b: FileCollector(
                NAMES, FileFormat.TEXT, max_records=r, max_bytes=b
            ),
        ),
        "file-json": CollectorCase(
            make=lambda: FileCollector(NAMES, FileFormat.JSON),
            lines=json_lines(NAMES),
            sample_line=json.dumps({"loss": "0.25", "accuracy": 0.5, "timestamp": 1.5}),
            make_bounded=lambda r, b: FileCollector(
                NAMES, FileFormat.JSON, max_records=r, max_bytes=b
            ),
            records_per_line=len(NAMES),
        ),
    }


@pytest.fixture(params=sorted(_cases()))
def collector_case(request: pytest.FixtureRequest) -> CollectorCase:
    return _cases()[request.param]


class TestCollectorContract(CollectorContract):
    pass
