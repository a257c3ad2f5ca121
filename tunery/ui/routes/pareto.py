"""The Pareto front of a multi-objective or constrained experiment (the page's Pareto,
hypervolume and constraints cards): :func:`tunery.plots.pareto_data` over the stored trials."""

from __future__ import annotations

import json

from fastapi import APIRouter
from fastapi.responses import Response
from pydantic import BaseModel, Field

from tunery.plots import pareto_data
from tunery.ui.deps import UI, NamespaceQuery
from tunery.ui.schemas import ERRORS

router = APIRouter(tags=["experiments"])


class ParetoObjectiveOut(BaseModel):
    metric: str
    direction: str = Field(description="`minimize` or `maximize`.")


class ParetoConstraintOut(BaseModel):
    metric: str
    min: float | None = None
    max: float | None = None


class ParetoTrialOut(BaseModel):
    name: str
    index: int
    values: list[float] = Field(description="One value per objective, in the metric's units.")
    feasible: bool = Field(description="Every constraint satisfied (true without constraints).")
    front: bool = Field(description="On the Pareto front: feasible and not dominated.")


class HypervolumePointOut(BaseModel):
    index: int
    trial: str
    hypervolume: float


class ParetoOut(BaseModel):
    """The completed trials (Succeeded, EarlyStopped) that reported every objective, the front,
    and the hypervolume of the feasible front after each of them (index order) against one
    reference point: the spec's (every objective's `reference`), else per objective the final
    front's worst value moved 10% of the front's range further (`tunery.pareto.reference_point`),
    as `tunery get` states it."""

    experiment: str
    objectives: list[ParetoObjectiveOut]
    constraints: list[ParetoConstraintOut]
    trials: list[ParetoTrialOut]
    front: list[str] = Field(description="The names of the trials on the front, by index.")
    referencePoint: list[float] | None = Field(
        description="In the metrics' units; null without a feasible trial."
    )
    referenceStated: bool = Field(
        description="Whether the spec states the reference point (every objective's "
        "`reference`); else the rule above."
    )
    hypervolume: float | None
    history: list[HypervolumePointOut]


@router.get("/api/experiments/{name}/pareto", response_model=ParetoOut, responses=ERRORS)
def pareto(name: str, ui: UI, namespace: NamespaceQuery = None) -> Response:
    """The Pareto front, each completed trial's objective values and feasibility, and the
    hypervolume history (for an experiment with one objective: that objective's best feasible
    trials, and the hypervolume of a line)."""
    key = ui.store.resolve(name, namespace)

    def build() -> str:
        exp = ui.store.get_experiment(key)
        data = pareto_data(exp.spec, ui.store.list_trials(key))
        body = {
            "experiment": exp.name,
            "objectives": [{"metric": m, "direction": d} for m, d in data.objectives],
            "constraints": [{"metric": m, "min": lo, "max": hi} for m, lo, hi in data.constraints],
            "trials": [
                {
                    "name": p.name,
                    "index": p.index,
                    "values": list(p.values),
                    "feasible": p.feasible,
                    "front": p.front,
                }
                for p in data.points
            ],
            "front": [p.name for p in data.front],
            "referencePoint": list(data.reference) if data.reference else None,
            "referenceStated": data.stated,
            "hypervolume": data.hypervolume,
            "history": [{"index": i, "trial": t, "hypervolume": v} for i, t, v in data.history],
        }
        return json.dumps(body, separators=(",", ":"), ensure_ascii=False)

    return Response(ui.body(key, ("pareto",), build), media_type="application/json")
