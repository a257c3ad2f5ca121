"""Fuzzed ask/tell inputs (issue 13, item 4).

Hypothesis builds search spaces of every parameter kind (degenerate, huge and tiny ranges, log
scales near 0, ints around 2**63 and 2**70, NaN and infinite bounds, fixed values, steps larger
than the range, empty and repeated lists, odd names), every algorithm with and without its
settings, early stopping or not, with and without storage (SQLite in a temporary directory),
then plays a sequence of ``ask(n)`` / ``tell`` / ``report`` / ``should_stop`` / ``enqueue`` with
ordinary and hostile arguments (NaN, infinities, 10**400, an int too long to print, 2**70
steps, strings, None, bools, floats, unknown suggestions), and loops of ask / report / tell
that take model-based algorithms past their random start.

Two of three examples have valid (however extreme) arguments, which the Optimizer must accept;
the third has arguments of any kind.  The properties, for every call (the constructor included):

- it returns, or raises a :class:`tunery.errors.TuneryError` whose message is one line; an error
  about the constructor's arguments names the argument (``parameters['lr'].feasibleSpace.min``,
  ``settings['r_l']``, ``algorithm``...), never the internal document's ``spec.`` path;
- it never hangs: each example runs under a :data:`DEADLINE_S` alarm;
- with storage, after every call (failed ones included) an Optimizer created again from the
  same database holds the same trials, curves and algorithm state as the one in memory: no call
  leaves a partial write, or memory ahead of the database.

CI runs :data:`EXAMPLES` examples, derandomized (the same ones every run).  A longer, random
run::

    TUNERY_FUZZ_EXAMPLES=5000 TUNERY_FUZZ_RANDOM=1 pytest tests/test_optimizer_fuzz.py -k fuzzed \
        -p no:timeout

The targeted tests below are the inputs the fuzzing found (kept as regressions).
"""

from __future__ import annotations

import json
import math
import os
import signal
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import tunery
from tunery.errors import TuneryError, UserInputError
from tunery.model import NAS_ALGORITHMS, TrialCondition
from tunery.optimizer import MAX_ASK, MAX_STEP, Optimizer, Suggestion
from tunery.suggest import available

#: Examples per CI run; raise it with TUNERY_FUZZ_EXAMPLES for a longer run.
EXAMPLES = int(os.environ.get("TUNERY_FUZZ_EXAMPLES", "200"))
#: Random (not derandomized) examples when TUNERY_FUZZ_RANDOM=1.
RANDOM = os.environ.get("TUNERY_FUZZ_RANDOM") == "1"
#: An example (its constructor and every call) that takes longer hangs.
DEADLINE_S = 20

#: The hyperparameter algorithms (enas and darts search spec.nasConfig, tested on their own).
ALGORITHMS = [a for a in available() if a not in NAS_ALGORITHMS]
NAN = float("nan")
INF = float("inf")


class Hang(BaseException):
    """An example ran past its deadline (a BaseException: nothing under test may catch it)."""


@contextmanager
def deadline(seconds: int) -> Iterator[None]:
    def expired(signum: int, frame: Any) -> None:
        raise Hang(f"ran past {seconds} s")

    previous = signal.signal(signal.SIGALRM, expired)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


class Huge(int):
    """An int of more digits than Python writes (``str`` raises); ``repr`` says what it is, so
    that Hypothesis can print an example holding one."""

    def __repr__(self) -> str:
        return f"Huge(<an int of {self.bit_length()} bits>)"


#: 10**5000: ``str()`` of it raises ValueError (sys.get_int_max_str_digits).
HUGE = Huge(10**5000)


# --------------------------------------------------------------------------- search spaces

#: Floats at the edges: zero, tiny, subnormal, near-overflow, NaN and infinities.
EDGE_FLOATS = [
    0.0,
    -0.0,
    1.0,
    -1.0,
    0.5,
    3.0,
    -7.25,
    1e-12,
    1.0 + 1e-12,
    1e-300,
    5e-324,
    1e308,
    -1e308,
    1.7976931348623157e308,
    NAN,
    INF,
    -INF,
]
EDGE_INTS = [0, 1, -1, 3, 10, -5, 2**31, 2**53 + 1, 2**63 - 1, 2**63, -(2**63), 2**70, -(2**70)]
EDGE_INTS += [HUGE]

floats = st.one_of(
    st.sampled_from(EDGE_FLOATS),
    st.floats(allow_nan=True, allow_infinity=True),
    st.floats(-10, 10),
)
ints = st.one_of(st.sampled_from(EDGE_INTS), st.integers(-20, 20))


