"""The integrations' shared reporter (tunery.integration._trial): in a trial (StdOut and Push,
read back by the real collectors), with an ask/tell Optimizer, outside both; ranks."""

from __future__ import annotations

import io
import os
import subprocess
import sys
from pathlib import Path

import pytest

import tunery
from tunery import search
from tunery.collect.push import COLLECTOR_ENV, METRICS_PATH_ENV, PushCollector
from tunery.collect.stdout import StdOutCollector
from tunery.errors import UserInputError
from tunery.integration import Reporter, distributed_any, process_rank
from tunery.model import TrialCondition
from tunery.stopfile import STOP_FILE_ENV


@pytest.fixture
def trial_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A trial's environment as the launcher sets it (StdOut collector); the trial dir."""
    for var in ("RANK", "LOCAL_RANK"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("TUNERY_TRIAL_NAME", "e-0001")
    monkeypatch.setenv("KATIB_TRIAL_NAME", "e-0001")
    monkeypatch.setenv(COLLECTOR_ENV, "StdOut")
    monkeypatch.setenv(STOP_FILE_ENV, str(tmp_path / "stop-requested"))
    return tmp_path


def test_in_a_stdout_trial_reports_are_lines_the_collector_reads_with_their_step(
    trial_env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    reporter = Reporter()
    assert reporter.in_trial and reporter.is_reporting_rank
    reporter.report(3, {"loss": 0.5, "accuracy": 0.75})
    reporter.report(4, {"loss": 0.25})
    log = trial_env / "output.log"
    log.write_text(capsys.readouterr().out)
    records, _ = StdOutCollector(("loss", "accuracy"), ()).read(str(log), None, final=True)
    got = sorted((r.name, r.step, r.value) for r in records)
    assert got == [("accuracy", 3, 0.75), ("loss", 3, 0.5), ("loss", 4, 0.25)]


def test_in_a_push_trial_reports_go_to_the_push_file(
    trial_env: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    path = trial_env / "metrics" / "push.jsonl"
    monkeypatch.setenv(COLLECTOR_ENV, "Push")
    monkeypatch.setenv(METRICS_PATH_ENV, str(path))
    Reporter().report(7, {"loss": 1.5})
    assert capsys.readouterr().out == ""
    records, _ = PushCollector(("loss",)).read(str(path), None, final=True)
    assert [(r.name, r.step, r.value) for r in records] == [("loss", 7, 1.5)]


def test_a_collector_that_reads_neither_is_one_line_naming_the_fix(
    trial_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(COLLECTOR_ENV, "File")
    with pytest.raises(UserInputError, match=r"collector is File.*Push or StdOut"):
        Reporter().report(0, {"loss": 1.0})


def test_should_stop_follows_the_marker_and_says_so_once(
    trial_env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    reporter = Reporter()
    assert (trial_env / "stop-listening").exists()  # from its creation on
    assert not reporter.should_stop(1) and not tunery.should_stop()
    (trial_env / "stop-requested").write_text("why\n")
    assert tunery.should_stop()
    assert reporter.should_stop(2) and reporter.should_stop(3) and reporter.stopped
    err = capsys.readouterr().err
    assert err == "tunery: early stopping stopped trial e-0001 at step 2; training ends here\n"


def test_outside_a_trial_and_without_optimizer_the_first_report_says_how_to_run_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("TUNERY_TRIAL_NAME", raising=False)
    monkeypatch.delenv(STOP_FILE_ENV, raising=False)
    reporter = Reporter()
    assert not reporter.should_stop(0) and not tunery.should_stop()
    with pytest.raises(UserInputError) as err:
        reporter.report(0, {"loss": 1.0})
    line = str(err.value)
    assert "\n" not in line and "tunery run" in line and "optimizer" in line


def test_only_rank_zero_reports(trial_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    out = io.StringIO()
    monkeypatch.setattr(sys, "stdout", out)
    monkeypatch.setenv("RANK", "1")
    reporter = Reporter()
    assert process_rank() == 1 and not reporter.is_reporting_rank
    reporter.report(0, {"loss": 1.0})
    assert out.getvalue() == ""
    monkeypatch.setenv("RANK", "0")
    monkeypatch.setenv("LOCAL_RANK", "3")  # RANK is the global rank: it wins
    assert reporter.is_reporting_rank
    reporter.report(0, {"loss": 1.0})
    assert '"loss":"1.0"' in out.getvalue()


def test_distributed_any_without_a_process_group_is_the_flag() -> None:
    assert distributed_any(True) is True and distributed_any(False) is False


def test_reporter_needs_both_optimizer_and_suggestion() -> None:
    opt = tunery.Optimizer({"x": search.double(0.0, 1.0)}, algorithm="random")
    with pytest.raises(UserInputError, match="both an optimizer and the suggestion"):
        Reporter(opt)


def test_ask_tell_reports_the_objective_and_stops_through_the_optimizer() -> None:
    opt = tunery.Optimizer(
        {"x": search.double(0.0, 1.0)},
        algorithm="random",
        early_stopping="medianstop",
        early_stopping_settings={"min_trials_required": 2, "start_step": 2},
    )
    for _ in range(2):  # two finished curves to compare with
        s = opt.ask()
        reporter = Reporter(opt, s, metric="val_loss")
        for step in range(6):
            reporter.report(step, {"val_loss": 1.0 / (step + 1), "train_loss": 9.0})
            assert not reporter.should_stop(step)
        opt.tell(s, 1.0 / 6)
    s = opt.ask()
    reporter = Reporter(opt, s)  # one metric per report: it is the objective
    stopped_at = None
    for step in range(6):
        reporter.report(step, {"val_loss": 10.0 + step})
        if reporter.should_stop(step):
            stopped_at = step
            break
    assert stopped_at is not None
    trial = next(t for t in opt.trials if t.name == s.id)
    assert trial.status is TrialCondition.EARLY_STOPPED
    reporter.report(stopped_at + 1, {"val_loss": 1.0})  # after the stop: ignored, no error
    assert reporter.should_stop(stopped_at + 1)


def test_ask_tell_with_several_metrics_needs_the_objective_named() -> None:
    opt = tunery.Optimizer({"x": search.double(0.0, 1.0)}, algorithm="random")
    reporter = Reporter(opt, opt.ask())
    with pytest.raises(UserInputError, match="'objective' is not among the reported"):
        reporter.report(0, {"a": 1.0, "b": 2.0})
    Reporter(opt, opt.ask(), metric="b").report(0, {"a": 1.0, "b": 2.0})


def test_ask_tell_with_several_objectives_reports_them_as_a_dict() -> None:
    opt = tunery.Optimizer(
        {"x": search.double(0.0, 1.0)},
        algorithm="random",
        objectives=[("acc", "maximize"), ("latency", "minimize")],
    )
    s = opt.ask()
    reporter = Reporter(opt, s)
    reporter.report(0, {"acc": 0.5, "latency": 3.0, "other": 1.0})
    trial = next(t for t in opt.trials if t.name == s.id)
    assert set(trial.metrics) == {"acc", "latency"}
    with pytest.raises(UserInputError, match="none of the reported metrics"):
        reporter.report(1, {"other": 1.0})


def test_importing_the_package_imports_no_framework() -> None:
    code = (
        "import sys, tunery.integration\n"
        "print([m for m in ('torch', 'xgboost', 'lightgbm', 'sklearn') if m in sys.modules])"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


DDP = """
import os, sys
import torch
import torch.distributed as dist
from tunery.integration import Reporter, distributed_any

torch.set_num_threads(1)
rank = int(sys.argv[1])
dist.init_process_group("gloo", init_method=sys.argv[2], rank=rank, world_size=2)
reporter = Reporter()
# Only rank 1 wants to stop: both learn it; only rank 0 reports.
print(rank, distributed_any(rank == 1), distributed_any(False), reporter.is_reporting_rank)
dist.destroy_process_group()
"""


@pytest.mark.integration
def test_distributed_any_makes_every_rank_stop_and_only_rank_zero_reports(
    tmp_path: Path,
) -> None:
    try:
        import torch.distributed  # noqa: F401
    except ImportError:
        from tests.conftest import require_system

        require_system("torch is not installed (pip install 'tunery[lightning]')")
    env = {k: v for k, v in os.environ.items() if k not in ("RANK", "LOCAL_RANK")}
    init = f"file://{tmp_path / 'rendezvous'}"
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", DDP, str(rank), init],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for rank in (0, 1)
    ]
    outs = [p.communicate(timeout=120) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outs
    assert [o[0].split() for o in outs] == [
        ["0", "True", "False", "True"],
        ["1", "True", "False", "False"],
    ]
