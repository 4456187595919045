"""Fallback load generator when `wrk` is not installed: asyncio streams over HTTP/1.1 keep-alive.

Runs in its own process (bench/run.py starts it), so its CPU is not the server's.
Same request semantics and output line as bench/wrk.lua:

    python bench/loadgen.py --port 8106 --duration 10 --connections 32 --spec spec.json

`spec.json`: {"path", "body_pre", "body_post", "header_name", "header_pre", "expect",
"source"} with `source` "seq:PREFIX:START", "file:PATH" or "none". Prints one line
`BENCH_JSON {...}` with requests, duration, p50/p99/max latency and error counts.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from collections.abc import Callable

HOST = "127.0.0.1"


def request_factory(spec: dict[str, str], port: int) -> Callable[[], bytes]:
    """A function returning the next request's bytes (the value changes on each call)."""
    source = spec["source"]
    values: list[str] = []
    prefix: str | None = None
    counter = 0
    if source.startswith("seq:"):
        _, prefix, start = source.split(":", 2)
        counter = int(start)
    elif source.startswith("file:"):
        with open(source[5:], encoding="utf-8") as handle:
            values = [line.strip() for line in handle if line.strip()]
    head = f"POST {spec['path']} HTTP/1.1\r\nHost: {HOST}:{port}\r\nContent-Type: application/json\r\n"
    header_name = spec["header_name"]

    def next_request() -> bytes:
        nonlocal counter
        counter += 1
        value = (
            f"{prefix}{counter % 10_000_000:07d}"
            if prefix is not None
            else (values[counter % len(values)] if values else "")
        )
        if header_name:
            body = spec["body_pre"] + spec["body_post"]
            extra = f"{header_name}: {spec['header_pre']}{value}\r\n"
        else:
            body = spec["body_pre"] + value + spec["body_post"]
            extra = ""
        raw = body.encode()
        return f"{head}{extra}Content-Length: {len(raw)}\r\n\r\n".encode() + raw

    return next_request


async def read_response(reader: asyncio.StreamReader) -> tuple[int, bytes]:
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head[9:12])
    lower = head.lower()
    index = lower.find(b"\r\ncontent-length:")
    if index >= 0:
        end = lower.index(b"\r\n", index + 2)
        length = int(lower[index + 17 : end])
        return status, await reader.readexactly(length)
    if b"transfer-encoding: chunked" in lower:
        chunks = []
        while True:
            size = int((await reader.readuntil(b"\r\n")).strip().split(b";")[0], 16)
            chunk = await reader.readexactly(size + 2)
            if size == 0:
                return status, b"".join(chunks)
            chunks.append(chunk[:-2])
    return status, b""


async def connection(
    port: int,
    next_request: Callable[[], bytes],
    expect: bytes,
    deadline: float,
    latencies: list[float],
    errors: dict[str, int],
) -> None:
    reader: asyncio.StreamReader | None = None
    writer: asyncio.StreamWriter | None = None
    while time.perf_counter() < deadline:
        try:
            if writer is None:
                reader, writer = await asyncio.open_connection(HOST, port)
            assert reader is not None
            payload = next_request()
            started = time.perf_counter()
            writer.write(payload)
            remaining = deadline + 5 - time.perf_counter()
            status, body = await asyncio.wait_for(read_response(reader), timeout=max(remaining, 0.1))
            latencies.append(time.perf_counter() - started)
            if not 200 <= status <= 299 or (expect and expect not in body):
                errors["bad_responses"] += 1
        except TimeoutError:
            errors["timeout"] += 1
            writer = None
        except (OSError, asyncio.IncompleteReadError, ValueError):
            errors["read"] += 1
            if writer is not None:
                writer.close()
            writer = None
    if writer is not None:
        writer.close()


def percentile(sorted_values: list[float], fraction: float) -> float:
    if not sorted_values:
        return 0.0
    index = min(len(sorted_values) - 1, max(0, round(fraction * len(sorted_values)) - 1))
    return sorted_values[index]


async def run(port: int, duration: float, connections: int, spec: dict[str, str]) -> dict[str, float]:
    next_request = request_factory(spec, port)
    latencies: list[float] = []
    errors = {"bad_responses": 0, "connect": 0, "read": 0, "write": 0, "status": 0, "timeout": 0}
    started = time.perf_counter()
    deadline = started + duration
    await asyncio.gather(
        *(
            connection(port, next_request, spec["expect"].encode(), deadline, latencies, errors)
            for _ in range(connections)
        )
    )
    elapsed = time.perf_counter() - started
    latencies.sort()
    return {
        "requests": len(latencies),
        "duration_us": round(elapsed * 1e6),
        "p50_us": round(percentile(latencies, 0.50) * 1e6),
        "p99_us": round(percentile(latencies, 0.99) * 1e6),
        "max_us": round((latencies[-1] if latencies else 0) * 1e6),
        **errors,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--duration", type=float, required=True)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--spec", required=True)
    args = parser.parse_args()
    with open(args.spec, encoding="utf-8") as handle:
        spec = json.load(handle)
    try:
        from uvloop import run as run_loop
    except ImportError:
        run_loop = asyncio.run
    result = run_loop(run(args.port, args.duration, args.connections, spec))
    print("BENCH_JSON " + json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