@st.composite
def double_recipe(draw: st.DrawFn) -> tuple[Any, ...]:
    low = draw(st.one_of(floats, st.sampled_from([2**70, 7])))
    width = draw(
        st.sampled_from(
            ["zero", "ulp", "1e-12", "tiny-relative", "one", "wide", "huge", "negative", "any"]
        )
    )
    base = float(low) if not isinstance(low, float) else low
    if width == "zero":
        high: Any = low
    elif width == "ulp":
        high = float(np.nextafter(base, INF)) if math.isfinite(base) else base
    elif width == "1e-12":
        high = base + 1e-12
    elif width == "tiny-relative":
        high = base + 1e-12 * max(1.0, abs(base)) if math.isfinite(base) else base
    elif width == "one":
        high = base + 1.0
    elif width == "wide":
        high = base + 1e6
    elif width == "huge":
        high = 1e308
    elif width == "negative":
        high = base - 1.0
    else:
        high = draw(floats)
    step = draw(
        st.one_of(
            st.none(),
            st.none(),
            st.sampled_from([0.1, 1.0, 1e-13, 1e-300, 1e300, 0.0, -1.0, NAN, INF, 2**70, 3]),
            floats,
        )
    )
    return ("double", low, high, step, draw(st.booleans()))


@st.composite
def int_recipe(draw: st.DrawFn) -> tuple[Any, ...]:
    low = draw(ints)
    high = low + draw(st.sampled_from([0, 1, 4, 100, 2**40, 2**70, -1]))
    high = Huge(high) if isinstance(low, Huge) else high
    step = draw(st.sampled_from([None, None, 1, 2, 3, 1000, 0, -1, 2**70, 10**30]))
    return ("int", low, high, step, draw(st.booleans()))


CATEGORY_POOL = ["a", "b", "sgd", "", "a b", "é", "x" * 200, 1, None, True]
DISCRETE_POOL: list[Any] = [1, 1.0, 2, 2.5, -3, 0, 1e-300, 1e308, NAN, INF, 2**70, True, "x", "4"]


@st.composite
def list_recipe(draw: st.DrawFn) -> tuple[Any, ...]:
    if draw(st.booleans()):
        return ("categorical", draw(st.lists(st.sampled_from(CATEGORY_POOL), max_size=4)))
    return ("discrete", draw(st.lists(st.sampled_from(DISCRETE_POOL), max_size=4)))


@st.composite
def katib_recipe(draw: st.DrawFn) -> tuple[Any, ...]:
    """A Katib-style dict, with distributions the helpers do not offer."""
    kind = draw(st.sampled_from(["double", "int", "discrete", "categorical", "bogus"]))
    space: dict[str, Any] = {}
    edges = ["9" * 5000, "9223372036854775808", "-9223372036854775808", "1e-999999"]
    texts = st.sampled_from(
        ["0", "1", "-1", "0.5", "1e-12", "1e308", "-1e308", "nan", "inf", "1e999", "x", "", *edges]
    )
    for key in draw(st.lists(st.sampled_from(["min", "max", "step", "list"]), unique=True)):
        space[key] = draw(st.lists(texts, max_size=3)) if key == "list" else draw(texts)
    distribution = draw(
        st.sampled_from([None, "uniform", "logUniform", "normal", "logNormal", "bogus"])
    )
    if distribution is not None:
        space["distribution"] = distribution
    return ("katib", {"parameterType": kind, "feasibleSpace": space})


FIXED_POOL: list[Any] = [3, "adam", None, 2**70, NAN, [1, 2], 0.5]

recipes = st.one_of(
    double_recipe(),
    double_recipe(),
    int_recipe(),
    int_recipe(),
    list_recipe(),
    katib_recipe(),
    st.sampled_from(FIXED_POOL).map(lambda v: ("fixed", v)),
)

NAMES = st.one_of(
    st.sampled_from(["p0", "p1", "p2", "p3"]),
    st.sampled_from(["", "a b", "}", "x" * 60, "objective", "p0"]),
)


# Valid but extreme: every one of these must be accepted, and searched without a hang.


@st.composite
def sane_double(draw: st.DrawFn, stepped: bool) -> tuple[Any, ...]:
    log = draw(st.booleans())
    if log:
        low = draw(st.sampled_from([5e-324, 1e-300, 1e-12, 1e-5, 1.0, 1e300]))
    else:
        low = draw(st.sampled_from([0.0, -1.0, 1.0, -7.25, 1e-300, 1e300, -1e307, 2.0**70]))
    width = draw(st.sampled_from(["zero", "ulp", "1e-12", "one", "wide", "huge"]))
    if width == "zero":
        high = low
    elif width == "ulp":
        high = float(np.nextafter(low, INF))
    elif width == "1e-12":
        high = low + 1e-12 * max(1.0, abs(low))
    elif width == "one":
        high = low + 1.0 if low < 1e15 else low * 2
    elif width == "wide":
        high = low + 1e6 if low < 1e15 else low * 10
    else:
        high = 1e307 if low < 1e307 else 1e308
    step = None
    if stepped or draw(st.integers(0, 3)) == 0:
        span = high - low
        # A step that gives at most a few thousand values, or one larger than the range.
        step = draw(st.sampled_from([span / 3, span / 1000, span * 2, 1.0])) or 1.0
        if span / step > 10_000:
            step = span / 7
    return ("double", low, high, step, log)


