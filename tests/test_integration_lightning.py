"""tunery.integration.lightning against the real PyTorch Lightning: a tiny regression module
trained in this process (inside a trial's environment, or with an ask/tell Optimizer), real
experiments whose medianstop stops Lightning trials, and DDP with two CPU processes."""

from __future__ import annotations

import importlib
import os
import re
import subprocess
import sys
import textwrap
import time
from pathlib import Path
from typing import Any

import pytest

from tests.integration_trials import (
    RETURNED,
    TrialEnv,
    require_packages,
    stopping_experiment,
)

require_packages("torch", "pytorch_lightning", extra="lightning")

import pytorch_lightning as pl  # noqa: E402
import torch  # noqa: E402

import tunery  # noqa: E402
from tunery.collect.push import PushCollector  # noqa: E402
from tunery.errors import UserInputError  # noqa: E402
from tunery.integration.lightning import TuneryCallback  # noqa: E402
from tunery.model import TrialCondition  # noqa: E402

pytestmark = pytest.mark.integration
torch.set_num_threads(1)

#: The tiny model, shared by the in-process tests and the trial scripts (exec'd there).
MODEL = """
import torch
from torch import nn
import pytorch_lightning as pl

class Regression(pl.LightningModule):
    def __init__(self, lr, logged="val_loss", pause=0.0):
        super().__init__()
        self.lr, self.logged, self.pause = lr, logged, pause
        self.net = nn.Linear(4, 1)

    def training_step(self, batch, index):
        x, y = batch
        return nn.functional.mse_loss(self.net(x), y)

    def validation_step(self, batch, index):
        x, y = batch
        self.log(self.logged, nn.functional.mse_loss(self.net(x), y), sync_dist=True)

    def on_validation_epoch_end(self):
        if self.pause:
            import time
            time.sleep(self.pause)

    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=self.lr)

def loader():
    torch.manual_seed(0)
    x = torch.randn(64, 4)
    y = x @ torch.tensor([[1.0], [2.0], [3.0], [4.0]])
    return torch.utils.data.DataLoader(torch.utils.data.TensorDataset(x, y), batch_size=16)

def trainer(callbacks, epochs, **kw):
    return pl.Trainer(
        max_epochs=epochs, accelerator="cpu", logger=False, enable_checkpointing=False,
        enable_progress_bar=False, enable_model_summary=False, callbacks=callbacks, **kw
    )
"""
_model: dict[str, Any] = {}
exec(compile(MODEL, "<lightning model>", "exec"), _model)
Regression, loader, make_trainer = _model["Regression"], _model["loader"], _model["trainer"]


class Record(pl.Callback):
    """What the trainer logged at each validation end (sanity check left out), and an
    optional action at one epoch's validation (run before TuneryCallback's)."""

    def __init__(self, at_epoch: int | None = None, action: Any = None) -> None:
        self.values: list[tuple[int, int, float]] = []
        self.at_epoch, self.action = at_epoch, action

    def on_validation_end(self, trainer: Any, pl_module: Any) -> None:
        if trainer.sanity_checking:
            return
        epoch = trainer.current_epoch + 1
        value = float(next(iter(trainer.callback_metrics.values())))
        self.values.append((epoch, int(trainer.global_step), value))
        if epoch == self.at_epoch:
            self.action()


def fit(callbacks: list[Any], epochs: int = 3, lr: float = 0.05, **kw: Any) -> Any:
    logged = kw.pop("logged", "val_loss")
    trainer = make_trainer(callbacks, epochs, devices=1, **kw)
    data = loader()
    trainer.fit(Regression(lr, logged), data, data)
    return trainer


# --------------------------------------------------------------------------- in a trial


def test_reports_each_validation_with_the_epochs_completed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    env = TrialEnv(tmp_path, monkeypatch)
    record, callback = Record(), TuneryCallback()
    trainer = fit([record, callback], epochs=3, default_root_dir=tmp_path)
    records = env.records("val_loss")
    assert [r.step for r in records] == [epoch for epoch, _, _ in record.values] == [1, 2, 3]
    assert [r.value for r in records] == pytest.approx([value for *_, value in record.values])
    assert not callback.stopped and trainer.current_epoch == 3
    trainer.validate(trainer.lightning_module, loader(), verbose=False)
    assert len(env.records("val_loss")) == 3  # validate() outside fit() reports nothing


