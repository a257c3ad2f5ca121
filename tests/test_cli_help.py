"""Every ``tunery`` command's help: an Examples section, whole one-line descriptions."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator

import click
import pytest

from tunery.cli import main


def _commands(group: click.Group, path: tuple[str, ...] = ()) -> Iterator[tuple[str, ...]]:
    for name, command in sorted(group.commands.items()):
        yield (*path, name)
        if isinstance(command, click.Group):
            yield from _commands(command, (*path, name))


COMMANDS = list(_commands(main))


def _help(*path: str) -> str:
    proc = subprocess.run(
        [sys.executable, "-m", "tunery", *path, "--help"],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "COLUMNS": "80"},
    )
    assert (proc.returncode, proc.stderr) == (0, ""), proc.stderr
    return proc.stdout


def test_the_walk_sees_every_command() -> None:
    names = {" ".join(p) for p in COMMANDS}
    assert {"run", "trials", "best", "logs", "list", "db", "db upgrade"} <= names


@pytest.mark.parametrize("path", COMMANDS, ids=" ".join)
def test_every_help_ends_with_examples_of_itself(path: tuple[str, ...]) -> None:
    text = _help(*path)
    tail = text.rstrip("\n").split("\n\n")[-1].splitlines()
    assert tail[0].strip() == "Examples:", text
    examples = [line.strip() for line in tail[1:]]
    assert examples, text
    for example in examples:
        assert ("tunery " + " ".join(path) + " ") in (example + " "), example


def test_the_command_list_has_whole_one_line_descriptions() -> None:
    for group_path in [()] + [p for p in COMMANDS if isinstance(_command(p), click.Group)]:
        text = _help(*group_path)
        listed = text.split("Commands:\n", 1)[1].split("\n\n", 1)[0].splitlines()
        group = _command(group_path)
        assert isinstance(group, click.Group)
        assert len(listed) == len(group.commands), text  # one line each: none wraps
        for line in listed:
            name, description = line.split(maxsplit=1)
            assert description == group.commands[name].short_help, line
            assert not description.endswith("..."), line


def _command(path: tuple[str, ...]) -> click.Command:
    command: click.Command = main
    for name in path:
        assert isinstance(command, click.Group)
        command = command.commands[name]
    return command


def test_option_lists_name_their_values() -> None:
    assert "Succeeded, Failed, Killed, EarlyStopped, MetricsUnavailable" in " ".join(
        _help("trials").split()
    )
    assert "[args|yaml|json|env]" in _help("best")
    assert "Created, Running, Restarting, Succeeded, Failed" in " ".join(_help("list").split())


def test_shell_completion_as_the_readme_says() -> None:
    def complete(words: str, shell: str = "bash") -> str:
        proc = subprocess.run(
            [sys.executable, "-c", "from tunery.cli import main; main(prog_name='tunery')"],
            capture_output=True,
            text=True,
            timeout=60,
            env={
                **os.environ,
                "_TUNERY_COMPLETE": f"{shell}_complete",
                "COMP_WORDS": words,
                "COMP_CWORD": str(len(words.split()) - (0 if words.endswith(" ") else 1)),
            },
        )
        assert proc.returncode == 0, proc.stderr
        return proc.stdout

    assert "plain,trials" in complete("tunery tri").splitlines()
    assert "plain,--follow" in complete("tunery logs x --fo").splitlines()
    assert {"plain,json", "plain,env"} <= set(complete("tunery best x -o ").splitlines())
    source = subprocess.run(
        [sys.executable, "-c", "from tunery.cli import main; main(prog_name='tunery')"],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "_TUNERY_COMPLETE": "bash_source"},
    )
    assert "_tunery_completion()" in source.stdout