@st.composite
def sane_int(draw: st.DrawFn) -> tuple[Any, ...]:
    log = draw(st.booleans())
    low = draw(st.sampled_from([1, 2, 2**53, 2**62] if log else [-(2**63), -5, 0, 1, 2**53, 2**62]))
    high = min(low + draw(st.sampled_from([0, 1, 5, 2**40, 2**62])), 2**63 - 1)
    step = draw(st.sampled_from([None, None, 1, 3, 2**62]))
    if (high - low) // (step or 1) > 2**53:
        step = 2**30
    return ("int", low, high, step, log)


@st.composite
def sane_list(draw: st.DrawFn) -> tuple[Any, ...]:
    if draw(st.booleans()):
        pool = ["a", "b", "sgd", "", "a b", "é", "x" * 200]
        return (
            "categorical",
            draw(st.lists(st.sampled_from(pool), min_size=1, max_size=4, unique=True)),
        )
    pool_n = [1, 2.5, -3, 0, 1e-300, 1e308, -1e308, 2**70, 7]
    return (
        "discrete",
        draw(st.lists(st.sampled_from(pool_n), min_size=1, max_size=4, unique=True)),
    )


@st.composite
def sane_katib(draw: st.DrawFn) -> tuple[Any, ...]:
    """Katib-style doubles and ints with the distributions the helpers do not offer."""
    distribution = draw(st.sampled_from(["normal", "logNormal", "logUniform", "uniform"]))
    low, high = draw(
        st.sampled_from([("1e-300", "1e-299"), ("1", "1"), ("0.5", "1e300"), ("2", "3")])
    )
    kind = draw(st.sampled_from(["double", "int"]))
    if kind == "int":
        low, high = draw(st.sampled_from([("1", "1"), ("1", "9223372036854775807"), ("3", "4")]))
    space = {"min": low, "max": high, "distribution": distribution}
    if kind == "int" and int(high) - int(low) > 2**53:
        space["step"] = str(2**40)
    return ("katib", {"parameterType": kind, "feasibleSpace": space})


@st.composite
def few_values(draw: st.DrawFn, stepped: bool) -> tuple[Any, ...]:
    """A parameter of one value, or a few: min == max, a range of one float, one entry."""
    kind = draw(st.sampled_from(["double", "int", "categorical", "discrete"]))
    if kind == "double":
        low = draw(st.sampled_from([0.0, 1.0, 1e-300, -1e300, 5e-324]))
        high = draw(st.sampled_from([low, float(np.nextafter(low, INF)), low + 1e-12]))
        step = max(high - low, 1.0) * draw(st.sampled_from([1, 3])) if stepped else None
        return ("double", low, high, step, low > 0 and draw(st.booleans()))
    if kind == "int":
        low = draw(st.sampled_from([0, 1, 2**63 - 2, -(2**63)]))
        step = draw(st.sampled_from([None, 1, 2**62]))
        return ("int", low, low + draw(st.sampled_from([0, 1])), step, low > 0)
    if kind == "categorical":
        return ("categorical", [draw(st.sampled_from(["a", "", "x" * 200]))])
    return ("discrete", [draw(st.sampled_from([1, 1e-300, 2**70]))])


def sane_recipes(stepped: bool) -> st.SearchStrategy[tuple[Any, ...]]:
    return st.one_of(
        sane_double(stepped),
        sane_int(),
        sane_list(),
        sane_katib().filter(lambda r: not stepped or r[1]["parameterType"] == "int"),
        st.sampled_from([3, "adam", None, 2**70, NAN, [1, 2]]).map(lambda v: ("fixed", v)),
    )


def build_parameter(recipe: tuple[Any, ...]) -> Any:
    """The ``parameters`` value of a recipe (a helper may raise, as a user would see)."""
    kind = recipe[0]
    if kind == "double":
        _, low, high, step, log = recipe
        return tunery.search.double(low, high, step=step, log=log)
    if kind == "int":
        _, low, high, step, log = recipe
        return tunery.search.int(low, high, step=step, log=log)
    if kind == "categorical":
        return tunery.search.categorical(recipe[1])
    if kind == "discrete":
        return tunery.search.discrete(recipe[1])
    return recipe[1]  # a Katib dict, or a fixed value


# --------------------------------------------------------------------------- the optimizer


@st.composite
def algorithm_settings(draw: st.DrawFn, algorithm: str, names: list[str]) -> dict[str, Any]:
    """Settings that let the algorithm run (mostly), or hostile ones."""
    if draw(st.integers(0, 9)) == 0:
        return draw(
            st.dictionaries(
                st.sampled_from(["random_state", "bogus", "n_population", "r_l", "eta"]),
                st.sampled_from([-1, 0, 5, 10**9, "x", NAN, 1.5, HUGE, "9" * 5000]),
                max_size=2,
            )
        )
    if algorithm == "hyperband":
        return {
            "resource_name": draw(st.sampled_from([*names, "nope"])) if names else "nope",
            "r_l": draw(st.sampled_from([9, 3, 1, 27, 0, -2, 10**9, 1e300, NAN])),
            "eta": draw(st.sampled_from([3, 2, 1, 0, 10**6])),
        }
    if algorithm == "pbt":
        return {
            "suggestion_trial_dir": "/tmp/tunery-fuzz-checkpoints",
            "n_population": draw(st.sampled_from([5, 6, 4, 10**9])),
            "truncation_threshold": draw(st.sampled_from([0.4, 0.0, 1.0, 2.0])),
        }
    if algorithm in ("tpe", "multivariate-tpe"):
        return {"n_startup_trials": draw(st.sampled_from([1, 2, 3, 10**9, 0]))}
    if algorithm == "bayesianoptimization":
        return {"n_initial_points": draw(st.sampled_from([1, 2, 3]))}
    if algorithm == "cmaes":
        return draw(st.sampled_from([{}, {"sigma": 0.5}, {"sigma": 1e-300}, {"sigma": 1e300}]))
    return {}


