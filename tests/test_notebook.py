"""Notebooks and interactive sessions (tunery.notebook): when progress shows, what it writes,
and the HTML (with its SVG chart) Jupyter shows for an experiment."""

from __future__ import annotations

import importlib.util
import io
import os
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import tunery
from tests.helpers import SCORE_IS_X, native_doc
from tests.test_storage_store import make_experiment, make_trial
from tunery.model import Experiment, ObjectiveType, TrialCondition
from tunery.notebook import (
    experiment_html,
    history_svg,
    in_kernel,
    is_interactive,
    progress_bar,
    want_progress,
)

C = TrialCondition
SVG = "{http://www.w3.org/2000/svg}"


def scored(parameters: dict[str, Any]) -> None:
    print(f"score={parameters['x']}")


@pytest.fixture
def in_tmp(tmp_path: Path) -> Iterator[Path]:
    old = os.getcwd()
    os.chdir(tmp_path)
    yield tmp_path
    os.chdir(old)


# ------------------------------------------------------------------ when progress shows


def test_interactive_means_a_kernel_or_standard_error_on_a_terminal() -> None:
    assert in_kernel() is False  # no IPython kernel runs the tests
    assert is_interactive(kernel=True, stderr=io.StringIO())
    assert not is_interactive(kernel=False, stderr=io.StringIO())
    master, slave = os.openpty()
    with os.fdopen(slave, "w") as terminal:
        assert is_interactive(kernel=False, stderr=terminal)
    assert not is_interactive(kernel=False, stderr=terminal)  # closed
    os.close(master)
    assert want_progress(True) and not want_progress(False)
    assert want_progress(None) == is_interactive()


@pytest.mark.skipif(
    importlib.util.find_spec("ipywidgets") is not None, reason="ipywidgets is installed"
)
def test_a_notebook_without_ipywidgets_gets_the_text_bar() -> None:
    from tqdm.std import tqdm

    out = io.StringIO()
    bar = progress_bar(5, "exp", notebook=True, file=out)
    assert type(bar) is tqdm
    bar.update(2)
    bar.close()
    assert "exp" in out.getvalue() and "2/5" in out.getvalue()


