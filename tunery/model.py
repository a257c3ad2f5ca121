"""The data model: frozen dataclasses and enums in Katib's vocabulary.

Names are snake_case here; camelCase appears only at the YAML/JSON boundary (``tunery.spec``).
Feasible-space bounds stay strings, as in Katib, so that a spec round-trips textually;
``tunery.space`` turns them into numbers.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from tunery.enums import (  # noqa: F401 - re-exported: tunery.model is their import path
    INTERRUPTED_STATUS,
    TRIAL_TRANSITIONS,
    CollectorKind,
    Distribution,
    ExperimentCondition,
    ExperimentReason,
    FileFormat,
    FileSystemKind,
    IntentKind,
    MetricStrategyType,
    ObjectiveType,
    ParameterType,
    ResumePolicy,
    TrialCondition,
    TrialReason,
)

#: A parameter value as Python sees it: float for double, int for int, int or float for
#: discrete, str for categorical.
ParamValue = float | int | str


# --------------------------------------------------------------------------- spec


@dataclass(frozen=True)
class FeasibleSpace:
    """Katib's feasibleSpace; numbers stay strings as in the YAML."""

    min: str | None = None
    max: str | None = None
    step: str | None = None
    list: tuple[str, ...] = ()
    distribution: Distribution | None = None


#: A parameter's activation condition: ``((parent, (value, ...)), ...)``, every pair must hold.
ActiveWhen = tuple[tuple[str, tuple[ParamValue, ...]], ...]


@dataclass(frozen=True)
class ParameterSpec:
    """One searched parameter.

    ``active_when`` makes it conditional: it is active when every named parent parameter is
    active and takes one of the listed values (``()``: always active).  Parents are categorical,
    discrete or int parameters; see :mod:`tunery.conditions`.
    """

    name: str
    parameter_type: ParameterType
    feasible_space: FeasibleSpace
    active_when: ActiveWhen = ()


@dataclass(frozen=True)
class MetricStrategy:
    name: str
    value: MetricStrategyType


def default_strategy(direction: ObjectiveType) -> MetricStrategyType:
    """Katib's default strategy of a metric optimised in ``direction``: min or max."""
    return MetricStrategyType.MIN if direction is ObjectiveType.MINIMIZE else MetricStrategyType.MAX


@dataclass(frozen=True)
class ObjectiveTerm:
    """One objective of an experiment: a metric, its direction, an optional goal, the strategy
    that makes one value of a trial's metric summary, and an optional hypervolume reference
    value (in the metric's own units; see ``spec.objectives[].reference``)."""

    metric: str
    type: ObjectiveType
    goal: float | None = None
    strategy: MetricStrategyType = MetricStrategyType.LATEST
    reference: float | None = None

    def goal_reached(self, value: float) -> bool:
        if self.goal is None:
            return False
        return value <= self.goal if self.type is ObjectiveType.MINIMIZE else value >= self.goal

    @property
    def sign(self) -> float:
        """1.0 for minimize, -1.0 for maximize: ``loss == sign * value``."""
        return 1.0 if self.type is ObjectiveType.MINIMIZE else -1.0


@dataclass(frozen=True)
class Constraint:
    """A bound on a metric (``spec.constraints[]``): a trial whose value lies outside
    ``[min, max]`` (either side optional) is infeasible: kept and shown, never best."""

    metric: str
    min: float | None = None
    max: float | None = None


