"""Integrations with ML tools, each an optional extra; this package imports none of them.

``tunery.integration.mlflow``: mirror experiments into MLflow (``pip install "tunery[mlflow]"``);
``tunery.integration.optuna``: Optuna studies to and from tunery experiments
(``pip install "tunery[optuna]"``).
"""