def test_the_stop_marker_ends_training_after_that_validation(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture[str]
) -> None:
    env = TrialEnv(tmp_path, monkeypatch)
    callback = TuneryCallback()
    trainer = fit([Record(at_epoch=2, action=env.stop), callback], epochs=10)
    assert callback.stopped and callback.stopped_step == 2
    assert trainer.current_epoch == 2  # two epochs trained, then fit returned
    assert [r.step for r in env.records("val_loss")] == [1, 2]
    assert "early stopping stopped trial exp-0001 at step 2" in capfd.readouterr().err


def test_min_epochs_still_trains_before_stopping(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    env = TrialEnv(tmp_path, monkeypatch)
    env.stop()  # stopped from the start: Lightning still honours min_epochs
    callback = TuneryCallback()
    trainer = fit([callback], epochs=10, min_epochs=3)
    assert callback.stopped and callback.stopped_step == 1
    assert trainer.current_epoch == 3
    assert [r.step for r in env.records("val_loss")] == [1]  # nothing after the stop


def test_a_renamed_metric_at_the_global_step(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    env = TrialEnv(tmp_path, monkeypatch)
    record = Record()
    callback = TuneryCallback("val/loss", name="val_loss", step="global_step")
    fit([record, callback], epochs=2, logged="val/loss")
    records = env.records("val_loss")
    assert [r.step for r in records] == [step for _, step, _ in record.values]
    assert [r.step for r in records] == [4, 8]  # 64 samples in batches of 16
    assert [r.value for r in records] == pytest.approx([value for *_, value in record.values])


def test_a_metric_the_module_does_not_log_is_a_one_line_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    TrialEnv(tmp_path, monkeypatch)
    with pytest.raises(UserInputError) as info:
        fit([TuneryCallback("val_acc")], epochs=1)
    line = str(info.value)
    assert "\n" not in line
    assert "no metric 'val_acc' was logged (logged: val_loss)" in line
    assert "self.log('val_acc', value)" in line


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"monitor": ""}, "monitor must be the name of a logged metric"),
        ({"monitor": "val/loss"}, "cannot report the metric as 'val/loss'"),
        ({"name": "a b"}, "cannot report the metric as 'a b'"),
        ({"step": "batch"}, "step must be one of epoch, global_step, not 'batch'"),
    ],
)
def test_bad_arguments_are_refused_at_once(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(UserInputError, match=message):
        TuneryCallback(**kwargs)


def test_outside_a_trial_and_without_an_optimizer_it_says_how_to_run(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for var in ("TUNERY_TRIAL_NAME", "KATIB_TRIAL_NAME"):
        monkeypatch.delenv(var, raising=False)
    with pytest.raises(UserInputError, match="nowhere to report metrics"):
        fit([TuneryCallback()], epochs=1)


def test_without_lightning_the_import_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "lightning.pytorch", None)
    monkeypatch.setitem(sys.modules, "pytorch_lightning", None)
    monkeypatch.delitem(sys.modules, "tunery.integration.lightning")
    with pytest.raises(ImportError) as info:
        importlib.import_module("tunery.integration.lightning")
    assert "\n" not in str(info.value)
    assert "needs PyTorch Lightning, which is not installed" in str(info.value)
    assert 'pip install "tunery[lightning]"' in str(info.value)


# --------------------------------------------------------------------------- ask/tell


def test_ask_tell_medianstop_stops_a_bad_learning_rate() -> None:
    opt = tunery.Optimizer(
        {"lr": tunery.search.categorical(["0.1", "0.08", "0.0001"])},
        algorithm="grid",
        early_stopping="medianstop",
        early_stopping_settings={"min_trials_required": 2, "start_step": 2},
    )
    epochs: dict[str, tuple[bool, int]] = {}
    for _ in range(3):
        s = opt.ask()
        callback = TuneryCallback(optimizer=opt, suggestion=s)
        trainer = fit([callback], epochs=6, lr=float(s.params["lr"]))
        if not callback.stopped:
            opt.tell(s, float(trainer.callback_metrics["val_loss"]))
        epochs[s.params["lr"]] = (callback.stopped, trainer.current_epoch)
    assert epochs["0.1"] == (False, 6) and epochs["0.08"] == (False, 6)
    assert epochs["0.0001"] == (True, 2)
    by_lr = {t.parameters["lr"]: t for t in opt.trials}
    assert by_lr["0.0001"].status is TrialCondition.EARLY_STOPPED
    assert by_lr["0.1"].status is TrialCondition.SUCCEEDED
    assert opt.best is not None and opt.best.params["lr"] in ("0.1", "0.08")


# --------------------------------------------------------------------------- experiments

TRIAL = (
    """
import sys
import torch
torch.set_num_threads(1)
"""
    + MODEL
    + f"""
from tunery.integration.lightning import TuneryCallback
lr = float(sys.argv[1].split("=", 1)[1])
callback = TuneryCallback("val_loss")
trainer = trainer([callback], 8, devices=1)
trainer.fit(Regression(lr, pause=0.5), loader(), loader())
print("{RETURNED} stopped=" + str(callback.stopped), flush=True)
"""
)


@pytest.mark.slow
def test_an_experiment_stops_its_lightning_trials_early(tmp_path: Path) -> None:
    stopping_experiment(
        tmp_path,
        "lightning",
        TRIAL,
        metric="val_loss",
        good=["0.1", "0.08"],
        bad=["0.0001"],
        steps=range(1, 9),
    )


DDP = (
    """
import os, sys
import torch
torch.set_num_threads(1)
"""
    + MODEL
    + f"""
from tunery.integration.lightning import TuneryCallback
callback = TuneryCallback("val_loss")
trainer = trainer([callback], 40, devices=2, strategy="ddp")
trainer.fit(Regression(0.05, pause=0.2), loader(), loader())
print(f"{RETURNED} rank=" + str(trainer.global_rank) + " stopped=" + str(callback.stopped)
      + " step=" + str(callback.stopped_step) + " epochs=" + str(trainer.current_epoch), flush=True)
"""
)


@pytest.mark.slow
def test_ddp_rank_zero_reports_and_every_rank_stops_at_the_same_step(tmp_path: Path) -> None:
    script = tmp_path / "ddp.py"
    script.write_text(textwrap.dedent(DDP))
    push, stop = tmp_path / "metrics" / "push.jsonl", tmp_path / "stop"
    env = dict(
        os.environ,
        TUNERY_TRIAL_NAME="ddp-0001",
        KATIB_TRIAL_NAME="ddp-0001",
        TUNERY_METRICS_COLLECTOR="Push",
        TUNERY_METRICS_PATH=str(push),
        TUNERY_STOP_FILE=str(stop),
    )
    proc = subprocess.Popen(
        [sys.executable, str(script)],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        deadline = time.monotonic() + 120
        # The controller's part: once rank 0 has reported step 3, early stopping says stop.
        while time.monotonic() < deadline and proc.poll() is None:
            if push.exists() and push.read_text().count("\n") >= 3:
                stop.write_text("early stopped\n")
                break
            time.sleep(0.05)
        out, _ = proc.communicate(timeout=max(1.0, deadline - time.monotonic()))
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, out[-3000:]
    # The two ranks share one pipe: another process's output may follow a rank's line on it.
    pattern = re.escape(RETURNED) + r" rank=(\d+) stopped=(\w+) step=(\S+) epochs=(\d+)"
    ends = [
        dict(zip(("rank", "stopped", "step", "epochs"), match, strict=True))
        for match in re.findall(pattern, out)
    ]
    assert sorted(e["rank"] for e in ends) == ["0", "1"], out[-3000:]
    assert all(e["stopped"] == "True" for e in ends), ends
    assert ends[0]["step"] == ends[1]["step"] and ends[0]["epochs"] == ends[1]["epochs"], ends
    step = int(ends[0]["step"])
    assert 3 <= step < 40 and int(ends[0]["epochs"]) == step
    records, _ = PushCollector(("val_loss",)).read(str(push), None, final=True)
    steps = [r.step for r in records]
    assert steps == list(range(1, step + 1))  # one report per step: rank 0's alone
