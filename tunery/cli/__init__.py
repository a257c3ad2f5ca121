"""The ``tunery`` command line.

Commands and their ``--json`` shapes are a contract (see README): ``run``, ``resume``,
``validate``, ``list``, ``get``, ``trials``, ``best``, ``logs``, ``stop``, ``edit``, ``delete``,
``export``,
``db``, ``mlflow sync``, ``import``.
Bad input exits with code 2 and one line that names the field and the fix.
"""

from tunery.cli import _inspect, _integrations, _logs, _manage, _run  # noqa: F401  (they register the commands)
from tunery.cli._common import main

__all__ = ["main"]
