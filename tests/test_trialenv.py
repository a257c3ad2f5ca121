"""Cached virtualenvs for packages_to_install: real venvs and real pip, offline (a wheel built
here, served from a local directory or a local PEP 503 index).  The tests that build an
environment take seconds each and are marked ``integration``."""

from __future__ import annotations

import base64
import hashlib
import os
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import pytest

from tunery.errors import UserInputError
from tunery.trialenv import CACHE_ENV, MARKER, cache_dir, env_key, python_for

DEMO = "tunery-demo-pkg"
WHEEL = "tunery_demo_pkg-1.0-py3-none-any.whl"


def _record_line(name: str, data: bytes) -> str:
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    return f"{name},sha256={digest},{len(data)}"


def make_wheel(directory: Path) -> Path:
    """A pure-Python wheel of ``tunery-demo-pkg`` 1.0 (module ``tunery_demo_pkg``)."""
    directory.mkdir(parents=True, exist_ok=True)
    info = "tunery_demo_pkg-1.0.dist-info"
    files = {
        "tunery_demo_pkg/__init__.py": b"VALUE = 42\n",
        f"{info}/METADATA": f"Metadata-Version: 2.1\nName: {DEMO}\nVersion: 1.0\n".encode(),
        f"{info}/WHEEL": (
            b"Wheel-Version: 1.0\nGenerator: tests\nRoot-Is-Purelib: true\nTag: py3-none-any\n"
        ),
    }
    record = [_record_line(name, data) for name, data in files.items()] + [f"{info}/RECORD,,"]
    path = directory / WHEEL
    with zipfile.ZipFile(path, "w") as zf:
        for name, data in files.items():
            zf.writestr(name, data)
        zf.writestr(f"{info}/RECORD", "\n".join(record) + "\n")
    return path


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    root = tmp_path / "cache"
    monkeypatch.setenv(CACHE_ENV, str(root))
    for name in ("PIP_NO_INDEX", "PIP_FIND_LINKS", "PIP_INDEX_URL", "PIP_EXTRA_INDEX_URL"):
        monkeypatch.delenv(name, raising=False)
    return root


