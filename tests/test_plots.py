"""The SDK figures' axes: whole ticks for whole parameters, log10 axes for log ones."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from tunery.model import Distribution, FeasibleSpace, ParameterSpec, ParameterType
from tunery.plots import integer_ticks, log_ticks, parcoords_dimension


def _spec(kind: ParameterType, **space: object) -> ParameterSpec:
    return ParameterSpec("p", kind, FeasibleSpace(**space))  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("low", "high", "expected"),
    [
        (1, 3, [1, 2, 3]),
        (1, 1, [1]),
        (0.5, 2.5, [1, 2]),
        (0, 10, list(range(11))),
        (0, 12, [0, 2, 4, 6, 8, 10, 12]),
        (3, 97, [10, 20, 30, 40, 50, 60, 70, 80, 90]),
        (0, 1000, [0, 100, 200, 300, 400, 500, 600, 700, 800, 900, 1000]),
    ],
)
def test_integer_ticks_are_whole_and_few(low: float, high: float, expected: list[int]) -> None:
    assert integer_ticks(low, high) == expected


def test_int_axis_has_whole_ticks_only() -> None:
    dim = parcoords_dimension(_spec(ParameterType.INT, min="1", max="3"), [1, 3, 2, 2])
    assert dim["tickvals"] == [1, 2, 3] and dim["ticktext"] == ["1", "2", "3"]
    assert dim["values"] == [1.0, 3.0, 2.0, 2.0]
    discrete = parcoords_dimension(_spec(ParameterType.DISCRETE, list=("2", "4", "8")), [2, 8])
    assert all(float(t).is_integer() for t in discrete["tickvals"])
    # A double gets plotly's own ticks; so does a discrete one with fractions.
    assert "tickvals" not in parcoords_dimension(_spec(ParameterType.DOUBLE), [0.1, 0.7])
    fractions = _spec(ParameterType.DISCRETE, list=("0.5", "1", "1.5"))
    assert "tickvals" not in parcoords_dimension(fractions, [0.5, 1.5])


@pytest.mark.parametrize("distribution", [Distribution.LOG_UNIFORM, Distribution.LOG_NORMAL])
def test_log_axis_draws_log10_and_labels_real_values(distribution: Distribution) -> None:
    spec = _spec(ParameterType.DOUBLE, min="1e-5", max="1", distribution=distribution)
    values = [1e-5, 3e-3, 0.5, None]
    dim = parcoords_dimension(spec, values)
    assert dim["label"] == "p (log)"
    assert dim["values"][:3] == pytest.approx([-5, math.log10(3e-3), math.log10(0.5)])
    assert dim["values"][3] is None
    assert dim["tickvals"] == [-5, -4, -3, -2, -1]
    assert dim["ticktext"] == ["1e-05", "0.0001", "0.001", "0.01", "0.1"]


def test_log_ticks_within_a_decade_use_1_2_5_steps() -> None:
    ticks = log_ticks(math.log10(0.015), math.log10(0.09))
    assert [round(10**t, 6) for t in ticks] == [0.02, 0.05]
    assert log_ticks(-2.0, -2.0) == [-2.0]
    # Not a log axis: a uniform double, or values that are not all positive.
    uniform = _spec(ParameterType.DOUBLE, min="0", max="1", distribution=Distribution.UNIFORM)
    assert parcoords_dimension(uniform, [0.1, 0.9])["label"] == "p"
    log = _spec(ParameterType.DOUBLE, distribution=Distribution.LOG_UNIFORM)
    assert parcoords_dimension(log, [0.0, 0.9])["values"] == [0.0, 0.9]


def test_categorical_axis_keeps_the_space_order_and_unknown_values() -> None:
    dim = parcoords_dimension(_spec(ParameterType.CATEGORICAL, list=("b", "a")), ["a", "c", None])
    assert dim["ticktext"] == ["b", "a", "c"] and dim["tickvals"] == [0, 1, 2]
    assert dim["values"] == [1, 2, None]


def test_timeline_bars_run_to_now_while_a_trial_runs() -> None:
    go = pytest.importorskip("plotly.graph_objects")
    from tunery.model import Trial, TrialCondition
    from tunery.plots import timeline_figure

    trials = [
        Trial("t-1", "e", 1, {}, TrialCondition.RUNNING, start_time=110.0),
        Trial("t-0", "e", 0, {}, TrialCondition.FAILED, start_time=100.0, completion_time=105.0),
        Trial("t-2", "e", 2, {}),  # not started: no bar
    ]
    fig = timeline_figure(go, "e", trials, now=130.0)
    bars = {tr.name: tr for tr in fig.data}
    assert set(bars) == {"Running", "Failed"}
    assert list(bars["Running"].base) == [110_000.0] and list(bars["Running"].x) == [20_000.0]
    assert list(bars["Failed"].base) == [100_000.0] and list(bars["Failed"].x) == [5_000.0]
    assert list(fig.layout.yaxis.categoryarray) == ["t-0", "t-1"]


def test_intermediate_values_one_curve_per_trial_early_stops_marked() -> None:
    go = pytest.importorskip("plotly.graph_objects")
    from tests.helpers import native_doc
    from tunery.model import Observation, Trial, TrialCondition
    from tunery.plots import intermediate_figure
    from tunery.spec import parse_document

    objective = {"type": "minimize", "objectiveMetricName": "loss"}
    spec = parse_document(native_doc("e", "print('loss=1')", objective=objective))

    trials = [
        Trial("t-0", "e", 0, {}, TrialCondition.SUCCEEDED),
        Trial("t-1", "e", 1, {}, TrialCondition.EARLY_STOPPED),
        Trial("t-2", "e", 2, {}, TrialCondition.FAILED),  # nothing reported: no curve
    ]
    observations = [
        Observation("t-0", "loss", 0.9, 0),
        Observation("t-1", "loss", 0.8, 0),
        Observation("t-0", "loss", 0.5, 1),
        Observation("t-1", "loss", 0.85, 1),
        Observation("t-0", "accuracy", 0.1, 1),  # another metric
        Observation("t-0", "loss", None, 2),  # a value that was not a number
    ]
    fig = intermediate_figure(go, "e", spec, trials, observations)
    assert [tr.name for tr in fig.data] == ["t-0", "t-1 (early-stopped)"]
    done, stopped = fig.data
    assert list(done.x) == [0, 1] and list(done.y) == [0.9, 0.5] and done.line.dash == "solid"
    assert stopped.line.dash == "dash" and list(stopped.marker.symbol) == ["circle", "x"]


def test_contour_pairs_follow_the_given_order() -> None:
    go = pytest.importorskip("plotly.graph_objects")
    from tests.helpers import native_doc
    from tunery.model import Trial, TrialCondition
    from tunery.plots import contour_figure
    from tunery.spec import parse_document

    params = [
        {"name": n, "parameterType": "double", "feasibleSpace": {"min": "0", "max": "1"}}
        for n in ("a", "b", "c", "d")
    ]
    params.append(
        {"name": "opt", "parameterType": "categorical", "feasibleSpace": {"list": ["x", "y"]}}
    )
    spec = parse_document(native_doc("e", "print(1)", parameters=params))
    trials = [
        Trial(
            f"t-{i}",
            "e",
            i,
            {"a": i / 10, "b": 1 - i / 10, "c": 0.5, "d": 0.1, "opt": "xy"[i % 2]},
            TrialCondition.SUCCEEDED,
            objective=float(i),
        )
        for i in range(6)
    ]
    fig = contour_figure(go, "e", spec, trials, ["opt", "c", "a", "b", "d"])
    titles = [a.text for a in fig.layout.annotations]
    assert titles == ["opt / c", "opt / a", "c / a"]
    assert fig.layout.xaxis.type == "category" and list(fig.data[0].x) == list("xyxyxy")
    assert len(contour_figure(go, "e", spec, trials, ["a", "b", "c"], pairs=1).data) == 2


def test_contour_pairs_grow_from_the_most_important() -> None:
    from tunery.plots import contour_pairs

    assert contour_pairs(["a", "b", "c", "d"]) == [
        ("a", "b"), ("a", "c"), ("b", "c"), ("a", "d"), ("b", "d"), ("c", "d"),
    ]  # fmt: skip
    assert contour_pairs(["a"]) == [] and contour_pairs([]) == []


@pytest.mark.browser
def test_a_figure_exports_as_png_and_svg_with_kaleido(tmp_path: Path) -> None:
    """``pip install 'tunery[export]'`` makes ``fig.write_image`` work (kaleido 1.x drives the
    installed Chrome or Chromium)."""
    go = pytest.importorskip("plotly.graph_objects")
    try:
        import kaleido  # noqa: F401
    except ImportError:
        pytest.skip("kaleido is not installed (pip install 'tunery[export]')")
    from tests.helpers import native_doc
    from tunery.model import Trial, TrialCondition
    from tunery.plots import edf_figure
    from tunery.spec import parse_document

    spec = parse_document(native_doc("e", "print('loss=1')"))
    trials = [
        Trial(f"t-{i}", "e", i, {}, TrialCondition.SUCCEEDED, objective=v)
        for i, v in enumerate([0.5, 0.2, 0.9])
    ]
    fig = edf_figure(go, "e", spec, trials)
    fig.write_image(tmp_path / "edf.png", width=500, height=300)
    fig.write_image(tmp_path / "edf.svg")
    png = (tmp_path / "edf.png").read_bytes()
    assert png.startswith(b"\x89PNG") and int.from_bytes(png[16:20], "big") == 500
    assert b"<svg" in (tmp_path / "edf.svg").read_bytes()[:500]


def test_slice_panels_of_conditional_parameters_show_the_trials_where_they_were_active() -> None:
    go = pytest.importorskip("plotly.graph_objects")
    from tunery.model import Trial, TrialCondition
    from tunery.plots import slice_figure
    from tunery.testing.suggest import make_spec, tiny_conditional_parameters

    spec = make_spec(tiny_conditional_parameters())
    params = [{"c": "p", "n": 2}, {"c": "q", "m": 1}, {"c": "p", "n": 4}]
    trials = [
        Trial(f"t-{i}", "e", i, p, TrialCondition.SUCCEEDED, objective=float(i))
        for i, p in enumerate(params)
    ]
    fig = slice_figure(go, "e", spec, trials)
    panels = {trace.name: trace for trace in fig.data}
    assert list(panels["c"].x) == ["p", "q", "p"]
    assert list(panels["n"].x) == [2, 4] and list(panels["n"].y) == [0.0, 2.0]
    assert list(panels["m"].x) == [1] and list(panels["m"].text) == ["t-1"]  # never "None"


def test_a_conditional_axis_puts_inactive_trials_on_their_own_tick() -> None:
    def conditional(ptype: ParameterType, **space: object) -> ParameterSpec:
        return ParameterSpec("p", ptype, FeasibleSpace(**space), (("m", ("a",)),))  # type: ignore[arg-type]

    cat = parcoords_dimension(conditional(ParameterType.CATEGORICAL, list=("x", "y")), ["y", None])
    assert (
        cat["values"] == [1, -1] and cat["ticktext"][0] == "inactive" and cat["tickvals"][0] == -1
    )
    assert cat["ticktext"][1:] == ["x", "y"]
    num = parcoords_dimension(conditional(ParameterType.DOUBLE, min="0", max="1"), [0.2, None, 0.6])
    inactive = num["tickvals"][0]
    assert num["ticktext"][0] == "inactive" and inactive < 0.2
    assert num["values"] == [0.2, inactive, 0.6] and num["range"][0] == inactive
    ints = parcoords_dimension(conditional(ParameterType.INT, min="1", max="5"), [None, 2, 4])
    assert ints["values"][0] < 2 and ints["ticktext"][0] == "inactive"
    assert all(t == int(t) for t in ints["tickvals"][1:])
    # Not conditional: a missing value stays missing, as before.
    plain = parcoords_dimension(_spec(ParameterType.DOUBLE, min="0", max="1"), [0.2, None])
    assert plain["values"] == [0.2, None] and "inactive" not in plain.get("ticktext", [])
