"""The ``TensorFlowEvent`` collector: scalar summaries from tfevents files, incrementally.

Reads every ``*tfevents*`` file under the collector's directory (recursively), record by
record, remembering per file the byte offset of the last complete record, so each call returns
only new events.  One call is bounded in bytes and records (as the StdOut collector's reads):
a flood of events is read in slices, the cursor saying ``"more": True`` while some wait.
Both summary styles are understood:

* TF1 / PyTorch ``SummaryWriter.add_scalar``: ``Summary.Value.simple_value``;
* TF2 ``tf.summary.scalar``: ``Summary.Value.tensor`` (a float/double/int scalar tensor).

Katib supports only what TensorFlow's ``EventAccumulator`` reads of TF1 files; we read both.

Which tags count (Katib's rule, plus one): a metric ``accuracy`` matches a tag that starts with
``accuracy``; a metric ``train/accuracy`` matches a tag starting with ``accuracy`` in a file
whose directory ends with ``train`` (TF's ``train``/``test`` summary directories); and any
metric matches a tag equal to its whole name (PyTorch's ``Loss/train`` style tags).  The event's
``step`` and ``wall_time`` become the observation's step and timestamp.

Behind the ``tfevents`` extra: the Event protocol buffers come from the ``tensorboard`` package,
imported on first use.
"""

from __future__ import annotations

import logging
import math
import os
import struct
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from tunery.collect.stdout import READ_BYTES, READ_RECORDS
from tunery.errors import MissingExtraError
from tunery.model import MetricRecord

log = logging.getLogger(__name__)

#: TFRecord framing: u64 length, u32 masked CRC of the length, data, u32 masked CRC of data.
_HEADER = 12
_FOOTER = 4
#: Records above this size are not metric events (an image or a graph): skipped unread.
_MAX_RECORD = 64 * 1024 * 1024


def _event_class() -> Any:
    try:
        from tensorboard.compat.proto import event_pb2
    except ImportError as exc:  # pragma: no cover - exercised only without the extra
        raise MissingExtraError("tensorboard", "tfevents") from exc
    return event_pb2.Event


def _tensor_scalar(tensor: Any) -> float | None:
    """The value of a scalar TensorProto (float, double, half, int), or None."""
    dtype = int(tensor.dtype)
    if tensor.float_val:
        return float(tensor.float_val[0])
    if tensor.double_val:
        return float(tensor.double_val[0])
    if tensor.int_val:
        return float(tensor.int_val[0])
    if tensor.int64_val:
        return float(tensor.int64_val[0])
    content = bytes(tensor.tensor_content)
    formats = {1: "<f", 2: "<d", 3: "<i", 9: "<q", 19: "<e"}  # DT_FLOAT, DOUBLE, INT32, INT64, HALF
    fmt = formats.get(dtype)
    if fmt and len(content) >= struct.calcsize(fmt):
        return float(struct.unpack_from(fmt, content)[0])
    return None


class TFEventsCollector:
    """Incremental reader of scalar summaries for ``metric_names`` under a directory.

    One read returns at most about ``max_records`` records from at most about ``max_bytes``
    bytes of records (the record that crosses a bound is the last); the cursor then has
    ``"more": True`` and the next read goes on from there.
    """

    def __init__(
        self,
        metric_names: Sequence[str],
        *,
        max_records: int = READ_RECORDS,
        max_bytes: int = READ_BYTES,
    ) -> None:
        self.metric_names = tuple(metric_names)
        self.max_records = max_records
        self.max_bytes = max_bytes
        self._event = _event_class()

    def read(
        self, source: str, cursor: Mapping[str, Any] | None, final: bool = False
    ) -> tuple[list[MetricRecord], dict[str, Any]]:
        offsets: dict[str, int] = dict((cursor or {}).get("files", {}))
        records: list[MetricRecord] = []
        budget = [self.max_bytes]
        for path in self._event_files(source):
            rel = os.path.relpath(path, source)
            offset, full = self._read_file(path, offsets.get(rel, 0), records, budget)
            offsets[rel] = offset
            if full:
                return records, {"files": offsets, "more": True}
        return records, {"files": offsets}

    @staticmethod
    def _event_files(source: str) -> list[str]:
        if os.path.isfile(source):
            return [source]
        found = []
        for root, _dirs, files in os.walk(source):
            for name in files:
                if "tfevents" in name:
                    found.append(os.path.join(root, name))
        return sorted(found)

    def _read_file(
        self, path: str, offset: int, records: list[MetricRecord], budget: list[int]
    ) -> tuple[int, bool]:
        """Append the new records of one file; ``(new offset, whether a bound was reached)``.

        ``budget[0]``: the bytes this read may still consume (shared by the files of a read).
        """
        directory = os.path.dirname(path)
        try:
            fh = open(path, "rb")  # noqa: SIM115 - closed below, after a loop with early exits
        except OSError:
            return offset, False
        with fh:
            fh.seek(offset)
            for end, data in self._frames(fh, offset):
                if data is not None:
                    budget[0] -= end - offset
                    records.extend(self._parse(data, directory))
                offset = end
                if budget[0] <= 0 or len(records) >= self.max_records:
                    return offset, True
        return offset, False

    @staticmethod
    def _frames(fh: Any, offset: int) -> Iterator[tuple[int, bytes | None]]:
        """(offset after the record, its data or None when skipped) for complete records."""
        while True:
            header = fh.read(_HEADER)
            if len(header) < _HEADER:
                return
            (length,) = struct.unpack("<Q", header[:8])
            if length > _MAX_RECORD:
                fh.seek(length + _FOOTER, os.SEEK_CUR)
                size = fh.tell()
                fh.seek(0, os.SEEK_END)
                if fh.tell() < size:
                    return  # the big record is not complete yet
                fh.seek(size)
                offset = size
                yield offset, None
                continue
            body = fh.read(length + _FOOTER)
            if len(body) < length + _FOOTER:
                return  # incomplete: read again next time from ``offset``
            offset += _HEADER + length + _FOOTER
            yield offset, body[:length]

    def _parse(self, data: bytes, directory: str) -> list[MetricRecord]:
        event = self._event()
        try:
            event.ParseFromString(data)
        except Exception:  # a corrupt record: skip it, never fail the controller
            log.debug("skipping an unreadable tfevents record in %s", directory)
            return []
        if not event.HasField("summary"):
            return []
        out = []
        for value in event.summary.value:
            names = self._matching(value.tag, directory)
            if not names:
                continue
            which = value.WhichOneof("value")
            if which == "simple_value":
                number: float | None = float(value.simple_value)
            elif which == "tensor":
                number = _tensor_scalar(value.tensor)
            else:
                continue
            if number is not None and not math.isfinite(number):
                number = None
            for name in names:
                out.append(MetricRecord(name, number, float(event.wall_time), int(event.step)))
        return out

    def _matching(self, tag: str, directory: str) -> list[str]:
        names = []
        for metric in self.metric_names:
            if tag == metric:
                names.append(metric)
                continue
            head, _, last = metric.rpartition("/")
            if tag.startswith(last) and (not head or directory.rstrip("/").endswith(head)):
                names.append(metric)
        return names
