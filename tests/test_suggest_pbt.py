"""Katib's ``pbt``: settings, generations (exploit/explore), checkpoints handed down, lineage."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import zlib
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from tests.helpers import create, kill_9_runs, native_doc, tunery_ok, write_yaml
from tunery.controller import Controller
from tunery.errors import SpecError
from tunery.history import History
from tunery.launch import CHECKPOINT_ENV
from tunery.model import (
    Assignment,
    ExperimentCondition,
    ExperimentReason,
    ExperimentSpec,
    MetricSummary,
    ObjectiveType,
    ParameterSpec,
    Trial,
    TrialCondition,
)
from tunery.space import SearchSpace
from tunery.spec import load_file
from tunery.storage import Store
from tunery.suggest import create_suggester
from tunery.suggest import pbt as pbt_module
from tunery.suggest.base import validate_algorithm
from tunery.suggest.pbt import (
    GENERATION_LABEL,
    PARENT_LABEL,
    PbtSuggester,
)
from tunery.testing import suggest as contract
from tunery.testing.suggest import (
    OBJECTIVE_METRIC,
    assert_feasible,
    categorical_param,
    default_parameters,
    discrete_param,
    double_param,
    int_param,
    make_spec,
)

REPO = Path(__file__).resolve().parents[1]
EXAMPLE = REPO / "examples" / "pbt"
CKPT = "/var/log/katib/checkpoints/"

Settings = Mapping[str, str] | Sequence[tuple[str, str]]


def settings_of(population: int = 5, threshold: str = "0.4", **extra: str) -> list[tuple[str, str]]:
    pairs = [
        ("suggestion_trial_dir", CKPT),
        ("n_population", str(population)),
        ("truncation_threshold", threshold),
    ]
    return pairs + list(extra.items())


def pbt_spec(
    parameters: Sequence[ParameterSpec] | None = None,
    settings: Settings | None = None,
    *,
    objective_type: ObjectiveType = ObjectiveType.MINIMIZE,
) -> ExperimentSpec:
    return make_spec(
        parameters or default_parameters(),
        "pbt",
        settings if settings is not None else settings_of(),
        objective_type=objective_type,
    )


def trials_of(
    assignments: Sequence[Assignment],
    objectives: Sequence[float | None] | None = None,
    *,
    start: int = 1,
    status: TrialCondition = TrialCondition.SUCCEEDED,
) -> list[Trial]:
    out = []
    for offset, a in enumerate(assignments):
        value = None if objectives is None else objectives[offset]
        st = status if value is not None or status.is_active else TrialCondition.FAILED
        index = start + offset
        out.append(
            Trial(
                name=f"t-{index:04d}",
                experiment="contract",
                index=index,
                parameters=dict(a.parameters),
                status=st,
                labels=dict(a.labels),
                metrics={} if value is None else {OBJECTIVE_METRIC: MetricSummary(value, value)},
                objective=value,
            )
        )
    return out


# --------------------------------------------------------------------------- settings


def test_katib_settings_are_accepted() -> None:
    spec = pbt_spec(settings=settings_of(5, "0", resample_probability="1"))
    validate_algorithm(spec)
    validate_algorithm(pbt_spec(settings=settings_of(40, "1", resample_probability="0")))
    validate_algorithm(pbt_spec(settings=settings_of(5, "0.2", random_state="3")))
    (parsed,) = load_file(REPO / "tests" / "data" / "spec" / "valid" / "pbt.yaml")
    validate_algorithm(parsed.spec)
    settings = pbt_module.parse_settings(spec)
    assert settings.n_population == 5 and settings.truncation_threshold == 0.0
    assert settings.resample_probability == 1.0 and settings.suggestion_trial_dir == CKPT


@pytest.mark.parametrize(
    ("pairs", "path", "words"),
    [
        (settings_of()[1:], "spec.algorithm.algorithmSettings", "suggestion_trial_dir"),
        (settings_of()[:1], "spec.algorithm.algorithmSettings", "n_population"),
        (settings_of()[:2], "spec.algorithm.algorithmSettings", "truncation_threshold"),
        (settings_of(4), "spec.algorithm.algorithmSettings[1]", ">= 5"),
        ([*settings_of()[:1], ("n_population", "ten")], "algorithmSettings[1]", "integer"),
        ([*settings_of()[:1], ("n_population", "5.5")], "algorithmSettings[1]", "integer"),
        (settings_of(5, "1.5"), "spec.algorithm.algorithmSettings[2]", "between 0 and 1"),
        (settings_of(5, "-0.1"), "spec.algorithm.algorithmSettings[2]", "between 0 and 1"),
        (settings_of(5, "nan"), "spec.algorithm.algorithmSettings[2]", "between 0 and 1"),
        (settings_of(5, "x"), "spec.algorithm.algorithmSettings[2]", "between 0 and 1"),
        (settings_of(resample_probability="2"), "algorithmSettings[3]", "resample_probability"),
        (settings_of(resample_probability="p"), "algorithmSettings[3]", "resample_probability"),
        ([("suggestion_trial_dir", " "), *settings_of()[1:]], "algorithmSettings[0]", "dir"),
        ([("suggestion_trial_dir", "/"), *settings_of()[1:]], "algorithmSettings[0]", "root"),
        (settings_of(random_state="-1"), "algorithmSettings[3]", "random_state"),
        (settings_of(eta="3"), "spec.algorithm.algorithmSettings[3]", "unknown setting"),
    ],
)
def test_bad_settings_name_the_setting(pairs: Settings, path: str, words: str) -> None:
    with pytest.raises(SpecError) as info:
        validate_algorithm(pbt_spec(settings=pairs))
    assert info.value.path.endswith(path), info.value.path
    assert words in info.value.message, info.value.message
    assert info.value.hint


# --------------------------------------------------------------------------- generations


def test_generation_zero_is_random_distinct_and_in_the_space() -> None:
    spec = pbt_spec()
    space = SearchSpace.from_spec(spec)
    batch = create_suggester(spec, 3).suggest(History.from_spec(spec, []), 10)
    assert len(batch) == 5  # one population, whatever was asked
    for a in batch:
        assert_feasible(space, a)
        assert a.labels == {GENERATION_LABEL: "0"}
    assert len({space.canonical(a.parameters) for a in batch}) == 5
    other = create_suggester(spec, 4).suggest(History.from_spec(spec, []), 5)
    assert [a.parameters for a in other] != [a.parameters for a in batch]


def test_generation_zero_of_a_tiny_space_repeats_values() -> None:
    spec = pbt_spec([categorical_param("c", ["a", "b"])])
    batch = create_suggester(spec, 0).suggest(History.from_spec(spec, []), 5)
    assert len(batch) == 5 and {a.parameters["c"] for a in batch} == {"a", "b"}


def test_next_generation_truncation_exploit_explore() -> None:
    params = [double_param("lr", "0.001", "1", step="0.001"), int_param("n", "1", "100")]
    spec = pbt_spec(params, settings_of(10, "0.3"), objective_type=ObjectiveType.MAXIMIZE)
    space = SearchSpace.from_spec(spec)
    suggester = create_suggester(spec, 5)
    gen0 = suggester.suggest(History.from_spec(spec, []), 10)
    # Member i scores i, except member 7 which failed: it ranks last.
    scores: list[float | None] = [float(i) for i in range(10)]
    scores[7] = None
    history = trials_of(gen0, scores)
    gen1 = suggester.suggest(History.from_spec(spec, history), 10)
    assert len(gen1) == 10
    bottom = {0, 1, 7}  # floor(10 * 0.3) = 3: the failed one and the two lowest
    top = {history[i].name: history[i] for i in (9, 8, 6)}
    for i, a in enumerate(gen1):
        assert_feasible(space, a)
        assert a.labels[GENERATION_LABEL] == "1"
        if i not in bottom:
            # Survivors continue from their own checkpoint with their own values.
            assert a.labels[PARENT_LABEL] == history[i].name
            assert a.parameters == history[i].parameters
            continue
        parent = top[a.labels[PARENT_LABEL]]
        for name, value in a.parameters.items():
            old = parent.parameters[name]
            if name == "lr":
                candidates = {round(min(1.0, max(0.001, old * f)), 3) for f in (0.8, 1.2)}
                steps = {round(old + d, 3) for d in (-0.001, 0.001)}
                assert value in candidates | steps, (old, value)
            else:
                assert isinstance(value, int) and 1 <= value <= 100
                assert value != old or old in (1, 100), (old, value)
                assert abs(value - old) <= max(1, round(old * 0.2)), (old, value)


def test_minimize_ranks_low_values_first_and_metrics_unavailable_last() -> None:
    spec = pbt_spec([double_param("x", "0", "1")], settings_of(5, "0.2"))
    suggester = PbtSuggester(spec, 1)
    gen0 = suggester.suggest(History.from_spec(spec, []), 5)
    history = trials_of(gen0, [0.5, 0.1, 0.9, 0.3, 0.7])
    history[0] = Trial(
        **{**history[0].__dict__, "status": TrialCondition.METRICS_UNAVAILABLE, "objective": None}
    )
    assert suggester.rank(History.from_spec(spec, history).entries) == [1, 3, 4, 2, 0]
    gen1 = suggester.suggest(History.from_spec(spec, history), 5)
    assert gen1[0].labels[PARENT_LABEL] == history[1].name  # the one replaced; the best's child
    assert [a.labels[PARENT_LABEL] for a in gen1[1:]] == [t.name for t in history[1:]]


def test_explore_by_perturbation_of_each_kind() -> None:
    spec = pbt_spec(
        [
            double_param("c", "0.1", "10"),
            int_param("i", "1", "50"),
            discrete_param("d", ["8", "1", "4", "2"]),
            categorical_param("k", ["a", "b", "c"]),
        ]
    )
    suggester = PbtSuggester(spec, 0)
    space = suggester.space
    rng = np.random.default_rng(0)
    seen: dict[str, set[Any]] = {"c": set(), "i": set(), "d": set(), "k": set()}
    for _ in range(200):
        key = space.canonical({"c": 10.0, "i": 1, "d": 8, "k": "a"})
        params = space.params_of(suggester._explore(key, rng))
        for name, value in params.items():
            seen[name].add(value)
        key = space.canonical({"c": 5.0, "i": 20, "d": 2, "k": "c"})
        params = space.params_of(suggester._explore(key, rng))
        assert params["c"] in (pytest.approx(4.0), pytest.approx(6.0))
        assert params["i"] in (16, 24)
        assert params["d"] in (1, 4)  # numeric neighbours of 2
        assert params["k"] in ("a", "b")  # wraps around
    assert seen["c"] == {8.0, 10.0}  # clipped at max
    assert seen["i"] == {1, 2}  # 1 * 1.2 rounds to 1: one step up; 1 * 0.8: clipped at min
    assert seen["d"] == {4}  # 8 is the largest: its only neighbour
    assert seen["k"] == {"b", "c"}


def test_explore_by_resampling() -> None:
    params = [double_param("x", "0", "1"), int_param("n", "1", "1000")]
    keep = PbtSuggester(pbt_spec(params, settings_of(resample_probability="0")), 0)
    key = keep.space.canonical({"x": 0.5, "n": 500})
    rng = np.random.default_rng(1)
    assert keep._explore(key, rng) == key
    fresh = PbtSuggester(pbt_spec(params, settings_of(resample_probability="1")), 0)
    drawn = {fresh._explore(key, rng) for _ in range(20)}
    assert len(drawn) == 20 and key not in drawn


def test_members_are_handed_out_progressively_and_generations_wait() -> None:
    spec = pbt_spec(settings=settings_of(5, "0.4"))
    suggester = create_suggester(spec, 2)
    history: list[Trial] = []

    def take(count: int) -> list[Assignment]:
        batch = suggester.suggest(History.from_spec(spec, history), count)
        history.extend(trials_of(batch, start=len(history) + 1, status=TrialCondition.RUNNING))
        return batch

    def finish(*positions: int) -> None:
        for p in positions:
            t = history[p]
            value = float(sum(map(ord, t.name)) % 13)
            history[p] = Trial(
                **{**t.__dict__, "status": TrialCondition.SUCCEEDED, "objective": value}
            )

    assert len(take(2)) == 2
    assert len(take(2)) == 2
    finish(0, 1)
    assert len(take(2)) == 1  # the last member of generation 0
    assert take(3) == []  # generation 0 still running: nothing yet
    finish(2, 3)
    assert take(3) == []
    finish(4)
    gen1 = take(2)
    assert [a.labels[GENERATION_LABEL] for a in gen1] == ["1", "1"]
    assert gen1[0].labels[PARENT_LABEL] in {t.name for t in history[:5]}
    assert len(take(5)) == 3
    assert [t.labels[GENERATION_LABEL] for t in history] == ["0"] * 5 + ["1"] * 5


def _run(suggester: PbtSuggester, spec: ExperimentSpec, rounds: int, count: int) -> list[Trial]:
    history, _ = contract.simulate(suggester, spec, rounds, count)
    return history


def test_deterministic_and_stateless_resume_without_duplicates_or_gaps() -> None:
    spec = pbt_spec()
    whole = _run(PbtSuggester(spec, 9), spec, 12, 3)
    again = _run(PbtSuggester(spec, 9), spec, 12, 3)
    assert [(t.parameters, t.labels) for t in whole] == [(t.parameters, t.labels) for t in again]
    assert PbtSuggester(spec, 9).dump_state() is None
    # A controller killed after creating trials, before saving anything: a new suggester
    # (no state) sees the history and goes on exactly where the first one was.
    for cut in range(1, 12):
        first = _run(PbtSuggester(spec, 9), spec, cut, 3)
        resumed = PbtSuggester(spec, 9)
        resumed.load_state({})
        rest, _ = contract.simulate(resumed, spec, 12 - cut, 3, first)
        assert [(t.parameters, t.labels) for t in rest] == [
            (t.parameters, t.labels) for t in whole
        ], cut
    generations = [int(t.labels[GENERATION_LABEL]) for t in whole]
    assert generations == sorted(generations)
    for g in set(generations[:-5]):
        assert generations.count(g) == 5
    other = _run(PbtSuggester(spec, 10), spec, 12, 3)
    assert [t.parameters for t in other] != [t.parameters for t in whole]


@pytest.mark.parametrize(
    "check",
    [
        contract.check_feasible,
        contract.check_deterministic,
        contract.check_state_roundtrip,
        contract.check_rejects_unknown_setting,
    ],
    ids=lambda c: c.__name__,
)
def test_contract_checks_that_apply(check: Any) -> None:
    # No-duplicates and exhaustion do not apply: PBT reuses values across generations.
    check("pbt", contract.pbt_spec_factory)


# --------------------------------------------------------------------------- purity


def test_assignments_name_their_parent_typed_and_as_katibs_label() -> None:
    spec = pbt_spec()
    suggester = PbtSuggester(spec, 7)
    gen0 = suggester.suggest(History.from_spec(spec, []), 5)
    history = trials_of(gen0, [0.5, 0.1, 0.9, 0.3, 0.7])
    gen1 = suggester.suggest(History.from_spec(spec, history), 5)
    assert all(a.parent is not None for a in gen1)
    assert [a.parent for a in gen1] == [a.labels[PARENT_LABEL] for a in gen1]
    assert all(a.parent is None for a in gen0)


def test_the_algorithm_module_imports_no_launch_or_file_code() -> None:
    code = (
        "import sys, tunery.suggest.pbt; "
        "print(sorted(m for m in sys.modules if m.startswith(('tunery.launch', "
        "'tunery.execute'))))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


# --------------------------------------------------------------------------- controller


def test_controller_with_fake_clock_runs_generations_to_max_trials(tmp_path: Path) -> None:
    from tunery.clock import FakeClock
    from tunery.execute.base import Launch
    from tunery.testing.executor import FakeExecutor, TrialScript

    seen: dict[str, str] = {}

    def script(launch: Launch) -> TrialScript:
        ckpt = launch.env[CHECKPOINT_ENV]
        assert os.path.isdir(ckpt), "the checkpoint directory exists before the trial starts"
        seen[launch.trial_name] = ckpt
        x = float(launch.argv[-1].split("=", 1)[1])
        return TrialScript(duration=10.0, lines=[(9.0, f"score={x}")])

    doc = native_doc("fakepbt", "pass", parallel=3, max_trials=17)
    doc["spec"]["algorithm"] = {
        "algorithmName": "pbt",
        "algorithmSettings": [
            {"name": "suggestion_trial_dir", "value": "/ckpt"},
            {"name": "n_population", "value": "5"},
            {"name": "truncation_threshold", "value": "0.2"},
        ],
    }
    store = Store(f"sqlite:///{tmp_path / 'tunery.db'}")
    try:
        create(store, doc, tmp_path)
        clock = FakeClock()
        Controller(store, "fakepbt", FakeExecutor(clock, script), clock=clock).run()
        exp = store.get_experiment("fakepbt")
        assert exp.reason == ExperimentReason.MAX_TRIALS_REACHED, exp.message
        trials = store.list_trials("fakepbt")
        gens = [t.labels[GENERATION_LABEL] for t in trials]
        assert gens == ["0"] * 5 + ["1"] * 5 + ["2"] * 5 + ["3"] * 2
        runs = tmp_path / "runs" / "fakepbt" / "checkpoints"
        assert seen == {t.name: str(runs / t.name) for t in trials}
    finally:
        store.close()


# --------------------------------------------------------------------------- real trials

#: A trial that continues the lineage found in its checkpoint: it appends its own name and
#: adds x to the score carried over, printing the score at every step.
LINEAGE = """
import json, os, sys, time
args = dict(a[2:].split("=", 1) for a in sys.argv[1:])
ckpt = args["ckpt"]
assert ckpt == os.environ["TUNERY_CHECKPOINT_DIR"], ckpt
name = os.environ["KATIB_TRIAL_NAME"]
if os.environ.get("RAN_LOG"):
    with open(os.environ["RAN_LOG"], "a") as fh:
        fh.write(name + "\\n")
