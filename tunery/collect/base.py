"""The collector protocol.

``read(source, cursor, final)`` returns the metric records that appeared in ``source`` since
``cursor`` and the new cursor (JSON).  It never re-reads what an earlier call consumed.  An
incomplete last line is left for the next call unless ``final`` is true (the trial has ended).

A read is bounded in bytes and records, whatever the trial wrote since the last one: when it
stops at its bound with more waiting, the cursor it returns has ``"more": True`` (a true value;
the key is absent otherwise) and the caller reads again from that cursor, at once or later.
``final`` consumes the incomplete last line only in the read that reaches the end.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol

from tunery.model import MetricRecord


class Collector(Protocol):
    def read(
        self, source: str, cursor: Mapping[str, Any] | None, final: bool = False
    ) -> tuple[list[MetricRecord], dict[str, Any]]:
        """New records since ``cursor`` and the cursor to pass next time."""
        ...