@dataclass(frozen=True)
class Objective:
    """An experiment's objective(s).

    ``type``/``objective_metric_name``/``goal`` are the FIRST objective (what single-objective
    code reads); ``terms`` holds every objective (one for a single-objective experiment, made
    from those fields when not given) and ``constraints`` the metric bounds.
    """

    type: ObjectiveType
    objective_metric_name: str
    goal: float | None = None
    additional_metric_names: tuple[str, ...] = ()
    metric_strategies: tuple[MetricStrategy, ...] = ()
    terms: tuple[ObjectiveTerm, ...] = ()
    constraints: tuple[Constraint, ...] = ()

    def __post_init__(self) -> None:
        if not self.terms:
            metric = self.objective_metric_name
            strategy = next(
                (s.value for s in self.metric_strategies if s.name == metric),
                default_strategy(self.type),
            )
            term = ObjectiveTerm(metric, self.type, self.goal, strategy)
            object.__setattr__(self, "terms", (term,))

    def without_goals(self) -> Objective:
        """This objective with no goal at all (what ``same_search`` compares)."""
        terms = tuple(
            ObjectiveTerm(t.metric, t.type, None, t.strategy, t.reference) for t in self.terms
        )
        return Objective(
            self.type,
            self.objective_metric_name,
            None,
            self.additional_metric_names,
            self.metric_strategies,
            terms,
            self.constraints,
        )

    @property
    def is_multi(self) -> bool:
        """Whether there are two objectives or more."""
        return len(self.terms) > 1

    @property
    def directions(self) -> tuple[ObjectiveType, ...]:
        return tuple(t.type for t in self.terms)

    def strategy_for(self, metric: str) -> MetricStrategyType:
        """``metricStrategies``' entry (defaulting writes every objective's there), else the
        objective's own strategy, else ``latest`` for a constraint's metric, else Katib's
        default by the (first) objective's type."""
        for strategy in self.metric_strategies:
            if strategy.name == metric:
                return strategy.value
        for term in self.terms:
            if term.metric == metric:
                return term.strategy
        if any(c.metric == metric for c in self.constraints):
            return MetricStrategyType.LATEST
        return default_strategy(self.type)

    @property
    def metric_names(self) -> tuple[str, ...]:
        """Every metric to collect: the objectives', the additional ones, the constraints'."""
        names = (
            self.objective_metric_name,
            *self.additional_metric_names,
            *(t.metric for t in self.terms),
            *(c.metric for c in self.constraints),
        )
        return tuple(dict.fromkeys(names))

    def better(self, a: float, b: float) -> bool:
        """True when objective value ``a`` is strictly better than ``b``."""
        return a < b if self.type is ObjectiveType.MINIMIZE else a > b

    def goal_reached(self, value: float) -> bool:
        if self.goal is None:
            return False
        return value <= self.goal if self.type is ObjectiveType.MINIMIZE else value >= self.goal


@dataclass(frozen=True)
class AlgorithmSetting:
    name: str
    value: str


@dataclass(frozen=True)
class AlgorithmSpec:
    algorithm_name: str
    algorithm_settings: tuple[AlgorithmSetting, ...] = ()

    def settings_dict(self) -> dict[str, str]:
        return {s.name: s.value for s in self.algorithm_settings}


@dataclass(frozen=True)
class EarlyStoppingSpec:
    algorithm_name: str
    algorithm_settings: tuple[AlgorithmSetting, ...] = ()

    def settings_dict(self) -> dict[str, str]:
        return {s.name: s.value for s in self.algorithm_settings}


@dataclass(frozen=True)
class MetricsCollectorSpec:
    """Katib's metricsCollectorSpec, flattened."""

    kind: CollectorKind = CollectorKind.STDOUT
    path: str | None = None
    path_kind: FileSystemKind | None = None
    file_format: FileFormat | None = None
    metrics_format: tuple[str, ...] = ()
    #: Anything else in the section (custom collector containers, prometheus http get),
    #: kept verbatim for the round trip.
    extra: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class TrialParameterSpec:
    name: str
    reference: str
    description: str | None = None
    #: How the placeholder renders when its parameter is inactive (``trialParameters[].inactive``,
    #: :mod:`tunery.spec.inactive`): ``"drop"``, ``"empty"`` or ``"value"`` (``inactive_value``).
    inactive: str = "drop"
    inactive_value: str = ""


