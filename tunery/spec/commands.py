"""Warnings about a trial's command line that would make every trial fail (``tunery validate``).

Two mistakes are common when a Katib experiment is moved onto one machine:

* the command names a script that is not there: a path inside the container image
  (``python3 /opt/pytorch-mnist/mnist.py``), or a relative path that does not exist in the
  trial's working directory (the experiment file's directory, or the container's
  ``workingDir`` relative to it);
* a placeholder of another templating system is left in the command: Argo's
  ``{{inputs.parameters.lr}}``/``{{workflow.name}}``, Tekton's ``$(params.lr)``/
  ``$(tasks.x.results.y)``, GitHub's ``${{ x }}``, Jinja's ``{{ x }}``.  tunery fills in only
  ``${trialParameters.NAME}`` (and, in the Katib form, Kubernetes' ``$(VAR)`` for a ``VAR`` of
  the container's ``env``).

These are warnings: the file is valid, and the command may be right on the machine that runs it.
"""

from __future__ import annotations

import os
import re
import shlex
from collections.abc import Iterable, Mapping

from tunery.model import ExperimentSpec
from tunery.spec.template import find_primary_container, is_native_template

#: Programs whose first non-option argument is a script file.
_INTERPRETERS = re.compile(
    r"^(python[0-9.]*|pypy[0-9.]*|bash|sh|zsh|dash|Rscript|node|julia|perl|ruby|torchrun|"
    r"accelerate|deepspeed)$"
)
#: Options of those programs that take the next token as their value (not a script).
_OPTION_WITH_VALUE = {"-W", "-X", "-O", "--nproc_per_node", "--nproc-per-node", "--nnodes"}
#: Options after which no script follows (``python -m pkg``, ``python -c code``, ``sh -c``).
_NO_SCRIPT = {"-m", "-c", "-e", "--version", "-V"}
_SCRIPT_SUFFIXES = (".py", ".sh")

_TT = "spec.trialTemplate"
_GITHUB = re.compile(r"\$\{\{.*?\}\}")
_MUSTACHE = re.compile(r"(?<!\$)\{\{.*?\}\}")
_TEKTON = re.compile(
    r"\$\(((?:params|tasks|context|workspaces|results|steps|inputs|outputs)\.[^)]*)\)"
)
_ARGO_ROOTS = ("inputs.", "outputs.", "workflow.", "steps.", "tasks.", "item", "pod.")
_PLACEHOLDER = re.compile(r"\$\{|\$\(|\{\{")


def _command_strings(spec: ExperimentSpec) -> tuple[list[tuple[str, str]], dict[str, str], str]:
    """The command's strings with their YAML paths, the container's env, and its workingDir."""
    template = spec.trial_template
    if is_native_template(template):
        strings = [(f"{_TT}.command[{i}]", a) for i, a in enumerate(template.command)]
        return strings, dict(template.env), template.working_dir or ""
    if template.trial_spec is None:
        return [], {}, ""
    found = find_primary_container(
        template.trial_spec, template.primary_container_name, template.primary_pod_labels
    )
    if found is None:
        return [], {}, ""
    container = found.container
    strings = []
    for key in ("command", "args"):
        values = container.get(key)
        if isinstance(values, list):
            path = f"{_TT}.trialSpec.{found.path}.{key}"
            strings += [(f"{path}[{i}]", str(v)) for i, v in enumerate(values)]
    env: dict[str, str] = {}
    entries = container.get("env")
    for entry in entries if isinstance(entries, list) else []:
        if isinstance(entry, Mapping) and isinstance(entry.get("name"), str):
            env[entry["name"]] = str(entry.get("value", ""))
    working_dir = container.get("workingDir")
    return strings, env, str(working_dir) if working_dir else ""


def _tokens(text: str) -> list[str]:
    try:
        words = shlex.split(text)
    except ValueError:
        words = text.split()
    # ``a.py; b`` and ``a.py && b``: shell operators stuck to a word are not part of it
    return [w.rstrip(";&|") for w in words if w.rstrip(";&|")]


