"""The early-stopper registry: built-ins load on demand, unknown names are spec errors."""

from __future__ import annotations

import itertools
import sys
from pathlib import Path
from typing import Any

import pytest

from tunery.errors import SpecError
from tunery.history import History
from tunery.model import (
    AlgorithmSetting,
    AlgorithmSpec,
    EarlyStoppingSpec,
    ExperimentSpec,
    Objective,
    ObjectiveType,
    TrialCondition,
    TrialTemplate,
)
from tunery.stopping import EarlyStopper, available, base, create_stopper, register
from tunery.testing import stopping as contract
from tunery.testing.suggest import double_param


def spec_with(early_stopping: EarlyStoppingSpec | None) -> ExperimentSpec:
    return ExperimentSpec(
        name="stopping",
        objective=Objective(type=ObjectiveType.MAXIMIZE, objective_metric_name="acc"),
        algorithm=AlgorithmSpec("random"),
        parameters=(double_param("x", "0", "1"),),
        trial_template=TrialTemplate(command=("true",)),
        early_stopping=early_stopping,
        source_format="native",
    )


@pytest.fixture
def registry(monkeypatch: pytest.MonkeyPatch) -> None:
    """A private copy of the registry, so a test's registrations do not leak."""
    monkeypatch.setattr(base, "_FACTORIES", dict(base._FACTORIES))
    monkeypatch.setattr(base, "_BUILTIN_MODULES", dict(base._BUILTIN_MODULES))


def test_medianstop_is_available() -> None:
    assert "medianstop" in available()
    assert available() == sorted(available())


def test_no_early_stopping_means_no_stopper() -> None:
    assert create_stopper(spec_with(None)) is None


def test_medianstop_is_created_by_name() -> None:
    spec = spec_with(EarlyStoppingSpec("medianstop"))
    stopper = create_stopper(spec)
    assert stopper is not None
    assert stopper.decide(History.from_spec(spec, [])) == {}


def test_unknown_name_is_a_spec_error_with_path_and_hint() -> None:
    with pytest.raises(SpecError, match="'nope' is not available") as info:
        create_stopper(spec_with(EarlyStoppingSpec("nope")))
    assert info.value.path == "spec.earlyStopping.algorithmName"
    assert "medianstop" in (info.value.hint or "")


def test_register_validates_before_creating(registry: None) -> None:
    calls: list[str] = []

    class Never:
        def __init__(self, spec: ExperimentSpec) -> None:
            calls.append("create")

        def decide(self, history: History) -> dict[str, str]:
            return {}

    def validator(spec: ExperimentSpec) -> None:
        calls.append("validate")
        assert spec.early_stopping is not None
        if spec.early_stopping.algorithm_settings:
            raise SpecError("spec.earlyStopping.algorithmSettings[0].name", "no settings", "none")

    register("never", Never, validator)
    assert "never" in available()
    stopper: EarlyStopper | None = create_stopper(spec_with(EarlyStoppingSpec("never")))
    assert isinstance(stopper, Never)
    assert calls == ["validate", "create"]
    bad = spec_with(EarlyStoppingSpec("never", (AlgorithmSetting("a", "1"),)))
    with pytest.raises(SpecError, match="no settings"):
        create_stopper(bad)
    assert calls == ["validate", "create", "validate"]


def test_a_builtin_whose_module_is_missing_is_not_available(registry: None) -> None:
    base._BUILTIN_MODULES["ghost"] = "tunery.stopping.ghost_that_is_not_installed"
    assert "ghost" not in available()
    with pytest.raises(SpecError, match="not available"):
        create_stopper(spec_with(EarlyStoppingSpec("ghost")))