@dataclass(frozen=True)
class TrialTemplate:
    """Katib's trialTemplate, or the native form (``command`` set, ``trial_spec`` None)."""

    trial_parameters: tuple[TrialParameterSpec, ...] = ()
    #: Katib form: the Kubernetes object (Job, TFJob, PyTorchJob...) verbatim.
    trial_spec: Mapping[str, Any] | None = None
    primary_container_name: str | None = None
    primary_pod_labels: Mapping[str, str] | None = None
    success_condition: str | None = None
    failure_condition: str | None = None
    retain: bool = False
    config_map: Mapping[str, Any] | None = None
    #: Native form.
    command: tuple[str, ...] = ()
    env: Mapping[str, str] = field(default_factory=dict)
    working_dir: str | None = None
    timeout: float | None = None
    resources: Mapping[str, str] = field(default_factory=dict)

    @property
    def is_native(self) -> bool:
        return self.trial_spec is None and self.config_map is None


#: Katib's NAS algorithms: they search ``spec.nasConfig`` instead of ``spec.parameters``.
NAS_ALGORITHMS = ("enas", "darts")


@dataclass(frozen=True)
class GraphConfig:
    """``nasConfig.graphConfig``: the number of layers, the input and output sizes."""

    num_layers: int | None = None
    input_sizes: tuple[int, ...] = ()
    output_sizes: tuple[int, ...] = ()


@dataclass(frozen=True)
class NasOperation:
    """One ``nasConfig.operations[]``: an operation type and its parameters (Katib's form)."""

    operation_type: str
    parameters: tuple[ParameterSpec, ...] = ()


@dataclass(frozen=True)
class NasConfig:
    """Katib's ``spec.nasConfig`` (read and validated in :mod:`tunery.spec.nas`)."""

    graph_config: GraphConfig = field(default_factory=GraphConfig)
    operations: tuple[NasOperation, ...] = ()


@dataclass(frozen=True)
class ExperimentSpec:
    """A whole experiment, defaulted and validated."""

    name: str
    objective: Objective
    algorithm: AlgorithmSpec
    parameters: tuple[ParameterSpec, ...]
    trial_template: TrialTemplate
    namespace: str = "default"
    parallel_trial_count: int = 3
    max_trial_count: int | None = None
    max_failed_trial_count: int | None = None
    early_stopping: EarlyStoppingSpec | None = None
    metrics_collector: MetricsCollectorSpec = field(default_factory=MetricsCollectorSpec)
    resume_policy: ResumePolicy = ResumePolicy.NEVER
    #: "katib" (kubeflow.org/v1beta1 Experiment) or "native".
    source_format: str = "katib"
    #: ``spec.initialTrials``: assignments run first, in order, before the algorithm's own.
    initial_trials: tuple[Mapping[str, Any], ...] = ()
    #: metadata.labels / annotations of the Experiment, kept for the round trip.
    labels: Mapping[str, str] = field(default_factory=dict)
    annotations: Mapping[str, str] = field(default_factory=dict)
    #: The time budget: seconds the experiment may be driven (``maxExperimentDuration``) and
    #: ``KillRunning``/``LetFinish`` (None: KillRunning): ``tunery.spec.timebudget``.
    max_experiment_duration: float | None = None
    experiment_duration_policy: str | None = None
    #: Katib's ``spec.nasConfig`` (neural architecture search: enas, darts), else None.
    nas_config: NasConfig | None = None

    def parameter(self, name: str) -> ParameterSpec:
        for p in self.parameters:
            if p.name == name:
                return p
        raise KeyError(name)


# --------------------------------------------------------------------------- runtime


@dataclass(frozen=True)
class Assignment:
    """One suggestion: parameter values, plus labels an algorithm may attach.

    ``parent``: the trial whose checkpoint the new trial starts from (pbt; Syne Tune's
    ``checkpoint_trial_id``).  The controller stores it as Katib's :data:`PARENT_LABEL`, which
    is how a trial read back from the store knows it (:attr:`Trial.parent`).
    """

    parameters: Mapping[str, ParamValue]
    labels: Mapping[str, str] = field(default_factory=dict)
    parent: str | None = None

    def trial_labels(self) -> dict[str, str]:
        """The labels of a trial created from this assignment (the parent's label added)."""
        labels = dict(self.labels)
        if self.parent is not None:
            labels[PARENT_LABEL] = self.parent
        return labels


