"""The early stoppers' copy of the learning curves: per metric, per trial, thinned as stored.

The controller and the ask/tell ``Optimizer`` keep one :class:`CurveBook` while early stopping
is on.  It holds the observations of every objective's metric and every constraint's metric
(:func:`stopping_metrics`), nothing else, grouped by metric and then by trial in the order
reported: what ``History.curves_of(metric)`` hands to a stopper.  It is filled once from the
store when a controller starts (one query per metric) and then from each read's observations,
which the controller has in hand anyway: no query per trial or tick.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

from tunery.model import Objective, Observation

__all__ = ["CurveBook", "stopping_metrics"]


def stopping_metrics(objective: Objective) -> tuple[str, ...]:
    """The metrics an early stopper reads: each objective's, then each constraint's, once."""
    names = [term.metric for term in objective.terms]
    names += [constraint.metric for constraint in objective.constraints]
    if not names:
        names = [objective.objective_metric_name]
    return tuple(dict.fromkeys(names))


class CurveBook:
    """``by_metric[metric][trial name]``: a trial's observations of that metric, in order."""

    def __init__(self, metrics: Sequence[str]) -> None:
        self.metrics = tuple(dict.fromkeys(metrics))
        self.by_metric: dict[str, dict[str, list[Observation]]] = {m: {} for m in self.metrics}

    @property
    def first(self) -> dict[str, list[Observation]]:
        """The curves of the first metric (the first objective's: ``History.curves``)."""
        return self.by_metric[self.metrics[0]]

    def extend(self, observations: Iterable[Observation]) -> None:
        """Append observations (of any metric: those of other metrics are left out)."""
        by_metric = self.by_metric
        for obs in observations:
            curves = by_metric.get(obs.metric_name)
            if curves is not None:
                curves.setdefault(obs.trial_name, []).append(obs)

    def add(
        self,
        trial_name: str,
        observations: Iterable[Observation],
        thin: Mapping[str, tuple[int, int]] | None = None,
    ) -> None:
        """One read of a trial: thin its kept curves as the store did, then append.

        ``thin`` is ``Batch.thin``: metric -> ``(keep, every)``, the stored curve's first
        ``keep`` points stay and every ``every``-th of the rest.
        """
        for metric, (keep, every) in (thin or {}).items():
            curve = self.by_metric.get(metric, {}).get(trial_name)
            if curve is not None:
                curve[keep:] = curve[keep::every]
        self.extend(observations)
