"""Katib's Push collector: report_metrics() inside a trial, read back by the collector; Kubeflow's
JSON metric lines (report_json); whole experiments whose trials push their metrics."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest

from tests.helpers import create, native_doc, tunery_ok
from tunery.collect import make_collector
from tunery.collect.push import (
    COLLECTOR_ENV,
    METRICS_PATH_ENV,
    PushCollector,
    format_json,
    report_json,
    report_metrics,
)
from tunery.collect.stdout import StdOutCollector, TextLineParser
from tunery.controller import Controller
from tunery.execute.local import LocalExecutor
from tunery.model import CollectorKind, MetricRecord, MetricsCollectorSpec, TrialCondition
from tunery.storage import Store

NAMES = ("loss", "accuracy")


@pytest.fixture
def push_trial(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The environment tunery gives a trial with the Push collector; the push file's path."""
    path = tmp_path / "trial" / "metrics" / "push.jsonl"
    monkeypatch.setenv("KATIB_TRIAL_NAME", "e-0001")
    monkeypatch.setenv(COLLECTOR_ENV, "Push")
    monkeypatch.setenv(METRICS_PATH_ENV, str(path))
    return path


def read_all(path: Path, names: tuple[str, ...] = NAMES) -> list[MetricRecord]:
    records, cursor = PushCollector(names).read(str(path), None, final=True)
    assert "more" not in cursor
    return records


# --------------------------------------------------------------------------- report_metrics


def test_outside_a_trial_it_raises_as_katib_does(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("KATIB_TRIAL_NAME", raising=False)
    with pytest.raises(ValueError, match="Trial name is not passed to environment variables"):
        report_metrics({"loss": 0.1})


def test_katib_signature_address_and_timeout_are_accepted(push_trial: Path) -> None:
    report_metrics({"loss": 0.5}, "katib-db-manager.kubeflow:6789", 5)
    report_metrics(metrics={"loss": 0.4}, db_manager_address="x:1", timeout=1)
    assert [r.value for r in read_all(push_trial)] == [0.5, 0.4]


def test_pushed_metrics_are_read_by_the_push_collector(push_trial: Path) -> None:
    before = time.time()
    report_metrics({"accuracy": 0.92, "loss": "0.31"})
    report_metrics({"loss": float("nan"), "step": 3})
    report_metrics({"loss": float("-inf")})
    after = time.time()
    records = read_all(push_trial)
    assert [(r.name, r.value) for r in records] == [
        ("loss", 0.31),
        ("accuracy", 0.92),
        ("loss", None),
        ("loss", None),
    ]
    assert all(r.timestamp is not None and before - 1 <= r.timestamp <= after for r in records)
    assert records[2].step == 3 and records[0].step is None
    # One JSON line per call, a file the StdOut collector's parser reads too.
    lines = push_trial.read_text().splitlines()
    assert len(lines) == 3 and json.loads(lines[0])["accuracy"] == 0.92
    assert StdOutCollector(NAMES).read(str(push_trial), None)[0] == records


def test_the_push_collector_is_the_stdout_parser_without_filters() -> None:
    spec = MetricsCollectorSpec(kind=CollectorKind.PUSH, metrics_format=(r"(\w+):(\d+)",))
    collector = make_collector(spec, NAMES)
    assert isinstance(collector, PushCollector)
    assert collector.parser("loss:3") == []  # Push has no metricsFormat
    assert collector.parser("loss=3") == [MetricRecord("loss", 3.0)]


@pytest.mark.parametrize("bad", ["high", None, [0.1], {"v": 1}, "0.1.2"])
def test_a_value_that_is_not_a_float_names_the_metric(push_trial: Path, bad: object) -> None:
    with pytest.raises(ValueError, match=r"Invalid value .* for metric 'accuracy'"):
        report_metrics({"loss": 0.1, "accuracy": bad})
    assert not push_trial.exists()  # nothing half-reported


def test_bad_arguments(push_trial: Path) -> None:
    with pytest.raises(TypeError, match="takes a dict of metrics"):
        report_metrics([("loss", 0.1)])  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="metric names must be non-empty strings"):
        report_metrics({1: 0.1})  # type: ignore[dict-item]
    with pytest.raises(ValueError, match="'timestamp' is reserved"):
        report_metrics({"timestamp": 1.0})
    report_metrics({})  # Katib pushes an empty log: nothing recorded
    assert not push_trial.exists()


def test_numpy_like_values_and_bools_convert_as_katib_does(push_trial: Path) -> None:
    class Scalar:  # what a tensor or numpy scalar offers
        def __float__(self) -> float:
            return 0.25

    report_metrics({"loss": Scalar(), "accuracy": True})
    assert [r.value for r in read_all(push_trial)] == [0.25, 1.0]


