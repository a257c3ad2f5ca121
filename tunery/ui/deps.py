"""What the UI's routes share: the app's settings and store (:class:`UIState`, on
``app.state.ui``, handed to a route by the :data:`UI` dependency), the token check
(:func:`authorize`), the one-line refusal (:class:`BadInput`) and the JSON answer."""

from __future__ import annotations

import json
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Annotated, Any

from fastapi import Depends, Query, Request
from fastapi.responses import Response
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from tunery.clock import Clock, SystemClock
from tunery.storage import Store
from tunery.ui import queries


@dataclass
class UIState:
    """The app's settings and the objects its routes use, kept on ``app.state.ui``."""

    store: Store
    token: str
    #: Where experiments created through the API resolve relative paths and put trial
    #: directories (None: the current directory and ``./tunery-runs``).
    runs_dir: str | None = None
    base_dir: str | None = None
    #: Whether every ``/api`` call needs the token (reads too).
    reads_need_token: bool = False
    clock: Clock = field(default_factory=SystemClock)
    #: The full trial lists kept while the trials have not changed.
    cache: queries.BodyCache = field(default_factory=queries.BodyCache)

    def body(self, name: str, key: tuple[Any, ...] | None, build: Callable[[], str]) -> str:
        """``build()``, or the same answer kept from an earlier call (``key`` None: never);
        NotFoundError (404) for an unknown experiment either way."""
        exp = self.store.get_experiment(name)
        if key is None:
            return build()
        current = queries.version(self.store, name, exp.created_time)
        body = self.cache.get((name, *key), current)
        if body is None:
            body = build()
            self.cache.put((name, *key), current, body)
        return body


#: ``?namespace=``: the experiment's namespace, needed only when its name is in several.
NamespaceQuery = Annotated[
    str | None,
    Query(
        max_length=63,
        pattern=r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$",
        description="The experiment's namespace; needed only when its name is taken in "
        "several namespaces (else 409). An experiment list: only this namespace's.",
    ),
]


async def ui_state(request: Request) -> UIState:
    """The :class:`UIState` of the app serving ``request`` (async: no thread hop)."""
    state: UIState = request.app.state.ui
    return state


#: A route's parameter ``ui: UI`` receives the app's :class:`UIState`.
UI = Annotated[UIState, Depends(ui_state)]


class BadInput(Exception):
    """A request the API refuses with 422 (or ``status_code``) and a one-line message."""

    def __init__(self, message: str, status_code: int = 422) -> None:
        super().__init__(message)
        self.message = message
        self.status_code = status_code


def json_response(data: Any, status_code: int = 200) -> Response:
    """A JSON response built without a second validation pass (the big lists are fast)."""
    body = json.dumps(data, separators=(",", ":"), ensure_ascii=False)
    return Response(body, status_code=status_code, media_type="application/json")


def one_line(text: str) -> str:
    return " ".join(str(text).split())


#: Module level: FastAPI resolves the (string) annotations of dependencies in module globals.
BEARER = HTTPBearer(auto_error=False, description="The token `tunery ui` printed.")


async def authorize(
    ui: UI,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(BEARER)],
) -> None:
    """Refuse (401) a request without the app's bearer token."""
    given = credentials.credentials if credentials is not None else ""
    if not given or not secrets.compare_digest(given.encode(), ui.token.encode()):
        raise BadInput(
            "authorization: a valid bearer token is needed to change anything "
            "(the token `tunery ui` printed)",
            401,
        )
