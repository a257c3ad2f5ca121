"""Katib's per-trial volumes, emulated by rewriting paths.

In Katib each trial pod gets its own empty volume where the metrics collector reads (the
directory of a ``File`` collector's path, a ``TensorFlowEvent`` directory) and, with pbt, where
its checkpoints live (``suggestion_trial_dir``).  A local trial has no volumes, so tunery gives
each trial a directory of its own and points the trial at it: every occurrence of the
container path (and of paths under it) in the trial's command line, environment values and
working directory is replaced by the trial's local directory.

A mount's container path matches only as a whole path component: ``/katib`` matches
``/katib``, ``/katib/mnist.log`` and ``--log-path=/katib/x`` but not ``/katib2`` or
``/opt/katib``.  Inside an ``sh -c`` script the replacement is quoted for the shell unless it
already stands in quotes.  Several mounts are applied in one pass, the longest container path
first, so a checkpoint mount nested in a metrics mount keeps its own directory.
"""

from __future__ import annotations

import os
import re
import shlex
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

__all__ = ["Mount", "Rewriter", "mentions", "mount_root", "names_exactly", "rewrite"]


@dataclass(frozen=True)
class Mount:
    """A container path that a trial sees as a local path of its own."""

    #: The path as the experiment names it, e.g. ``/katib`` or ``/var/log/katib/tfevent``.
    container_path: str
    #: The trial's own copy, e.g. ``<runs>/<experiment>/<trial>/metrics``.
    local_path: str


def _normalise(path: str) -> str:
    stripped = path.rstrip("/")
    return stripped or path


def _pattern(paths: Iterable[str]) -> re.Pattern[str] | None:
    ordered = sorted({_normalise(p) for p in paths if _normalise(p) not in ("", "/", ".")}, key=len)
    if not ordered:
        return None
    alternatives = "|".join(re.escape(p) for p in reversed(ordered))
    return re.compile(r"(?<![\w.\-/])(" + alternatives + r")(?=/|$|[\s'\";:,)=\]}])")


class Rewriter:
    """Replaces container paths by local ones in argv, environment values and directories."""

    def __init__(self, mounts: Sequence[Mount]) -> None:
        self.mounts = tuple(mounts)
        self._local = {_normalise(m.container_path): m.local_path for m in self.mounts}
        self._pattern = _pattern(self._local)

    def __bool__(self) -> bool:
        return self._pattern is not None

    def text(self, value: str) -> str:
        """``value`` with every mounted path replaced (no shell quoting)."""
        if self._pattern is None:
            return value
        return self._pattern.sub(lambda m: self._local[m.group(1)], value)

    def script(self, value: str) -> str:
        """An ``sh -c`` script with every mounted path replaced, quoted for the shell."""
        if self._pattern is None:
            return value

        def repl(m: re.Match[str]) -> str:
            local = self._local[m.group(1)]
            inside_quotes = m.start() > 0 and value[m.start() - 1] in "'\""
            return local if inside_quotes else shlex.quote(local)

        return self._pattern.sub(repl, value)

    def argv(self, argv: Sequence[str]) -> tuple[str, ...]:
        """A command line with every mounted path replaced (``sh -c`` scripts quoted)."""
        is_script = len(argv) >= 3 and os.path.basename(argv[0]) in ("sh", "bash")
        is_script = is_script and argv[1] == "-c"
        return tuple(
            self.script(a) if is_script and i == 2 else self.text(a) for i, a in enumerate(argv)
        )

    def env(self, env: Mapping[str, str]) -> dict[str, str]:
        return {name: self.text(value) for name, value in env.items()}


def rewrite(
    mounts: Sequence[Mount], argv: Sequence[str], env: Mapping[str, str]
) -> tuple[tuple[str, ...], dict[str, str]]:
    """``argv`` and ``env`` pointed at the mounts' local paths."""
    rewriter = Rewriter(mounts)
    return rewriter.argv(argv), rewriter.env(env)


def mentions(path: str, texts: Iterable[str]) -> bool:
    """Whether ``path`` (or a path under it) occurs as a path in any of ``texts``."""
    pattern = _pattern([path])
    return pattern is not None and any(pattern.search(t) for t in texts)


def names_exactly(path: str, texts: Iterable[str]) -> bool:
    """Whether ``path`` itself (not only a path under it) occurs as a path in any of ``texts``."""
    base = _normalise(path)
    if base in ("", "/", "."):
        return False
    pattern = re.compile(r"(?<![\w.\-/])" + re.escape(base) + r"/?(?=$|[\s'\";:,)=\]}])")
    return any(pattern.search(t) for t in texts)


def mount_root(directory: str, texts: Iterable[str]) -> str:
    """Where a trial's own copy of ``directory`` should be rooted.

    In a pod the whole file system is the pod's own: a trial told to write under
    ``/logs`` while the collector reads ``/logs/test`` (Katib's TF-summaries example) writes
    ``/logs/train`` too, in its own file system.  So the copy is rooted at the shortest ancestor
    of ``directory`` (never ``/``) that the trial names exactly, else at ``directory`` itself.
    """
    texts = list(texts)
    parts = [p for p in _normalise(directory).split("/") if p]
    for n in range(1, len(parts)):
        ancestor = "/" + "/".join(parts[:n])
        if names_exactly(ancestor, texts):
            return ancestor
    return _normalise(directory)
