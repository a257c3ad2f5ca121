"""Framework integrations: callbacks that report a metric with its step to tunery and stop
training when the experiment's early stopping says so.

One module per framework (``tunery.integration.xgboost``, ``lightgbm``, ``sklearn``,
``lightning``, ``keras``, ``transformers``, ``mlflow``, ``optuna``), each importing its
framework when it is imported (a one-line ImportError names the extra to install, e.g.
``pip install "tunery[xgboost]"``).  This package itself imports no optional package: it
exports what every integration shares (:mod:`tunery.integration._trial`).
"""

from __future__ import annotations

from tunery.integration._trial import Reporter, distributed_any, process_rank, should_stop

__all__ = ["Reporter", "distributed_any", "process_rank", "should_stop"]
