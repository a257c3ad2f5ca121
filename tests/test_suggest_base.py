"""The suggester registry, and the contract suite run over every registered algorithm."""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from typing import Any

import pytest

from tunery.errors import SpecError
from tunery.history import History
from tunery.model import NAS_ALGORITHMS, Assignment, ExperimentSpec
from tunery.suggest import available, base, create_suggester
from tunery.suggest.base import validate_algorithm
from tunery.testing import suggest as contract
from tunery.testing.suggest import (
    SpecFactory,
    default_parameters,
    default_spec_factory,
    int_param,
    make_spec,
)

#: Algorithms whose specs need more than the default (required settings, parameter kinds).
SPEC_FACTORIES: dict[str, SpecFactory] = dict(contract.SPEC_FACTORIES)

CHECKS = [
    contract.check_feasible,
    contract.check_no_duplicates,
    contract.check_deterministic,
    contract.check_state_roundtrip,
    contract.check_exhausts,
    contract.check_rejects_unknown_setting,
]


@pytest.mark.parametrize("algorithm", [a for a in available() if a not in NAS_ALGORITHMS])
@pytest.mark.parametrize("check", CHECKS, ids=lambda c: c.__name__)
def test_contract(algorithm: str, check: Any) -> None:
    exempt = contract.EXEMPTIONS.get((algorithm, check.__name__))
    if exempt:
        pytest.skip(exempt)
    check(algorithm, SPEC_FACTORIES.get(algorithm, default_spec_factory))


@pytest.mark.parametrize("algorithm", base.conditional_algorithms())
def test_conditional_contract(algorithm: str) -> None:
    contract.check_conditional(algorithm, SPEC_FACTORIES.get(algorithm, default_spec_factory))


def test_conditional_registry() -> None:
    assert {"random", "sobol", "grid", "hyperband"} <= set(base.conditional_algorithms())
    assert not {"cmaes", "pbt"} & set(base.conditional_algorithms())


@pytest.mark.parametrize(
    ("algorithm", "reason"), [("cmaes", "continuous vector"), ("pbt", "perturbs")]
)
def test_non_conditional_algorithms_refuse_a_tree_with_their_reason(
    algorithm: str, reason: str
) -> None:
    spec = SPEC_FACTORIES[algorithm](algorithm, contract.conditional_parameters())
    with pytest.raises(SpecError, match=reason) as info:
        validate_algorithm(spec)
    assert info.value.path == "spec.algorithm.algorithmName"
    assert "cannot search conditional parameters (activeWhen)" in str(info.value)
    assert "random" in (info.value.hint or "") and "grid" in (info.value.hint or "")


def test_builtins_are_available() -> None:
    assert {"random", "grid", "sobol"} <= set(available())


def test_unknown_and_not_yet_implemented_algorithms() -> None:
    with pytest.raises(SpecError, match="unknown algorithm") as info:
        validate_algorithm(make_spec(default_parameters(), "nope"))
    assert info.value.path == "spec.algorithm.algorithmName"
    assert "random" in (info.value.hint or "")
    missing = [name for name in base.KATIB_ALGORITHMS if name not in available()]
    for name in missing:
        with pytest.raises(SpecError, match="does not run yet"):
            validate_algorithm(make_spec(default_parameters(), name))


def test_setting_path() -> None:
    spec = make_spec(default_parameters(), "random", [("a", "1"), ("random_state", "2")])
    assert base.setting_path(spec, "random_state") == "spec.algorithm.algorithmSettings[1]"
    assert base.setting_path(spec, "zzz") == "spec.algorithm.algorithmSettings"


# --------------------------------------------------------------------------- the suite bites


_CALLS = itertools.count()


class _Broken:
    """A suggester that breaks one rule of the contract."""

    def __init__(self, spec: ExperimentSpec, seed: int | None, flaw: str) -> None:
        self.spec = spec
        self.flaw = flaw
        self.calls = 0
        self.inner = create_suggester(make_spec(spec.parameters, "random"), seed)

    def suggest(self, history: History, count: int) -> list[Assignment]:
        self.calls += 1
        trials = history.trials
        if self.flaw == "infeasible":
            return [Assignment({p.name: "?" for p in self.spec.parameters})]
        if self.flaw == "repeat" and trials:
            return [Assignment(dict(trials[0].parameters))]
        if self.flaw == "random":  # a new seed on every call, whatever the instance
            fresh = create_suggester(make_spec(self.spec.parameters, "random"), next(_CALLS))
            return fresh.suggest(history, count)
        if self.flaw == "forgetful":  # state that dump_state does not carry
            return self.inner.suggest(History.from_spec(self.spec, trials[: self.calls]), count)
        if self.flaw == "endless":
            found = self.inner.suggest(history, count)
            return found or [Assignment(dict(trials[0].parameters))]
        return self.inner.suggest(history, count)

    def dump_state(self) -> dict[str, Any] | None:
        return None

    def load_state(self, state: dict[str, Any]) -> None:
        pass


@pytest.mark.parametrize(
    ("flaw", "check"),
    [
        ("infeasible", contract.check_feasible),
        ("repeat", contract.check_no_duplicates),
        ("random", contract.check_deterministic),
        ("forgetful", contract.check_state_roundtrip),
        ("endless", contract.check_exhausts),
        ("lenient", contract.check_rejects_unknown_setting),
    ],
)
def test_the_contract_catches_broken_suggesters(
    monkeypatch: pytest.MonkeyPatch, flaw: str, check: Any
) -> None:
    monkeypatch.setitem(
        base._FACTORIES,
        "broken",
        (lambda spec, seed: _Broken(spec, seed, flaw), lambda spec: None),
    )
    with pytest.raises(AssertionError):
        check("broken", default_spec_factory)


def test_run_contract_accepts_a_custom_spec_factory() -> None:
    calls: list[str] = []

    def factory(algorithm: str, parameters: Sequence[Any]) -> ExperimentSpec:
        calls.append(algorithm)
        return make_spec(parameters, algorithm, {"random_state": "3"})

    contract.run_contract("random", factory)
    assert calls and set(calls) == {"random"}
    contract.check_exhausts("grid", parameters=[int_param("n", "1", "7", step="3")])
