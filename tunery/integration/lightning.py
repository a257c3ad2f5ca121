"""PyTorch Lightning: report the monitored metric at each validation end, stop when told.

Inside a trial that tunery runs::

    from tunery.integration.lightning import TuneryCallback

    trainer = pl.Trainer(max_epochs=30, callbacks=[TuneryCallback(monitor="val_loss")])
    trainer.fit(model, train_loader, val_loader)

reports ``val_loss`` (what the module logs with ``self.log("val_loss", ...)``) with its step
after every validation of ``fit`` (not the sanity check, nor ``trainer.validate()``), and sets
``trainer.should_stop`` when the experiment's early stopping (medianstop, asha) stops the
trial: training ends after the current epoch (Lightning honours ``min_epochs``/``min_steps``
first), ``fit`` returns, and the script exits on its own, so the trial ends ``EarlyStopped``
without being killed.  With an ask/tell :class:`tunery.Optimizer`,
``TuneryCallback("val_loss", optimizer=opt, suggestion=s)`` reports to it instead;
``callback.stopped`` then says whether the suggestion was stopped (do not ``tell`` it).

Distributed (DDP and every other strategy): only global rank 0 reports, and the stop decision
goes through ``trainer.strategy.reduce_boolean_decision`` so every rank stops after the same
validation.  Works with ``pytorch_lightning`` and ``lightning.pytorch`` (the one already
imported, else whichever is installed).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from tunery.integration._monitor import Monitor, Monitored, import_framework

_pl = import_framework(("lightning.pytorch", "pytorch_lightning"), "lightning", "PyTorch Lightning")

if TYPE_CHECKING:
    from tunery.optimizer import Optimizer, Suggestion

__all__ = ["STEPS", "TuneryCallback"]

#: What a report's step counts: epochs completed (1 after the first epoch), or the trainer's
#: global step (optimizer steps taken; use it with ``val_check_interval`` below one epoch).
STEPS = ("epoch", "global_step")


class TuneryCallback(Monitored, _pl.Callback):  # type: ignore[name-defined]
    """Report ``monitor`` after each validation and stop training when tunery says so.

    ``monitor``: a metric the LightningModule logs (``self.log``); ``name``: the metric name
    it is reported under (default ``monitor``; e.g. ``monitor="val/loss", name="val_loss"``);
    ``step``: ``"epoch"`` (epochs completed, default) or ``"global_step"``;
    ``optimizer``/``suggestion``: an ask/tell optimizer and the suggestion being trained.
    """

    def __init__(
        self,
        monitor: str = "val_loss",
        *,
        name: str | None = None,
        step: str = "epoch",
        optimizer: Optimizer | None = None,
        suggestion: Suggestion | str | None = None,
    ) -> None:
        super().__init__()
        if step not in STEPS:
            from tunery.errors import UserInputError

            raise UserInputError(
                f"TuneryCallback: step must be one of {', '.join(STEPS)}, not {step!r}",
                "step='epoch' counts epochs completed, 'global_step' optimizer steps",
            )
        self._monitor = Monitor(
            "TuneryCallback", monitor, name=name, optimizer=optimizer, suggestion=suggestion
        )
        self.step_kind = step

    @property
    def monitor(self) -> str:
        return self._monitor.monitor

    def on_validation_end(self, trainer: Any, pl_module: Any) -> None:
        if trainer.sanity_checking or trainer.state.fn != "fit":
            return  # the sanity check, or trainer.validate() outside fit()
        metrics = trainer.callback_metrics
        if self.monitor not in metrics:
            raise self._monitor.missing(
                metrics.keys(),
                f"log it in validation_step with self.log({self.monitor!r}, value), or pass "
                "the logged name as monitor=",
            )
        step = trainer.global_step if self.step_kind == "global_step" else trainer.current_epoch + 1
        if self._monitor.step(
            int(step),
            metrics[self.monitor],
            reporting=bool(trainer.is_global_zero),
            any_rank=lambda flag: bool(trainer.strategy.reduce_boolean_decision(flag, all=False)),
        ):
            trainer.should_stop = True