#: Katib's label naming the trial whose checkpoint a trial starts from (pbt's generations >= 1).
PARENT_LABEL = "pbt.suggestion.katib.kubeflow.org/parent"

#: The algorithm state blob's key of the seconds the experiment was driven (tunery.deadline).
DRIVEN_SECONDS_KEY = "tunery.dev/driven-seconds"

#: tunery's label naming the interrupted trial (``TrialReason.INTERRUPTED``) a trial runs again.
RERUN_LABEL = "tunery/rerun-of"


#: tunery's label naming where a seeded result (:attr:`TrialReason.WARM_STARTED`) came from.
WARM_START_LABEL = "tunery.dev/warm-start"

#: tunery's label of a trial run from ``spec.initialTrials``: its position in that list.
INITIAL_TRIAL_LABEL = "tunery.dev/initial-trial"


def is_seed(trial: Trial) -> bool:
    """A seeded result (warm start): learnt from, never run, in no budget."""
    return trial.reason == TrialReason.WARM_STARTED and trial.status is TrialCondition.SUCCEEDED


def is_interrupted(trial: Trial) -> bool:
    """Killed by Ctrl-C (or SIGTERM) of its controller: not a result, run again on resume."""
    return trial.status is TrialCondition.KILLED and trial.reason == TrialReason.INTERRUPTED


@dataclass(frozen=True)
class MetricRecord:
    """One metric value as a collector reads it from trial output."""

    name: str
    value: float | None  # None: reported but not a finite number ("unavailable")
    timestamp: float | None = None
    step: int | None = None
    #: The value verbatim when it is not a number at all (a string-valued metric such as
    #: Katib's ``Best-Genotype=Genotype(...)``); ``value`` is then None.
    text: str | None = None


@dataclass(frozen=True)
class Observation:
    """One stored metric value of a trial."""

    trial_name: str
    metric_name: str
    value: float | None
    step: int
    timestamp: float | None = None
    #: A string-valued report, verbatim (``value`` None): see :attr:`MetricRecord.text`.
    text: str | None = None


@dataclass(frozen=True)
class MetricSummary:
    """Katib's per-metric min/max/latest of a trial.

    ``text``: the latest value verbatim when it was not a number (a string-valued metric);
    Katib keeps min and max "unavailable" for such values and the string as its latest.
    """

    min: float | None = None
    max: float | None = None
    latest: float | None = None
    text: str | None = None

    def add(self, value: float | None, text: str | None = None) -> MetricSummary:
        if text is not None:
            return MetricSummary(self.min, self.max, None, text)
        if value is None or not math.isfinite(value):
            return MetricSummary(self.min, self.max, None)
        return MetricSummary(
            value if self.min is None else min(self.min, value),
            value if self.max is None else max(self.max, value),
            value,
        )

    def pick(self, strategy: MetricStrategyType) -> float | None:
        if strategy is MetricStrategyType.MIN:
            return self.min
        if strategy is MetricStrategyType.MAX:
            return self.max
        return self.latest

    def pick_text(self, strategy: MetricStrategyType) -> str | None:
        """The string value under ``strategy``, Katib's way: the latest value when it was a
        string and the strategy's min or max is unavailable (no number reported)."""
        if self.text is None or self.pick(strategy) is not None:
            return None
        return self.text

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"min": self.min, "max": self.max, "latest": self.latest}
        if self.text is not None:
            out["text"] = self.text
        return out

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> MetricSummary:
        text = data.get("text")
        return cls(
            data.get("min"),
            data.get("max"),
            data.get("latest"),
            text if isinstance(text, str) else None,
        )


