"""The UI's routes, one FastAPI ``APIRouter`` per job, wired by ``tunery.ui.app.create_app``:

- ``experiments``: list, one experiment, parameter importance, create (stored, not run),
  delete (``tunery.ui.removal``);
- ``pareto``: a multi-objective or constrained experiment's front, feasibility and
  hypervolume history (``tunery.plots.pareto_data``);
- ``trials``: the trial list (rows and columns), exports (JSON, CSV), one trial, its
  observations;
- ``intents``: stop an experiment, kill a trial (written for the controller);
- ``page``: the single page, its static files and the API reference ``/docs`` (none in the
  OpenAPI document).

Routes read the store and the app's settings through the ``UI`` dependency
(``tunery.ui.deps``), never through closures.
"""
