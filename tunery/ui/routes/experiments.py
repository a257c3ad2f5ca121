"""Experiments: the list, one experiment, parameter importance, creating one (stored, not
run) and deleting one."""

from __future__ import annotations

import json
import shlex
from typing import Annotated, Any, Literal

import yaml
from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from tunery import wire
from tunery.model import Experiment, IntentKind, best_trial
from tunery.objectives import front_summary
from tunery.spec.nas import assigned_names
from tunery.storage import views
from tunery.ui import queries, removal
from tunery.ui.deps import UI, BadInput, NamespaceQuery, UIState, authorize, json_response
from tunery.ui.importance import METHODS, MIN_TRIALS, parameter_importance
from tunery.ui.schemas import (
    ERRORS,
    EXPERIMENT_DOCUMENT,
    WRITE_ERRORS,
    CreatedOut,
    DeletedOut,
    ErrorOut,
    ExperimentDetailOut,
    ExperimentOut,
    ImportanceOut,
)

#: The largest experiment YAML a POST accepts.
MAX_BODY_BYTES = 1024 * 1024

router = APIRouter(tags=["experiments"])

#: The importance methods (tunery.ui.importance.METHODS), listed in the OpenAPI document.
ImportanceMethod = Literal["epsilon-squared", "fanova"]


def _best_of(exp: Experiment, stats: dict[str, Any] | None) -> float | None:
    if not stats:
        return None
    return stats["min"] if exp.spec.objective.type.value == "minimize" else stats["max"]


def _best_hyperparameters(exp: Experiment, best: dict[str, Any]) -> dict[str, Any]:
    from tunery.spec import format_value

    params = {
        name: best["parameters"][name]
        for name in assigned_names(exp.spec)
        if name in best["parameters"]
    }
    cli = " ".join(shlex.quote(f"--{k}={format_value(v)}") for k, v in params.items())
    text = yaml.safe_dump(params, sort_keys=False, allow_unicode=True)
    return {"trial": best["name"], "parameters": params, "cli": cli, "yaml": text}


@router.get("/api/experiments", response_model=list[ExperimentOut])
def list_experiments(ui: UI, namespace: NamespaceQuery = None) -> Response:
    """Every experiment (of ``namespace``, if given), oldest first, with trial counts and the
    best objective value."""
    stats = queries.experiment_stats(ui.store)
    seeds = views.count_seeds(ui.store)
    out = []
    for exp in ui.store.list_experiments(namespace):
        entry = stats.get(exp.key)
        objective = exp.spec.objective
        # As `tunery list --json`: the seeds apart, the time budget of a timed experiment.
        seeded, driven = seeds.get(exp.key, 0), _driven(ui.store, exp)
        if objective.is_multi or objective.constraints:
            # Feasibility and the front need the trials' metrics: read the completed ones.
            done = views.completed_trials(ui.store, exp.key)
            best = best_trial(objective, done)
            out.append(
                wire.experiment_json(
                    exp,
                    entry["counts"] if entry else {},
                    best.objective if best is not None else None,
                    front=front_summary(objective, done) if objective.is_multi else None,
                    driven=driven,
                    seeded=seeded,
                )
            )
            continue
        out.append(
            wire.experiment_json(
                exp,
                entry["counts"] if entry else {},
                _best_of(exp, entry),
                driven=driven,
                seeded=seeded,
            )
        )
    return json_response(out)


def _driven(store: Any, exp: Experiment) -> float | None:
    """The seconds ``exp`` was driven, read only when it has a time budget."""
    if exp.spec.max_experiment_duration is None:
        return None
    from tunery.deadline import driven_seconds

    return driven_seconds(store, exp.key)


@router.get("/api/experiments/{name}", response_model=ExperimentDetailOut, responses=ERRORS)
def get_experiment(name: str, ui: UI, namespace: NamespaceQuery = None) -> Response:
    """One experiment: its YAML, its best trial and best hyperparameters."""
    name = ui.store.resolve(name, namespace)  # the store key from here on
    store = ui.store
    exp = store.get_experiment(name)
    counts = queries.trial_counts(store, name)
    best = queries.best_trial_row(store, name, exp.spec.objective)
    front = None
    if exp.spec.objective.is_multi:
        front = front_summary(exp.spec.objective, views.completed_trials(store, name))
    data = wire.experiment_json(
        exp,
        counts,
        best["objective"] if best else None,
        front=front,
        driven=_driven(store, exp),
        seeded=views.count_seeds(store, name).get(name, 0),
    )
    data["yaml"] = yaml.safe_dump(
        dict(exp.document), sort_keys=False, allow_unicode=True, default_flow_style=False
    )
    data["bestTrial"] = best
    data["bestHyperparameters"] = _best_hyperparameters(exp, best) if best else None
    data["stopRequested"] = any(
        i.kind == IntentKind.STOP_EXPERIMENT for i in store.pending_intents(name)
    )
    return json_response(data)


