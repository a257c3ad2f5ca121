"""The collector protocol.

``read(source, cursor, final)`` returns the metric records that appeared in ``source`` since
``cursor`` and the new cursor (JSON).  It never re-reads what an earlier call consumed.  An
incomplete last line is left for the next call unless ``final`` is true (the trial has ended).
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