path = os.path.join(ckpt, "lineage.json")
state = {"trials": [], "score": 0.0}
if os.path.exists(path):
    with open(path) as fh:
        state = json.load(fh)
x = float(args["x"])
steps = int(os.environ.get("STEPS", "2"))
for step in range(1, steps + 1):
    time.sleep(float(os.environ.get("SLEEP", "0")))
    print(f"score={state['score'] + x * step / steps}", flush=True)
state["trials"].append(name)
state["score"] += x
with open(path + ".tmp", "w") as fh:
    json.dump(state, fh)
os.replace(path + ".tmp", path)
"""


def lineage_doc(name: str, *, population: int, parallel: int, max_trials: int) -> dict[str, Any]:
    doc = native_doc(
        name,
        LINEAGE,
        parameters=[
            {"name": "x", "parameterType": "double", "feasibleSpace": {"min": "0", "max": "1"}}
        ],
        parallel=parallel,
        max_trials=max_trials,
    )
    doc["spec"]["algorithm"] = {
        "algorithmName": "pbt",
        "algorithmSettings": [
            {"name": "suggestion_trial_dir", "value": "/pbt-ckpt/"},
            {"name": "n_population", "value": str(population)},
            {"name": "truncation_threshold", "value": "0.4"},
        ],
    }
    doc["spec"]["trialTemplate"]["command"].append("--ckpt=/pbt-ckpt")
    return doc


def check_lineage(store: Store, name: str, runs: Path, population: int, total: int) -> None:
    """Generations are what the algorithm plans from the history, and every trial started
    from a complete copy of its parent's checkpoint."""
    exp = store.get_experiment(name)
    trials = store.list_trials(name)
    assert len(trials) == total
    assert all(t.status is TrialCondition.SUCCEEDED for t in trials), [
        (t.name, t.status, t.message) for t in trials
    ]
    replay = PbtSuggester(exp.spec, zlib.crc32(name.encode()))
    for start in range(0, total, population):
        planned = replay.suggest(History.from_spec(exp.spec, trials[:start]), population)
        got = trials[start : start + population]
        assert [(a.parameters, a.labels) for a in planned[: len(got)]] == [
            (dict(t.parameters), dict(t.labels)) for t in got
        ]
    checkpoints = runs / name / "checkpoints"
    assert sorted(p.name for p in checkpoints.iterdir()) == [t.name for t in trials]
    lineage = {
        t.name: json.loads((checkpoints / t.name / "lineage.json").read_text()) for t in trials
    }
    by_name = {t.name: t for t in trials}
    for t in trials:
        parent = t.labels.get(PARENT_LABEL)
        before = lineage[parent] if parent else {"trials": [], "score": 0.0}
        assert lineage[t.name]["trials"] == [*before["trials"], t.name]
        assert lineage[t.name]["score"] == pytest.approx(before["score"] + t.parameters["x"])
        assert t.objective == pytest.approx(lineage[t.name]["score"])
        generation = int(t.labels[GENERATION_LABEL])
        assert len(lineage[t.name]["trials"]) == generation + 1
        if parent:
            assert int(by_name[parent].labels[GENERATION_LABEL]) == generation - 1