#: Early stopping that runs (extreme settings included)...
SANE_EARLY_STOPPING: list[tuple[str | None, dict[str, Any] | None]] = [
    (None, None),
    ("medianstop", {"min_trials_required": 1, "start_step": 1}),
    ("medianstop", {"min_trials_required": 2, "start_step": 2}),
    ("asha", {"min_resource": 1, "reduction_factor": 2}),
    ("asha", {"min_resource": 1, "reduction_factor": 2, "max_resource": 4}),
    ("asha", {"min_resource": 10**30, "reduction_factor": 10**30}),
]
#: ... and that does not.
EARLY_STOPPING = st.sampled_from(
    [
        *SANE_EARLY_STOPPING,
        ("asha", {"reduction_factor": 1}),
        ("asha", {"min_resource": "9" * 5000}),
        ("medianstop", {"start_step": HUGE}),
        ("nope", None),
        (None, {"start_step": 2}),
    ]
)

#: ``ask(n)``: ordinary sizes, and hostile ones.
ASK_N: list[Any] = [None, None, None, 1, 2, 3, 7, 2.0, 0, -1, MAX_ASK + 1, 10**6, 10**18]
ASK_N += [HUGE, 2.5, "3", True, NAN]
#: Objective values: ordinary, NaN, infinities, beyond float, strings, None, bools.
VALUES: list[Any] = [
    0.5,
    1.0,
    -3.0,
    0,
    2,
    NAN,
    INF,
    -INF,
    1e308,
    -1e308,
    2**70,
    10**400,
    -(10**400),
    HUGE,
    "1.5",
    "x",
    None,
    True,
    [1.0],
    np.float64(0.25),
]
STEPS: list[Any] = [None, None, 0, 1, 2, 3, 9, -1, 2**31, MAX_STEP, MAX_STEP + 1, 2**63, 2**70]
STEPS += [1.5, 2.0, "3", NAN, INF, True, np.int64(4), HUGE]

#: Which suggestion an op targets: one asked (by index, as the object or its id) or unknown.
targets = st.one_of(
    st.tuples(st.just("object"), st.integers(0, 8)),
    st.tuples(st.just("id"), st.integers(0, 8)),
    st.sampled_from([("unknown", 0), ("none", 0)]),
)

ask_op = st.tuples(st.just("ask"), st.sampled_from(ASK_N))
tell_op = st.tuples(st.just("tell"), targets, st.sampled_from(VALUES), st.booleans())
report_op = st.tuples(st.just("report"), targets, st.sampled_from(VALUES), st.sampled_from(STEPS))
should_stop_op = st.tuples(
    st.just("should_stop"), targets, st.sampled_from(STEPS), st.sampled_from([None, *VALUES])
)
enqueue_op = st.tuples(
    st.just("enqueue"),
    st.sampled_from(["asked", "junk", "missing", "extra", "none", "list", "fixed-only"]),
    st.integers(0, 8),
    st.sampled_from([*VALUES, "a", 2**70, -(2**70)]),
)
#: A loop of ``k`` suggestions asked, reported on at steps 1..``steps`` and told (the values
#: made from the parameters): model-based algorithms get past their random start.
loop_op = st.tuples(
    st.just("loop"),
    st.integers(1, 8),
    st.integers(0, 3),
    st.sampled_from(["smooth", "constant", "huge", "some-nan"]),
)
#: Asks first and most often, so that the other calls have suggestions to work on.
operations = st.one_of(
    ask_op, ask_op, loop_op, tell_op, tell_op, report_op, should_stop_op, enqueue_op
)
op_lists = st.tuples(ask_op, st.lists(operations, max_size=11)).map(lambda t: [t[0], *t[1]])


@dataclass
class Case:
    parameters: list[tuple[str, tuple[Any, ...]]]
    algorithm: Any
    settings: dict[str, Any]
    early_stopping: str | None
    early_stopping_settings: dict[str, Any] | None
    storage: bool
    name: str
    seed: Any
    ops: list[tuple[Any, ...]] = field(default_factory=list)
    #: Valid arguments: the constructor must accept them.
    sane: bool = False
    objective: Any = "minimize"


