"""Executors run trials; they plug in by URL scheme.

``local`` (:mod:`tunery.execute.local`: subprocesses of this machine) and ``dask``
(:mod:`tunery.execute.dask`: ``dask://HOST:PORT``, also ``tcp://`` and ``tls://``) are
registered here; a module is imported only when its executor is opened, validated or asked to
re-attach.  A new executor is one module defining an :class:`~tunery.execute.base.ExecutorBase`
subclass (its ``scheme``, and its ``check_url``/``from_url``/``reopen_url`` class methods when
its URLs carry an address), one line in :data:`_BUILTIN`, and one
``TestXContract(ExecutorContract)`` test class.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping, Sequence
from typing import Any

from tunery.errors import UserInputError
from tunery.execute.base import URL_HINT, ExecutorBase

__all__ = [
    "EXECUTOR_ANNOTATION",
    "URL_HINT",
    "executor_class",
    "executor_url_of",
    "open_executor",
    "reopen_url",
    "schemes",
    "validate_url",
]

#: The experiment annotation that names where its trials run (``--executor`` overrides it).
EXECUTOR_ANNOTATION = "tunery.dev/executor"


#: URL scheme -> (module, class).  Several schemes may name one class (Dask's addresses).
_BUILTIN: dict[str, tuple[str, str]] = {
    "local": ("tunery.execute.local", "LocalExecutor"),
    "dask": ("tunery.execute.dask", "DaskExecutor"),
    "tcp": ("tunery.execute.dask", "DaskExecutor"),
    "tls": ("tunery.execute.dask", "DaskExecutor"),
}


def schemes() -> list[str]:
    """The URL schemes executors are registered for."""
    return sorted(_BUILTIN)


def _scheme(url: str) -> str:
    text = url.strip()
    return text.split("://", 1)[0] if "://" in text else text


def executor_class(scheme: str) -> type[ExecutorBase]:
    """The executor class registered for ``scheme`` (its module imported now)."""
    entry = _BUILTIN.get(scheme)
    if entry is None:
        raise UserInputError(f"no executor is registered for {scheme!r}", URL_HINT)
    cls: type[ExecutorBase] = getattr(importlib.import_module(entry[0]), entry[1])
    return cls


def validate_url(url: str) -> None:
    """Refuse (:class:`~tunery.errors.UserInputError`, one line naming ``--executor`` and the
    fix) a URL that names no executor.  Imports no optional dependency."""
    entry = _BUILTIN.get(_scheme(url))
    if entry is None:
        raise UserInputError(f"--executor {url!r} is not an executor URL", URL_HINT)
    executor_class(_scheme(url)).check_url(url.strip())


def executor_url_of(annotations: Mapping[str, str], given: str | None = None) -> str:
    """``given`` (a command-line or SDK choice), else the experiment's annotation, else local."""
    if given is not None and given.strip():
        return given
    return annotations.get(EXECUTOR_ANNOTATION, "").strip() or "local"


def open_executor(url: str | None, *, gpus: Sequence[str] | None = None) -> ExecutorBase:
    """The executor named by ``url``: ``local`` (or None) or ``dask://HOST:PORT``.

    ``gpus`` is the local executor's GPU pool (a Dask cluster's GPUs are the workers').
    """
    text = "local" if url is None or not url.strip() else url.strip()
    validate_url(text)
    return executor_class(_scheme(text)).from_url(text, gpus=gpus)


def reopen_url(handle: Mapping[str, Any]) -> str:
    """The URL of the executor that re-attaches to the trial of ``handle`` (its
    ``"executor"`` kind names the scheme; an unknown kind: local)."""
    kind = str(handle.get("executor") or "local")
    if kind not in _BUILTIN:
        return "local"
    return executor_class(kind).reopen_url(handle)
