"""tunery.integration.keras against the real Keras 3 on its torch backend: a tiny regression
model trained in this process (inside a trial's environment, or with an ask/tell Optimizer),
and a real experiment whose medianstop stops Keras trials."""

from __future__ import annotations

import importlib
import os
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.integration_trials import RETURNED, TrialEnv, require_packages, stopping_experiment

require_packages("torch", "keras", extra="keras")
os.environ["KERAS_BACKEND"] = "torch"  # before Keras is first imported: no TensorFlow

import keras  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402

import tunery  # noqa: E402
from tunery.errors import UserInputError  # noqa: E402
from tunery.integration.keras import TuneryCallback  # noqa: E402
from tunery.model import TrialCondition  # noqa: E402

pytestmark = pytest.mark.integration
torch.set_num_threads(1)

#: The tiny model, shared by the in-process tests and the trial script (exec'd there).
MODEL = """
import numpy as np
import keras

def data():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(64, 4)).astype("float32")
    return x, x @ np.array([[1.0], [2.0], [3.0], [4.0]], dtype="float32")

def model(lr):
    keras.utils.set_random_seed(0)
    net = keras.Sequential([keras.Input((4,)), keras.layers.Dense(1)])
    net.compile(optimizer=keras.optimizers.SGD(lr), loss="mse")
    return net
"""
_model: dict[str, Any] = {}
exec(compile(MODEL, "<keras model>", "exec"), _model)
data, make_model = _model["data"], _model["model"]


class At(keras.callbacks.Callback):
    """Run ``action`` at the end of one epoch (before TuneryCallback's, listed first)."""

    def __init__(self, epoch: int, action: Any) -> None:
        super().__init__()
        self.epoch, self.action = epoch, action

    def on_epoch_end(self, epoch: int, logs: Any = None) -> None:
        if epoch + 1 == self.epoch:
            self.action()


def fit(callbacks: list[Any], epochs: int = 3, lr: float = 0.05, **kw: Any) -> Any:
    x, y = data()
    kw.setdefault("validation_data", (x, y))
    return make_model(lr).fit(
        x, y, epochs=epochs, batch_size=16, verbose=0, callbacks=callbacks, **kw
    )


# --------------------------------------------------------------------------- in a trial


def test_reports_each_epochs_metric_with_the_epochs_completed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    env = TrialEnv(tmp_path, monkeypatch)
    callback = TuneryCallback()
    history = fit([callback], epochs=3)
    records = env.records("val_loss")
    assert [r.step for r in records] == [1, 2, 3]
    assert [r.value for r in records] == pytest.approx(history.history["val_loss"])
    assert not callback.stopped


def test_the_stop_marker_ends_training_after_that_epoch(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture[str]
) -> None:
    env = TrialEnv(tmp_path, monkeypatch)
    callback = TuneryCallback("loss", name="train_loss")
    history = fit([At(2, env.stop), callback], epochs=10)
    assert callback.stopped and callback.stopped_step == 2
    assert len(history.history["loss"]) == 2  # fit returned after the second epoch
    records = env.records("train_loss")
    assert [r.step for r in records] == [1, 2]
    assert [r.value for r in records] == pytest.approx(history.history["loss"])
    assert "early stopping stopped trial exp-0001 at step 2" in capfd.readouterr().err


def test_epochs_without_validation_report_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    env = TrialEnv(tmp_path, monkeypatch)
    history = fit([TuneryCallback()], epochs=4, validation_freq=2)
    records = env.records("val_loss")
    assert [r.step for r in records] == [2, 4]
    assert [r.value for r in records] == pytest.approx(history.history["val_loss"])


def test_without_validation_data_it_says_to_pass_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    TrialEnv(tmp_path, monkeypatch)
    with pytest.raises(UserInputError) as info:
        fit([TuneryCallback()], epochs=2, validation_data=None)
    line = str(info.value)
    assert "\n" not in line
    assert "no metric 'val_loss' was logged (logged: loss)" in line
    assert "pass validation_data= (or validation_split=) to fit()" in line


def test_a_metric_keras_does_not_log_is_a_one_line_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    TrialEnv(tmp_path, monkeypatch)
    with pytest.raises(UserInputError, match=r"logged: loss, val_loss\); pass one of the"):
        fit([TuneryCallback("val_accuracy")], epochs=1)


def test_outside_a_trial_and_without_an_optimizer_it_says_how_to_run(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for var in ("TUNERY_TRIAL_NAME", "KATIB_TRIAL_NAME"):
        monkeypatch.delenv(var, raising=False)
    with pytest.raises(UserInputError, match="nowhere to report metrics"):
        fit([TuneryCallback()], epochs=1)


def test_without_keras_the_import_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "keras", None)
    monkeypatch.delitem(sys.modules, "tunery.integration.keras")
    with pytest.raises(ImportError) as info:
        importlib.import_module("tunery.integration.keras")
    assert "\n" not in str(info.value)
    assert "needs Keras 3, which is not installed" in str(info.value)
    assert 'pip install "tunery[keras]"' in str(info.value)


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
        history = fit([callback], epochs=6, lr=float(s.params["lr"]))
        if not callback.stopped:
            opt.tell(s, history.history["val_loss"][-1])
        epochs[s.params["lr"]] = (callback.stopped, len(history.history["val_loss"]))
    assert epochs == {"0.1": (False, 6), "0.08": (False, 6), "0.0001": (True, 2)}
    by_lr = {t.parameters["lr"]: t for t in opt.trials}
    assert by_lr["0.0001"].status is TrialCondition.EARLY_STOPPED
    assert opt.best is not None and opt.best.params["lr"] in ("0.1", "0.08")
    assert np.isfinite(opt.best.value)


# --------------------------------------------------------------------------- experiments

TRIAL = (
    """
import os, sys, time
os.environ["KERAS_BACKEND"] = "torch"
import torch
torch.set_num_threads(1)
"""
    + MODEL
    + f"""
from tunery.integration.keras import TuneryCallback

class Pause(keras.callbacks.Callback):
    def on_epoch_end(self, epoch, logs=None):
        time.sleep(0.5)

lr = float(sys.argv[1].split("=", 1)[1])
callback = TuneryCallback("val_loss")
x, y = data()
model(lr).fit(x, y, validation_data=(x, y), epochs=8, batch_size=16, verbose=0,
              callbacks=[Pause(), callback])
print("{RETURNED} stopped=" + str(callback.stopped), flush=True)
"""
)


@pytest.mark.slow
def test_an_experiment_stops_its_keras_trials_early(tmp_path: Path) -> None:
    stopping_experiment(
        tmp_path,
        "keras",
        TRIAL,
        metric="val_loss",
        good=["0.1", "0.08"],
        bad=["0.0001"],
        steps=range(1, 9),
    )