def test_concurrent_reports_never_interleave(push_trial: Path) -> None:
    def worker(k: int) -> None:
        for i in range(200):
            report_metrics({"loss": k * 1000 + i, "accuracy": 0.5})

    threads = [threading.Thread(target=worker, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    losses = sorted(r.value or 0.0 for r in read_all(push_trial) if r.name == "loss")
    assert losses == sorted(float(k * 1000 + i) for k in range(4) for i in range(200))


def test_in_a_stdout_trial_the_line_goes_to_stdout_and_is_collected(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("KATIB_TRIAL_NAME", "e-0001")
    monkeypatch.setenv(COLLECTOR_ENV, "StdOut")
    report_metrics({"loss": 0.2})
    out = capsys.readouterr().out
    assert out.count("\n") == 1
    # Read with the experiment's own filters too: JSON metric lines do not need them.
    parser = TextLineParser(NAMES, (r"{metricName: ([\w|-]+), metricValue: ([\d.]+)}",))
    assert [(r.name, r.value) for r in parser(out.strip())] == [("loss", 0.2)]


@pytest.mark.parametrize("kind", ["File", "TensorFlowEvent", "None"])
def test_other_collectors_refuse_with_the_fix(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], kind: str
) -> None:
    monkeypatch.setenv("KATIB_TRIAL_NAME", "e-0001")
    monkeypatch.setenv(COLLECTOR_ENV, kind)
    with pytest.raises(RuntimeError, match=f"metrics collector is {kind}.*kind: Push") as info:
        report_metrics({"loss": 0.2})
    assert "\n" not in str(info.value)
    assert capsys.readouterr().out == ""


def test_a_push_trial_without_its_path_says_so(
    push_trial: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(METRICS_PATH_ENV)
    with pytest.raises(RuntimeError, match=f"{METRICS_PATH_ENV} is not set"):
        report_metrics({"loss": 0.2})


def test_a_process_launched_with_the_push_env_reports(tmp_path: Path) -> None:
    path = tmp_path / "m" / "push.jsonl"
    env = {
        **os.environ,
        "KATIB_TRIAL_NAME": "t",
        COLLECTOR_ENV: "Push",
        METRICS_PATH_ENV: str(path),
    }
    code = "from tunery.collect.push import report_metrics; report_metrics({'loss': 1.5})"
    subprocess.run([sys.executable, "-c", code], env=env, check=True)
    assert [r.value for r in read_all(path)] == [1.5]


# --------------------------------------------------------------------------- report_json


def test_report_json_prints_kubeflows_line() -> None:
    out = io.StringIO()
    ts = datetime(2024, 1, 31, 12, 0, tzinfo=UTC)
    report_json({"loss": 0.31, "accuracy": "0.92"}, step=7, epoch=2, timestamp=ts, file=out)
    text = out.getvalue()
    assert text == (
        '{"accuracy":"0.92","epoch":2,"loss":"0.31","step":7,'
        '"timestamp":"2024-01-31T12:00:00+00:00"}\n'
    )
    records = TextLineParser(NAMES)(text.strip())
    assert records == [
        MetricRecord("loss", 0.31, ts.timestamp(), 7),
        MetricRecord("accuracy", 0.92, ts.timestamp(), 7),
    ]


def test_report_json_keeps_what_the_collector_reads_and_fixes_the_rest() -> None:
    class Tensorish:  # str() is not a number, float() is
        def __float__(self) -> float:
            return 0.5

        def __str__(self) -> str:
            return "tensor(0.5000)"

    line = json.loads(format_json({"a": 1, "b": Tensorish(), "c": float("inf"), "d": "1e-3"}))
    assert (line["a"], line["b"], line["c"], line["d"]) == ("1", "0.5", "inf", "1e-3")
    naive = datetime(2024, 1, 31, 12, 0)
    stamp = json.loads(format_json({"a": 1}, timestamp=naive))["timestamp"]
    assert datetime.fromisoformat(stamp) == naive.astimezone(UTC)  # local time, made explicit


def test_report_json_errors() -> None:
    with pytest.raises(TypeError, match="takes a dict"):
        format_json(["loss"])  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="at least one metric"):
        format_json({})
    with pytest.raises(ValueError, match="for metric 'loss'"):
        format_json({"loss": "n/a"})
    with pytest.raises(ValueError, match="step must be an integer"):
        format_json({"loss": 1}, step=1.5)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"clashes with the line's own 'step'.*drop the step="):
        format_json({"loss": 1, "step": 2}, step=3)
    with pytest.raises(ValueError, match="clashes with the line's own 'timestamp'"):
        format_json({"timestamp": 1})
    assert json.loads(format_json({"loss": 1, "step": 2}))["step"] == "2"


def test_report_json_in_a_push_trial_also_pushes(
    push_trial: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    report_json({"loss": 0.3}, step=1)
    assert '"loss":"0.3"' in capsys.readouterr().out
    assert read_all(push_trial) == [MetricRecord("loss", 0.3, read_all(push_trial)[0].timestamp, 1)]


# --------------------------------------------------------------------------- real experiments

#: A trial that pushes a learning curve: score = x * (1 - 0.5**step), no metric printed.
PUSHING = """
import sys, time
from tunery.collect.push import report_metrics
x = float(sys.argv[1].split("=", 1)[1])
print("score=-1 is printed, never collected with Push", flush=True)
for step in range(1, {steps} + 1):
    time.sleep({sleep})
    report_metrics({{"score": x * (1 - 0.5 ** step), "step": step}})
"""


def _push_doc(name: str, script: str, **kw: object) -> dict[str, object]:
    extra = dict(kw.pop("extra_spec", {}))  # type: ignore[call-overload]
    extra["metricsCollectorSpec"] = {"collector": {"kind": "Push"}}
    return native_doc(name, script, extra_spec=extra, **kw)  # type: ignore[arg-type]


@pytest.mark.integration
def test_an_experiment_whose_trials_push_their_metrics(tmp_path: Path) -> None:
    store = Store(f"sqlite:///{tmp_path / 't.db'}")
    try:
        doc = _push_doc("push", PUSHING.format(steps=3, sleep=0.05), parallel=2, max_trials=3)
        create(store, doc, tmp_path)
        Controller(store, "push", LocalExecutor(), poll_interval=0.05).run()
        trials = store.list_trials("push")
        assert len(trials) == 3
        for t in trials:
            assert t.status is TrialCondition.SUCCEEDED, (t.name, t.reason, t.message)
            x = float(t.parameters["x"])
            obs = store.get_observations("push", t.name, "score")
            assert [o.step for o in obs] == [1, 2, 3]
            assert [o.value for o in obs] == pytest.approx([x * 0.5, x * 0.75, x * 0.875])
            assert t.objective == pytest.approx(x * 0.875)  # objective from pushed metrics
            assert t.cursor is not None
            assert t.cursor["source"].endswith(f"/push/{t.name}/metrics/push.jsonl")
    finally:
        store.close()
    db = f"sqlite:///{tmp_path / 't.db'}"
    text = tunery_ok("trials", "push", "--db", db, cwd=tmp_path, env=os.environ).stdout
    runs = tmp_path / "runs" / "push"
    assert f"metrics (pushed by report_metrics()): {runs}/<trial>/metrics/push.jsonl" in text


@pytest.mark.integration
def test_a_push_trial_that_reports_nothing_is_metrics_unavailable(tmp_path: Path) -> None:
    store = Store(f"sqlite:///{tmp_path / 't.db'}")
    try:
        doc = _push_doc("silent", "print('score=1.0')", parallel=1, max_trials=1)
        create(store, doc, tmp_path)
        Controller(store, "silent", LocalExecutor(), poll_interval=0.05).run()
        (trial,) = store.list_trials("silent")
        assert trial.status is TrialCondition.METRICS_UNAVAILABLE, trial.message
        assert "never reported 'score'" in (trial.message or "")
    finally:
        store.close()


@pytest.mark.integration
def test_medianstop_stops_trials_from_pushed_metrics(tmp_path: Path) -> None:
    good, bad = ["1.0", "0.95"], ["0.1", "0.05", "0.2"]
    doc = _push_doc(
        "pushstop",
        PUSHING.format(steps=12, sleep=0.08),
        parameters=[
            {"name": "x", "parameterType": "categorical", "feasibleSpace": {"list": good + bad}}
        ],
        algorithm="grid",
        parallel=2,
        max_trials=5,
        extra_spec={
            "earlyStopping": {
                "algorithmName": "medianstop",
                "algorithmSettings": [
                    {"name": "min_trials_required", "value": "2"},
                    {"name": "start_step", "value": "3"},
                ],
            }
        },
    )
    store = Store(f"sqlite:///{tmp_path / 't.db'}")
    try:
        create(store, doc, tmp_path)
        Controller(store, "pushstop", LocalExecutor(), poll_interval=0.02).run()
        by_x = {str(t.parameters["x"]): t for t in store.list_trials("pushstop")}
        for x in good:
            assert by_x[x].status is TrialCondition.SUCCEEDED, by_x[x].message
        for x in bad:
            t = by_x[x]
            assert t.status is TrialCondition.EARLY_STOPPED, (x, t.status, t.message)
            steps = [o.step for o in store.get_observations("pushstop", t.name, "score")]
            assert 3 <= max(steps) < 12
    finally:
        store.close()
