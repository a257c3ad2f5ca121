"""Intents: stop an experiment, kill a trial.  Written for the experiment's controller, which
acts on them; the answer (202) is the intent."""

from __future__ import annotations

from fastapi import APIRouter, Depends
from fastapi.responses import Response

from tunery.model import IntentKind
from tunery.ui.deps import UI, BadInput, NamespaceQuery, authorize, json_response
from tunery.ui.schemas import WRITE_ERRORS, IntentOut

router = APIRouter(tags=["intents"], dependencies=[Depends(authorize)])


@router.post(
    "/api/experiments/{name}/stop",
    response_model=IntentOut,
    status_code=202,
    responses=WRITE_ERRORS,
)
def stop_experiment(name: str, ui: UI, namespace: NamespaceQuery = None) -> Response:
    """Ask the experiment's controller to stop it (it kills the running trials)."""
    name = ui.store.resolve(name, namespace)  # the store key from here on
    exp = ui.store.get_experiment(name)
    if exp.status.is_completed:
        raise BadInput(f"name: experiment {name!r} has already ended ({exp.status.value})", 409)
    kind = IntentKind.STOP_EXPERIMENT.value
    intent_id = ui.store.add_intent(name, kind, None, ui.clock.now())
    return json_response({"id": intent_id, "experiment": name, "kind": kind, "target": None}, 202)


@router.post(
    "/api/experiments/{name}/trials/{trial}/kill",
    response_model=IntentOut,
    status_code=202,
    responses=WRITE_ERRORS,
)
def kill_trial(name: str, trial: str, ui: UI, namespace: NamespaceQuery = None) -> Response:
    """Ask the experiment's controller to kill one running trial."""
    name = ui.store.resolve(name, namespace)  # the store key from here on
    ui.store.get_experiment(name)
    t = ui.store.get_trial(name, trial)
    if not t.status.is_active:
        raise BadInput(f"trial: trial {trial!r} has already ended ({t.status.value})", 409)
    kind = IntentKind.KILL_TRIAL.value
    intent_id = ui.store.add_intent(name, kind, t.name, ui.clock.now())
    return json_response({"id": intent_id, "experiment": name, "kind": kind, "target": t.name}, 202)
