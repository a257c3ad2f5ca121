"""What tunery makes of Katib's published examples: a developer tool, not a test.

For every experiment YAML under a Katib checkout's ``examples/v1beta1`` (or the same directory
of a git repository at a revision, bare mirrors included), run ``tunery validate`` and, when the
file is valid, ``tunery run --dry-run``, and print one row per experiment: the example, the
validate outcome (``valid``, ``valid, warning: ...`` or ``refused: <first line of the
reason>``) and the argv of the first trial the dry run prints.  Files are read in place, or
(from git) written to a temporary directory that is removed at the end; nothing is copied into
this repository.  Only tunery's own commands run: no trial starts.

    python tools/katib_examples.py ~/src/katib/examples/v1beta1
    python tools/katib_examples.py --git ~/src/katib.git [--rev HEAD]
    python tools/katib_examples.py ... --markdown     # a Markdown table
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import yaml

EXAMPLES = "examples/v1beta1"


@dataclass(frozen=True)
class Row:
    example: str
    outcome: str
    argv: str


def tunery(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "tunery", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
    )


def first_line(text: str) -> str:
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return lines[0] if lines else ""


def is_experiment_file(path: Path) -> bool:
    try:
        docs = list(yaml.safe_load_all(path.read_text()))
    except (yaml.YAMLError, UnicodeDecodeError):
        return False
    return any(isinstance(d, dict) and d.get("kind") == "Experiment" for d in docs)


def check(path: Path, label: str, scratch: Path) -> Iterator[Row]:
    """The rows of one file (one per experiment it holds, or one refusal)."""
    validated = tunery("validate", "--json", str(path), cwd=path.parent)
    if validated.returncode != 0:
        reason = first_line(validated.stderr) or first_line(validated.stdout)
        yield Row(label, f"refused: {reason.removeprefix('error: ')}", "")
        return
    for entry in json.loads(validated.stdout):
        name = entry["name"]
        warnings = entry["warnings"]
        outcome = f"valid, warning: {first_line(warnings[0])}" if warnings else "valid"
        dry = tunery(
            "run",
            str(path),
            "--name",
            name,
            "--dry-run",
            "--runs-dir",
            str(scratch / "runs"),
            cwd=path.parent,
        )
        if dry.returncode != 0:
            reason = first_line(dry.stderr).removeprefix("error: ")
            yield Row(f"{label} ({name})", f"{outcome}; dry run refused: {reason}", "")
            continue
        trial_lines = [ln for ln in dry.stdout.splitlines() if ": " in ln]
        argv = trial_lines[0].split(": ", 1)[1] if trial_lines else ""
        yield Row(
            f"{label} ({name})" if len(json.loads(validated.stdout)) > 1 else label, outcome, argv
        )


def files_in_directory(root: Path) -> Iterator[tuple[Path, str]]:
    for path in sorted(root.rglob("*.y*ml")):
        if is_experiment_file(path):
            yield path, str(path.relative_to(root))


def files_from_git(git_dir: Path, rev: str, scratch: Path) -> Iterator[tuple[Path, str]]:
    def git(*args: str) -> str:
        return subprocess.run(
            ["git", "--git-dir", str(git_dir), *args], capture_output=True, text=True, check=True
        ).stdout

    for name in git("ls-tree", "-r", "--name-only", rev, EXAMPLES).splitlines():
        if not name.endswith((".yaml", ".yml")):
            continue
        target = scratch / "examples" / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(git("show", f"{rev}:{name}"))
        if is_experiment_file(target):
            yield target, name.removeprefix(EXAMPLES + "/")


def print_table(rows: list[Row], markdown: bool) -> None:
    header = Row("example", "validate", "dry-run argv (first trial)")
    if markdown:
        print(f"| {header.example} | {header.outcome} | {header.argv} |")
        print("|---|---|---|")
        for r in rows:
            argv = f"`{r.argv}`" if r.argv else ""
            print(f"| {r.example} | {r.outcome.replace('|', '/')} | {argv} |")
        return
    width = max(len(r.example) for r in [header, *rows])
    print(f"{header.example:<{width}}  {header.outcome} (then the {header.argv})")
    for r in rows:
        print(f"{r.example:<{width}}  {r.outcome}")
        if r.argv:
            print(f"{'':<{width}}    $ {r.argv}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("examples", nargs="?", help="a checkout's examples/v1beta1 directory")
    parser.add_argument("--git", metavar="GIT_DIR", help="a Katib git repository (bare is fine)")
    parser.add_argument("--rev", default="HEAD", help="revision to read with --git")
    parser.add_argument("--markdown", action="store_true", help="print a Markdown table")
    args = parser.parse_args(argv)
    if (args.examples is None) == (args.git is None):
        parser.error("give either an examples/v1beta1 directory or --git GIT_DIR")
    with tempfile.TemporaryDirectory(prefix="katib-examples-") as tmp:
        scratch = Path(tmp)
        # A throwaway database: dry runs never write one, but nothing may touch the user's.
        os.environ["TUNERY_DB"] = str(scratch / "tunery.db")
        if args.git:
            files = list(files_from_git(Path(args.git), args.rev, scratch))
        else:
            files = list(files_in_directory(Path(args.examples)))
        if not files:
            print("no Katib Experiment files found", file=sys.stderr)
            return 2
        rows = [row for path, label in files for row in check(path, label, scratch)]
    print_table(rows, args.markdown)
    return 0


if __name__ == "__main__":
    sys.exit(main())
