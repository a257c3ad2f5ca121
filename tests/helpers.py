"""Helpers shared by tests: small native experiments whose trials are real Python processes."""

from __future__ import annotations

import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from tunery.model import Experiment
from tunery.spec import parse_document, to_document
from tunery.storage import Store


def native_doc(
    name: str,
    script: str,
    *,
    parameters: list[dict[str, Any]] | None = None,
    objective: dict[str, Any] | None = None,
    algorithm: str = "random",
    parallel: int = 2,
    max_trials: int = 4,
    max_failed: int | None = None,
    timeout: str | None = None,
    extra_spec: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """A native experiment whose trial runs ``script`` (Python) with ``--x=<value>``."""
    params = parameters or [
        {"name": "x", "parameterType": "double", "feasibleSpace": {"min": "0", "max": "1"}}
    ]
    template: dict[str, Any] = {
        "command": [
            sys.executable,
            "-c",
            textwrap.dedent(script),
            *[f"--{p['name']}=${{trialParameters.{p['name']}}}" for p in params],
        ]
    }
    if timeout is not None:
        template["timeout"] = timeout
    spec: dict[str, Any] = {
        "objective": objective or {"type": "maximize", "objectiveMetricName": "score"},
        "algorithm": {"algorithmName": algorithm},
        "parallelTrialCount": parallel,
        "maxTrialCount": max_trials,
        "parameters": params,
        "trialTemplate": template,
    }
    if max_failed is not None:
        spec["maxFailedTrialCount"] = max_failed
    spec.update(extra_spec or {})
    return {
        "apiVersion": "tunery/v1",
        "kind": "Experiment",
        "metadata": {"name": name},
        "spec": spec,
    }


def katib_job_doc(
    name: str,
    container: dict[str, Any],
    *,
    objective: dict[str, Any] | None = None,
    parameters: list[dict[str, Any]] | None = None,
    trial_parameters: list[dict[str, Any]] | None = None,
    **spec: Any,
) -> dict[str, Any]:
    """A Katib Experiment whose trial is a batch/v1 Job running ``container`` (named
    ``training-container``), with one double parameter ``lr`` in [0.01, 0.09] by default."""
    params = parameters or [
        {"name": "lr", "parameterType": "double", "feasibleSpace": {"min": "0.01", "max": "0.09"}}
    ]
    pod = {"containers": [{"name": "training-container", **container}], "restartPolicy": "Never"}
    return {
        "apiVersion": "kubeflow.org/v1beta1",
        "kind": "Experiment",
        "metadata": {"name": name},
        "spec": {
            "objective": objective or {"type": "maximize", "objectiveMetricName": "acc"},
            "algorithm": {"algorithmName": "random"},
            "parameters": params,
            "trialTemplate": {
                "primaryContainerName": "training-container",
                "trialParameters": trial_parameters or [{"name": "lr", "reference": "lr"}],
                "trialSpec": {
                    "apiVersion": "batch/v1",
                    "kind": "Job",
                    "spec": {"template": {"spec": pod}},
                },
            },
            **spec,
        },
    }


def write_yaml(path: Path, doc: dict[str, Any]) -> Path:
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    return path


def create(store: Store, doc: dict[str, Any], tmp_path: Path) -> Experiment:
    """Store the experiment of ``doc`` with its trial directories under ``tmp_path``."""
    spec = parse_document(doc)
    return store.create_experiment(
        Experiment(
            name=spec.name,
            spec=spec,
            document=to_document(spec),
            created_time=0.0,
            base_dir=str(tmp_path),
            runs_dir=str(tmp_path / "runs"),
        )
    )


#: A trial script that reads --x and prints score=<x> (and a step line before it).
SCORE_IS_X = """
import sys
x = float(sys.argv[1].split("=", 1)[1])
print("step=0 score=0.0", flush=True)
print(f"step=1 score={x}", flush=True)
"""


def kill_9_runs(
    path: Path, cwd: Path, env: dict[str, str], ran: Path, delays: tuple[float, ...]
) -> None:
    """Run ``tunery run path`` and SIGKILL it, once per delay.

    Each controller is killed ``delay`` seconds after it started a trial of its own (``ran``
    gets a line per started trial): a loaded machine can take seconds just to start Python.
    """
    for delay in delays:
        before = len(ran.read_text().split()) if ran.exists() else 0
        proc = subprocess.Popen(
            [sys.executable, "-m", "tunery", "run", str(path), "-q"],
            cwd=cwd,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.time() + 60
        while time.time() < deadline and proc.poll() is None:
            if ran.exists() and len(ran.read_text().split()) > before:
                break
            time.sleep(0.05)
        time.sleep(delay)
        proc.send_signal(signal.SIGKILL)
        proc.wait()


def tunery_ok(*args: str, cwd: Path, env: Mapping[str, str]) -> subprocess.CompletedProcess[str]:
    """Run ``tunery ARGS`` in a subprocess; it must exit 0 (its output is in the message)."""
    proc = subprocess.run(
        [sys.executable, "-m", "tunery", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
        env=dict(env),
    )
    assert proc.returncode == 0, (proc.stdout, proc.stderr)
    return proc
