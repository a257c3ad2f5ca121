"""The StdOut collector: Katib's TEXT metric lines, read incrementally from the trial's log.

Parsing follows Katib's file metrics collector
(``pkg/metricscollector/v1beta1/file-metricscollector/file-metricscollector.go``, default
regex in ``pkg/metricscollector/v1beta1/common/const.go``):

* a line is looked at only if it contains one of the metric names (a substring test);
* its first whitespace-separated token is tried as an RFC3339 / RFC3339Nano timestamp
  (``2024-01-31T12:00:00.123456789Z``, ``...+02:00``); if it parses it becomes the records'
  timestamp (seconds since the epoch), else the records have none;
* every filter regex (``metricsFormat``, default :data:`DEFAULT_FILTER`) is applied in
  order, and *every* match of each on the line is taken: group 1 is the name,
  group 2 the value, both stripped; matches whose name is not a metric name are dropped.

Values that do not parse as numbers: with the user's own ``metricsFormat`` (Katib's
``darts-cpu.yaml`` captures ``Best-Genotype=(Genotype.*)``), a non-empty one is kept verbatim, as
Katib stores it: a record with value None and ``text`` the string (at most :data:`MAX_TEXT`
characters); with the default filter (which captures numbers only) they are skipped.

Our additions, all lenient: ``nan``/``inf``/``infinity`` (any case, signed) give a record with value
None ("unavailable"): with the default filter we recognise ``loss=nan`` explicitly, because
Katib's regex would capture an empty value there.  If the line also carries ``step=N`` or
``epoch=N`` (``step`` wins), N becomes the ``step`` of the line's records.

Kubeflow's JSON metric lines (``kubeflow.optimizer.report_metrics``, and
:func:`tunery.collect.push.report_json`): a line that is, whole, one JSON object whose values
are numbers or numeric strings, e.g. ``{"accuracy": "0.92", "loss": "0.31", "step": 3}``, gives
a record for each metric name among its keys (:func:`json_metrics`).  ``timestamp`` (an
RFC3339 string or seconds since the epoch) becomes the records' timestamp, ``step``/``epoch``
their step.  Such a line is taken as JSON only: the filters are not applied to it.  Any other
line (not JSON, not one object, a value that is not a number: a structured log line) is parsed
by the filters as before.

Reading (shared with :mod:`tunery.collect.file`): the cursor is ``{"offset": bytes consumed,
"line": lines consumed, "skipping": bool}``; only ``\\n``-terminated lines are consumed unless
``final``; bytes decode as UTF-8 with replacement; lines longer than :data:`MAX_LINE` bytes
are skipped whole, without ever being held in memory; a missing file yields nothing.  One read
is bounded (:data:`READ_BYTES`, :data:`READ_RECORDS`): a trial that prints millions of lines
is read in slices, the cursor saying ``"more": True`` while lines are waiting.
"""

from __future__ import annotations

import json
import logging
import math
import re
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

from tunery.errors import SpecError
from tunery.model import MetricRecord

log = logging.getLogger(__name__)

#: Katib's default metrics filter.
DEFAULT_FILTER = r"([\w|-]+)\s*=\s*([+-]?\d*(\.\d+)?([Ee][+-]?\d+)?)"
#: Katib's default filter, except that ``nan``/``inf`` values are captured too (tried first,
#: so ``loss=nan`` does not match as an empty value).
_DEFAULT_WITH_NAN = (
    r"([\w|-]+)\s*=\s*((?i:[+-]?(?:nan|inf(?:inity)?))(?!\w)|[+-]?\d*(\.\d+)?([Ee][+-]?\d+)?)"
)
#: Longest line looked at; longer ones are skipped.
MAX_LINE = 1 << 20
_BLOCK = 1 << 20
#: What one read consumes at most: bytes of the file, and metric records.  A flooding trial is
#: read in slices of this size, each continuing from the cursor of the one before.
READ_BYTES = 4 << 20
READ_RECORDS = 20_000
_STEP_NAMES = ("step", "epoch")
#: Longest string value kept (characters); a longer one is cut there and ends with ``…``.
MAX_TEXT = 64 * 1024
#: The key of a JSON metric line's timestamp.
TIMESTAMP_KEY = "timestamp"
_FILTER_PATH = "spec.metricsCollectorSpec.source.filter.metricsFormat"

