"""The baseline: a bare Starlette JSON POST endpoint, served like `washgate serve`.

Same uvicorn settings as washgate's CLI (uvloop, httptools, one worker, no access
log, no proxy headers, no server header), so the ratio washgate / baseline
measures what washgate adds on top of the framework and the server.

    python bench/baseline_app.py --port 8107
"""

from __future__ import annotations

import argparse

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route


async def echo(request: Request) -> Response:
    """Parse a JSON object and answer a small JSON object, as a minimal API endpoint would."""
    body = await request.json()
    return JSONResponse({"ok": True, "phone": body.get("phone")})


async def healthz(request: Request) -> Response:
    return JSONResponse({"status": "ok"})


app = Starlette(routes=[Route("/echo", echo, methods=["POST"]), Route("/healthz", healthz, methods=["GET"])])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, default=8107)
    args = parser.parse_args()
    uvicorn.run(
        app,
        host="127.0.0.1",
        port=args.port,
        workers=1,
        loop="uvloop",
        http="httptools",
        access_log=False,
        proxy_headers=False,
        server_header=False,
        log_level="warning",
        log_config=None,
    )


if __name__ == "__main__":
    main()
