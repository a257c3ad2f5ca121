"""The early-stopper registry: built-ins load on demand, unknown names are spec errors."""

from __future__ import annotations

import sys
from pathlib import Path

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
    TrialTemplate,
)
from tunery.stopping import EarlyStopper, available, base, create_stopper, register
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