_RFC3339 = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(\.\d{1,9})?([Zz]|[+-]\d{2}:\d{2})"
)
_NUMBER = re.compile(r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[Ee][+-]?\d+)?")
_NONFINITE = re.compile(r"[+-]?(?:nan|inf(?:inity)?)", re.IGNORECASE)


# --------------------------------------------------------------------------- value parsing


def parse_timestamp(text: str) -> float | None:
    """Seconds since the epoch of an RFC3339(Nano) timestamp, or None if ``text`` is not one."""
    m = _RFC3339.fullmatch(text)
    if m is None:
        return None
    year, month, day, hour, minute, second = (int(m.group(i)) for i in range(1, 7))
    zone = m.group(8)
    if zone in ("Z", "z"):
        tz = UTC
    else:
        hours, minutes = int(zone[1:3]), int(zone[4:6])
        if hours > 23 or minutes > 59:
            return None
        offset = timedelta(hours=hours, minutes=minutes)
        tz = timezone(-offset if zone[0] == "-" else offset)
    try:
        base = datetime(year, month, day, hour, minute, second, tzinfo=tz).timestamp()
    except ValueError:
        return None
    fraction = m.group(7)
    return base + (float(fraction) if fraction else 0.0)


def parse_value(text: str) -> tuple[bool, float | None]:
    """``(ok, value)`` of a metric value string: NaN/inf give ``(True, None)``."""
    text = text.strip()
    if _NUMBER.fullmatch(text):
        value = float(text)
        return True, value if math.isfinite(value) else None
    if _NONFINITE.fullmatch(text):
        return True, None
    return False, None


def clip_text(text: str) -> str:
    """A string metric value as stored: whole up to :data:`MAX_TEXT` characters, else cut."""
    return text if len(text) <= MAX_TEXT else text[: MAX_TEXT - 1] + "…"


