"""The launch builder: what an executor runs for one trial.

The controller (to start a trial), its recovery path and ``tunery run --dry-run`` all build a
trial's :class:`~tunery.execute.base.Launch` here, so what a dry run prints is what runs.

A trial's files live in ``<runs>/<experiment>/<trial>/`` (``runs`` is the experiment's
``runs_dir``, else ``./tunery-runs``).  Katib gives each trial pod empty volumes; tunery gives
each trial directories of its own and rewrites the paths that name them
(:mod:`tunery.mounts`):

* the metrics collector's absolute path: the directory of a ``File`` collector's path (or the
  file itself when it sits in ``/``) or a ``TensorFlowEvent`` directory becomes
  ``<trial dir>/metrics`` — made empty before the trial starts, and the only place the
  collector reads (:envvar:`TUNERY_METRICS_PATH` names the file or directory there).
  A relative path (native form) stays relative to the trial's working directory, which
  validation requires to be the trial's own; a leftover there is removed before the start;
* the ``Push`` collector reads ``<trial dir>/metrics/push.jsonl``, where
  :func:`tunery.collect.push.report_metrics` appends (named in :envvar:`TUNERY_METRICS_PATH`);
  every trial is told its collector kind in :envvar:`TUNERY_METRICS_COLLECTOR`;
* early stopping's stop marker is ``<trial dir>/stop-requested`` (:mod:`tunery.stopfile`),
  named in :envvar:`TUNERY_STOP_FILE` and removed (with ``stop-listening``) before the trial's
  first start;
* with ``suggestion_trial_dir`` (pbt), the checkpoint directory becomes
  ``<runs>/<experiment>/checkpoints/<trial>`` (:func:`checkpoint_dir`), named in
  :envvar:`TUNERY_CHECKPOINT_DIR` too.  The algorithm only names a trial's parent
  (:attr:`~tunery.model.Trial.parent`); the executor fills the directory from the parent's
  before the trial starts (:meth:`~tunery.execute.base.Executor.prepare_checkpoint`).

So a trial is never credited with another trial's metrics, at any parallelism, after a resume,
or after an experiment of the same name was deleted and run again.

Trial names (:func:`trial_name_for`) and the algorithm's seed (:func:`seed_for`) are decided
here too, for the controller and ``--dry-run`` alike.
"""

from __future__ import annotations

import os
import posixpath
import shutil
import sys
import zlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import replace

from tunery.collect.push import COLLECTOR_ENV, METRICS_PATH_ENV, PUSH_FILE
from tunery.execute.base import Launch
from tunery.model import CollectorKind, ExperimentSpec, ParamValue
from tunery.mounts import Mount, Rewriter, mount_root, rewrite
from tunery.spec.replicas import Replica, gang_argv, gang_spec
from tunery.spec.template import render_trial
from tunery.stopfile import STOP_FILE_ENV, listen_file, stop_file

__all__ = [
    "CHECKPOINT_ENV",
    "METRICS_DIR",
    "METRICS_ENV",
    "build_launch",
    "checkpoint_dir",
    "checkpoint_mount",
    "checkpoint_setting",
    "experiment_dir",
    "metrics_mount",
    "prepare_trial_dirs",
    "rewrite_for_checkpoint",
    "seed_for",
    "trial_dir",
    "trial_name_for",
    "working_dir",
]

#: Name of a trial's own metrics directory inside its trial directory.
METRICS_DIR = "metrics"
#: Directory of a gang's other replicas' logs and metrics copies, inside the trial directory.
REPLICAS_DIR = "replicas"
#: Environment variable naming the trial's metrics file (or directory) as the collector reads it.
METRICS_ENV = METRICS_PATH_ENV
#: Environment variable holding the trial's checkpoint directory.
CHECKPOINT_ENV = "TUNERY_CHECKPOINT_DIR"
#: Katib's algorithm setting naming the checkpoint directory as the trial sees it (only pbt
#: accepts it; :mod:`tunery.suggest.pbt` validates it).
TRIAL_DIR_SETTING = "suggestion_trial_dir"


def trial_name_for(experiment: str, index: int) -> str:
    """The name of an experiment's trial number ``index`` (1-based): ``<experiment>-0001``."""
    return f"{experiment}-{index:04d}"


def seed_for(experiment: str) -> int:
    """The algorithm's seed for an experiment (unless its ``random_state`` setting says)."""
    return zlib.crc32(experiment.encode())


def checkpoint_setting(spec: ExperimentSpec) -> str | None:
    """The ``suggestion_trial_dir`` setting, or None when trials get no checkpoint directory.

    Like Katib's pod webhook, any experiment with that setting gets per-trial checkpoint
    directories (only pbt accepts the setting).
    """
    value = spec.algorithm.settings_dict().get(TRIAL_DIR_SETTING, "").strip()
    return value if value.strip("/") else None


def checkpoint_dir(experiment_dir: str, trial_name: str) -> str:
    """A trial's checkpoint directory: ``<experiment dir>/checkpoints/<trial name>``."""
    return os.path.join(experiment_dir, "checkpoints", trial_name)