@dataclass(frozen=True)
class Trial:
    """A trial as stored."""

    name: str
    experiment: str
    index: int
    parameters: Mapping[str, ParamValue]
    status: TrialCondition = TrialCondition.CREATED
    reason: str | None = None
    message: str | None = None
    labels: Mapping[str, str] = field(default_factory=dict)
    metrics: Mapping[str, MetricSummary] = field(default_factory=dict)
    objective: float | None = None
    created_time: float | None = None
    start_time: float | None = None
    completion_time: float | None = None
    handle: Mapping[str, Any] | None = None
    #: The collector's position in the trial's output: ``source``, ``collector``, ``counts``.
    cursor: Mapping[str, Any] | None = None
    #: The outcome (``status``, ``reason``, ``message``) a controller gives the trial it is
    #: stopping, saved before it stops the process (a controller that dies in between is
    #: followed by one that finishes the job).
    pending_outcome: Mapping[str, Any] | None = None
    #: The objective's value verbatim when it is a string, not a number (``objective`` is
    #: then None): :func:`objective_text`, e.g. DARTS's ``Genotype(...)``.
    objective_text: str | None = None

    @property
    def parent(self) -> str | None:
        """The trial whose checkpoint this one starts from (:data:`PARENT_LABEL`), or None."""
        return self.labels.get(PARENT_LABEL) or None

    @property
    def metrics_source(self) -> str | None:
        """The file (or directory) the collector reads for this trial: its own metrics path
        (``<runs>/<experiment>/<trial>/metrics/...``) or its output log; None before it starts."""
        source = (self.cursor or {}).get("source")
        return str(source) if source else None


def collects_files(spec: ExperimentSpec) -> bool:
    """Whether the experiment's collector reads files the trial writes (not its output): a
    File or TensorFlowEvent collector's path, or the Push collector's file."""
    return spec.metrics_collector.kind in (
        CollectorKind.FILE,
        CollectorKind.TENSORFLOW_EVENT,
        CollectorKind.PUSH,
    )


@dataclass(frozen=True)
class Experiment:
    """An experiment as stored.

    ``name`` is the Katib name (``metadata.name``), unique within its :attr:`namespace`;
    ``key`` identifies the experiment in its store (trials, intents, leases, directories refer
    to it by key): the name itself, or :func:`qualified_key` (``<namespace>.<name>``) when the
    name was already taken in another namespace.  Left empty, ``key`` is the name.
    """

    name: str
    spec: ExperimentSpec
    status: ExperimentCondition = ExperimentCondition.CREATED
    reason: str | None = None
    message: str | None = None
    created_time: float | None = None
    start_time: float | None = None
    completion_time: float | None = None
    #: The document as the user gave it (parsed YAML/JSON), for export.
    document: Mapping[str, Any] = field(default_factory=dict)
    #: Directory that relative paths of the spec (workingDir, file collector paths) resolve
    #: against: the directory of the YAML file, or the caller's working directory.
    base_dir: str | None = None
    #: Directory under which each trial gets its own directory.
    runs_dir: str | None = None
    #: The store's identity of the experiment (see above).
    key: str = ""

    def __post_init__(self) -> None:
        if not self.key:
            object.__setattr__(self, "key", self.name)

    @property
    def namespace(self) -> str:
        """The experiment's namespace (``metadata.namespace``, default ``default``)."""
        return self.spec.namespace

    @property
    def command_ref(self) -> str:
        """How a ``tunery`` command line names it: ``NAME``, with ``-n NAMESPACE`` unless it
        is in namespace ``default`` under its plain name."""
        if self.key == self.name and self.spec.namespace == "default":
            return self.name
        return f"{self.name} -n {self.spec.namespace}"

    @property
    def qualified_name(self) -> str:
        """``<namespace>/<name>``, as messages name an experiment in a namespace."""
        return f"{self.spec.namespace}/{self.name}"

    @property
    def interrupted(self) -> bool:
        """Stopped by Ctrl-C (or SIGTERM) of its controller: Running as stored, but nothing
        runs until ``tunery resume``."""
        return (
            self.status is ExperimentCondition.RUNNING
            and self.reason == ExperimentReason.INTERRUPTED
        )

    @property
    def shown_status(self) -> str:
        """The status the CLI, the UI and the JSON show: the condition, or ``Interrupted``."""
        return INTERRUPTED_STATUS if self.interrupted else self.status.value

    def _repr_html_(self) -> str:
        """Jupyter's view of the stored experiment: status, reason and message, algorithm,
        objective and budget (its trials, counts and chart: ``ExperimentHandle``'s view)."""
        from html import escape

        spec = self.spec
        budget = spec.max_trial_count if spec.max_trial_count is not None else "unlimited"
        reason = f" ({self.reason})" if self.reason else ""
        message = f"<div>{escape(self.message)}</div>" if self.message else ""
        return (
            '<div class="tunery-experiment" style="font-family:sans-serif;font-size:13px">'
            f"<div><b>tunery experiment {escape(self.name)}</b>: "
            f"<b>{escape(self.shown_status)}</b>{escape(reason)}</div>{message}"
            f"<div>{escape(spec.algorithm.algorithm_name)}, {escape(spec.objective.type.value)} "
            f"{escape(spec.objective.objective_metric_name)}, max trials {escape(str(budget))}, "
            f"parallel {spec.parallel_trial_count}</div></div>"
        )