def parse_step(value: Any) -> int | None:
    """An integral step/epoch from a number or numeric string, else None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, str):
        ok, number = parse_value(value)
        if not ok or number is None:
            return None
        value = number
    if isinstance(value, int):
        return value
    if isinstance(value, float) and math.isfinite(value) and value == int(value):
        return int(value)
    return None


def json_timestamp(value: Any) -> float | None:
    """A JSON ``timestamp`` value: an RFC3339(Nano) string or seconds since the epoch."""
    if isinstance(value, str):
        return parse_timestamp(value.strip())
    if isinstance(value, int | float) and not isinstance(value, bool):
        number = float(value)
        return number if math.isfinite(number) else None
    return None


def json_value(value: Any) -> tuple[bool, float | None]:
    """``(ok, value)`` of a JSON metric value: a number or a numeric string."""
    if isinstance(value, str):
        return parse_value(value)
    if isinstance(value, int | float) and not isinstance(value, bool):
        number = float(value)
        return True, number if math.isfinite(number) else None
    return False, None


def json_step(obj: Mapping[str, Any]) -> int | None:
    """The step of a JSON metrics object: its integral ``step``, else its ``epoch``."""
    step = parse_step(obj.get("step"))
    return parse_step(obj.get("epoch")) if step is None else step


def json_metrics(line: str, metric_names: Sequence[str]) -> list[MetricRecord] | None:
    """The records of a Kubeflow JSON metric line, or None when ``line`` is not one.

    A JSON metric line is one JSON object (the whole line, but for surrounding blanks) whose
    values, ``timestamp`` aside, are all numbers or numeric strings (``"nan"``/``"inf"``
    included: a record with value None).  Records are given for the keys that are metric
    names, in the order of ``metric_names``.
    """
    text = line.strip()
    if not (text.startswith("{") and text.endswith("}")):
        return None
    try:
        obj = json.loads(text)
    except (ValueError, RecursionError):  # a deeply nested line is no metrics line either
        return None
    if not isinstance(obj, dict) or not obj:
        return None
    for key, value in obj.items():
        if key != TIMESTAMP_KEY and not json_value(value)[0]:
            return None
    timestamp = json_timestamp(obj.get(TIMESTAMP_KEY))
    step = json_step(obj)
    records = []
    for name in metric_names:
        if name in obj and name != TIMESTAMP_KEY:
            records.append(MetricRecord(name, json_value(obj[name])[1], timestamp, step))
    return records


def compile_filters(filters: Sequence[str]) -> list[re.Pattern[str]]:
    """Compile ``metricsFormat`` regexes (each needs a name group and a value group)."""
    compiled = []
    for i, pattern in enumerate(filters):
        try:
            regex = re.compile(pattern)
        except re.error as exc:
            raise SpecError(
                f"{_FILTER_PATH}[{i}]",
                f"invalid regular expression {pattern!r}: {exc}",
                "write a regex with two groups: the metric name and its value",
            ) from exc
        if regex.groups < 2:
            raise SpecError(
                f"{_FILTER_PATH}[{i}]",
                f"the regex {pattern!r} needs two groups (name, value); it has {regex.groups}",
                r"for example ([\w|-]+)\s*:\s*([+-]?\d*(\.\d+)?)",
            )
        compiled.append(regex)
    return compiled


class TextLineParser:
    """Parses one TEXT line into metric records (Katib's rules plus ours; see the module).

    ``json_lines``: whether Kubeflow's JSON metric lines are read too (the StdOut and Push
    collectors); a File collector's TEXT file is read by the filters only, as on Katib (its
    JSON format reads JSON lines).
    """

    def __init__(
        self, metric_names: Sequence[str], filters: Sequence[str] = (), *, json_lines: bool = True
    ) -> None:
        self.metric_names = tuple(dict.fromkeys(metric_names))
        self._names = frozenset(self.metric_names)
        self._regexes = compile_filters(filters) if filters else [re.compile(_DEFAULT_WITH_NAN)]
        #: Whether string values are kept: only the user's own filters capture them.
        self._texts = bool(filters)
        self.json_lines = json_lines

    def __call__(self, line: str) -> list[MetricRecord]:
        if not any(name in line for name in self.metric_names):
            return []
        first = line[:1]
        if self.json_lines and (
            first == "{" or (first.isspace() and line.lstrip().startswith("{"))
        ):
            found_json = json_metrics(line, self.metric_names)
            if found_json is not None:
                return found_json
        parts = line.split(None, 1)
        timestamp = parse_timestamp(parts[0]) if len(parts) == 2 else None
        found: list[tuple[str, float | None, str | None]] = []
        steps: dict[str, int] = {}
        for regex in self._regexes:
            for m in regex.finditer(line):
                name = (m.group(1) or "").strip()
                if name in _STEP_NAMES and name not in steps:
                    step = parse_step((m.group(2) or "").strip())
                    if step is not None:
                        steps[name] = step
                if name not in self._names:
                    continue
                raw = m.group(2) or ""
                ok, value = parse_value(raw)
                if ok:
                    found.append((name, value, None))
                elif self._texts and (text := raw.strip()):
                    found.append((name, None, clip_text(text)))
        step = steps.get("step", steps.get("epoch"))
        return [MetricRecord(name, value, timestamp, step, text) for name, value, text in found]


# --------------------------------------------------------------------------- incremental reading


def read_lines(
    source: str,
    cursor: Mapping[str, Any] | None,
    final: bool,
    on_line: Callable[[bytes], None],
    *,
    max_bytes: int | None = None,
    full: Callable[[], bool] | None = None,
) -> dict[str, Any]:
    """Feed each new complete line of ``source`` (without its newline) to ``on_line``.

    Returns the new cursor.  Lines longer than :data:`MAX_LINE` are skipped, whether they
    arrive in one read or across many.

    A read is bounded: it stops after the line that brings the bytes consumed to
    ``max_bytes`` or more, or after the line for which ``full()`` turns true (the caller's
    record budget); the cursor then has ``"more": True`` and the next call goes on from there.
    The file's incomplete last line is consumed (``final``) only by a read that reaches the end.
    """
    offset = int((cursor or {}).get("offset", 0))
    line_no = int((cursor or {}).get("line", 0))
    skipping = bool((cursor or {}).get("skipping", False))
    try:
        f = open(source, "rb")  # noqa: SIM115 - closed below; a missing file is normal
    except FileNotFoundError:
        return {"offset": offset, "line": line_no, "skipping": skipping}
    stop_at = None if max_bytes is None else offset + max(1, max_bytes)
    stopped = more = False
    with f:
        f.seek(offset)
        pending = b""
        while not stopped:
            block = f.read(_BLOCK)
            if not block:
                break
            pending += block
            start = 0
            while True:
                end = pending.find(b"\n", start)
                if end < 0:
                    break
                if skipping:
                    skipping = False
                elif end - start <= MAX_LINE:
                    on_line(pending[start:end])
                line_no += 1
                start = end + 1
                if (stop_at is not None and offset + start >= stop_at) or (
                    full is not None and full()
                ):
                    stopped = True
                    break
            offset += start
            pending = pending[start:]
            if stopped:
                # More is waiting unless the bound fell on the file's last byte.
                more = bool(pending) or f.read(1) != b""
            elif len(pending) > MAX_LINE:
                # An overlong line without its end yet: drop what we have, skip the rest.
                if not skipping:
                    log.warning("%s: skipping a line longer than %d bytes", source, MAX_LINE)
                offset += len(pending)
                pending = b""
                skipping = True
                if stop_at is not None and offset >= stop_at:
                    stopped = more = True  # in the middle of skipping an endless line
        if final and not stopped and (pending or skipping):
            if pending and not skipping:
                on_line(pending)
            offset += len(pending)
            line_no += 1
            skipping = False
    out: dict[str, Any] = {"offset": offset, "line": line_no, "skipping": skipping}
    if more:
        out["more"] = True
    return out


def decode(line: bytes) -> str:
    return line.decode("utf-8", errors="replace")


def read_records(
    parse: Callable[[str], list[MetricRecord]],
    source: str,
    cursor: Mapping[str, Any] | None,
    final: bool,
    max_records: int,
    max_bytes: int,
) -> tuple[list[MetricRecord], dict[str, Any]]:
    """The records of the new lines of ``source``, one bounded read (see :func:`read_lines`)."""
    records: list[MetricRecord] = []

    def on_line(line: bytes) -> None:
        records.extend(parse(decode(line)))

    def full() -> bool:
        return len(records) >= max_records

    new_cursor = read_lines(source, cursor, final, on_line, max_bytes=max_bytes, full=full)
    return records, new_cursor


class StdOutCollector:
    """Katib's StdOut collector over the trial's combined output log.

    One read returns at most about ``max_records`` records from at most about ``max_bytes``
    bytes (the line that crosses a bound is the last); the cursor then has ``"more": True``.
    """

    def __init__(
        self,
        metric_names: Sequence[str],
        filters: Sequence[str] = (),
        *,
        max_records: int = READ_RECORDS,
        max_bytes: int = READ_BYTES,
    ) -> None:
        self.parser = TextLineParser(metric_names, filters)
        self.max_records = max_records
        self.max_bytes = max_bytes

    def read(
        self, source: str, cursor: Mapping[str, Any] | None, final: bool = False
    ) -> tuple[list[MetricRecord], dict[str, Any]]:
        return read_records(self.parser, source, cursor, final, self.max_records, self.max_bytes)