@pytest.mark.integration
def test_real_trials_continue_from_their_parents_checkpoints(tmp_path: Path) -> None:
    store = Store(f"sqlite:///{tmp_path / 'tunery.db'}")
    try:
        create(store, lineage_doc("lineage", population=5, parallel=3, max_trials=15), tmp_path)
        Controller(store, "lineage", _local(), poll_interval=0.02).run()
        exp = store.get_experiment("lineage")
        assert exp.status is ExperimentCondition.SUCCEEDED
        assert exp.reason == ExperimentReason.MAX_TRIALS_REACHED
        check_lineage(store, "lineage", tmp_path / "runs", 5, 15)
        trials = store.list_trials("lineage")
        # Exploit: the generation improves on the one before (children of the best members).
        best = [max(t.objective or 0 for t in trials[g : g + 5]) for g in (0, 5, 10)]
        assert best[0] < best[1] < best[2]
    finally:
        store.close()


def _local() -> Any:
    from tunery.execute.local import LocalExecutor

    return LocalExecutor()


@pytest.mark.integration
def test_example_runs_and_trials_show_the_lineage(tmp_path: Path) -> None:
    env = {**os.environ, "TUNERY_DB": str(tmp_path / "tunery.db"), "COLUMNS": "200"}
    tunery_ok(
        "run", str(EXAMPLE / "experiment.yaml"), "--max-trials", "12", "-q", cwd=tmp_path, env=env
    )
    trials = json.loads(tunery_ok("trials", "simple-pbt", "--json", cwd=tmp_path, env=env).stdout)
    assert len(trials) == 12
    assert all(t["status"] == "Succeeded" for t in trials), trials
    names = {t["name"] for t in trials}
    ckpts = tmp_path / "tunery-runs" / "simple-pbt" / "checkpoints"
    for t in trials[6:]:
        assert t["labels"][GENERATION_LABEL] == "1"
        parent = t["labels"][PARENT_LABEL]
        assert parent in {u["name"] for u in trials[:6]}
        state = json.loads((ckpts / t["name"] / "model.json").read_text())
        # The example's checkpoint records who trained it: the parent, then this trial.
        assert [e["trial"] for e in state["lineage"]] == [parent, t["name"]]
        assert state["lineage"][1]["from_step"] == 4 and state["step"] == 8
        assert state["lineage"][1]["lr"] == pytest.approx(t["parameters"]["lr"])
    assert not list(EXAMPLE.glob("checkpoint*")), "the example wrote into its own directory"
    table = tunery_ok("trials", "simple-pbt", cwd=tmp_path, env=env).stdout
    header = next(line for line in table.splitlines() if "status" in line)
    assert "gen" in header and "parent" in header
    row = next(line for line in table.splitlines() if trials[7]["name"] in line.split()[:1])
    assert trials[7]["labels"][PARENT_LABEL] in row.split()
    assert names