def checkpoint_mount(setting: str, checkpoint_dir: str) -> Mount:
    """The ``suggestion_trial_dir`` setting as a mount of the trial's checkpoint directory."""
    return Mount(setting, checkpoint_dir)


def rewrite_for_checkpoint(
    setting: str,
    checkpoint_dir: str,
    argv: Sequence[str],
    env: Mapping[str, str],
) -> tuple[tuple[str, ...], dict[str, str]]:
    """A trial's command and environment, pointed at its own checkpoint directory.

    Emulates Katib's volume mount (:mod:`tunery.mounts`): every path in ``argv`` and
    ``env`` values that starts with the ``suggestion_trial_dir`` setting
    (``/var/log/katib/checkpoints/x`` for the setting ``/var/log/katib/checkpoints/``) has that
    prefix replaced by ``checkpoint_dir``, inside ``sh -c`` scripts too (quoted for the shell
    where needed).  The directory is also given in :data:`CHECKPOINT_ENV`.
    """
    new_argv, new_env = rewrite([checkpoint_mount(setting, checkpoint_dir)], argv, env)
    new_env[CHECKPOINT_ENV] = checkpoint_dir
    return new_argv, new_env


def experiment_dir(runs_dir: str | None, experiment: str) -> str:
    """``<runs>/<experiment>``: where the experiment's trial directories live."""
    return os.path.join(os.path.abspath(runs_dir or "tunery-runs"), experiment)


def trial_dir(runs_dir: str | None, experiment: str, trial_name: str) -> str:
    """``<runs>/<experiment>/<trial>``: output.log, status files and the metrics directory."""
    return os.path.join(experiment_dir(runs_dir, experiment), trial_name)


def working_dir(base_dir: str | None, rendered_dir: str | None) -> str:
    """A trial's working directory: the rendered one (relative to ``base_dir``), else
    ``base_dir`` (the experiment file's directory), else the current directory."""
    base = base_dir or os.getcwd()
    if rendered_dir:
        return rendered_dir if os.path.isabs(rendered_dir) else os.path.join(base, rendered_dir)
    return base


def _collects_path(spec: ExperimentSpec) -> tuple[str, bool] | None:
    """The collector's path and whether it names a directory, or None (no file collected)."""
    mc = spec.metrics_collector
    if not mc.path:
        return None
    if mc.kind is CollectorKind.FILE:
        return mc.path, False
    if mc.kind is CollectorKind.TENSORFLOW_EVENT:
        return mc.path, True
    return None  # Custom and PrometheusMetric collectors are refused at validation


def metrics_mount(
    spec: ExperimentSpec, trial_dir: str, texts: Iterable[str] = ()
) -> tuple[Mount, str] | None:
    """The trial's own copy of the collector's absolute path: (the mount, the path the
    collector reads).  ``texts``: the trial's command line, environment values and working
    directory (an ancestor of the collector's directory that they name is mounted instead).

    None when the collector reads no file (StdOut reads the trial's output log) or when its
    path is relative (native form only): a relative path is the trial's working directory's
    business and is never rewritten (validation makes sure that directory is the trial's own).
    """
    found = _collects_path(spec)
    if found is None or not posixpath.isabs(found[0]):
        return None
    path, is_dir = found
    local_dir = os.path.join(trial_dir, METRICS_DIR)
    directory = path.rstrip("/") or "/" if is_dir else posixpath.dirname(path)
    if directory in ("", "/"):
        # A file in /: mount the file itself, not the whole file system.
        local_file = os.path.join(local_dir, posixpath.basename(path) or "metrics.log")
        return Mount(path, local_file), local_file
    # Katib mounts an empty volume at the directory: everything the trial writes there (and,
    # the pod's file system being its own, under an ancestor it names) is its own.
    root = mount_root(directory, texts)
    inside = posixpath.relpath(path.rstrip("/") or "/", root)
    return Mount(root, local_dir), os.path.normpath(os.path.join(local_dir, inside))


def _relative_metrics(spec: ExperimentSpec, work_dir: str) -> tuple[str, bool] | None:
    found = _collects_path(spec)
    if found is None or posixpath.isabs(found[0]):
        return None
    return os.path.join(work_dir, os.path.expanduser(found[0])), found[1]


