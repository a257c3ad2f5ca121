"""``trialTemplate.configMap``: the trial template read from a Kubernetes ConfigMap.

Katib reads ``data[templatePath]`` of the ConfigMap ``configMapName`` in namespace
``configMapNamespace`` when it creates each trial
(``pkg/controller.v1beta1/experiment/manifest/generator.go``).  Outside a cluster tunery looks
for the ConfigMap, in this order (the first ConfigMap of a name and namespace wins):

1. the experiment's own file (documents separated by ``---``);
2. the files given with ``--configmap FILE`` (repeatable) or the SDK's ``configmaps=[...]``;
3. the files of ``TUNERY_CONFIGMAPS`` (``os.pathsep``-separated);
4. the directory ``configmaps/`` next to the experiment file.

Each FILE is a YAML or JSON file of one or more documents, or a directory of such files
(``*.yaml``, ``*.yml``, ``*.json``); documents that are not ConfigMaps are skipped.  A ConfigMap
without ``metadata.namespace`` is in the experiment's namespace (``kubectl apply`` puts both in
the current one).  The template is inlined as ``trialSpec`` before validation, so the stored
experiment keeps it (``tunery resume`` needs no ConfigMap).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from tunery.errors import SpecError
from tunery.spec.loading import load_one

#: Environment variable: ConfigMap files or directories, ``os.pathsep``-separated.
CONFIGMAPS_ENV = "TUNERY_CONFIGMAPS"
#: Directory next to the experiment file whose YAML files are searched for ConfigMaps.
CONFIGMAPS_DIR = "configmaps"
#: The ConfigMap of trial templates that Katib's manifests install (namespace kubeflow).
KATIB_TEMPLATES_CONFIGMAP = "trial-templates"

_CM_PATH = "spec.trialTemplate.configMap"
_SUFFIXES = (".yaml", ".yml", ".json")

#: (namespace or None, name) -> ConfigMap data.
ConfigMaps = dict[tuple[str | None, str], Mapping[str, Any]]


def config_maps_of(docs: Iterable[Any]) -> ConfigMaps:
    """The ConfigMaps among ``docs`` (parsed YAML documents)."""
    maps: ConfigMaps = {}
    for doc in docs:
        if not isinstance(doc, Mapping) or doc.get("kind") != "ConfigMap":
            continue
        meta = doc.get("metadata")
        data = doc.get("data")
        if not isinstance(meta, Mapping) or meta.get("name") is None:
            continue
        namespace = meta.get("namespace")
        key = (str(namespace) if namespace else None, str(meta.get("name")))
        maps.setdefault(key, data if isinstance(data, Mapping) else {})
    return maps


def _files(path: str) -> list[str]:
    if os.path.isdir(path):
        return sorted(
            os.path.join(path, name)
            for name in os.listdir(path)
            if name.endswith(_SUFFIXES) and os.path.isfile(os.path.join(path, name))
        )
    return [path]


def read_config_maps(
    paths: Sequence[str | os.PathLike[str]],
    load_documents: Callable[[str, str], list[Any]],
    *,
    what: str = "--configmap",
) -> ConfigMaps:
    """The ConfigMaps of files or directories (earlier paths win)."""
    maps: ConfigMaps = {}
    for raw in paths:
        path = os.fspath(raw)
        if not os.path.exists(path):
            raise SpecError(
                "",
                f"{what} {path}: no such file or directory",
                "give a YAML file of ConfigMaps, or a directory of them",
            )
        for file in _files(path):
            try:
                with open(file, encoding="utf-8") as fh:
                    text = fh.read()
            except (OSError, UnicodeDecodeError) as exc:
                raise SpecError(
                    "", f"{what} {file}: cannot read it: {exc}", "give a readable YAML file"
                ) from None
            for key, data in config_maps_of(load_documents(text, file)).items():
                maps.setdefault(key, data)
    return maps


def configmap_paths(
    explicit: Sequence[str | os.PathLike[str]] = (), experiment_file: str | None = None
) -> list[tuple[str, str]]:
    """(path, how it was given) of every ConfigMap source after the experiment file itself."""
    out = [(os.fspath(p), "--configmap") for p in explicit]
    env = os.environ.get(CONFIGMAPS_ENV, "")
    out += [(p, CONFIGMAPS_ENV) for p in env.split(os.pathsep) if p]
    if experiment_file is not None:
        conventional = os.path.join(
            os.path.dirname(os.path.abspath(experiment_file)), CONFIGMAPS_DIR
        )
        if os.path.isdir(conventional):
            out.append((conventional, f"{CONFIGMAPS_DIR}/ directory"))
    return out


def gather(
    docs: Iterable[Any],
    explicit: Sequence[str | os.PathLike[str]],
    experiment_file: str | None,
    load_documents: Callable[[str, str], list[Any]],
) -> ConfigMaps:
    """Every ConfigMap available to an experiment, by priority (see the module docstring)."""
    maps = config_maps_of(docs)
    for path, how in configmap_paths(explicit, experiment_file):
        for key, data in read_config_maps([path], load_documents, what=how).items():
            maps.setdefault(key, data)
    return maps


def inline_config_maps(docs: list[Any], maps: ConfigMaps) -> list[Any]:
    """``docs`` with each Experiment's ``trialTemplate.configMap`` inlined as ``trialSpec``.

    An experiment whose ConfigMap is not in ``maps`` is left as it is (validation refuses it
    with the ways to provide the ConfigMap).
    """
    if not maps:
        return docs
    return [
        _inline_one(doc, maps)
        if isinstance(doc, Mapping) and doc.get("kind") == "Experiment"
        else doc
        for doc in docs
    ]


def _inline_one(doc: Mapping[str, Any], maps: ConfigMaps) -> Any:
    spec = doc.get("spec")
    tt = spec.get("trialTemplate") if isinstance(spec, Mapping) else None
    cm = tt.get("configMap") if isinstance(tt, Mapping) else None
    if not isinstance(cm, Mapping) or not isinstance(spec, Mapping) or not isinstance(tt, Mapping):
        return doc
    if tt.get("trialSpec") is not None:
        return doc  # both given: validation refuses it
    meta = doc.get("metadata")
    own_ns = meta.get("namespace") if isinstance(meta, Mapping) else None
    own_ns = str(own_ns) if own_ns else "default"
    name, namespace = str(cm.get("configMapName")), str(cm.get("configMapNamespace"))
    data = maps.get((namespace, name))
    if data is None and namespace == own_ns:
        data = maps.get((None, name))
    if data is None:
        return doc
    template_path = str(cm.get("templatePath"))
    if not isinstance(data.get(template_path), str):
        keys = ", ".join(sorted(str(k) for k in data)) or "(no data)"
        raise SpecError(
            f"{_CM_PATH}.templatePath",
            f"ConfigMap {namespace}/{name} has no template {template_path!r}",
            f"use one of its data keys: {keys}",
        )
    try:
        trial_spec = load_one(data[template_path], f"ConfigMap {name!r} {template_path!r}")
    except SpecError as exc:
        raise SpecError(
            _CM_PATH,
            f"the trial template {template_path!r} of ConfigMap {name!r}: {exc.message}",
            exc.hint or "fix the template in the ConfigMap",
        ) from None
    new_tt = {k: v for k, v in tt.items() if k != "configMap"}
    new_tt["trialSpec"] = trial_spec
    return {**doc, "spec": {**spec, "trialTemplate": new_tt}}


def missing_config_map_error(config_map: Mapping[str, Any]) -> SpecError:
    """The refusal of an experiment whose ConfigMap was not found anywhere."""
    name = config_map.get("configMapName")
    namespace = config_map.get("configMapNamespace")
    katib = (
        f" ({KATIB_TEMPLATES_CONFIGMAP} is the ConfigMap Katib's manifests install: "
        "manifests/v1beta1/components/controller/trial-templates.yaml)"
        if name == KATIB_TEMPLATES_CONFIGMAP
        else ""
    )
    return SpecError(
        f"{_CM_PATH}.configMapName",
        f"ConfigMap {namespace}/{name}, which holds the trial template, was not found{katib}",
        "put the ConfigMap in the experiment's file (after ---), pass it with --configmap FILE "
        f"(or {CONFIGMAPS_ENV}), or put its YAML in a {CONFIGMAPS_DIR}/ directory next to the "
        "experiment file",
    )
