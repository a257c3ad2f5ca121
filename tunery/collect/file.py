"""The File collector: metrics a trial writes to a file, in TEXT or JSON lines format.

TEXT is parsed exactly like the StdOut collector (:mod:`tunery.collect.stdout`), filters
included, except Kubeflow's JSON metric lines: in a TEXT file, as on Katib, only the filters
read a line (the JSON format reads JSON lines).  JSON follows Katib's ``parseLogsInJsonFormat``
(``pkg/metricscollector/v1beta1/file-metricscollector/file-metricscollector.go``): one JSON
object per line, metric names as keys, an optional ``timestamp`` key (an RFC3339(Nano) string,
or a number of seconds since the epoch).  Differences from Katib, all lenient:

* values may be JSON strings (Katib's only form) *or* numbers; ``NaN``/``Infinity`` (the
  literal or the string) give a record with value None; booleans, nulls, objects are skipped;
* a line that is not JSON, or not an object, is ignored (Katib fails the whole collection);
* an integral ``step`` or ``epoch`` key (``step`` wins) becomes the records' ``step``.

The reading rules (cursor, partial lines, overlong lines, missing file, bounded reads) are the
StdOut collector's.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping, Sequence
from typing import Any

from tunery.collect.stdout import (
    READ_BYTES,
    READ_RECORDS,
    TIMESTAMP_KEY,
    TextLineParser,
    json_step,
    json_timestamp,
    json_value,
    read_records,
)
from tunery.errors import TuneryError
from tunery.model import FileFormat, MetricRecord

log = logging.getLogger(__name__)


class JsonLineParser:
    """Parses one JSON line into metric records (see the module docstring)."""

    def __init__(self, metric_names: Sequence[str]) -> None:
        self.metric_names = tuple(dict.fromkeys(metric_names))

    def __call__(self, line: str) -> list[MetricRecord]:
        text = line.strip()
        if not text.startswith("{"):
            return []
        try:
            obj = json.loads(text)
        except ValueError:
            return []
        if not isinstance(obj, dict):
            return []
        timestamp = json_timestamp(obj.get(TIMESTAMP_KEY))
        step = json_step(obj)
        records = []
        for name in self.metric_names:
            if name not in obj:
                continue
            ok, value = json_value(obj[name])
            if ok:
                records.append(MetricRecord(name, value, timestamp, step))
        return records


class FileCollector:
    """Katib's File collector (``fileSystemPath.kind: File``) for TEXT or JSON files."""

    def __init__(
        self,
        metric_names: Sequence[str],
        file_format: FileFormat | str = FileFormat.TEXT,
        filters: Sequence[str] = (),
        *,
        max_records: int = READ_RECORDS,
        max_bytes: int = READ_BYTES,
    ) -> None:
        self.max_records = max_records
        self.max_bytes = max_bytes
        try:
            self.file_format = FileFormat(file_format)
        except ValueError as exc:
            raise TuneryError(
                f"unknown metrics file format {file_format!r}",
                "spec.metricsCollectorSpec.source.fileSystemPath.format must be TEXT or JSON",
            ) from exc
        self.parser: TextLineParser | JsonLineParser
        if self.file_format is FileFormat.JSON:
            if filters:
                log.debug("metricsFormat filters do not apply to JSON metrics files")
            self.parser = JsonLineParser(metric_names)
        else:
            self.parser = TextLineParser(metric_names, filters, json_lines=False)

    def read(
        self, source: str, cursor: Mapping[str, Any] | None, final: bool = False
    ) -> tuple[list[MetricRecord], dict[str, Any]]:
        return read_records(self.parser, source, cursor, final, self.max_records, self.max_bytes)
