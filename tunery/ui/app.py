"""The web UI: a JSON API (FastAPI, documented at ``/docs`` and ``/openapi.json``) and one page.

The app reads through the store and writes *intents* (stop an experiment, kill a trial), new
experiments (stored, not run) and deletes (``tunery.ui.removal``); the experiment's controller
acts on intents.  Writes
need ``Authorization: Bearer <token>``; reads need it too when the server is reachable from
the network (``reads_need_token``), and nothing on loopback, the default.  Every request's
``Host`` must be a name the server is reachable by (``tunery.ui.exposure``).

``create_app(store, token)`` wires the app: the routers of ``tunery.ui.routes`` (which read
the store and the settings from ``app.state.ui``, a ``tunery.ui.deps.UIState``), the Host and
token gate, the security headers, the error answers and the OpenAPI document
(``tunery.ui.schemas``).  ``serve(db)`` runs it with uvicorn.  See ``docs/ui.md``.
"""

from __future__ import annotations

import secrets
from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match

from tunery.clock import Clock, SystemClock
from tunery.errors import (
    AlreadyExistsError,
    AmbiguousNameError,
    NotFoundError,
    SpecError,
    StorageError,
    TuneryError,
)
from tunery.storage import Store
from tunery.ui.deps import BadInput, UIState, one_line
from tunery.ui.exposure import LOOPBACK_NAMES, Gate, HostNames, host_names, is_loopback
from tunery.ui.routes import experiments, intents, page, pareto, trials
from tunery.ui.schemas import complete_document

__all__ = ["create_app", "exposure_lines", "serve"]

#: The page loads scripts and styles only from this server; inline scripts and ``eval`` are
#: forbidden, so markup smuggled into the page could not run.  (plotly, on the trial page, draws
#: only SVG scatter traces, which need no ``eval``; its WebGL traces would.)
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data: blob:; connect-src 'self'; object-src 'none'; base-uri 'none'; "
    "frame-ancestors 'none'; form-action 'none'"
)


def create_app(
    store: Store,
    token: str,
    *,
    runs_dir: str | None = None,
    base_dir: str | None = None,
    allowed_hosts: list[str] | None = None,
    reads_need_token: bool = False,
    clock: Clock | None = None,
) -> FastAPI:
    """The UI's app over ``store``; writes need ``Authorization: Bearer <token>``, and with
    ``reads_need_token`` every ``/api`` call does.

    Experiments created through the API resolve relative paths against ``base_dir`` and put
    trial directories under ``runs_dir`` (defaults: the current directory and
    ``./tunery-runs``, as ``tunery create``).  ``allowed_hosts`` are the ``Host`` names the app
    answers (default: the loopback ones; see ``tunery.ui.exposure.host_names``); any other
    gets 421, a guard against DNS rebinding.  ``clock`` times intents and new experiments
    (default: the system clock).
    """
    if not token:
        raise ValueError("create_app() needs a non-empty token")
    reads = "Every call needs" if reads_need_token else "Reads need nothing; writes need"
    app = FastAPI(
        title="tunery",
        summary="Experiments, trials and metrics of a tunery database.",
        description=(
            f"{reads} `Authorization: Bearer <token>` (the token `tunery ui` printed).  "
            "Writes (stop, kill, create, delete) write intents for the experiment's controller, "
            "a new experiment that is stored but not run, or delete an experiment (a running "
            "one only with `force=true`, which stops it first).  Requests whose `Host` is not "
            "a name the server answers to get 421."
        ),
        version="1",
        # /docs is the page's own (tunery.ui.routes.page): FastAPI's loads from a CDN.
        docs_url=None,
        redoc_url=None,
    )
    ui = UIState(
        store=store,
        token=token,
        runs_dir=runs_dir,
        base_dir=base_dir,
        reads_need_token=reads_need_token,
        clock=clock or SystemClock(),
    )
    app.state.ui = ui
    app.state.trial_cache = ui.cache
    app.add_middleware(
        Gate,
        hosts=HostNames(allowed_hosts or LOOPBACK_NAMES),
        token=token,
        reads_need_token=reads_need_token,
    )
    make_document = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            complete_document(make_document(), reads_need_token)
        return app.openapi_schema  # type: ignore[return-value]

    app.openapi = openapi  # type: ignore[method-assign]
    app.middleware("http")(_security_headers)
    app.add_exception_handler(BadInput, _bad_input)  # type: ignore[arg-type]
    app.add_exception_handler(TuneryError, _tunery_error)  # type: ignore[arg-type]
    app.add_exception_handler(RequestValidationError, _validation_error)  # type: ignore[arg-type]
    app.add_exception_handler(StarletteHTTPException, _http_error)  # type: ignore[arg-type]
    # In the order of the OpenAPI document's paths.
    app.include_router(experiments.router)
    app.include_router(pareto.router)
    app.include_router(trials.router)
    app.include_router(intents.router)
    page.mount(app)
    return app


# --------------------------------------------------------------------------- the wiring

#: The API's routes, for the ``Allow`` header of a 405.
_ROUTES = (
    *experiments.router.routes,
    *pareto.router.routes,
    *trials.router.routes,
    *intents.router.routes,
)


