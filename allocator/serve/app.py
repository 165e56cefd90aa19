"""The web app: Starlette routes over a :class:`~allocator.serve.workspace.Workspace`.

``GET /`` is the page, ``/static/*`` its script, style and plotly.js (served from the installed
``plotly`` package: the page loads nothing from the internet). The JSON API under ``/api``:

- ``GET /api/state``, ``GET /api/accounts``, ``GET /api/map``: the plan under edit;
- ``POST /api/edit`` ``{version, action: move|lock|unlock, accounts, rep, who, why}``;
- ``POST /api/undo``, ``POST /api/redo`` ``{version}``;
- ``POST /api/reoptimise`` ``{version}``, ``GET /api/job``, ``POST /api/job/accept|discard``;
- ``POST /api/save`` ``{version, folder}``; ``POST /api/compare`` ``{other}``.

Every error is JSON ``{"error": message}`` with a 4xx status (404 unknown id, 409 stale
version, 400 anything else the request got wrong); a bug is a 500 with a one-line message and
no traceback (the traceback goes to the server's log).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable
from importlib import resources
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import FileResponse, HTMLResponse, JSONResponse, Response
from starlette.routing import Route

from allocator.exceptions import AllocatorError
from allocator.serve.session import ServeError
from allocator.serve.workspace import Workspace

__all__ = ["create_app", "plotly_js_path"]

log = logging.getLogger("allocator")

STATIC = Path(str(resources.files("allocator.serve") / "static"))


def plotly_js_path() -> Path:
    """plotly.min.js as installed with the ``plotly`` package (the same version as the report)."""
    import plotly

    return Path(plotly.__file__).parent / "package_data" / "plotly.min.js"


def _error(message: str, status: int, **extra: Any) -> JSONResponse:
    return JSONResponse({"error": message, **extra}, status_code=status)


Handler = Callable[[dict[str, Any]], Any]


def _api(ws: Workspace, handler: Handler) -> Callable[[Request], Awaitable[Response]]:
    """A JSON endpoint: body in, result out, every error as a clear JSON message."""

    async def endpoint(request: Request) -> Response:
        body: dict[str, Any] = {}
        if request.method == "POST":
            raw = await request.body()
            try:
                body = json.loads(raw or b"{}")
            except ValueError:
                return _error("the request body is not JSON", 400)
            if not isinstance(body, dict):
                return _error("the request body must be a JSON object", 400)
        else:
            body = dict(request.query_params)
        try:
            result = await run_in_threadpool(handler, body)
        except ServeError as exc:
            state = await run_in_threadpool(ws.state_json)
            return _error(str(exc), exc.status, state=state)
        except AllocatorError as exc:
            return _error(str(exc), 400)
        except Exception as exc:  # a bug: one line in the page, the traceback in the log
            log.exception("serve: %s %s failed", request.method, request.url.path)
            return _error(f"internal error ({type(exc).__name__}); see the server log", 500)
        if isinstance(result, str):
            return Response(result, media_type="application/json")
        return JSONResponse(result)

    return endpoint


def create_app(ws: Workspace) -> Starlette:
    """The Starlette application serving ``ws``."""

    async def page(_: Request) -> Response:
        return HTMLResponse((STATIC / "index.html").read_text(encoding="utf-8"))

    async def static(request: Request) -> Response:
        name = request.path_params["name"]
        if name == "plotly.min.js":
            return FileResponse(plotly_js_path(), media_type="text/javascript")
        path = STATIC / name
        if name not in {"serve.js", "serve.css"} or not path.is_file():
            return _error(f"no such file: /static/{name}", 404)
        kind = "text/javascript" if name.endswith(".js") else "text/css"
        return FileResponse(path, media_type=kind)

    def get(handler: Callable[[], Any]) -> Handler:
        return lambda _body: handler()

    routes = [
        Route("/", page),
        Route("/favicon.ico", lambda _: Response(status_code=204)),
        Route("/static/{name}", static),
        Route("/api/state", _api(ws, get(ws.state_json))),
        Route("/api/accounts", _api(ws, get(ws.accounts_json))),
        Route("/api/map", _api(ws, get(ws.map_json))),
        Route("/api/job", _api(ws, get(lambda: ws.job_json() or {"state": "none"}))),
        Route("/api/edit", _api(ws, ws.edit), methods=["POST"]),
        Route("/api/undo", _api(ws, ws.undo), methods=["POST"]),
        Route("/api/redo", _api(ws, ws.redo), methods=["POST"]),
        Route("/api/reoptimise", _api(ws, ws.reoptimise), methods=["POST"]),
        Route("/api/job/accept", _api(ws, lambda b: ws.settle(b, accept=True)), methods=["POST"]),
        Route("/api/job/discard", _api(ws, lambda b: ws.settle(b, accept=False)), methods=["POST"]),
        Route("/api/save", _api(ws, ws.save), methods=["POST"]),
        Route("/api/compare", _api(ws, ws.compare), methods=["POST"]),
    ]

    async def not_found(request: Request, exc: Exception) -> Response:
        status = exc.status_code if isinstance(exc, HTTPException) else 500
        what = "no such page" if status == 404 else "request not allowed"
        return _error(f"{what}: {request.method} {request.url.path}", status)

    return Starlette(routes=routes, exception_handlers={404: not_found, 405: not_found})