SANE_SETTINGS: dict[str, dict[str, Any]] = {
    "pbt": {
        "suggestion_trial_dir": "/tmp/tunery-fuzz-checkpoints",
        "n_population": 5,
        "truncation_threshold": 0.4,
    },
    "tpe": {"n_startup_trials": 2},
    "multivariate-tpe": {"n_startup_trials": 2},
    "bayesianoptimization": {"n_initial_points": 2},
}


@st.composite
def sane_cases(draw: st.DrawFn) -> Case:
    """Valid arguments (however extreme): the Optimizer must accept them."""
    algorithm = draw(st.sampled_from(ALGORITHMS))
    stepped = algorithm == "grid"
    kinds = few_values(stepped) if draw(st.integers(0, 2)) == 0 else sane_recipes(stepped)
    recipes_ = draw(st.lists(kinds, min_size=1, max_size=4))
    parameters = [(f"p{i}", recipe) for i, recipe in enumerate(recipes_)]
    settings_ = dict(SANE_SETTINGS.get(algorithm, {}))
    if all(r[0] == "fixed" for _, r in parameters):
        parameters.append(("q", ("categorical", ["a", "b", "c"])))
    if algorithm == "cmaes":
        parameters += [("c0", draw(few_values(False))), ("c1", ("double", 0.0, 0.0, None, False))]
        parameters += [
            ("c2", ("int", 0, 3, None, False)),
            ("c3", ("double", 0.0, 1.0, None, False)),
        ]
    if algorithm == "hyperband":
        parameters.append(("epochs", ("int", 1, 9, None, False)))
        settings_ = {"resource_name": "epochs", "r_l": draw(st.sampled_from([9, 27, 1])), "eta": 3}
    es, es_settings = draw(st.sampled_from(SANE_EARLY_STOPPING))
    return Case(
        parameters=parameters,
        algorithm=algorithm,
        settings=settings_,
        early_stopping=es,
        early_stopping_settings=es_settings,
        storage=draw(st.booleans()),
        name="fuzz",
        seed=draw(st.sampled_from([0, 1, 7, -1, 2**70, None])),
        ops=draw(op_lists),
        sane=True,
        objective=draw(st.sampled_from(["minimize", "maximize"])),
    )


@st.composite
def hostile_cases(draw: st.DrawFn) -> Case:
    parameters = draw(st.lists(st.tuples(NAMES, recipes), min_size=0, max_size=4))
    if draw(st.integers(0, 2)):
        # Mostly a space that can be searched: one plain parameter somewhere.
        plain = draw(
            st.sampled_from(
                [
                    ("double", 0.0, 1.0, None, False),
                    ("int", 1, 9, None, False),
                    ("categorical", ["a", "b", "c"]),
                    ("double", 1e-5, 1.0, None, True),
                ]
            )
        )
        parameters.insert(draw(st.integers(0, len(parameters))), ("q", plain))
    algorithm = draw(st.sampled_from([*ALGORITHMS, "nope", None, 3]))
    int_names = [name for name, r in parameters if r[0] == "int"]
    es, es_settings = draw(EARLY_STOPPING)
    return Case(
        parameters=parameters,
        algorithm=algorithm,
        settings=draw(algorithm_settings(algorithm, int_names)),
        early_stopping=es,
        early_stopping_settings=es_settings,
        storage=draw(st.booleans()),
        name=draw(st.sampled_from(["fuzz", "fuzz", "Bad Name", 3, "x" * 100])),
        seed=draw(st.sampled_from([0, 1, 7, -1, 2**70, None, "x", 1.5])),
        ops=draw(op_lists),
        objective=draw(st.sampled_from(["minimize", "maximize", "up", None, 3])),
    )


cases = st.one_of(sane_cases(), sane_cases(), hostile_cases())


def check_error(exc: BaseException, where: str) -> TuneryError:
    """``exc`` must be a one-line TuneryError."""
    if isinstance(exc, Hang):
        raise exc
    if not isinstance(exc, TuneryError):
        raise AssertionError(f"{where}: {type(exc).__name__}: {exc}") from exc
    line = str(exc)
    assert line and "\n" not in line, f"{where}: not one line: {line!r}"
    return exc


def state_of(opt: Optimizer) -> dict[str, Any]:
    """What must survive a restart: trials, curves and the algorithm's state."""
    curves = {
        (metric, name): [(o.metric_name, o.value, o.step, o.timestamp) for o in curve]
        for metric, by_trial in opt._curves.by_metric.items()
        for name, curve in by_trial.items()
        if curve
    }
    state = opt._suggester.dump_state()
    return {
        "trials": {t.name: t for t in opt.trials},
        "curves": curves,
        "algorithm": None if state is None else json.loads(json.dumps(state)),
    }


def assert_same_as_stored(opt: Optimizer, reopen: Callable[[], Optimizer], where: str) -> None:
    """A fresh Optimizer on the same database agrees with ``opt`` (then ``opt`` goes on)."""
    opt.close()
    fresh = reopen()
    try:
        ours, stored = state_of(opt), state_of(fresh)
        assert ours["trials"] == stored["trials"], f"{where}: trials differ from the database"
        assert ours["curves"] == stored["curves"], f"{where}: curves differ from the database"
        assert ours["algorithm"] == stored["algorithm"], f"{where}: algorithm state differs"
    finally:
        fresh.close()
    opt._ledger.acquire(time.time(), fence=False)


