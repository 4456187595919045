"""CPU cost per request, in process and without a network: the number that survives a busy machine.

    python bench/cpu_cost.py [--requests 2000] [--concurrency 32] [--repeat 3] [--cprofile rest_login]

Builds washgate's ASGI app (same settings as bench/run.py: fresh SQLite file, high
limits, test phones), runs its lifespan, registers accounts, then calls the app
directly (no HTTP, no sockets) for each scenario of bench/run.py, `--concurrency`
requests in flight, and prints the process CPU time per request (every thread), the
wall-clock rate, and the SQL statements per request. The baseline is the bare Starlette app of
bench/baseline_app.py called the same way. `--cprofile NAME` prints the top
functions of that scenario (cProfile; slower, but exact call counts).
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import json
import logging
import os
import pstats
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

BENCH_DIR = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH_DIR.parent))
sys.path.insert(0, str(BENCH_DIR))

from run import scenarios, washgate_env  # noqa: E402

Call = tuple[int, bytes]


async def call(app: Any, path: str, body: bytes, headers: dict[str, str]) -> Call:
    """One POST through the ASGI app; (status, body)."""
    scope = {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.3"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [
            (b"host", b"127.0.0.1"),
            (b"content-type", b"application/json"),
            (b"content-length", str(len(body)).encode()),
            *((name.lower().encode(), value.encode()) for name, value in headers.items()),
        ],
        "client": ("127.0.0.1", 40000),
        "server": ("127.0.0.1", 8106),
        "state": {},
    }
    delivered = False
    never: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    async def receive() -> dict[str, Any]:
        nonlocal delivered
        if not delivered:
            delivered = True
            return {"type": "http.request", "body": body, "more_body": False}
        await never
        return {"type": "http.disconnect"}

    status = 0
    chunks: list[bytes] = []

    async def send(message: dict[str, Any]) -> None:
        nonlocal status
        if message["type"] == "http.response.start":
            status = message["status"]
        elif message["type"] == "http.response.body":
            chunks.append(message.get("body", b""))

    await app(scope, receive, send)
    return status, b"".join(chunks)


class Counters:
    """SQL statements sent to SQLite (the driver's trace; BEGIN, COMMIT, ROLLBACK and PRAGMA are not counted)."""

    def __init__(self) -> None:
        self.statements = 0

    def install(self, connection: Any) -> None:
        def _count(sql: str) -> None:
            if not sql.lstrip().upper().startswith(("BEGIN", "COMMIT", "ROLLBACK", "PRAGMA")):
                self.statements += 1

        connection.set_trace_callback(_count)


async def drive(
    app: Any, scenario: Any, values: list[str], requests: int, concurrency: int, offset: int
) -> dict[str, Any]:
    counter = offset
    errors: list[str] = []

    def next_call() -> tuple[bytes, dict[str, str]]:
        nonlocal counter
        counter += 1
        value = f"+7990{counter % 10_000_000:07d}" if scenario.source == "seq" else values[counter % len(values)]
        if scenario.header_name:
            return (scenario.body_pre + scenario.body_post).encode(), {
                scenario.header_name: scenario.header_pre + value
            }
        return (scenario.body_pre + value + scenario.body_post).encode(), {}

    remaining = requests

    async def worker() -> None:
        nonlocal remaining
        while remaining > 0:
            remaining -= 1
            body, headers = next_call()
            status, answer = await call(app, scenario.path, body, headers)
            await asyncio.sleep(0)  # let background tasks (WAL checkpoints) run, as a server's would
            if not 200 <= status <= 299 or scenario.expect.encode() not in answer:
                errors.append(f"{status} {answer[:200]!r}")

    started_wall, started_cpu = time.perf_counter(), time.process_time()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    wall, cpu = time.perf_counter() - started_wall, time.process_time() - started_cpu
    return {"wall": wall, "cpu": cpu, "errors": errors}


async def main_async(args: argparse.Namespace, database_url: str) -> int:
    from baseline_app import app as baseline

    from core.db import Database
    from core.settings import Settings
    from washgate.app import create_app

    settings = Settings()
    app = create_app(settings)
    counters = Counters()
    results = []
    async with app.router.lifespan_context(app):
        db: Database = app.state.db
        counters.install(db.raw_sqlite())
        phones, tokens = [], []
        for i in range(args.accounts):
            phone = f"+{79990100000 + i}"
            body = json.dumps(
                {
                    "phone": phone,
                    "otp": "1234",
                    "isTermsAccepted": True,
                    "isPromoTermsAccepted": False,
                    "name": f"Bench {i}",
                }
            ).encode()
            status, answer = await call(app, "/api/v2/auth/register", body, {})
            if status != 201:
                print(f"registering {phone}: {status} {answer[:300]!r}", file=sys.stderr)
                return 2
            phones.append(phone)
            tokens.append(json.loads(answer)["data"]["tokens"]["accessToken"])
        values = {"seq": [], "accounts": phones, "tokens": tokens}
        offset = 0
        for scenario in scenarios():
            if scenario.name not in args.scenarios.split(","):
                continue
            target = baseline if scenario.target == "baseline" else app
            offset += 1_000_000
            await drive(target, scenario, values[scenario.source], min(200, args.requests), args.concurrency, offset)
            offset += 1_000_000
            statements = counters.statements
            profiler = cProfile.Profile() if args.cprofile == scenario.name else None
            if profiler:
                profiler.enable()
            outcome = await drive(target, scenario, values[scenario.source], args.requests, args.concurrency, offset)
            for _ in range(args.repeat - 1):  # the least CPU of several runs: the machine's noise only adds
                offset += 1_000_000
                again = await drive(target, scenario, values[scenario.source], args.requests, args.concurrency, offset)
                if again["cpu"] < outcome["cpu"]:
                    outcome = {**again, "errors": outcome["errors"] + again["errors"]}
                else:
                    outcome["errors"] += again["errors"]
            if profiler:
                profiler.disable()
            n = args.requests
            results.append((scenario, outcome, (counters.statements - statements) / n / args.repeat))
            if profiler:
                if args.cprofile_out:
                    profiler.dump_stats(args.cprofile_out)
                stats = pstats.Stats(profiler).strip_dirs()
                print(f"\n--- cProfile {scenario.name}: top by own time ---")
                stats.sort_stats("tottime").print_stats(30)
                print(f"--- cProfile {scenario.name}: top by cumulative time ---")
                stats.sort_stats("cumulative").print_stats(45)
    base_cpu = next((o["cpu"] / args.requests for s, o, _ in results if s.name == "baseline"), None)
    print(f"\nin-process, {args.requests} requests per scenario, {args.concurrency} in flight, SQLite")
    header = f"{'scenario':<34}{'CPU ms/req':>11}{'x baseline':>11}{'req/s wall':>11}{'SQL/req':>9}{'errors':>8}"
    print(header)
    print("-" * len(header))
    for scenario, outcome, statements in results:
        cpu_per = outcome["cpu"] / args.requests
        times = f"{cpu_per / base_cpu:.1f}" if base_cpu else "-"
        print(
            f"{scenario.label:<34}{cpu_per * 1000:>11.3f}{times:>11}{args.requests / outcome['wall']:>11.0f}"
            f"{statements:>9.1f}{len(outcome['errors']):>8}"
        )
    for scenario, outcome, _ in results:
        if outcome["errors"]:
            print(f"{scenario.name}: first error: {outcome['errors'][0]}")
    return 1 if any(o["errors"] for _, o, _ in results) else 0


def main() -> int:
    names = [s.name for s in scenarios()]
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=2000, help="measured requests per scenario [2000]")
    parser.add_argument("--concurrency", type=int, default=32, help="requests in flight [32]")
    parser.add_argument("--repeat", type=int, default=1, help="measure each scenario N times, keep the least CPU [1]")
    parser.add_argument("--accounts", type=int, default=200)
    parser.add_argument("--scenarios", default=",".join(names))
    parser.add_argument("--cprofile", metavar="SCENARIO", default=None, help="cProfile this scenario")
    parser.add_argument("--cprofile-out", metavar="FILE", default=None, help="also save that profile (pstats)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="washgate-cpu-") as folder:
        workdir = Path(folder)
        logging.basicConfig(level=logging.INFO, filename=str(workdir / "server.log"))
        database_url = f"sqlite+aiosqlite:///{workdir / 'bench.db'}"
        env = washgate_env(database_url, args.accounts)
        os.environ.update({key: value for key, value in env.items() if key.startswith("WASHGATE_")})
        from core.migrate import upgrade

        upgrade(database_url)
        try:
            from uvloop import run as run_loop
        except ImportError:
            run_loop = asyncio.run
        return run_loop(main_async(args, database_url))


if __name__ == "__main__":
    sys.exit(main())
