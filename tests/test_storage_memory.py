"""The in-memory store (tunery.storage.memory): the store contract, and that it needs no SQL."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterable, Iterator, Mapping, Sequence

import pytest

from tunery.model import Observation, TrialCondition
from tunery.storage import InMemoryStore, TrialChange
from tunery.testing.store import StoreContract


class TestInMemoryStoreContract(StoreContract):
    @pytest.fixture
    def store(self) -> Iterator[InMemoryStore]:
        with InMemoryStore() as store:
            yield store


class _IgnoresExpectations(InMemoryStore):
    """A broken store: its compare-and-set ignores ``expect``."""

    def update_trial(
        self,
        experiment: str,
        name: str,
        change: TrialChange,
        *,
        expect: Iterable[TrialCondition] | None = None,
        observations: Sequence[Observation] = (),
        thin: Mapping[str, tuple[int, int]] | None = None,
    ) -> bool:
        return super().update_trial(experiment, name, change, observations=observations, thin=thin)


class _NeverThins(InMemoryStore):
    """A broken store: it keeps every observation."""

    def _append(
        self,
        stored: object,
        trial_name: str,
        observations: list[Observation],
        thin: Mapping[str, tuple[int, int]] | None,
    ) -> None:
        super()._append(stored, trial_name, observations, None)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("broken", "check"),
    [
        (_IgnoresExpectations, "test_update_trial_applies_only_when_the_status_is_expected"),
        (_IgnoresExpectations, "test_concurrent_finishers_exactly_one_wins"),
        (_NeverThins, "test_thinning_keeps_the_rules_points"),
    ],
)
def test_the_contract_fails_a_wrong_store(broken: type[InMemoryStore], check: str) -> None:
    with pytest.raises(AssertionError):
        getattr(StoreContract(), check)(broken())
    getattr(StoreContract(), check)(InMemoryStore())  # the right store passes the same check


def test_the_memory_store_imports_no_sqlalchemy() -> None:
    code = (
        "import sys, tunery\n"
        "from tunery.storage import InMemoryStore\n"
        "tunery.Optimizer({'x': tunery.search.double(0, 1)}).ask()\n"
        "assert 'sqlalchemy' not in sys.modules, 'sqlalchemy imported'\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
