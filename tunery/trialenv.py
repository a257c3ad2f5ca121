"""Per-experiment Python packages (Katib's ``packages_to_install``) in cached virtualenvs.

:func:`python_for` returns the interpreter a trial runs with: tunery's own when no packages are
asked for, else that of a virtualenv that has them, built once and reused.

* The environment is created from tunery's interpreter with ``--system-site-packages`` and
  also sees the packages of tunery's own environment (a ``.pth`` file adds its site
  directories, editable installs included, when tunery runs in a virtualenv), so a trial
  imports tunery and everything installed next to it; the packages asked for are installed
  into the new environment with ``pip install`` (``index_urls``: the first is
  ``--index-url``, the others ``--extra-index-url``), and win over inherited versions.
  pip's own settings (``PIP_*`` environment variables, ``pip.conf``) apply.
* The cache directory is ``$TUNERY_CACHE`` when set, else ``$XDG_CACHE_HOME/tunery/envs``
  (``~/.cache/tunery/envs``).  An environment's directory name is a digest of the sorted
  package list, the index URLs and tunery's interpreter (its path and version): the same
  packages for another interpreter get another environment.
* One builder at a time: a lock file per environment (``<digest>.lock``, ``flock``) makes a
  second process wait for the first and then reuse its environment.  An environment is used
  only once it is complete: its ``tunery-env.json`` is written last (atomically); a directory
  without it (a build that was killed) is removed and built again.  The environment is built
  where it stays, not built elsewhere and renamed: a virtualenv is not relocatable (scripts'
  ``#!`` lines and compiled files name its path).
* A failed ``pip install`` (no network, a misspelt package, a version that does not exist)
  raises :class:`~tunery.errors.UserInputError` with pip's error in one line and removes the
  half-built environment.

Deleting the cache directory (or one environment in it) is always safe: it is rebuilt when
next needed.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import importlib.util
import json
import logging
import os
import shutil
import site
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence

from tunery.errors import TuneryError, UserInputError, clip

__all__ = ["CACHE_ENV", "MARKER", "cache_dir", "env_key", "python_for"]

log = logging.getLogger(__name__)

#: Environment variable naming the directory of the cached environments.
CACHE_ENV = "TUNERY_CACHE"
#: Written last into a complete environment.
MARKER = "tunery-env.json"
_PTH = "_tunery_inherit.pth"
_FIELD = "packages_to_install"


def cache_dir() -> str:
    """Where the environments live: ``$TUNERY_CACHE``, else ``<XDG cache>/tunery/envs``."""
    chosen = os.environ.get(CACHE_ENV)
    if chosen:
        return os.path.abspath(os.path.expanduser(chosen))
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(os.path.abspath(base), "tunery", "envs")


def _packages(packages: Sequence[str]) -> list[str]:
    if isinstance(packages, str | bytes):
        raise UserInputError(
            f"{_FIELD} must be a list of package names, got the string {clip(repr(packages))}",
            f"write {_FIELD}=[{packages!r}]",
        )
    found: list[str] = []
    for item in packages:
        if not isinstance(item, str) or not item.strip():
            raise UserInputError(
                f"{_FIELD} holds {clip(repr(item))}, which is not a package name",
                "give pip requirement strings, e.g. ['numpy', 'pandas>=2']",
            )
        if item.strip().startswith("-"):
            raise UserInputError(
                f"{_FIELD} holds the pip option {clip(repr(item))}",
                "give package names only; use pip_index_urls for package indexes",
            )
        found.append(item.strip())
    return sorted(set(found))


def _urls(index_urls: Sequence[str]) -> list[str]:
    if isinstance(index_urls, str | bytes):
        raise UserInputError(
            f"pip_index_urls must be a list of URLs, got the string {clip(repr(index_urls))}",
            f"write pip_index_urls=[{index_urls!r}]",
        )
    urls = []
    for url in index_urls:
        if not isinstance(url, str) or not url.strip() or url.strip().startswith("-"):
            raise UserInputError(
                f"pip_index_urls holds {clip(repr(url))}, which is not a URL",
                "give index URLs, e.g. ['https://pypi.org/simple']",
            )
        urls.append(url.strip())
    return urls


def env_key(packages: Sequence[str], index_urls: Sequence[str] = ()) -> str:
    """The environment's name in the cache: a digest of what makes it."""
    payload = {
        "packages": _packages(packages),
        "index_urls": _urls(index_urls),
        "python": sys.executable,
        "version": sys.version,
    }
    digest = hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()
    return "env-" + digest[:20]


def _python_of(env_dir: str) -> str:
    return os.path.join(env_dir, "bin", "python")


def _complete(env_dir: str) -> bool:
    return os.path.isfile(os.path.join(env_dir, MARKER)) and os.path.exists(_python_of(env_dir))


@contextlib.contextmanager
def _locked(path: str) -> Iterator[None]:
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            log.info("waiting for another process building the environment of %s", path)
            fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # releases the lock


def python_for(packages: Sequence[str], index_urls: Sequence[str] = ()) -> str:
    """The interpreter of an environment with ``packages`` installed (see the module).

    Empty ``packages``: tunery's own interpreter, nothing built.

    Raises:
        UserInputError: ``packages``/``index_urls`` are malformed, or pip cannot install them
            (one line: pip's error and the fix).
        TuneryError: the virtualenv itself cannot be created.
    """
    wanted = _packages(packages)
    urls = _urls(index_urls)
    if not wanted:
        return sys.executable
    root = cache_dir()
    key = env_key(wanted, urls)
    env_dir = os.path.join(root, key)
    if _complete(env_dir):
        return _python_of(env_dir)
    try:
        os.makedirs(root, exist_ok=True)
    except OSError as exc:
        raise UserInputError(
            f"cannot create the environment cache {root}: {exc.strerror or exc}",
            f"set {CACHE_ENV} to a writable directory",
        ) from exc
    with _locked(os.path.join(root, key + ".lock")):
        if not _complete(env_dir):
            _build(env_dir, wanted, urls)
    return _python_of(env_dir)