#: Separates the namespace from the name in a qualified key.  Katib's names and namespaces are
#: DNS labels (no dot), so a qualified key is never a name, is a valid trial name prefix and a
#: valid directory name, and needs no escaping in a URL or on a command line.
KEY_SEPARATOR = "."


def qualified_key(namespace: str, name: str) -> str:
    """The key of experiment ``name`` in ``namespace`` when ``name`` is taken elsewhere."""
    return f"{namespace}{KEY_SEPARATOR}{name}"


def name_of_key(key: str, namespace: str, spec_name: str) -> str:
    """The Katib name of the experiment stored under ``key`` (in ``namespace``, with the spec's
    ``metadata.name`` ``spec_name``): ``spec_name`` when the key is it or its qualified form,
    else the key itself (a database written before namespaces, or by hand)."""
    if key == spec_name or key == qualified_key(namespace, spec_name):
        return spec_name
    return key


def objective_value(objective: Objective, metrics: Mapping[str, MetricSummary]) -> float | None:
    """The trial's objective value under the objective metric's strategy (None: unavailable)."""
    summary = metrics.get(objective.objective_metric_name)
    if summary is None:
        return None
    return summary.pick(objective.strategy_for(objective.objective_metric_name))


def objective_text(objective: Objective, metrics: Mapping[str, MetricSummary]) -> str | None:
    """The trial's objective value when it is a string (:meth:`MetricSummary.pick_text`)."""
    summary = metrics.get(objective.objective_metric_name)
    if summary is None:
        return None
    return summary.pick_text(objective.strategy_for(objective.objective_metric_name))


def best_trial(objective: Objective, trials: list[Trial]) -> Trial | None:
    """Katib's currentOptimalTrial: the best succeeded (or early-stopped) trial by objective.

    A string-valued objective (:attr:`Trial.objective_text`) is ranked as Katib ranks it
    ("for string metrics values best trial is the latest"): the latest such trial (highest
    index) is the best, before any numeric one.  With constraints or several objectives,
    :func:`tunery.objectives.best_trial` decides (the best feasible trial; the front's best
    on the first objective).
    """
    if objective.constraints or objective.is_multi:
        from tunery.objectives import best_trial as best_feasible

        return best_feasible(objective, trials)
    best: Trial | None = None
    latest_text: Trial | None = None
    for trial in trials:
        if trial.status not in (TrialCondition.SUCCEEDED, TrialCondition.EARLY_STOPPED):
            continue
        if trial.objective_text is not None:
            if latest_text is None or trial.index > latest_text.index:
                latest_text = trial
            continue
        if trial.objective is None or not math.isfinite(trial.objective):
            continue
        if best is None or objective.better(trial.objective, best.objective):  # type: ignore[arg-type]
            best = trial
    return latest_text or best
