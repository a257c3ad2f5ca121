"""A running (or finished) experiment seen from Python: :class:`ExperimentHandle`.

Its controller runs in a background thread; the handle reads the experiment, its trials and
plots them (plotly figures, :mod:`tunery.plots`).
"""

from __future__ import annotations

import threading
import warnings
from typing import TYPE_CHECKING, Any

from tunery.errors import MissingExtraError, UserInputError
from tunery.model import Experiment, Trial, best_trial
from tunery.objectives import feasibility, pareto_front

if TYPE_CHECKING:
    from tunery.client import Client

__all__ = ["ExperimentHandle"]


class ExperimentHandle:
    """A running (or finished) experiment: its controller runs in a background thread."""

    def __init__(
        self,
        client: Client,
        name: str,
        *,
        namespace: str | None = None,
        executor: Any = None,
        mlflow_tracking_uri: str | None = None,
    ) -> None:
        self.client = client
        #: The experiment's store key (see :meth:`Client.resolve`).
        self.key = client.resolve(name, namespace)
        stored = client.store.get_experiment(self.key)
        #: Its Katib name and namespace.
        self.name = stored.name
        self.namespace = stored.namespace
        self._executor = executor
        #: Where the experiment is mirrored into MLflow while it runs (None: nowhere).
        self.mlflow_tracking_uri = mlflow_tracking_uri
        self._thread: threading.Thread | None = None
        self._error: BaseException | None = None
        self._warned = False

    # -- driving
    def start(self) -> None:
        if self._thread is not None:
            return
        exp = self.client.store.get_experiment(self.key)
        sink = self._mlflow_sink()
        if exp.status.is_completed:
            if sink is not None:
                sink.finish()
            return
        from tunery.execute import executor_url_of, open_executor

        given = self._executor
        # An unreachable scheduler or a bad URL raises here, in the caller's thread.
        executor = (
            open_executor(executor_url_of(exp.spec.annotations, given))
            if given is None or isinstance(given, str)
            else given
        )
        self._thread = threading.Thread(
            target=self._drive,
            args=(executor, executor is not given, sink),
            name=f"tunery-{self.key}",
        )
        self._thread.start()

    def _mlflow_sink(self) -> Any:
        """The opened MLflow sink (None without a tracking URI); raises here, in the
        caller's thread, for a missing extra or an unusable URI."""
        if not self.mlflow_tracking_uri:
            return None
        try:
            from tunery.integration.mlflow import MlflowSink
        except ImportError:
            raise MissingExtraError("mlflow", "mlflow") from None
        return MlflowSink(self.client.store, self.key, self.mlflow_tracking_uri).open()

    def _drive(self, executor: Any, owned: bool, sink: Any = None) -> None:
        from tunery.controller import Controller

        try:
            if sink is not None:
                sink.start()
            # The store's engine is thread-safe: the controller thread shares it.
            Controller(self.client.store, self.key, executor, poll_interval=0.2).run()
        except BaseException as exc:  # re-raised by wait()
            self._error = exc
        finally:
            if owned:
                executor.close()
            if sink is not None:
                sink.close()

    def wait(
        self, timeout: float | None = None, *, progress: bool | None = None
    ) -> ExperimentHandle:
        """Block until the experiment ends (or ``timeout`` seconds pass).

        ``progress``: show a progress bar while waiting (tqdm: a widget in a notebook with
        ``ipywidgets``, text otherwise); default: only in an interactive session (an IPython
        kernel, or standard error on a terminal).  When it has ended with failed trials, warns
        once (:class:`TrialsFailedWarning`) with how many failed and the first failure's
        message.
        """
        if self._thread is not None:
            from tunery.notebook import want_progress, watch

            if self._thread.is_alive() and want_progress(progress):
                watch(self._thread, self.client.store, self.experiment, timeout)
            else:
                self._thread.join(timeout)
        if self._error is not None:
            error, self._error = self._error, None
            raise error
        if not self._warned and (self._thread is None or not self._thread.is_alive()):
            self._warn_failures()
        return self

    def _warn_failures(self) -> None:
        from tunery.outcome import TrialsFailedWarning, failure_warning

        if not self.experiment.status.is_completed:
            return
        self._warned = True
        message = failure_warning(self.name, self.trials)
        if message is not None:
            warnings.warn(message, TrialsFailedWarning, stacklevel=3)

    @property
    def done(self) -> bool:
        return self.experiment.status.is_completed

    def stop(self) -> None:
        self.client.stop_experiment(self.name, self.namespace)

    # -- reading
    @property
    def experiment(self) -> Experiment:
        return self.client.store.get_experiment(self.key)

    @property
    def status(self) -> str:
        return self.experiment.shown_status

    @property
    def trials(self) -> list[Trial]:
        return self.client.store.list_trials(self.key)

    @property
    def time_budget(self) -> dict[str, Any] | None:
        """The time budget as ``tunery get --json``'s ``timeBudget`` says it (``maxSeconds``,
        ``drivenSeconds``, ``remainingSeconds``, ``policy``); None without one."""
        from tunery.deadline import driven_seconds, time_budget_json

        spec = self.experiment.spec
        if spec.max_experiment_duration is None:
            return None
        return time_budget_json(spec, driven_seconds(self.client.store, self.key))

    @property
    def best_trial(self) -> Trial | None:
        """The best completed trial (with constraints, the best feasible one); None before
        there is one.  With several objectives there is no single best: use
        :attr:`best_trials`."""
        objective = self.experiment.spec.objective
        if objective.is_multi:
            raise UserInputError(
                f"experiment {self.name!r} has {len(objective.terms)} objectives: no single "
                "trial is best",
                "use .best_trials (or .pareto_front()): the trials no other one beats on every "
                "objective",
            )
        return best_trial(objective, self.trials)

    @property
    def best_trials(self) -> list[Trial]:
        """The Pareto front: the completed feasible trials no other one dominates (in trial
        order); with one objective, the trials tied at the best value.  Empty before any."""
        return pareto_front(self.experiment.spec.objective, self.trials)

    def pareto_front(self) -> list[Trial]:
        """:attr:`best_trials`."""
        return self.best_trials

    def trials_dataframe(self) -> Any:
        """The trial table as a pandas DataFrame (needs pandas)."""
        try:
            import pandas as pd
        except ImportError as exc:
            raise MissingExtraError("pandas", "ui") from exc
        spec = self.experiment.spec
        rows = []
        for t in self.trials:
            row: dict[str, Any] = {
                "name": t.name,
                "status": t.status.value,
                "reason": t.reason,
                "message": t.message,
            }
            row.update({f"params.{k}": v for k, v in t.parameters.items()})
            row["objective"] = t.objective
            if spec.objective.constraints:
                row["feasible"] = feasibility(spec.objective, t)
            for metric in spec.objective.metric_names:
                summary = t.metrics.get(metric)
                row[f"metrics.{metric}"] = (
                    summary.pick(spec.objective.strategy_for(metric)) if summary else None
                )
            row["start_time"] = t.start_time
            row["completion_time"] = t.completion_time
            rows.append(row)
        frame = pd.DataFrame(rows)
        for col in ("start_time", "completion_time"):
            if col in frame:
                frame[col] = pd.to_datetime(frame[col], unit="s", utc=True)
        return frame

    def plot_optimization_history(self) -> Any:
        """A plotly figure: each finished trial's objective, and the best so far.

        Static image: ``fig.write_image("fig.png")`` (``pip install 'tunery[export]'``)."""
        go = _plotly()
        spec = self.experiment.spec
        done = [t for t in self.trials if t.objective is not None]
        best: list[float] = []
        for t in done:
            value = float(t.objective)  # type: ignore[arg-type]
            best.append(value if not best or spec.objective.better(value, best[-1]) else best[-1])
        metric = spec.objective.objective_metric_name
        fig = go.Figure()
        fig.add_scatter(
            x=[t.index for t in done], y=[t.objective for t in done], mode="markers", name=metric
        )
        fig.add_scatter(x=[t.index for t in done], y=best, mode="lines", name="best so far")
        fig.update_layout(
            title=f"{self.name}: optimization history", xaxis_title="trial", yaxis_title=metric
        )
        return fig

    def plot_parallel_coordinates(self) -> Any:
        """A plotly figure: every parameter and the objective, coloured by the objective.

        Static image: ``fig.write_image("fig.png")`` (``pip install 'tunery[export]'``)."""
        from tunery.plots import parcoords_dimension

        go = _plotly()
        spec = self.experiment.spec
        done = [t for t in self.trials if t.objective is not None]
        dims = [
            parcoords_dimension(p, [t.parameters.get(p.name) for t in done])
            for p in spec.parameters
        ]
        objective = [t.objective for t in done]
        metric = spec.objective.objective_metric_name
        dims.append({"label": metric, "values": objective})
        # Better trials at Viridis' yellow end, whichever the direction; the bar says which end.
        minimize = spec.objective.type.value == "minimize"
        better = "lower" if minimize else "higher"
        fig = go.Figure(
            go.Parcoords(
                line={
                    "color": objective,
                    "colorscale": "Viridis",
                    "reversescale": minimize,
                    "showscale": True,
                    "colorbar": {"title": {"text": f"{metric} ({better} is better)"}},
                },
                dimensions=dims,
            )
        )
        fig.update_layout(title=f"{self.name}: parameters against the objective")
        return fig

    def plot_slice(self) -> Any:
        """A plotly figure: the objective against each parameter, one panel each.

        Static image: ``fig.write_image("fig.png")`` (``pip install 'tunery[export]'``)."""
        from tunery.plots import slice_figure

        return slice_figure(_plotly(), self.name, self.experiment.spec, self.trials)

    def plot_edf(self) -> Any:
        """A plotly figure: the empirical distribution of the objective.

        Static image: ``fig.write_image("fig.png")`` (``pip install 'tunery[export]'``)."""
        from tunery.plots import edf_figure

        return edf_figure(_plotly(), self.name, self.experiment.spec, self.trials)

    def plot_intermediate_values(self) -> Any:
        """A plotly figure: every trial's curve of the objective metric, early stops marked.

        Static image: ``fig.write_image("fig.png")`` (``pip install 'tunery[export]'``)."""
        from tunery.plots import intermediate_figure

        spec = self.experiment.spec
        observations = self.client.store.get_observations(
            self.key, metric=spec.objective.objective_metric_name
        )
        return intermediate_figure(_plotly(), self.name, spec, self.trials, observations)

    def plot_contour(self, pairs: int = 3) -> Any:
        """A plotly figure: the objective over the ``pairs`` most important pairs of parameters
        (:func:`tunery.plots.contour_pairs` of the epsilon-squared importance, else of the
        space's order with too few trials; the UI's contour lists its pairs in that order).

        Static image: ``fig.write_image("fig.png")`` (``pip install 'tunery[export]'``)."""
        from tunery.plots import contour_figure
        from tunery.ui.importance import parameter_importance

        spec = self.experiment.spec
        trials = self.trials
        done = [t for t in trials if t.objective is not None]
        ranked = parameter_importance(
            spec.parameters,
            [t.parameters for t in done],
            [float(t.objective) for t in done],  # type: ignore[arg-type]
        )
        order = [i.name for i in ranked] if ranked else [p.name for p in spec.parameters]
        return contour_figure(_plotly(), self.name, spec, trials, order, pairs)

    def plot_pareto_front(self, three_d: bool = False) -> Any:
        """A plotly figure of a multi-objective experiment's trials in objective space: the
        Pareto front red (2 objectives: joined by its step line), dominated trials blue,
        infeasible ones grey crosses; 3 or more objectives as a matrix of pairwise scatters
        (``three_d=True`` with 3 objectives: one 3-D scatter).

        Static image: ``fig.write_image("fig.png")`` (``pip install 'tunery[export]'``)."""
        from tunery.plots import pareto_data, pareto_figure

        spec = self.experiment.spec
        if len(spec.objective.terms) < 2:
            raise ValueError(
                f"experiment {self.name} has one objective; plot_pareto_front needs two or "
                "more (spec.objectives); use plot_optimization_history"
            )
        return pareto_figure(_plotly(), self.name, pareto_data(spec, self.trials), three_d)

    def plot_hypervolume_history(self) -> Any:
        """A plotly figure: the hypervolume of the feasible Pareto front after each completed
        trial, against the reference point named in its title (per objective, the final
        front's worst value moved 10% of the front's range further).

        Static image: ``fig.write_image("fig.png")`` (``pip install 'tunery[export]'``)."""
        from tunery.plots import hypervolume_figure, pareto_data

        data = pareto_data(self.experiment.spec, self.trials)
        return hypervolume_figure(_plotly(), self.name, data)

    def plot_timeline(self) -> Any:
        """A plotly figure: the trials as bars over time, coloured by status.

        Static image: ``fig.write_image("fig.png")`` (``pip install 'tunery[export]'``)."""
        import time

        from tunery.plots import timeline_figure

        return timeline_figure(_plotly(), self.name, self.trials, time.time())

    def _repr_html_(self) -> str:
        """Jupyter's view: status, counts, the best trial, a chart of the objective per trial."""
        from tunery.deadline import driven_seconds
        from tunery.notebook import experiment_html

        exp = self.experiment
        timed = exp.spec.max_experiment_duration is not None
        driven = driven_seconds(self.client.store, self.key) if timed else None
        return experiment_html(exp, self.trials, driven)

    def __repr__(self) -> str:
        exp = self.experiment
        best = best_trial(exp.spec.objective, self.trials)
        best_text = f", best {best.objective:g} ({best.name})" if best and best.objective else ""
        return f"<tunery experiment {self.name}: {exp.shown_status}{best_text}>"


def _plotly() -> Any:
    try:
        import plotly.graph_objects as go
    except ImportError as exc:
        raise MissingExtraError("plotly", "ui") from exc
    return go
