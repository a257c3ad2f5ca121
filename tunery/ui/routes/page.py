"""The single page: ``/``, its static files and plotly, and the API reference ``/docs``
(none of them in the OpenAPI document).

``/docs`` renders ``/openapi.json`` with ``static/docs.js``: every asset comes from this server
(FastAPI's Swagger UI and ReDoc pages load theirs from a CDN, so they are turned off; ``/redoc``
leads to ``/docs``)."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, FastAPI
from fastapi.responses import FileResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles

STATIC_DIR = Path(__file__).resolve().parent.parent / "static"

router = APIRouter(include_in_schema=False)


@router.get("/")
def index() -> FileResponse:
    return FileResponse(STATIC_DIR / "index.html", headers={"Cache-Control": "no-cache"})


@router.get("/docs")
def api_docs() -> FileResponse:
    return FileResponse(STATIC_DIR / "docs.html", headers={"Cache-Control": "no-cache"})


@router.get("/redoc")
def redoc() -> RedirectResponse:
    return RedirectResponse("/docs", status_code=308)


@router.get("/favicon.ico")
def favicon() -> Response:
    return Response(status_code=204)


@router.get("/static/plotly.min.js")
def plotly_js() -> FileResponse:
    import plotly

    path = Path(plotly.__file__).resolve().parent / "package_data" / "plotly.min.js"
    return FileResponse(
        path, media_type="text/javascript", headers={"Cache-Control": "max-age=86400"}
    )


def mount(app: FastAPI) -> None:
    """The page's routes, then ``/static`` (after them: plotly's route comes first)."""
    app.include_router(router)
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