def test_forced_progress_writes_a_bar_and_a_quiet_session_nothing(
    in_tmp: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    space = {"x": tunery.search.discrete([0.1, 0.5, 0.9])}
    db = str(in_tmp / "t.db")
    exp = tunery.tune(scored, space, "score", algorithm="grid", max_trial_count=3,
                      name="shown", storage=db, wait=True, progress=True)  # fmt: skip
    err = capsys.readouterr().err
    assert exp.status == "Succeeded"
    assert "shown" in err and "3/3" in err and "best score=0.9" in err, err
    # Not interactive (standard error is captured, no kernel): nothing at all.
    assert not is_interactive()
    quiet = tunery.tune(scored, space, "score", algorithm="grid", max_trial_count=3,
                        name="quiet", storage=db, wait=True)  # fmt: skip
    assert quiet.status == "Succeeded"
    assert capsys.readouterr().err == ""
    client = tunery.Client(db)
    client.create_experiment(native_doc("again", SCORE_IS_X, max_trials=2))
    assert client.run_experiment("again", progress=True).status == "Succeeded"
    assert "again" in capsys.readouterr().err

    html = exp._repr_html_()
    root = ET.fromstring(html)  # well-formed as a whole
    text = "".join(root.itertext())
    assert "tunery experiment shown: Succeeded (ExperimentMaxTrialsReached)" in text
    assert "3/3 trials completed" in text
    best = exp.best_trial
    assert best is not None and f"best trial {best.name}: score = 0.9" in text
    assert len(root.findall(f".//{SVG}circle")) == 3


# ------------------------------------------------------------------ HTML


HOSTILE = "<script>alert('x')</script>&amp;"


def test_html_shows_the_experiment_and_escapes_what_the_user_wrote() -> None:
    base = make_experiment()  # minimize loss
    exp = Experiment(HOSTILE, base.spec, reason=HOSTILE)
    trials = [
        make_trial(0, status=C.SUCCEEDED, objective=0.5, parameters={"x": HOSTILE, "y": 2}),
        make_trial(1, status=C.SUCCEEDED, objective=0.25, parameters={"x": HOSTILE, "<y>": 3}),
        make_trial(2, status=C.FAILED, reason="ExitCode", message=HOSTILE),
        make_trial(3, status=C.EARLY_STOPPED, objective=0.75),
        make_trial(4, status=C.RUNNING),
    ]
    html = experiment_html(exp, trials)
    assert "<script>" not in html and "<y>" not in html
    root = ET.fromstring(html)
    text = "".join(root.itertext())
    assert HOSTILE in text  # shown as written, not interpreted
    assert "4/∞ trials completed" in text  # early-stopped and failed ones count; no budget
    cells = [td.text for td in root.iter("td")]
    # succeeded, early-stopped, failed, killed, running; then the best trial's parameters
    assert cells[:5] == ["2", "1", "1", "0", "1"]
    assert cells[5:] == ["x", HOSTILE, "<y>", "3"]
    assert "best trial exp-0001: loss = 0.25" in text


def test_the_history_chart_draws_every_objective_and_the_best_so_far() -> None:
    spec = make_experiment().spec  # minimize
    trials = [
        make_trial(0, status=C.SUCCEEDED, objective=3.0),
        make_trial(1, status=C.FAILED, objective=0.1),  # drawn, but not a result
        make_trial(2, status=C.SUCCEEDED, objective=2.0),
        make_trial(3, status=C.SUCCEEDED, objective=2.5),
        make_trial(4, status=C.EARLY_STOPPED, objective=1.0),
        make_trial(5, status=C.RUNNING),
        make_trial(6, status=C.SUCCEEDED, objective=float("inf")),
    ]
    svg = ET.fromstring(history_svg(spec.objective, trials))
    assert svg.tag == f"{SVG}svg"
    circles = svg.findall(f".//{SVG}circle")
    assert len(circles) == 5
    assert [c.get("fill") for c in circles].count("#bbbbbb") == 1  # the failed one
    best = svg.find(f".//{SVG}path[@class='best']")
    assert best is not None
    # Three improvements (3.0, 2.0, 1.0): a move, two steps down, then on to the last trial.
    assert best.get("d", "").count("V") == 2 and best.get("d", "").startswith("M")
    labels = [t.text for t in svg.findall(f"{SVG}text")]
    assert "3" in labels and "0.1" in labels  # the y range

    empty = ET.fromstring(history_svg(spec.objective, [make_trial(0, status=C.RUNNING)]))
    assert "no loss reported yet" in "".join(empty.itertext())
    one = ET.fromstring(
        history_svg(spec.objective, [make_trial(0, status=C.SUCCEEDED, objective=1)])
    )
    assert len(one.findall(f".//{SVG}circle")) == 1


def test_the_chart_of_a_maximized_objective_steps_up() -> None:
    from dataclasses import replace

    spec = make_experiment().spec
    maximize = replace(spec.objective, type=ObjectiveType.MAXIMIZE)
    trials = [make_trial(i, status=C.SUCCEEDED, objective=v) for i, v in enumerate([1, 3, 2, 4])]
    svg = ET.fromstring(history_svg(maximize, trials))
    best = svg.find(f".//{SVG}path[@class='best']")
    assert best is not None and best.get("d", "").count("V") == 2


# ------------------------------------------------------------------ a budget edited mid-run


@pytest.mark.integration
def test_the_bar_takes_a_max_trial_count_edited_from_another_process(tmp_path: Path) -> None:
    import subprocess
    import sys
    import threading

    from tunery.controller import Controller
    from tunery.execute.local import LocalExecutor
    from tunery.notebook import watch

    slow = "import time\ntime.sleep(1.5)\nprint('score=0.5', flush=True)\n"
    db = str(tmp_path / "t.db")
    client = tunery.Client(db)
    client.create_experiment(native_doc("bar", slow, parallel=1, max_trials=2))
    store = client.store
    exp = store.get_experiment("bar")
    controller = Controller(store, "bar", LocalExecutor(), poll_interval=0.05)
    thread = threading.Thread(target=controller.run)

    edits: list[subprocess.CompletedProcess[str]] = []

    def edit() -> None:
        edits.append(
            subprocess.run(
                [sys.executable, "-m", "tunery", "edit", "bar", "--max-trials", "4"],
                cwd=tmp_path,
                env={**os.environ, "TUNERY_DB": db},
                capture_output=True,
                text=True,
                timeout=60,
            )
        )

    editor = threading.Timer(0.1, edit)
    out = io.StringIO()
    thread.start()
    editor.start()
    watch(thread, store, exp, 60, interval=0.05, file=out)
    editor.join()
    thread.join()
    assert edits and edits[0].returncode == 0, edits
    shown = out.getvalue()
    assert "/2 " in shown and "4/4" in shown, shown
    assert len(store.list_trials("bar")) == 4