def target_of(target: tuple[str, int], asked: list[Suggestion]) -> Any:
    kind, index = target
    if kind == "unknown":
        return Suggestion("fuzz-9999", {})
    if kind == "none" or not asked:
        return None
    s = asked[index % len(asked)]
    return s if kind == "object" else s.id


def enqueue_params(op: tuple[Any, ...], opt: Optimizer, asked: list[Suggestion]) -> Any:
    _, how, index, junk = op
    base = dict(asked[index % len(asked)].params) if asked else {}
    names = [p.name for p in opt.spec.parameters]
    if how == "asked":
        return base
    if how == "junk" and names:
        return {**base, names[index % len(names)]: junk}
    if how == "missing" and names:
        return {k: v for k, v in base.items() if k != names[index % len(names)]}
    if how == "extra":
        return {**base, "not-a-parameter": junk}
    if how == "none":
        return None
    if how == "list":
        return list(base.items())
    return dict(opt.fixed)


def made_up_value(params: dict[str, Any], kind: str, step: int) -> float:
    """A value for ``params`` (deterministic), or one of the edges ``kind`` asks for."""
    if kind == "constant":
        return 1.0
    total = 0.0
    for value in params.values():
        if isinstance(value, int | float) and not isinstance(value, bool):
            total += math.tanh(float(value) * 1e-3) if math.isfinite(float(value)) else 0.0
        else:
            total += len(str(value)) % 7
    if kind == "huge":
        return math.copysign(1e308, total - 0.5)
    if kind == "some-nan" and int(abs(total) * 1000) % 3 == 0:
        return NAN
    return total + 1.0 / (step + 1)


def loop(opt: Optimizer, op: tuple[Any, ...], asked: list[Suggestion]) -> None:
    _, count, steps, kind = op
    for _ in range(count):
        s = opt.ask()
        asked.append(s)
        for step in range(1, steps + 1):
            if opt.should_stop(s, step, made_up_value(s.params, kind, step)):
                break
        else:
            opt.tell(s, made_up_value(s.params, kind, steps))


def play(case: Case, directory: Path) -> None:
    url = str(directory / "fuzz.db") if case.storage else None

    def create() -> Optimizer:
        parameters = {name: build_parameter(recipe) for name, recipe in case.parameters}
        return Optimizer(
            parameters,
            algorithm=case.algorithm,
            objective=case.objective,
            settings=case.settings,
            seed=case.seed,
            storage=url,
            name=case.name if case.storage else None,
            early_stopping=case.early_stopping,
            early_stopping_settings=case.early_stopping_settings,
        )

    try:
        opt = create()
    except BaseException as exc:
        error = check_error(exc, "Optimizer(...)")
        assert not case.sane, f"valid arguments refused: {error}"
        assert not str(error).startswith("spec."), (
            f"Optimizer(...): the error names the internal document, not the argument: {error}"
        )
        return
    asked: list[Suggestion] = []
    try:
        for i, op in enumerate(case.ops):
            where = f"op {i} {op[0]}"
            try:
                if op[0] == "ask":
                    got = opt.ask() if op[1] is None else opt.ask(op[1])
                    batch = [got] if isinstance(got, Suggestion) else got
                    if op[1] is not None:
                        assert isinstance(got, list) and len(got) <= op[1]
                    asked += batch
                elif op[0] == "loop":
                    loop(opt, op, asked)
                elif op[0] == "tell":
                    opt.tell(target_of(op[1], asked), op[2], failed=op[3])
                elif op[0] == "report":
                    opt.report(target_of(op[1], asked), op[2], step=op[3])
                elif op[0] == "should_stop":
                    answer = opt.should_stop(target_of(op[1], asked), op[2], op[3])
                    assert isinstance(answer, bool)
                else:
                    opt.enqueue(enqueue_params(op, opt, asked))
            except BaseException as exc:
                check_error(exc, where)
            if url is not None:
                assert_same_as_stored(opt, create, where)
    finally:
        opt.close()


@settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=not RANDOM,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(cases)
def test_fuzzed_ask_tell_raises_only_tunery_errors_never_hangs_and_stays_stored(
    case: Case,
) -> None:
    with tempfile.TemporaryDirectory() as tmp, deadline(DEADLINE_S):
        play(case, Path(tmp))


# --------------------------------------------------------------------------- what it found


def _bad(call: Callable[[], Any], *words: str) -> str:
    """``call()`` raises a one-line TuneryError whose message has each of ``words``."""
    with deadline(DEADLINE_S), pytest.raises(TuneryError) as info:
        call()
    line = str(info.value)
    assert "\n" not in line
    for word in words:
        assert word in line, f"{word!r} not in {line!r}"
    return line


S = tunery.search


