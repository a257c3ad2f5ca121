"""The web UI (the ``ui`` extra): ``create_app(store, token)`` and ``serve(db)``.

Importing this package imports nothing heavy; FastAPI and uvicorn are imported when the
functions are called, with an error that says what to install when they are missing.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from tunery.errors import MissingExtraError

if TYPE_CHECKING:
    from fastapi import FastAPI

    from tunery.storage import Store

__all__ = ["create_app", "serve"]


def _app_module() -> Any:
    try:
        import fastapi  # noqa: F401
        import plotly  # noqa: F401
        import pydantic  # noqa: F401
        import uvicorn  # noqa: F401
    except ImportError as exc:
        raise MissingExtraError(getattr(exc, "name", None) or "fastapi", "ui") from None
    from tunery.ui import app

    return app


def create_app(store: Store, token: str, **kwargs: Any) -> FastAPI:
    """The UI's FastAPI app over ``store`` (see :func:`tunery.ui.app.create_app`)."""
    app: FastAPI = _app_module().create_app(store, token, **kwargs)
    return app


def serve(
    db: str | None = None,
    host: str = "127.0.0.1",
    port: int = 8080,
    token: str | None = None,
    **kwargs: Any,
) -> None:
    """Serve the UI over database ``db`` (see :func:`tunery.ui.app.serve`)."""
    _app_module().serve(db, host, port, token, **kwargs)
