"""Run the steps of an Argo Workflow or Tekton PipelineRun trial, in order, as one trial.

``python -m tunery.run_steps PLAN`` where PLAN is the JSON that
:func:`tunery.spec.workflows.render_workflow` writes: a list of steps, each with its argv, its own
environment and working directory, and an optional script source.  A step's output values are
filled in just before it starts:

* ``{{steps.NAME.outputs.result}}`` (Argo): the stdout of the earlier step NAME, stripped;
* ``$(results.R.path)`` (Tekton): a file of the step's task in which it writes result R;
* ``$(tasks.T.results.R)`` (Tekton): what task T wrote there, without a trailing newline.

Every step's stdout is passed through (the StdOut collector reads the trial's output); the trial
fails with the exit status of the first step that fails.  Standard library only.
"""

from __future__ import annotations

import json
import os
import re
import signal
import stat
import subprocess
import sys
import tempfile
from typing import Any

_ARGO_RESULT = re.compile(r"\{\{\s*steps\.([-\w]+)\.outputs\.result\s*\}\}")
_TEKTON_RESULT_PATH = re.compile(r"\$\(results\.([-\w]+)\.path\)")
_TEKTON_TASK_RESULT = re.compile(r"\$\(tasks\.([-\w]+)\.results\.([-\w]+)\)")


class _Values:
    def __init__(self, results_root: str) -> None:
        self.outputs: dict[str, str] = {}
        self.root = results_root

    def result_dir(self, task: str) -> str:
        path = os.path.join(self.root, task)
        os.makedirs(path, exist_ok=True)
        return path

    def fill(self, text: str, task: str) -> str:
        text = _ARGO_RESULT.sub(lambda m: self.outputs.get(m.group(1), ""), text)
        text = _TEKTON_RESULT_PATH.sub(
            lambda m: os.path.join(self.result_dir(task), m.group(1)), text
        )

        def task_result(m: re.Match[str]) -> str:
            path = os.path.join(self.root, m.group(1), m.group(2))
            try:
                with open(path, encoding="utf-8") as fh:
                    return fh.read().rstrip("\n")
            except OSError:
                return ""

        return _TEKTON_TASK_RESULT.sub(task_result, text)


def _run(argv: list[str], env: dict[str, str], cwd: str | None) -> tuple[int, str]:
    """Run one step, passing its stdout through; (exit status, stdout)."""
    child = subprocess.Popen(argv, env=env, cwd=cwd, stdout=subprocess.PIPE)

    def forward(signum: int, frame: Any) -> None:
        child.send_signal(signum)

    old = signal.signal(signal.SIGTERM, forward)
    captured = bytearray()
    assert child.stdout is not None
    out = sys.stdout.buffer
    try:
        while chunk := os.read(child.stdout.fileno(), 65536):
            captured += chunk
            out.write(chunk)
            out.flush()
        status = child.wait()
    finally:
        signal.signal(signal.SIGTERM, old)
    return status, captured.decode("utf-8", "replace")


def run(plan: list[dict[str, Any]]) -> int:
    with tempfile.TemporaryDirectory(prefix="tunery-steps-") as scratch:
        values = _Values(os.path.join(scratch, "results"))
        for i, step in enumerate(plan):
            task = str(step.get("task") or step["name"])
            argv = [values.fill(a, task) for a in step["argv"]]
            env = {**os.environ, **{k: values.fill(v, task) for k, v in step["env"].items()}}
            cwd = step.get("workingDir") or None
            source = step.get("script")
            if source is not None:
                path = os.path.join(scratch, f"script-{i}")
                with open(path, "w", encoding="utf-8") as fh:
                    fh.write(values.fill(source, task))
                os.chmod(path, os.stat(path).st_mode | stat.S_IXUSR)
                argv = [*argv, path] if argv else [path]
            if cwd:
                os.makedirs(cwd, exist_ok=True)
            try:
                status, stdout = _run(argv, env, cwd)
            except OSError as exc:
                print(f"step {step['name']}: cannot start {argv[0]!r}: {exc}", file=sys.stderr)
                return 127
            if status != 0:
                print(f"step {step['name']} failed with exit status {status}", file=sys.stderr)
                return status if status > 0 else 128 - status
            values.outputs[str(step["name"])] = stdout.strip()
    return 0


def main(args: list[str]) -> int:
    if len(args) != 1:
        print("usage: python -m tunery.run_steps PLAN_JSON", file=sys.stderr)
        return 2
    return run(json.loads(args[0]))


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