def test_a_builtin_with_a_broken_import_raises(
    registry: None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "broken_stopper_mod.py").write_text("import no_such_dependency_xyz\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    base._BUILTIN_MODULES["broken"] = "broken_stopper_mod"
    try:
        with pytest.raises(ModuleNotFoundError, match="no_such_dependency_xyz"):
            create_stopper(spec_with(EarlyStoppingSpec("broken")))
    finally:
        sys.modules.pop("broken_stopper_mod", None)


# --------------------------------------------------------------------------- the contract


@pytest.mark.parametrize("name", available())
@pytest.mark.parametrize("check", contract.CHECKS, ids=lambda c: c.__name__)
def test_contract(name: str, check: Any) -> None:
    check(name, contract.default_spec_factory)


@pytest.mark.parametrize("name", available())
def test_the_contract_scenario_makes_every_builtin_stop_someone(name: str) -> None:
    """So that "decides only running trials" is tested on real decisions."""
    spec = contract.default_spec_factory(name)
    stopper = create_stopper(spec)
    assert stopper is not None
    decisions = contract.simulate(stopper, spec)
    assert sum(len(d) for d in decisions) > 0


@pytest.mark.parametrize("name", available())
@pytest.mark.parametrize("check", contract.CHECKS, ids=lambda c: c.__name__)
def test_contract_with_two_objectives_and_a_constraint(name: str, check: Any) -> None:
    check(name, contract.multi_objective_spec_factory)


@pytest.mark.parametrize("name", available())
def test_the_multi_objective_scenario_makes_every_builtin_stop_someone(name: str) -> None:
    spec = contract.multi_objective_spec_factory(name)
    assert spec.objective.is_multi and spec.objective.constraints
    stopper = create_stopper(spec)
    assert stopper is not None
    decisions = contract.simulate(stopper, spec)
    assert sum(len(d) for d in decisions) > 0


_CALLS = itertools.count()


class _Broken:
    """An early stopper (median-like) that breaks one rule of the contract."""

    def __init__(self, spec: ExperimentSpec, flaw: str) -> None:
        self.flaw = flaw
        self.metric = spec.objective.objective_metric_name
        self.sizes: dict[str, int] = {}

    def decide(self, history: History) -> dict[str, str]:
        decisions: dict[str, str] = {}
        for entry in history.entries:
            name = entry.trial.name
            curve = history.curves.get(name, ())
            if self.flaw == "thinning" and name in self.sizes and curve:
                _ = curve[self.sizes[name] - 1].value  # assumes the curve only grows
                self.sizes[name] = max(self.sizes[name], len(curve))
            else:
                self.sizes[name] = len(curve)
            values = [o.value for o in curve if o.value is not None]
            if self.flaw == "nan":
                values = [float(int(v * 1000)) for v in values]  # int(nan) raises
            if self.flaw == "mutating" and curve:
                history.curves[name].append(curve[-1])  # type: ignore[attr-defined]
            worst = bool(values) and max(values) > 1.0 and len(values) >= 4
            if entry.trial.status is TrialCondition.RUNNING and worst:
                decisions[name] = 1 if self.flaw == "reason" else "worse than 1"  # type: ignore[assignment]
            if self.flaw == "completed" and entry.completed and worst:
                decisions[name] = "finished, and stopped anyway"
            if self.flaw == "created" and entry.trial.status is TrialCondition.CREATED:
                decisions[name] = "not even started"
        if self.flaw == "random" and history.running_trials:
            trials = history.running_trials
            pick = trials[next(_CALLS) % len(trials)]
            decisions[pick.name] = "picked at random"
        return decisions


@pytest.mark.parametrize(
    ("flaw", "check"),
    [
        ("completed", contract.check_decides_only_running),
        ("created", contract.check_decides_only_running),
        ("reason", contract.check_decides_only_running),
        ("random", contract.check_deterministic),
        ("mutating", contract.check_leaves_history_alone),
        ("nan", contract.check_tolerates_odd_curves),
        ("thinning", contract.check_survives_thinning),
    ],
)
def test_the_contract_catches_broken_stoppers(registry: None, flaw: str, check: Any) -> None:
    register("broken", lambda spec: _Broken(spec, flaw), lambda spec: None)
    with pytest.raises((AssertionError, ValueError, IndexError)):
        check("broken", contract.default_spec_factory)
    register("sound", lambda spec: _Broken(spec, "none"), lambda spec: None)
    check("sound", contract.default_spec_factory)  # the same stopper without the flaw passes