@pytest.mark.integration
def test_kill_9_controller_then_resume_keeps_generations_and_checkpoints(tmp_path: Path) -> None:
    ran = tmp_path / "ran.txt"
    doc = lineage_doc("pbt9", population=5, parallel=5, max_trials=15)
    doc["spec"]["trialTemplate"]["env"] = {"STEPS": "4", "SLEEP": "0.15"}
    path = write_yaml(tmp_path / "exp.yaml", doc)
    env = {
        **os.environ,
        "TUNERY_DB": str(tmp_path / "tunery.db"),
        "RAN_LOG": str(ran),
    }
    kill_9_runs(path, tmp_path, env, ran, (0.3, 0.9, 0.5))
    got = json.loads(tunery_ok("resume", "pbt9", "--json", cwd=tmp_path, env=env).stdout)
    assert got["status"] == "Succeeded" and got["reason"] == "ExperimentMaxTrialsReached"
    trials = json.loads(tunery_ok("trials", "pbt9", "--json", cwd=tmp_path, env=env).stdout)
    assert sorted(ran.read_text().split()) == sorted(t["name"] for t in trials), (
        "a trial ran twice or not at all"
    )
    store = Store(f"sqlite:///{tmp_path / 'tunery.db'}")
    try:
        check_lineage(store, "pbt9", tmp_path / "tunery-runs", 5, 15)
    finally:
        store.close()
