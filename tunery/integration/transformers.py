"""Hugging Face ``transformers.Trainer``: report an evaluation metric, stop when told.

Inside a trial that tunery runs::

    from tunery.integration.transformers import TuneryCallback

    trainer = Trainer(model=model, args=TrainingArguments(..., eval_strategy="epoch"),
                      train_dataset=train, eval_dataset=valid,
                      callbacks=[TuneryCallback(metric="eval_loss")])
    trainer.train()

reports ``eval_loss`` after every evaluation with the trainer's global step as its step, and
sets ``control.should_training_stop`` when the experiment's early stopping (medianstop, asha)
stops the trial: ``train()`` returns after the current step and the script exits on its own
(``EarlyStopped``).  ``metric`` may be given with or without the ``eval_`` prefix the Trainer
adds (``"accuracy"`` finds ``eval_accuracy``).  Evaluation must run during training
(``eval_strategy="epoch"`` or ``"steps"``), else there is nothing to report; an
``evaluate()`` called outside ``train()`` reports nothing.  With an ask/tell
:class:`tunery.Optimizer`, pass ``optimizer=opt, suggestion=s``; ``callback.stopped`` then says
whether the suggestion was stopped (do not ``tell`` it).

Distributed (``torchrun``/``accelerate launch``): only the world's process zero reports, and
every rank stops at the same step (:func:`tunery.integration.distributed_any`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from tunery.integration._monitor import Monitor, Monitored, import_framework

_transformers = import_framework(("transformers",), "transformers", "Hugging Face transformers")

if TYPE_CHECKING:
    from tunery.optimizer import Optimizer, Suggestion

__all__ = ["TuneryCallback"]


class TuneryCallback(Monitored, _transformers.TrainerCallback):  # type: ignore[name-defined]
    """Report ``metric`` after each evaluation and stop training when tunery says so.

    ``metric``: a key of the Trainer's evaluation metrics (``eval_loss``, ``eval_accuracy``
    from ``compute_metrics``...; the ``eval_`` prefix may be left out); ``name``: the metric
    name it is reported under (default: ``metric`` as given);
    ``optimizer``/``suggestion``: an ask/tell optimizer and the suggestion being trained.
    """

    def __init__(
        self,
        metric: str = "eval_loss",
        *,
        name: str | None = None,
        optimizer: Optimizer | None = None,
        suggestion: Suggestion | str | None = None,
    ) -> None:
        self._monitor = Monitor(
            "TuneryCallback", metric, name=name, optimizer=optimizer, suggestion=suggestion
        )
        self._training = False

    @property
    def metric(self) -> str:
        return self._monitor.monitor

    def _value(self, metrics: Mapping[str, Any]) -> Any:
        for key in (self.metric, f"eval_{self.metric}"):
            if key in metrics:
                return metrics[key]
        raise self._monitor.missing(
            metrics.keys(),
            "pass one of them as metric=, or return the metric from compute_metrics",
        )

    def on_train_begin(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        self._training = True

    def on_train_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        self._training = False

    def on_evaluate(
        self,
        args: Any,
        state: Any,
        control: Any,
        metrics: Mapping[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        if not self._training:
            return  # trainer.evaluate() after train(): the trial's curve is complete
        value = self._value(metrics or {})
        if self._monitor.step(
            int(state.global_step), value, reporting=bool(state.is_world_process_zero)
        ):
            control.should_training_stop = True
