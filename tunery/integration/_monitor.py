"""What the torch-side callbacks (Lightning, Keras 3, Hugging Face Trainer) share.

:class:`Monitor` holds one monitored metric and a :class:`~tunery.integration.Reporter`:
at each evaluation the callback hands it the metric's value and its step; on the reporting
rank it reports ``{name: value}`` and asks whether to stop, then every rank agrees (the
callback passes its framework's "any rank" reduction, :func:`distributed_any` by default), so
that all ranks stop at the same step.

:func:`import_framework` imports a framework or raises a one-line ImportError naming the extra
to install.  Nothing here imports an optional package.
"""

from __future__ import annotations

import importlib
import re
from collections.abc import Callable, Iterable
from types import ModuleType
from typing import TYPE_CHECKING, Any

from tunery.errors import UserInputError
from tunery.integration._trial import Reporter, distributed_any

if TYPE_CHECKING:
    from tunery.optimizer import Optimizer, Suggestion

__all__ = ["Monitor", "Monitored", "import_framework", "to_float"]

#: What a metric name may hold to be collected (Katib's metric line filter).
_COLLECTABLE = re.compile(r"^[\w|-]+$")


def import_framework(names: Iterable[str], extra: str, what: str, *, hint: str = "") -> ModuleType:
    """The first module of ``names`` that imports (one already imported wins), else a
    one-line :class:`ImportError` saying ``pip install "tunery[extra]"``."""
    import sys

    names = tuple(names)
    for name in names:
        if name in sys.modules and sys.modules[name] is not None:
            return sys.modules[name]
    failures: list[str] = []
    for name in names:
        try:
            return importlib.import_module(name)
        except ImportError as exc:
            failures.append(f"{name}: {exc}")
    raise ImportError(
        f"tunery.integration.{extra} needs {what}, which is not installed "
        f'({"; ".join(failures)}): pip install "tunery[{extra}]"{hint}'
    )


def to_float(value: Any) -> float:
    """A metric value as a float: a Python number, a NumPy scalar or a one-element tensor."""
    item = getattr(value, "item", None)
    if callable(item):
        value = item()
    return float(value)


class Monitor:
    """One monitored metric reported at each evaluation, and the stop decision.

    ``monitor``: the metric the framework logs; ``name``: the name it is reported under
    (default: ``monitor``; it must be collectable, letters, digits, ``_``, ``-``, ``|``).
    ``optimizer``/``suggestion``: an ask/tell :class:`tunery.Optimizer` and the suggestion
    being trained, else reports go to the tunery trial this process runs in.
    """

    def __init__(
        self,
        callback: str,
        monitor: str,
        *,
        name: str | None = None,
        optimizer: Optimizer | None = None,
        suggestion: Suggestion | str | None = None,
    ) -> None:
        if not isinstance(monitor, str) or not monitor:
            raise UserInputError(
                f"{callback}: monitor must be the name of a logged metric, not {monitor!r}",
                "e.g. monitor='val_loss'",
            )
        name = monitor if name is None else name
        if not isinstance(name, str) or not _COLLECTABLE.match(name):
            raise UserInputError(
                f"{callback}: cannot report the metric as {name!r}: a reported name holds "
                "letters, digits, '_', '-' or '|'",
                f"pass name= with the experiment's objective metric (e.g. {callback}"
                f"(monitor={monitor!r}, name='val_loss'))",
            )
        self.callback = callback
        self.monitor = monitor
        self.name = name
        self.reporter = Reporter(optimizer, suggestion, metric=name)
        self.stopped = False
        self.stopped_step: int | None = None
        self.reports = 0

    def missing(self, available: Iterable[str], fix: str) -> UserInputError:
        """The error for a monitored metric the framework did not log."""
        names = ", ".join(sorted(map(str, available))) or "none"
        return UserInputError(
            f"{self.callback}(monitor={self.monitor!r}): no metric {self.monitor!r} was logged "
            f"(logged: {names})",
            fix,
        )

    def step(
        self,
        step: int,
        value: Any,
        *,
        reporting: bool | None = None,
        any_rank: Callable[[bool], bool] = distributed_any,
    ) -> bool:
        """Report ``value`` at ``step`` (on the reporting rank) and decide whether to stop.

        ``reporting``: whether this process reports (default: the Reporter's rank rule);
        ``any_rank``: every rank's decision combined (each rank calls it at the same point).
        Returns whether every rank should stop now.
        """
        reporting = self.reporter.is_reporting_rank if reporting is None else reporting
        stop = False
        if reporting and not self.stopped:
            self.reporter.report(step, {self.name: to_float(value)})
            self.reports += 1
            stop = self.reporter.should_stop(step)
        stop = bool(any_rank(stop)) or self.stopped
        if stop and not self.stopped:
            self.stopped = True
            self.stopped_step = step
        return stop


class Monitored:
    """What the torch-side callbacks show of their :class:`Monitor` (a mixin beside the
    framework's own callback class)."""

    _monitor: Monitor

    @property
    def stopped(self) -> bool:
        """Whether tunery stopped this training (then ``stopped_step`` is its step)."""
        return self._monitor.stopped

    @property
    def stopped_step(self) -> int | None:
        return self._monitor.stopped_step

    @property
    def reporter(self) -> Any:
        """The :class:`tunery.integration.Reporter` the callback reports through."""
        return self._monitor.reporter