def build_launch(
    spec: ExperimentSpec,
    *,
    experiment: str,
    trial_name: str,
    parameters: Mapping[str, ParamValue],
    labels: Mapping[str, str] | None = None,
    runs_dir: str | None = None,
    base_dir: str | None = None,
) -> Launch:
    """Everything an executor needs to run one trial (pure: creates no file)."""
    rendered = render_trial(spec, trial_name, parameters, labels)
    own_dir = trial_dir(runs_dir, experiment, trial_name)
    mounts: list[Mount] = []
    texts = [*rendered.argv, *rendered.env.values(), rendered.working_dir or ""]
    for replica in rendered.replicas:
        texts.extend([*replica.argv, *replica.env.values(), replica.working_dir or ""])
    metrics = metrics_mount(spec, own_dir, texts)
    checkpoints = checkpoint_setting(spec)
    own_checkpoints = checkpoint_dir(experiment_dir(runs_dir, experiment), trial_name)
    if metrics is not None:
        mounts.append(metrics[0])
    if checkpoints is not None:  # Katib's suggestion_trial_dir volume, emulated
        mounts.append(checkpoint_mount(checkpoints, own_checkpoints))
    rewriter = Rewriter(mounts)

    # A gang's replicas carry their own env; the trial's env is what they all share.
    env = rewriter.env(rendered.env) if not rendered.replicas else {}
    env.setdefault("TUNERY_EXPERIMENT", experiment)
    env.setdefault("TUNERY_TRIAL_NAME", trial_name)
    env.setdefault("KATIB_TRIAL_NAME", trial_name)
    env.setdefault(COLLECTOR_ENV, spec.metrics_collector.kind.value)
    # The stop channel (tunery.stopfile): early stopping's marker, removed before a first start.
    env.setdefault(STOP_FILE_ENV, stop_file(own_dir))
    if "PATH" not in env:
        # Trials see tunery's own Python environment first, so `python` in a trial
        # command is the interpreter tunery runs in (a venv's, typically).
        bindir = os.path.dirname(sys.executable)
        env["PATH"] = bindir + os.pathsep + os.environ.get("PATH", "")
    if checkpoints is not None:
        env[CHECKPOINT_ENV] = own_checkpoints
    rendered_dir = rewriter.text(rendered.working_dir) if rendered.working_dir else None
    work_dir = working_dir(base_dir, rendered_dir)
    metrics_path: str | None = None
    metrics_is_dir = False
    fresh_dirs: tuple[str, ...] = ()
    stale_files: tuple[str, ...] = ()
    if spec.metrics_collector.kind is CollectorKind.PUSH:
        # report_metrics() appends here; the Push collector reads it (a Dask worker's copy
        # is mirrored like a File collector's file).
        metrics_path = os.path.join(own_dir, METRICS_DIR, PUSH_FILE)
        fresh_dirs = (os.path.join(own_dir, METRICS_DIR),)
        env[METRICS_ENV] = metrics_path
    elif metrics is not None:
        metrics_path = metrics[1]
        metrics_is_dir = spec.metrics_collector.kind is CollectorKind.TENSORFLOW_EVENT
        fresh_dirs = (os.path.join(own_dir, METRICS_DIR),)
        env[METRICS_ENV] = metrics_path
    else:
        relative = _relative_metrics(spec, work_dir)
        if relative is not None:
            metrics_path = relative[0]
            metrics_is_dir = relative[1]
            fresh_dirs, stale_files = (
                ((metrics_path,), ()) if relative[1] else ((), (metrics_path,))
            )
            env[METRICS_ENV] = metrics_path
    argv = rewriter.argv(rendered.argv)
    replicas: list[Replica] = []
    for r in rendered.replicas:
        own = rewriter
        if metrics is not None and not r.primary:
            # Each pod has its own volume: only the primary's copy is the one collected.
            other_dir = os.path.join(own_dir, REPLICAS_DIR, r.name)
            other = metrics_mount(spec, other_dir, texts)
            if other is not None:
                own = Rewriter([other[0], *mounts[1:]])
                fresh_dirs = (*fresh_dirs, os.path.join(other_dir, METRICS_DIR))
        rdir = own.text(r.working_dir) if r.working_dir else None
        replicas.append(
            replace(
                r,
                argv=own.argv(r.argv),
                env=own.env(r.env),
                working_dir=working_dir(base_dir, rdir),
            )
        )
    if replicas:  # one process to the executor: the gang supervisor (tunery.gang)
        argv = gang_argv(
            sys.executable, gang_spec(replicas, [r.working_dir or work_dir for r in replicas])
        )
    stale_files = (*stale_files, stop_file(own_dir), listen_file(stop_file(own_dir)))
    return Launch(
        trial_name=trial_name,
        argv=argv,
        trial_dir=own_dir,
        env=env,
        working_dir=work_dir,
        timeout=rendered.timeout,
        resources=dict(rendered.resources),
        metrics_path=metrics_path,
        metrics_is_dir=metrics_is_dir,
        checkpoint_dir=own_checkpoints if checkpoints is not None else None,
        fresh_dirs=fresh_dirs,
        stale_files=stale_files,
        replicas=tuple(replicas),
    )


def prepare_trial_dirs(launch: Launch) -> None:
    """Make the trial's own directories empty, before its first start.

    A leftover of an earlier run of a trial of the same name (an experiment deleted and run
    again) is removed, so the collector never reads another run's metrics.  Call it only when
    the trial has certainly not started (never on the recovery path).
    """
    for path in launch.stale_files:
        if os.path.isdir(path) and not os.path.islink(path):
            shutil.rmtree(path)
        elif os.path.lexists(path):
            os.unlink(path)
    for path in launch.fresh_dirs:
        if os.path.islink(path) or os.path.isfile(path):
            os.unlink(path)
        elif os.path.isdir(path):
            shutil.rmtree(path)
        os.makedirs(path)
