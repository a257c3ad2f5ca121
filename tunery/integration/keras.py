"""Keras 3: report the monitored metric at each epoch's end, stop when told.

Keras 3 runs on PyTorch, so no TensorFlow is needed: set ``KERAS_BACKEND=torch`` in the
environment *before* Keras is first imported (in the experiment's trial template, or
``os.environ["KERAS_BACKEND"] = "torch"`` at the top of the script); importing this module
first does not set it for you, since the backend is Keras's choice to make once per process.

Inside a trial that tunery runs::

    from tunery.integration.keras import TuneryCallback

    model.fit(x, y, validation_data=(xv, yv), epochs=30,
              callbacks=[TuneryCallback(monitor="val_loss")])

reports ``val_loss`` from each epoch's logs with the epochs completed as its step, and sets
``model.stop_training`` when the experiment's early stopping (medianstop, asha) stops the
trial: ``fit`` returns after that epoch and the script exits on its own (``EarlyStopped``).
With an ask/tell :class:`tunery.Optimizer`, pass ``optimizer=opt, suggestion=s``; then
``callback.stopped`` says whether the suggestion was stopped (do not ``tell`` it).

An epoch without validation (``validation_freq`` > 1) reports nothing; a monitored metric that
never appears is a one-line error naming the metrics Keras logged.  With ``torch.distributed``
initialised by your code, rank 0 reports and every rank stops together.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from tunery.integration._monitor import Monitor, Monitored, import_framework

keras = import_framework(
    ("keras",), "keras", "Keras 3", hint=" (and set KERAS_BACKEND=torch before importing it)"
)

if TYPE_CHECKING:
    from tunery.optimizer import Optimizer, Suggestion

__all__ = ["TuneryCallback"]


class TuneryCallback(Monitored, keras.callbacks.Callback):  # type: ignore[name-defined]
    """Report ``monitor`` at each epoch's end and stop training when tunery says so.

    ``monitor``: a key of Keras's epoch logs (``val_loss``, ``val_accuracy``, ``loss``...);
    ``name``: the metric name it is reported under (default ``monitor``);
    ``optimizer``/``suggestion``: an ask/tell optimizer and the suggestion being trained.
    """

    def __init__(
        self,
        monitor: str = "val_loss",
        *,
        name: str | None = None,
        optimizer: Optimizer | None = None,
        suggestion: Suggestion | str | None = None,
    ) -> None:
        super().__init__()
        self._monitor = Monitor(
            "TuneryCallback", monitor, name=name, optimizer=optimizer, suggestion=suggestion
        )
        self._seen: set[str] = set()

    @property
    def monitor(self) -> str:
        return self._monitor.monitor

    def on_epoch_end(self, epoch: int, logs: Mapping[str, Any] | None = None) -> None:
        logs = logs or {}
        self._seen.update(logs)
        if self.monitor not in logs:
            validated = any(str(key).startswith("val_") for key in logs)
            if validated or not self.monitor.startswith("val_"):
                raise self._missing(logs)
            return  # no validation this epoch (validation_freq)
        if self._monitor.step(int(epoch) + 1, logs[self.monitor]):
            self.model.stop_training = True

    def on_train_end(self, logs: Mapping[str, Any] | None = None) -> None:
        if self._monitor.reports == 0 and self._seen and self._monitor.reporter.is_reporting_rank:
            raise self._missing(self._seen)

    def _missing(self, logged: Any) -> Exception:
        validated = any(str(k).startswith("val_") for k in logged)
        fix = (
            "pass validation_data= (or validation_split=) to fit()"
            if self.monitor.startswith("val_") and not validated
            else "pass one of the logged names as monitor="
        )
        return self._monitor.missing(logged, fix)
