"""The executor registry: executors plug in by URL scheme."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tunery.errors import UserInputError
from tunery.execute import (
    EXECUTOR_ANNOTATION,
    executor_class,
    executor_url_of,
    open_executor,
    reopen_url,
    schemes,
    validate_url,
)
from tunery.execute.base import ExecutorBase
from tunery.execute.local import LocalExecutor


def test_schemes_and_classes() -> None:
    assert {"local", "dask", "tcp", "tls"} <= set(schemes())
    assert executor_class("local") is LocalExecutor
    for scheme in schemes():
        assert issubclass(executor_class(scheme), ExecutorBase)


def test_validate_url_refuses_in_one_line_naming_the_flag_and_the_fix() -> None:
    for good in ("local", " local ", "dask://h:8786", "tcp://10.0.0.1:1", "tls://[::1]:8786"):
        validate_url(good)
    for bad in ("", "nowhere", "local://x", "dask://h", "http://h:1", "h:8786", "dask://h:0"):
        with pytest.raises(UserInputError) as info:
            validate_url(bad)
        line = info.value.one_line()
        assert "--executor" in line and "is not an executor URL" in line
        assert "dask://HOST:PORT" in line and "\n" not in line


def test_validation_needs_no_optional_dependency() -> None:
    code = (
        "import sys\n"
        "from tunery.execute import validate_url\n"
        "validate_url('dask://h:8786')\n"
        "assert 'distributed' not in sys.modules and 'dask' not in sys.modules\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)


def test_open_executor_and_url_of() -> None:
    assert isinstance(open_executor(None), LocalExecutor)
    assert open_executor("local", gpus=["0", "1"]).gpus == ("0", "1")  # type: ignore[attr-defined]
    with pytest.raises(UserInputError, match="is not an executor URL"):
        open_executor("carrier-pigeon://coop")
    annotated = {EXECUTOR_ANNOTATION: " dask://h:1 "}
    assert executor_url_of(annotated) == "dask://h:1"
    assert executor_url_of(annotated, "local") == "local"
    assert executor_url_of({}, " ") == "local"


def test_reopen_url_from_a_handle() -> None:
    assert reopen_url({"executor": "local", "pid": 1}) == "local"
    assert reopen_url({"executor": "dask", "scheduler": "tcp://h:8786"}) == "tcp://h:8786"
    assert reopen_url({"executor": "fake"}) == "local"  # not registered
    assert reopen_url({}) == "local"