async def _security_headers(
    request: Request, call_next: Callable[[Request], Awaitable[Response]]
) -> Response:
    response = await call_next(request)
    response.headers.setdefault("Content-Security-Policy", CSP)
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("Referrer-Policy", "no-referrer")
    if request.url.path.startswith("/api/"):
        response.headers.setdefault("Cache-Control", "no-store")
    return response


async def _bad_input(_request: Request, exc: BadInput) -> Response:
    headers = {"WWW-Authenticate": "Bearer"} if exc.status_code == 401 else None
    return JSONResponse({"detail": exc.message}, exc.status_code, headers=headers)


async def _tunery_error(_request: Request, exc: TuneryError) -> Response:
    if isinstance(exc, SpecError):
        return JSONResponse({"detail": exc.one_line()}, 422)
    status = 400
    if isinstance(exc, NotFoundError):
        status = 404
    elif isinstance(exc, (AlreadyExistsError, AmbiguousNameError)):
        status = 409
    elif isinstance(exc, StorageError):
        status = 503
    return JSONResponse({"detail": exc.one_line()}, status)


async def _validation_error(_request: Request, exc: RequestValidationError) -> Response:
    errors = exc.errors()
    if not errors:
        return JSONResponse({"detail": "invalid request"}, 422)
    first = errors[0]
    loc = ".".join(str(p) for p in first.get("loc", ()) if p not in ("query", "path", "body"))
    return JSONResponse({"detail": one_line(f"{loc or 'request'}: {first.get('msg')}")}, 422)


async def _http_error(request: Request, exc: StarletteHTTPException) -> Response:
    headers = exc.headers
    if exc.status_code == 405:
        # Starlette names the methods of the first route on the path; GET and POST
        # /api/experiments are two routes: name every method the path has.  The routers'
        # own routes are read too: newer FastAPI keeps an included router as one route.
        methods: set[str] = set()
        for route in (*request.app.router.routes, *_ROUTES):
            match, _ = route.matches(request.scope)
            if match is not Match.NONE:
                methods |= getattr(route, "methods", None) or set()
        if methods:
            headers = {**(headers or {}), "Allow": ", ".join(sorted(methods))}
    return JSONResponse({"detail": one_line(str(exc.detail))}, exc.status_code, headers=headers)


# --------------------------------------------------------------------------- serving


def exposure_lines(
    host: str, port: int, token: str, *, public_read: bool, names: list[str]
) -> tuple[list[str], str | None]:
    """What ``serve`` prints: the lines for stdout (URL, token, Host names) and the warning
    for stderr (None on loopback)."""
    loopback = is_loopback(host)
    if loopback:
        shown = "127.0.0.1" if host.strip().lower() == "localhost" else host
    else:
        shown = next((n for n in names if n not in LOOPBACK_NAMES), host)
    if ":" in shown and not shown.startswith("["):
        shown = f"[{shown}]"
    url = f"http://{shown}:{port}/"
    reads_need_token = not loopback and not public_read
    needs = "every /api call" if reads_need_token else "stop/kill/create"
    lines = [
        f"tunery ui: {url}",
        f"token for {needs}: {token}",
        f"open signed in: {url}#token={token}",
        f"Host names answered: {', '.join(names)} (add one with --allow-host NAME)",
    ]
    warning = None
    if not loopback:
        where = "every interface" if host.strip() in ("", "0.0.0.0", "::", "[::]") else host
        who = (
            "anyone who can reach it can read your experiments; stop, kill and create need the "
            "token"
            if public_read
            else "reads and writes need the token"
        )
        warning = (
            f"tunery ui: warning: listening on {where}, reachable from the network: {who}; "
            "share it only with those who may use it, as the signed-in address or as "
            "`Authorization: Bearer <token>`"
        )
    return lines, warning


def serve(
    db: str | None = None,
    host: str = "127.0.0.1",
    port: int = 8080,
    token: str | None = None,
    *,
    runs_dir: str | None = None,
    public_read: bool = False,
    allow_hosts: list[str] | tuple[str, ...] = (),
) -> None:
    """Serve the UI over database ``db`` until interrupted.

    Without ``token`` a random one is generated; the URL and the token are printed (the URL
    carries the token in its fragment, which browsers never send to a server, so opening it
    signs the page in for the tab).  On a ``host`` beyond loopback a warning goes to stderr
    and every ``/api`` call needs the token, reads too, unless ``public_read``.  Requests
    whose ``Host`` is not a name the server is reachable by, or one of ``allow_hosts``, get
    421 (see ``tunery.ui.exposure``).
    """
    import sys

    import uvicorn

    names = host_names(host, allow_hosts)  # ValueError for a bad --allow-host, before the DB
    store = Store(db)
    if not token:
        token = secrets.token_urlsafe(24)
    reads_need_token = not is_loopback(host) and not public_read
    app = create_app(
        store,
        token,
        runs_dir=runs_dir,
        allowed_hosts=names,
        reads_need_token=reads_need_token,
    )
    lines, warning = exposure_lines(host, port, token, public_read=public_read, names=names)
    if warning:
        print(warning, file=sys.stderr, flush=True)
    lines[0] += f"  (database {store.url})"
    for line in lines:
        print(line, flush=True)
    try:
        uvicorn.run(app, host=host.strip("[]"), port=port, log_level="warning")
    finally:
        store.close()
