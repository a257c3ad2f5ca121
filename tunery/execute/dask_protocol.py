"""The Dask executor's side of the conversation with a cluster: scheduler addresses, the
Dask resources a trial asks for, the handle, the event topics, and what an attempt's ``end``
event means (:func:`status_of_end`).  Used by :mod:`tunery.execute.dask`; imports no Dask
module until a cluster is contacted.
"""

from __future__ import annotations

import hashlib
import math
import os
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from tunery.errors import MissingExtraError, TuneryError, UserInputError
from tunery.execute._process import GPU_RESOURCE, status_from_exit
from tunery.execute.base import URL_HINT, RunStatus

#: Seconds a connection to the scheduler may take, unless Dask's own
#: ``distributed.comm.timeouts.connect`` is configured
#: (``DASK_DISTRIBUTED__COMM__TIMEOUTS__CONNECT=5s``).
CONNECT_TIMEOUT = 10.0


# --------------------------------------------------------------------------- URLs


def scheduler_address(url: str) -> str:
    """``dask://host:port`` (or ``tcp://``, ``tls://``) as the address a Dask client takes."""
    text = url.strip()
    m = re.fullmatch(r"(dask|tcp|tls)://([^/\s:]+|\[[0-9a-fA-F:]+\]):(\d{1,5})/?", text)
    if m is None or not 0 < int(m.group(3)) < 65536:
        raise UserInputError(f"--executor {url!r} is not an executor URL", URL_HINT)
    scheme = "tcp" if m.group(1) == "dask" else m.group(1)
    return f"{scheme}://{m.group(2)}:{int(m.group(3))}"


def distributed_module() -> Any:
    try:
        import distributed
    except ImportError:
        raise MissingExtraError("distributed", "dask") from None
    return distributed


# --------------------------------------------------------------------------- resources


def _quantity(raw: str, what: str) -> float:
    """A Kubernetes quantity ("500m", "2", "2Gi", "1e9", "512M") as a number."""
    text = str(raw).strip()
    m = re.fullmatch(r"([+]?[0-9.]+(?:[eE][+-]?\d+)?)(m|k|M|G|T|P|E|Ki|Mi|Gi|Ti|Pi|Ei)?", text)
    if m is None:
        raise TuneryError(f"invalid {what} quantity {raw!r}", "use Kubernetes units: 500m, 2, 4Gi")
    try:
        value = float(m.group(1))
    except ValueError:
        raise TuneryError(f"invalid {what} quantity {raw!r}") from None
    factors = {
        None: 1.0,
        "m": 1e-3,
        "k": 1e3,
        "M": 1e6,
        "G": 1e9,
        "T": 1e12,
        "P": 1e15,
        "E": 1e18,
        "Ki": 2.0**10,
        "Mi": 2.0**20,
        "Gi": 2.0**30,
        "Ti": 2.0**40,
        "Pi": 2.0**50,
        "Ei": 2.0**60,
    }
    result = value * factors[m.group(2)]
    if not math.isfinite(result):
        raise TuneryError(f"invalid {what} quantity {raw!r}")
    return result


def dask_resources(resources: Mapping[str, str], declared: Iterable[str] = ()) -> dict[str, float]:
    """Dask task resources for a trial's Katib ``resources.limits``.

    GPUs always map (``GPU``); ``cpu`` -> ``CPU`` and ``memory`` -> ``MEMORY`` (bytes) only if
    ``declared`` (the resource names the cluster's workers declare) holds that name.
    """
    result: dict[str, float] = {}
    declared = set(declared)
    raw = resources.get(GPU_RESOURCE)
    if raw is not None:
        gpus = _quantity(raw, GPU_RESOURCE)
        if gpus < 0 or gpus != int(gpus):
            raise TuneryError(
                f"invalid {GPU_RESOURCE} request {raw!r}",
                "ask for a whole number of GPUs, e.g. nvidia.com/gpu: 1",
            )
        if gpus:
            result["GPU"] = gpus
    for name, target in (("cpu", "CPU"), ("memory", "MEMORY")):
        raw = resources.get(name)
        if raw is not None and target in declared:
            value = _quantity(raw, name)
            if value > 0:
                result[target] = value
    return result


# --------------------------------------------------------------------------- controller side


@dataclass(frozen=True)
class DaskHandle:
    scheduler: str
    key: str
    topic: str
    trial_dir: str
    trial_name: str
    started_at: float
    timeout: float | None
    retries: int
    #: The controller-side path of a File collector's metrics file that is mirrored.
    metrics: str | None = None

    @classmethod
    def parse(cls, handle: Mapping[str, Any]) -> DaskHandle:
        if handle.get("executor") != "dask":
            raise TuneryError(
                f"not a Dask executor handle: {dict(handle)!r}",
                "the trial was started by another executor kind; resume with that --executor",
            )
        try:
            timeout = handle.get("timeout")
            return cls(
                scheduler=str(handle["scheduler"]),
                key=str(handle["key"]),
                topic=str(handle["topic"]),
                trial_dir=str(handle["trial_dir"]),
                trial_name=str(handle.get("trial_name", "")),
                started_at=float(handle.get("started_at", 0.0)),
                timeout=None if timeout is None else float(timeout),
                retries=int(handle.get("retries", 2)),
                metrics=str(handle["metrics"]) if handle.get("metrics") else None,
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise TuneryError(f"not a Dask executor handle: {dict(handle)!r}") from exc

    def path(self, name: str) -> str:
        return os.path.join(self.trial_dir, name)


def topic_of(trial_dir: str) -> str:
    digest = hashlib.sha1(os.path.abspath(trial_dir).encode()).hexdigest()[:16]
    return f"tunery-trial-{digest}"


def status_of_end(end: Mapping[str, Any]) -> RunStatus:
    """The trial status an attempt's ``end`` event stands for."""
    code = end.get("exit_code")
    sig = end.get("signal")
    return status_from_exit(
        None if code is None else int(code),
        timed_out=bool(end.get("timed_out")),
        stopped=bool(end.get("cancelled")),
        signal=int(sig) if sig else None,
        timeout=end.get("timeout"),
        lost=f"the trial's process left no exit status on worker {end.get('worker')}",
    )


def status_json(status: RunStatus, key: str) -> dict[str, Any]:
    return {
        "key": key,
        "state": status.state.value,
        "exit_code": status.exit_code,
        "reason": status.reason,
        "message": status.message,
    }


def ended(start: Mapping[str, Any], ends: Sequence[Mapping[str, Any]]) -> bool:
    return any(e["attempt"] == start["attempt"] for e in ends)


def configured_connect_timeout() -> float:
    import dask.config
    from dask.utils import parse_timedelta

    value = dask.config.get("distributed.comm.timeouts.connect", None)
    if value in (None, "30s"):  # Dask's default: too long for a command line's answer
        return CONNECT_TIMEOUT
    return float(parse_timedelta(value, default="s") or CONNECT_TIMEOUT)


def fits(need: Mapping[str, float], have: Mapping[str, float]) -> bool:
    return all(have.get(k, 0.0) >= v for k, v in need.items())


def fmt_resources(resources: Mapping[str, float]) -> str:
    return ", ".join(f"{k}={v:g}" for k, v in sorted(resources.items()))