def test_report_with_a_step_beyond_the_database_changes_nothing(tmp_path: Path) -> None:
    url = str(tmp_path / "o.db")
    with Optimizer({"x": S.double(0, 1)}, algorithm="random", storage=url, name="o") as opt:
        s = opt.ask()
        _bad(lambda: opt.report(s, 0.5, step=2**70), "step")
        _bad(lambda: opt.report(s, 0.5, step=-1), "step")
        _bad(lambda: opt.report(s, 0.5, step=1.5), "step")
        _bad(lambda: opt.report(s, 0.5, step="3"), "step")
        _bad(lambda: opt.should_stop(s, 2**63, 0.5), "step")
        _bad(lambda: opt.report(s, "x", step=1), "value")
        assert opt._curves.first.get(s.id, []) == []
        opt.report(s, 0.5, step=MAX_STEP)
        opt.report(s, 0.25, step=2.0)  # a whole float is a step
        assert [o.step for o in opt._curves.first[s.id]] == [MAX_STEP, 2]
    store = tunery.storage.Store(url)
    try:
        assert [o.step for o in store.get_observations("o", s.id)] == [MAX_STEP, 2]
    finally:
        store.close()


def test_a_huge_int_parameter_with_storage_is_refused_before_the_database(tmp_path: Path) -> None:
    url = str(tmp_path / "h.db")
    _bad(
        lambda: Optimizer({"n": S.int(0, 2**70), "k": 1}, storage=url, name="h"),
        "parameters['n'].feasibleSpace.max",
        "64-bit",
    )
    with Optimizer({"n": S.int(-(2**63), 2**63 - 1, step=2**40)}, storage=url, name="h") as opt:
        s = opt.ask()
        opt.tell(s, 1.0)
    client = tunery.Client(url)
    assert [t.parameters for t in client.list_trials("h")] == [s.params]


def test_tell_values_numbers_only_beyond_float_range_is_infinite(tmp_path: Path) -> None:
    with Optimizer(
        {"x": S.double(0, 1)}, algorithm="random", storage=str(tmp_path / "t.db"), name="t"
    ) as opt:
        s = opt.ask()
        _bad(lambda: opt.tell(s, "x"), "value")
        _bad(lambda: opt.tell(s, "1.5"), "value")
        _bad(lambda: opt.tell(s, True), "value")
        _bad(lambda: opt.tell(s, [1.0]), "value")
        assert opt.trials[0].status is TrialCondition.RUNNING
        opt.tell(s, 10**400)  # overflows a float: infinite, so a failure
        assert opt.trials[0].status is TrialCondition.FAILED
        s = opt.ask()
        opt.tell(s, np.float64(0.5))
        assert opt.best is not None and opt.best.value == 0.5


@pytest.mark.parametrize("n", [10**6, 10**18, MAX_ASK + 1, 0, -1, 2.5, "3", True])
def test_ask_n_is_bounded_and_checked(n: Any) -> None:
    opt = Optimizer({"x": S.double(0, 1)}, algorithm="random")
    _bad(lambda: opt.ask(n), "ask(n)")
    assert opt.trials == []


