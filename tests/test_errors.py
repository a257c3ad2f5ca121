"""The exception tree: one line, a hint, exit codes."""

from __future__ import annotations

from tunery.errors import LeaseHeldError, MissingExtraError, SpecError, TuneryError, UserInputError


def test_spec_error_is_one_line_with_path_and_hint() -> None:
    err = SpecError(
        "spec.parameters[2].feasibleSpace.min", "min is not\na number", "write a number"
    )
    assert (
        err.one_line()
        == "spec.parameters[2].feasibleSpace.min: min is not a number; write a number"
    )
    assert err.exit_code == 2 and isinstance(err, UserInputError)


def test_exit_codes() -> None:
    assert TuneryError("x").exit_code == 1
    assert LeaseHeldError("held").exit_code == 2
    missing = MissingExtraError("fastapi", "ui")
    assert "pip install 'tunery[ui]'" in missing.one_line()