@router.get("/api/experiments/{name}/importance", response_model=ImportanceOut, responses=ERRORS)
def importance(
    name: str,
    ui: UI,
    namespace: NamespaceQuery = None,
    method: ImportanceMethod = "epsilon-squared",
) -> Response:
    """How much each parameter alone explains of the spread of the objective (see method);
    ``method``: ``epsilon-squared`` (the default) or ``fanova`` (fANOVA-style, random forest)."""
    name = ui.store.resolve(name, namespace)  # the store key from here on
    exp = ui.store.get_experiment(name)
    method_name, description = METHODS[method]

    def build() -> str:
        assignments, values = queries.objective_table(ui.store, name)
        result = parameter_importance(exp.spec.parameters, assignments, values, method)
        data: dict[str, Any] = {
            "experiment": name,
            "method": description,
            "methodName": method_name,
            "methodKey": method,
            "trials": len(values),
            "parameters": [],
            "message": None,
        }
        if result is None:
            data["message"] = (
                f"{len(values)} finished trials with an objective; importance needs "
                f"at least {MIN_TRIALS}"
            )
        else:
            data["parameters"] = [
                {"name": i.name, "importance": i.importance, "normalized": i.normalized}
                for i in result
            ]
        return json.dumps(data, separators=(",", ":"), ensure_ascii=False)

    return Response(ui.body(name, ("importance", method), build), media_type="application/json")


@router.post(
    "/api/experiments",
    response_model=CreatedOut,
    status_code=201,
    responses={**WRITE_ERRORS, 413: {"model": ErrorOut}},
    dependencies=[Depends(authorize)],
    openapi_extra={
        "requestBody": {
            "required": True,
            "description": "One Experiment document (Katib kubeflow.org/v1beta1 or "
            "tunery/v1) or Kubeflow Trainer OptimizationJob (trainer.kubeflow.org/v1alpha1), "
            "YAML or JSON, whatever the Content-Type says; validated as `tunery validate` "
            "does (422 names the field at fault).",
            "content": {
                "application/yaml": {"schema": EXPERIMENT_DOCUMENT},
                "application/json": {"schema": EXPERIMENT_DOCUMENT},
                "text/plain": {"schema": {"type": "string", "minLength": 1}},
            },
        }
    },
)
async def create_experiment(request: Request, ui: UI) -> Response:
    """Validate and store an experiment (not run: `tunery resume NAME` runs it)."""
    too_large = BadInput(f"body: larger than {MAX_BODY_BYTES // 1024} KiB", 413)
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > MAX_BODY_BYTES:
        raise too_large  # refused before a byte of it is read
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_BODY_BYTES:
            raise too_large
        chunks.append(chunk)
    try:
        text = b"".join(chunks).decode("utf-8")
    except UnicodeDecodeError:
        raise BadInput("body: not UTF-8 text") from None
    if not text.strip():
        raise BadInput("body: empty; send an Experiment document as YAML")
    # Parsing and storing run off the event loop: the server answers others meanwhile.
    return await run_in_threadpool(_create_from_text, ui, text)


def _create_from_text(ui: UIState, text: str) -> Response:
    from tunery.client import Client
    from tunery.spec import parse_text

    parsed = parse_text(text, "the request body")
    if len(parsed) != 1:
        raise BadInput(f"body: holds {len(parsed)} experiments; send one at a time")
    client = Client(store=ui.store, clock=ui.clock)
    exp = client.create_experiment(parsed[0].spec, base_dir=ui.base_dir, runs_dir=ui.runs_dir)
    return json_response({"name": exp.name, "status": exp.status.value}, 201)


@router.delete(
    "/api/experiments/{name}",
    response_model=DeletedOut,
    responses={
        **WRITE_ERRORS,
        409: {
            "model": ErrorOut,
            "description": "It is running (a controller, or active trials) and force is not "
            "set, or force could not stop it in time.",
        },
    },
    dependencies=[Depends(authorize)],
)
def delete_experiment(
    name: str,
    ui: UI,
    namespace: NamespaceQuery = None,
    force: Annotated[
        bool,
        Query(
            description="Stop a running experiment first (as `tunery stop`: its controller "
            "kills the trials; waits for it), then delete it."
        ),
    ] = False,
) -> Response:
    """Delete an experiment with its trials, observations and algorithm state, as `tunery
    delete` does; its trial directories stay on disk (`runsDir`).  A running experiment (a
    live controller, or trials still active) is refused (409) unless `force=true`."""
    key = ui.store.resolve(name, namespace)
    shown = ui.store.get_experiment(key).name
    try:
        done = removal.delete_experiment(ui.store, key, ui.clock, force=force)
    except removal.StillRunning as exc:
        raise BadInput(str(exc), 409) from None
    return json_response({"name": shown, "stopped": done.stopped, "runsDir": done.runs_dir})