@pytest.fixture
def offline(cache: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """pip sees no index, only a directory holding the demo wheel."""
    links = tmp_path / "wheels"
    make_wheel(links)
    monkeypatch.setenv("PIP_NO_INDEX", "1")
    monkeypatch.setenv("PIP_FIND_LINKS", str(links))
    return links


def run(python: str, code: str) -> str:
    proc = subprocess.run([python, "-c", code], capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout.strip()


def test_no_packages_is_tunerys_own_interpreter(cache: Path) -> None:
    assert python_for([]) == sys.executable
    assert python_for((), ["https://example.org/simple"]) == sys.executable
    assert not cache.exists()


def test_cache_dir_defaults(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv(CACHE_ENV, str(tmp_path / "c"))
    assert cache_dir() == str(tmp_path / "c")
    monkeypatch.delenv(CACHE_ENV)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert cache_dir() == str(tmp_path / "xdg" / "tunery" / "envs")
    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert cache_dir() == str(tmp_path / "home" / ".cache" / "tunery" / "envs")


def test_the_key_is_the_sorted_packages_and_the_indexes() -> None:
    assert env_key(["b", "a", " a "]) == env_key(["a", "b"])
    assert env_key(["a"]) != env_key(["a", "b"])
    assert env_key(["a"]) != env_key(["a"], ["https://example.org/simple"])
    one, two = "https://a.example/simple", "https://b.example/simple"
    assert env_key(["a"], [one, two]) != env_key(["a"], [two, one])  # the first is --index-url


@pytest.mark.parametrize(
    ("packages", "urls", "message"),
    [
        ("numpy", (), "must be a list of package names"),
        (["numpy", ""], (), "not a package name"),
        (["numpy", 3], (), "not a package name"),
        (["--upgrade", "numpy"], (), "pip option"),
        (["numpy"], "https://example.org/simple", "must be a list of URLs"),
        (["numpy"], ["--trusted-host=x"], "not a URL"),
    ],
)
def test_malformed_arguments_are_user_errors(
    cache: Path, packages: object, urls: object, message: str
) -> None:
    with pytest.raises(UserInputError, match=message) as info:
        python_for(packages, urls)  # type: ignore[arg-type]
    assert info.value.exit_code == 2 and "\n" not in str(info.value)
    assert not cache.exists()


@pytest.mark.integration  # a real venv and pip: seconds
def test_an_env_with_an_installed_package_inherits_tunery_and_is_reused(
    cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # PyYAML is in tunery's environment: pip finds it satisfied without any index.
    monkeypatch.setenv("PIP_NO_INDEX", "1")
    started = time.monotonic()
    python = python_for(["PyYAML"])
    first = time.monotonic() - started
    assert python.startswith(str(cache)) and python != sys.executable
    assert (Path(python).parent.parent / MARKER).is_file()
    import tunery

    got = run(python, "import sys, tunery, yaml, sqlalchemy; print(sys.prefix, tunery.__file__)")
    prefix, where = got.split()
    assert prefix == str(Path(python).parent.parent)
    assert where == tunery.__file__  # the very tunery that built it
    started = time.monotonic()
    assert python_for(["PyYAML"]) == python  # the cache hit
    assert time.monotonic() - started < min(0.5, first / 2)
    assert len([p for p in cache.iterdir() if p.is_dir()]) == 1


@pytest.mark.integration  # a real venv and pip: seconds
def test_a_package_from_find_links_goes_into_the_env_only(offline: Path) -> None:
    python = python_for([f"{DEMO}==1.0"])
    where = run(python, "import tunery_demo_pkg as m; print(m.VALUE, m.__file__)")
    value, path = where.split()
    assert value == "42" and path.startswith(str(Path(python).parent.parent))
    base = subprocess.run([sys.executable, "-c", "import tunery_demo_pkg"], capture_output=True)
    assert base.returncode != 0  # tunery's own environment is untouched


@pytest.mark.integration  # a real venv and pip: seconds
def test_index_urls_are_passed_to_pip(cache: Path, tmp_path: Path) -> None:
    index = tmp_path / "index"
    project = index / DEMO
    make_wheel(project)
    (project / "index.html").write_text(f'<html><body><a href="{WHEEL}">{WHEEL}</a></body></html>')
    missing = (tmp_path / "no-index").as_uri()
    python = python_for([DEMO], [missing, index.as_uri()])
    assert run(python, "import tunery_demo_pkg as m; print(m.VALUE)") == "42"


@pytest.mark.integration  # a real venv and pip: seconds
def test_a_package_that_cannot_exist_is_one_line_and_leaves_nothing(
    cache: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Offline-safe: no index, links to a directory that does not exist.
    monkeypatch.setenv("PIP_NO_INDEX", "1")
    monkeypatch.setenv("PIP_FIND_LINKS", str(tmp_path / "nowhere"))
    with pytest.raises(UserInputError) as info:
        python_for(["tunery-no-such-package-xyz"])
    text = str(info.value)
    assert "\n" not in text and info.value.exit_code == 2
    assert text.startswith("packages_to_install: pip could not install tunery-no-such-package-xyz")
    assert "No matching distribution found for tunery-no-such-package-xyz" in text
    assert "reachable" in text
    assert [p.name for p in cache.iterdir() if p.is_dir()] == []  # the half-built env is gone


@pytest.mark.integration  # a real venv and pip: seconds
def test_an_unreachable_index_says_so(cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PIP_RETRIES", "1")  # pip says why in its retry warning
    monkeypatch.setenv("PIP_NO_INDEX", "0")
    with pytest.raises(UserInputError) as info:
        python_for([DEMO], ["http://127.0.0.1:9/simple"])  # the discard port: refused
    text = str(info.value)
    assert "\n" not in text
    assert f"pip could not install {DEMO}: http://127.0.0.1:9/simple cannot be reached" in text
    assert "give a reachable index in pip_index_urls" in text
    assert [p.name for p in cache.iterdir() if p.is_dir()] == []


@pytest.mark.integration  # a real venv and pip: seconds
def test_a_half_built_env_is_never_reused(offline: Path) -> None:
    env_dir = Path(os.environ[CACHE_ENV]) / env_key([DEMO])
    (env_dir / "bin").mkdir(parents=True)
    (env_dir / "bin" / "python").write_text("#!/bin/sh\nexit 3\n")  # a build killed midway
    python = python_for([DEMO])
    assert python == str(env_dir / "bin" / "python")
    assert run(python, "import tunery_demo_pkg as m; print(m.VALUE)") == "42"


@pytest.mark.integration
def test_two_processes_build_one_env(offline: Path, tmp_path: Path) -> None:
    code = (
        "import logging, sys; logging.basicConfig(level=logging.INFO, stream=sys.stderr)\n"
        f"from tunery.trialenv import python_for; print(python_for([{DEMO!r}]))\n"
    )
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", code], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        for _ in range(3)
    ]
    outs = [p.communicate(timeout=120) for p in procs]
    assert all(p.returncode == 0 for p in procs), [err for _, err in outs]
    assert len({out.strip() for out, _ in outs}) == 1
    builds = sum(err.count("building a Python environment") for _, err in outs)
    assert builds == 1, [err for _, err in outs]