# --------------------------------------------------------------------------- building


def _build(env_dir: str, packages: list[str], urls: list[str]) -> None:
    if os.path.lexists(env_dir):
        log.info("removing the incomplete environment %s", env_dir)
        _remove(env_dir)
    log.info("building a Python environment with %s in %s", ", ".join(packages), env_dir)
    started = time.monotonic()
    try:
        _create(env_dir)
        _install(env_dir, packages, urls)
        _write_marker(env_dir, packages, urls)
    except BaseException:
        _remove(env_dir)
        raise
    log.info("built %s in %.1f s", env_dir, time.monotonic() - started)


def _remove(path: str) -> None:
    if os.path.isdir(path) and not os.path.islink(path):
        shutil.rmtree(path, ignore_errors=True)
    elif os.path.lexists(path):
        os.unlink(path)


def _run(argv: list[str]) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ)
    env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
    # Settings that would install somewhere else than into the environment.
    for name in ("PYTHONHOME", "PIP_USER", "PIP_TARGET", "PIP_PREFIX", "PIP_ROOT"):
        env.pop(name, None)
    return subprocess.run(
        argv, capture_output=True, text=True, env=env, stdin=subprocess.DEVNULL, check=False
    )


def _create(env_dir: str) -> None:
    # pip comes from tunery's environment when it has one (no copy of pip per environment).
    own_pip = importlib.util.find_spec("pip") is not None
    argv = [sys.executable, "-m", "venv", "--system-site-packages"]
    if own_pip:
        argv.append("--without-pip")
    proc = _run([*argv, env_dir])
    if proc.returncode != 0:
        raise TuneryError(
            f"cannot create a virtualenv in {env_dir}: {_last_error(proc)}",
            "tunery's Python needs its venv module (on Debian/Ubuntu: apt install python3-venv)",
        )
    purelib = _run(
        [_python_of(env_dir), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"]
    )
    if purelib.returncode != 0 or not purelib.stdout.strip():
        raise TuneryError(
            f"the new virtualenv in {env_dir} does not run: {_last_error(purelib)}",
            f"remove {env_dir} and try again",
        )
    inherited = _inherited_dirs()
    if inherited:
        lines = [f"import site; site.addsitedir({d!r})" for d in inherited]
        with open(os.path.join(purelib.stdout.strip(), _PTH), "w") as f:
            f.write("\n".join(lines) + "\n")


def _inherited_dirs() -> list[str]:
    """tunery's own environment's site directories, when it is a virtualenv (a plain
    installation's are the system site-packages that ``--system-site-packages`` gives)."""
    if sys.prefix == sys.base_prefix:
        return []
    dirs = list(site.getsitepackages())
    if site.ENABLE_USER_SITE:
        dirs.append(site.getusersitepackages())
    return [d for d in dict.fromkeys(dirs) if os.path.isdir(d)]


def _install(env_dir: str, packages: list[str], urls: list[str]) -> None:
    argv = [_python_of(env_dir), "-m", "pip", "install", "--no-input"]
    if urls:
        argv += ["--index-url", urls[0]]
        for url in urls[1:]:
            argv += ["--extra-index-url", url]
    proc = _run([*argv, *packages])
    if proc.returncode != 0:
        where = urls[0] if urls else "the package index"
        error = _last_error(proc)
        offline = "; install them into tunery's own environment and leave them out of " + _FIELD
        if any(sign in proc.stderr for sign in _UNREACHABLE):
            raise UserInputError(
                f"{_FIELD}: pip could not install {clip(', '.join(packages))}: {where} cannot "
                f"be reached ({error})",
                "connect to the network or give a reachable index in pip_index_urls" + offline,
            )
        raise UserInputError(
            f"{_FIELD}: pip could not install {clip(', '.join(packages))}: {error}",
            f"check the names and versions, and that {where} is reachable{offline}",
        )


#: What pip says when it cannot reach an index (in its retry warnings).
_UNREACHABLE = (
    "NewConnectionError",
    "Failed to establish a new connection",
    "Temporary failure in name resolution",
    "Name or service not known",
    "ProxyError",
    "ConnectTimeoutError",
    "Network is unreachable",
)


def _last_error(proc: subprocess.CompletedProcess[str]) -> str:
    """pip's (or Python's) most telling line: the last ``ERROR:`` line, else the last one."""
    lines = [line.strip() for line in (proc.stderr + proc.stdout).splitlines() if line.strip()]
    errors = [line for line in lines if line.startswith("ERROR:")]
    chosen = errors[-1] if errors else (lines[-1] if lines else f"exit status {proc.returncode}")
    return clip(chosen.removeprefix("ERROR:").strip(), 300)


def _write_marker(env_dir: str, packages: list[str], urls: list[str]) -> None:
    marker = os.path.join(env_dir, MARKER)
    payload = {
        "packages": packages,
        "index_urls": urls,
        "python": sys.executable,
        "version": sys.version,
        "created": time.time(),
    }
    tmp = marker + ".tmp"
    with open(tmp, "w") as f:
        json.dump(payload, f, indent=1)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, marker)
