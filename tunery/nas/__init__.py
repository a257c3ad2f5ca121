"""Neural architecture search in PyTorch: data sets and trainers (docs/nas.md).

Nothing here imports torch when ``tunery.nas`` itself is imported; the modules that need it
import it through :func:`import_torch`, which turns a missing torch into one line naming the
extra to install.
"""

from __future__ import annotations

import argparse
import importlib
from types import ModuleType

#: The largest seed torch's generators take.
MAX_SEED = 2**62

#: What to run when torch (or numpy) is missing.
INSTALL_HINT = "pip install 'tunery[nas]'"


class MissingDependencyError(ImportError):
    """A package the NAS modules need is not installed; the message is one line."""


def import_torch() -> ModuleType:
    """``torch``, or a one-line :class:`MissingDependencyError` naming the extra to install."""
    return import_optional("torch", INSTALL_HINT)


def import_optional(name: str, hint: str) -> ModuleType:
    """Import ``name``, or raise a one-line :class:`MissingDependencyError` ending in ``hint``."""
    try:
        return importlib.import_module(name)
    except ImportError as exc:
        raise MissingDependencyError(
            f"tunery's neural architecture search needs {name}, which cannot be imported "
            f"({' '.join(str(exc).split())}): {hint}"
        ) from None


def seed_argument(text: str) -> int:
    """The trainers' ``--seed``: an integer from 0 to :data:`MAX_SEED` (argparse ``type=``)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an integer") from None
    if not 0 <= value <= MAX_SEED:
        raise argparse.ArgumentTypeError(f"must be from 0 to 2**62, got {value}")
    return value
