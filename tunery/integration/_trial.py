"""What every framework integration shares: reporting a metric with its step, and asking
whether the experiment's early stopping wants this training to end.

:class:`Reporter` works in two places:

* **inside a tunery trial** (``TUNERY_TRIAL_NAME`` in the environment, set by the launcher):
  each report is one Kubeflow JSON metric line with its step
  (:func:`tunery.collect.push.format_json`), appended to the trial's push file with the
  ``Push`` collector or printed on standard output with ``StdOut`` (the trial's collector kind
  is in ``TUNERY_METRICS_COLLECTOR``); :meth:`Reporter.should_stop` reads the trial's stop
  marker (:func:`should_stop`), which the controller writes when early stopping (medianstop,
  asha) decides to stop the trial, before it gives the trial a grace period to exit;
* **with an ask/tell** :class:`tunery.Optimizer`: each report is
  ``optimizer.report(suggestion, value, step)``; :meth:`Reporter.should_stop` is
  ``optimizer.should_stop(suggestion, step)`` (which finishes the suggestion ``EarlyStopped``).

Outside both, the first report raises a one-line :class:`tunery.UserInputError` saying how to
run the code.  In distributed training only the reporting rank (rank 0) reports
(:attr:`Reporter.is_reporting_rank`), and :func:`distributed_any` makes every rank agree to
stop together.

Nothing here imports an optional package: torch is consulted only when it is already imported.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from tunery.collect.push import COLLECTOR_ENV, METRICS_PATH_ENV, _append, format_json
from tunery.errors import UserInputError
from tunery.model import CollectorKind
from tunery.stopfile import STOP_FILE_ENV, should_stop

if TYPE_CHECKING:
    from tunery.optimizer import Optimizer, Suggestion

__all__ = [
    "STOP_FILE_ENV",
    "TRIAL_ENV",
    "Reporter",
    "distributed_any",
    "process_rank",
    "should_stop",
]

#: Environment variable set in every trial tunery runs.
TRIAL_ENV = "TUNERY_TRIAL_NAME"


def process_rank() -> int:
    """This process's rank in distributed training: ``torch.distributed``'s when it is
    initialised, else ``RANK`` (or ``LOCAL_RANK``) from the environment, else 0."""
    torch = sys.modules.get("torch")
    if torch is not None:
        dist = getattr(torch, "distributed", None)
        if dist is not None and dist.is_available() and dist.is_initialized():
            return int(dist.get_rank())
    for var in ("RANK", "LOCAL_RANK"):
        text = os.environ.get(var, "").strip()
        if text.lstrip("-").isdigit():
            return int(text)
    return 0


def distributed_any(flag: bool) -> bool:
    """``flag`` of any rank: when ``torch.distributed`` is initialised, the flags of every
    rank are all-reduced with MAX, so that every rank stops at the same step (a rank that
    stops alone would hang the others in their next collective); else ``flag`` itself.

    Every rank must call it at the same point of its loop.
    """
    torch = sys.modules.get("torch")
    if torch is None:
        return bool(flag)
    dist = getattr(torch, "distributed", None)
    if dist is None or not dist.is_available() or not dist.is_initialized():
        return bool(flag)
    device = "cpu"
    if dist.get_backend() == "nccl":  # NCCL reduces CUDA tensors only
        device = f"cuda:{torch.cuda.current_device()}"
    tensor = torch.tensor([1 if flag else 0], dtype=torch.int32, device=device)
    dist.all_reduce(tensor, op=dist.ReduceOp.MAX)
    return bool(tensor.item())


class Reporter:
    """Report metrics with their step and ask whether to stop: in a trial, or ask/tell.

    ``Reporter()`` inside a trial tunery runs; ``Reporter(optimizer, suggestion)`` with an
    ask/tell :class:`tunery.Optimizer` and the :class:`tunery.optimizer.Suggestion` (or its id)
    being trained.  ``metric``: with an ask/tell optimizer of one objective, which reported
    metric is its value (default: the only metric of a report, or one named like the
    optimizer's objective); with several objectives the metrics named like them are reported.
    """

    def __init__(
        self,
        optimizer: Optimizer | None = None,
        suggestion: Suggestion | str | None = None,
        *,
        metric: str | None = None,
    ) -> None:
        if (optimizer is None) != (suggestion is None):
            raise UserInputError(
                "Reporter needs both an optimizer and the suggestion being trained, or neither",
                "pass Reporter(optimizer, suggestion) with what optimizer.ask() returned, or "
                "Reporter() inside a trial that tunery runs",
            )
        if metric is not None and (not isinstance(metric, str) or not metric):
            raise UserInputError(f"metric must be a metric name, not {metric!r}", "e.g. 'loss'")
        self.optimizer = optimizer
        self.suggestion = suggestion
        self.metric = metric
        self._stopped = False
        self._announced = False
        self._in_trial = optimizer is None and bool(os.environ.get(TRIAL_ENV))
        self._kind = os.environ.get(COLLECTOR_ENV) or CollectorKind.STDOUT.value
        self._push = os.environ.get(METRICS_PATH_ENV) if self._kind == "Push" else None
        if self._in_trial:
            should_stop()  # says the trial listens before its first report can be judged

    # ------------------------------------------------------------------ where

    @property
    def in_trial(self) -> bool:
        """Whether reports go to the trial's collector (not an ask/tell optimizer)."""
        return self._in_trial

    @property
    def is_reporting_rank(self) -> bool:
        """Whether this process reports: rank 0 of a distributed run (every process else)."""
        return process_rank() == 0

    @property
    def stopped(self) -> bool:
        """Whether :meth:`should_stop` has said True (it says so from then on)."""
        return self._stopped

    # ------------------------------------------------------------------ reporting

    def report(self, step: int, metrics: Mapping[str, float]) -> None:
        """Record ``metrics`` at ``step`` (rank 0 only; nothing once stopped ask/tell)."""
        if not self.is_reporting_rank:
            return
        if self.optimizer is not None:
            if self._stopped:
                return  # the suggestion is finished: nothing more to record
            self.optimizer.report(self.suggestion, self._value(metrics), step)  # type: ignore[arg-type]
            return
        if not self._in_trial:
            raise _nowhere()
        line = format_json(metrics, step=step)
        if self._push is not None:
            _append(self._push, line)
        elif self._kind == CollectorKind.STDOUT.value:
            sys.stdout.write(line + "\n")
            sys.stdout.flush()
        else:
            raise UserInputError(
                f"cannot report metrics: this trial's metrics collector is {self._kind}, "
                "which reads neither pushed metrics nor standard output",
                "set spec.metricsCollectorSpec.collector.kind to Push or StdOut",
            )

    def _value(self, metrics: Mapping[str, float]) -> Any:
        """What ``optimizer.report`` takes: the objective's number, or a dict of metrics."""
        assert self.optimizer is not None
        objective = self.optimizer.spec.objective
        if not isinstance(metrics, Mapping) or not metrics:
            raise UserInputError(
                f"report() takes a non-empty dict of metrics, not {metrics!r}",
                "e.g. {'val_loss': 0.3}",
            )
        if objective.is_multi or objective.constraints:
            names = set(objective.metric_names)
            chosen = {k: v for k, v in metrics.items() if k in names}
            if not chosen:
                raise UserInputError(
                    f"none of the reported metrics ({', '.join(map(str, metrics))}) is an "
                    f"objective of the optimizer ({', '.join(objective.metric_names)})",
                    "report metrics named like the optimizer's objectives",
                )
            return chosen
        name = self.metric
        if name is None:
            if len(metrics) == 1:
                return next(iter(metrics.values()))
            name = objective.objective_metric_name
        if name not in metrics:
            raise UserInputError(
                f"the metric {name!r} is not among the reported ones "
                f"({', '.join(map(str, metrics))})",
                "name the objective's metric with metric= (e.g. the callback's monitor)",
            )
        return metrics[name]

    # ------------------------------------------------------------------ stopping

    def should_stop(self, step: int | None = None) -> bool:
        """Whether to stop training now (True from then on).

        Ask/tell: ``optimizer.should_stop(suggestion, step)`` on the reporting rank (False on
        the others: combine with :func:`distributed_any`).  In a trial: the stop marker.
        Outside both: False.  The first True prints one line on standard error.
        """
        if self._stopped:
            return True
        if self.optimizer is not None:
            if not self.is_reporting_rank:
                return False
            stop = self.optimizer.should_stop(self.suggestion, step)  # type: ignore[arg-type]
        else:
            stop = should_stop()
        if stop:
            self._stopped = True
            self._announce(step)
        return stop

    def _announce(self, step: int | None) -> None:
        if self._announced:
            return
        self._announced = True
        where = f" at step {step}" if step is not None else ""
        who = os.environ.get(TRIAL_ENV) or _suggestion_id(self.suggestion)
        sys.stderr.write(f"tunery: early stopping stopped trial {who}{where}; training ends here\n")
        sys.stderr.flush()


def _suggestion_id(suggestion: Any) -> str:
    return str(getattr(suggestion, "id", suggestion))


def _nowhere() -> UserInputError:
    return UserInputError(
        "nowhere to report metrics: this code runs neither inside a tunery trial "
        f"({TRIAL_ENV} is not set) nor with an ask/tell optimizer",
        "run it as a trial (tunery run experiment.yaml, or tunery.tune(...)), or pass the "
        "optimizer and the suggestion being trained (e.g. TuneryCallback(optimizer=opt, "
        "suggestion=s))",
    )