def runnable(algorithm: str, space: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """``space`` and settings with what ``algorithm`` needs (a resource, a population...)."""
    space = dict(space)
    settings: dict[str, Any] = {}
    if algorithm == "hyperband":
        space["epochs"] = S.int(1, 9)
        settings = {"resource_name": "epochs", "r_l": 9, "eta": 3}
    if algorithm == "pbt":
        settings = {"suggestion_trial_dir": "/tmp/ckpt", "n_population": 5}
        settings["truncation_threshold"] = 0.4
    if algorithm == "bayesianoptimization":
        settings = {"n_initial_points": 2}
    return space, settings


@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_the_largest_batch_comes_in_time_with_storage(algorithm: str, tmp_path: Path) -> None:
    space, settings = runnable(
        algorithm,
        {"x": S.double(0, 1, step=0.001), "y": S.int(0, 1000), "c": S.categorical(["a", "b"])},
    )
    url = str(tmp_path / "b.db")
    with (
        deadline(DEADLINE_S),
        Optimizer(space, algorithm=algorithm, settings=settings, storage=url, name="b") as opt,
    ):
        for _ in range(6):
            s = opt.ask()
            opt.tell(s, float(s.params["x"]) + int(s.params["y"]) / 1000)
        batch = opt.ask(MAX_ASK)
        assert 1 <= len(batch) <= MAX_ASK
        assert len({s.id for s in batch}) == len(batch)


def test_a_space_smaller_than_the_batch_gives_what_it_has() -> None:
    few = Optimizer({"x": S.double(1.0, float(np.nextafter(1.0, 2.0))), "k": 3}, algorithm="tpe")
    batch = few.ask(5)
    assert 1 <= len(batch) <= 2  # two floats exist in that range
    with pytest.raises(UserInputError, match="nothing to suggest now"):
        few.ask()
    for s in batch:
        few.tell(s, 1.0)
    with pytest.raises(UserInputError, match="nothing more to suggest"):
        few.ask()
    assert few.ask(3) == []


@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_degenerate_and_tiny_ranges_terminate(algorithm: str) -> None:
    space, settings = runnable(
        algorithm,
        {
            "x": S.double(1.0, 1.0 + 1e-12, step=1e-13 if algorithm == "grid" else None),
            "y": S.double(2.0, 2.0, step=1.0 if algorithm == "grid" else None),
            "n": S.int(2**62, 2**62 + 1, log=True),
            "k": 3,
        },
    )
    with deadline(DEADLINE_S):
        opt = Optimizer(space, algorithm=algorithm, settings=settings, seed=1)
        for _ in range(4):
            batch = opt.ask(3)
            for s in batch:
                assert 1.0 <= s.params["x"] <= 1.0 + 1e-12 and s.params["y"] == 2.0
                assert s.params["n"] in (2**62, 2**62 + 1) and s.params["k"] == 3
                opt.tell(s, float(s.params["x"]))


@pytest.mark.parametrize(
    ("parameter", "words"),
    [
        (lambda: S.double(float("nan"), 1), ["parameters['p']", "min", "finite"]),
        (lambda: S.double(0, float("inf")), ["parameters['p']", "max", "finite"]),
        (lambda: S.double(-1e308, 1e308), ["parameters['p']", "too wide"]),
        (lambda: S.double(0, 1, step=float("nan")), ["parameters['p']", "step"]),
        (lambda: S.int(0, 2**70), ["parameters['p']", "max", "64-bit"]),
        (lambda: S.int(-(2**63) - 1, 0), ["parameters['p']", "min", "64-bit"]),
        (lambda: S.int(0, 5, step=2**70), ["parameters['p']", "step", "64-bit"]),
        (lambda: S.discrete([1, float("nan")]), ["parameters['p']", "list[1]", "finite"]),
        (lambda: S.categorical(["a", "a"]), ["parameters['p']", "list[1]", "duplicate"]),
        (lambda: S.double(1, 0), ["parameters['p']", "greater than max"]),
        (lambda: S.double(0, 1, log=True), ["parameters['p']", "min > 0"]),
    ],
)
def test_bad_parameters_are_refused_naming_them(
    parameter: Callable[[], Any], words: list[str]
) -> None:
    _bad(lambda: Optimizer({"p": parameter(), "k": 1}, algorithm="random"), *words)


@pytest.mark.parametrize(
    ("kwargs", "words"),
    [
        ({"algorithm": "nope"}, ["algorithm", "unknown algorithm"]),
        ({"algorithm": "tpe", "settings": {"bogus": 1}}, ["settings['bogus']"]),
        ({"algorithm": "random", "seed": "x"}, ["seed"]),
        ({"algorithm": "random", "seed": 1.5}, ["seed"]),
        ({"algorithm": "random", "settings": [("a", 1)]}, ["settings"]),
        (
            {"early_stopping": "asha", "early_stopping_settings": {"reduction_factor": 1}},
            ["early_stopping_settings['reduction_factor']"],
        ),
        ({"algorithm": "random", "settings": {"random_state": 10**5000}}, ["settings"]),
        ({"algorithm": "random", "settings": {"random_state": "9" * 5000}}, ["random_state"]),
        ({"early_stopping": "nope"}, ["early_stopping"]),
    ],
)
def test_bad_arguments_are_refused_naming_them(kwargs: dict[str, Any], words: list[str]) -> None:
    line = _bad(lambda: Optimizer({"x": S.double(0, 1)}, **kwargs), *words)
    assert not line.startswith("spec.")


def test_parameters_must_be_a_mapping() -> None:
    _bad(lambda: Optimizer(None), "parameters")  # type: ignore[arg-type]
    _bad(lambda: Optimizer([("x", S.double(0, 1))]), "parameters")  # type: ignore[arg-type]


def test_hyperband_and_pbt_sizes_are_bounded() -> None:
    space = {"x": S.double(0, 1), "epochs": S.int(1, 9)}
    _bad(
        lambda: Optimizer(
            space, algorithm="hyperband", settings={"resource_name": "epochs", "r_l": 10**9}
        ),
        "settings['r_l']",
    )
    _bad(
        lambda: Optimizer(
            space,
            algorithm="pbt",
            settings={
                "suggestion_trial_dir": "/tmp/ckpt",
                "n_population": 10**9,
                "truncation_threshold": 0.2,
            },
        ),
        "settings['n_population']",
    )


def test_should_stop_takes_nan_and_huge_values_as_the_collectors_do() -> None:
    opt = Optimizer(
        {"x": S.double(0, 1)},
        algorithm="random",
        early_stopping="medianstop",
        early_stopping_settings={"min_trials_required": 1, "start_step": 1},
    )
    with deadline(DEADLINE_S):
        for value in (float("nan"), 1e308, -1e308):
            s = opt.ask()
            for step in range(3):
                opt.report(s, value, step)
            opt.tell(s, value)
        s = opt.ask()
        assert opt.should_stop(s, 1, float("nan")) is False  # unavailable: nothing to judge
        assert opt._curves.first[s.id][-1].value is None
        opt.should_stop(s, 2, float("inf"))
        opt.should_stop(s, 2, 10**400)
        _bad(lambda: opt.should_stop(s, 2, "x"), "value")