def script_tokens(strings: Iterable[tuple[str, str]]) -> list[tuple[str, str]]:
    """``(path, token)`` of the tokens that name a script file, from ``(path, text)`` strings.

    A script is the first non-option argument of an interpreter (``python``, ``bash``,
    ``Rscript``...), or a token ending in ``.py``/``.sh``; ``sh -c`` strings are looked into.
    """
    tokens = [(path, token) for path, text in strings for token in _tokens(text)]
    scripts: list[tuple[str, str]] = []
    expect = False  # the next non-option token is an interpreter's script
    skip_value = False
    for path, token in tokens:
        if skip_value:
            skip_value = False
            continue
        if expect:
            if token in _NO_SCRIPT:
                expect = False
            elif token in _OPTION_WITH_VALUE:
                skip_value = True
            elif not token.startswith("-"):
                expect = False
                if "=" not in token:
                    scripts.append((path, token))
            continue
        if _INTERPRETERS.match(os.path.basename(token)):
            expect = True
        elif token.endswith(_SCRIPT_SUFFIXES) and not token.startswith("-") and "=" not in token:
            scripts.append((path, token))
    seen: set[str] = set()
    unique = []
    for path, token in scripts:
        if token not in seen:
            seen.add(token)
            unique.append((path, token))
    return unique


#: Katib's NAS trial images' scripts, and the trainer tunery ships that takes the same flags.
_NAS_TRAINERS = {"enas": "python -m tunery.nas.enas", "darts": "python -m tunery.nas.darts"}


def _missing_script_warnings(
    strings: list[tuple[str, str]], working_dir: str, base_dir: str, trainer: str | None = None
) -> list[str]:
    if _PLACEHOLDER.search(working_dir):
        return []
    where = os.path.normpath(os.path.join(base_dir, working_dir))
    warnings = []
    for path, script in script_tokens(strings):
        if _PLACEHOLDER.search(script) or "$" in script:
            continue
        if os.path.isabs(script):
            if not os.path.exists(script):
                warnings.append(
                    f"{path}: {script} does not exist on this machine: it is a path inside the "
                    "container image, and tunery runs the command here without the image; "
                    "replace it with a local script that takes the same flags"
                    + (f" (tunery's trainer does: {trainer})" if trainer else "")
                )
        elif not os.path.exists(os.path.join(where, script)):
            warnings.append(
                f"{path}: {script} does not exist in {where} (the trial's working "
                "directory); every trial would fail: fix the path or add the file"
                + (
                    f", or run tunery's trainer, which takes the same flags: {trainer}"
                    if trainer
                    else ""
                )
            )
    return warnings


def _placeholder_warnings(strings: list[tuple[str, str]], env: Mapping[str, str]) -> list[str]:
    warnings = []
    fix = "tunery fills in only ${trialParameters.NAME}; declare it in trialParameters and use that"
    for path, text in strings:
        found: list[tuple[str, str]] = []
        for m in _GITHUB.finditer(text):
            found.append((m.group(0), "a GitHub Actions expression"))
        rest = _GITHUB.sub("", text)
        for m in _MUSTACHE.finditer(rest):
            inner = m.group(0)[2:-2].strip()
            system = (
                "an Argo Workflows placeholder"
                if inner.startswith(_ARGO_ROOTS)
                else "a Jinja/Helm-style placeholder"
            )
            found.append((m.group(0), system))
        for m in _TEKTON.finditer(text):
            if m.group(1) not in env:  # a container env var of that name is Kubernetes'
                found.append((m.group(0), "a Tekton placeholder"))
        for placeholder, system in found:
            warnings.append(f"{path}: {placeholder} is {system}, left as is; {fix}")
    return warnings


def command_warnings(spec: ExperimentSpec, base_dir: str) -> list[str]:
    """One line per problem of the trial's command; ``base_dir``: the experiment file's dir."""
    strings, env, working_dir = _command_strings(spec)
    if not strings:
        return []
    trainer = _NAS_TRAINERS.get(spec.algorithm.algorithm_name) if spec.nas_config else None
    return _missing_script_warnings(
        strings, working_dir, base_dir, trainer
    ) + _placeholder_warnings(strings, env)
