"""washgate benchmark: one command, a bare Starlette baseline and four washgate scenarios.

    python bench/run.py                       # ~1.5 minutes with the defaults

Starts a bare Starlette app and then the real server (`washgate serve`, fresh
temporary SQLite database, limits raised so the load is not refused), drives each
with `wrk` (or, when wrk is missing, bench/loadgen.py in its own process) from
127.0.0.1 only, for a fixed duration, and prints requests/s, p50/p99 latency,
errors, the ratio to the baseline, CPU use and the server's RSS, with PASS/MISS per
goal. Exits 0 unless a server failed to start (2) or some request failed (1).
See bench/README.md.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import resource
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

BENCH_DIR = Path(__file__).resolve().parent
HOST = "127.0.0.1"
TEST_CODE = "1234"  # fixed code of the benchmark's test phones (WASHGATE_OTP_LENGTH is 4)
ACCOUNT_PHONE_BASE = 79990100000  # registered accounts: +79990100000, +79990100001, ...
SEND_PHONE_PREFIX = "+7990"  # send/otp and baseline: +7990 + 7-digit counter, never a test phone
SEQUENCE_BLOCK = 1_000_000  # each load run takes a fresh block of the sequence

GQL_LOGIN = (
    "mutation Login($input: LoginInput!) { login(input: $input) { __typename "
    "... on AuthSuccess { user { id name phone { number } } tokens { accessToken refreshToken expiresIn } } "
    "... on Error { code message } } }"
)
GQL_ME = "{ me { id name phone { number } } }"

# Goals of the performance issue: minimum ratio of req/s to the baseline per scenario.
RATIO_GOALS = {"rest_send_otp": 0.25, "rest_login": 0.15, "gql_login": 0.10, "gql_me": 0.15}
P99_GOAL_MS = 50.0
RSS_GOAL_MIB = 150.0


@dataclass(frozen=True)
class Scenario:
    """One load: POST `path` with body `body_pre + value + body_post` (or the value in a header)."""

    name: str
    label: str
    target: str  # "baseline" or "washgate"
    path: str
    body_pre: str
    body_post: str
    expect: str  # a 2xx body must contain this, else the response counts as an error
    source: str  # "seq" (distinct phones), "accounts" (registered phones) or "tokens"
    header_name: str = ""
    header_pre: str = ""


def scenarios() -> list[Scenario]:
    phone_body = ('{"phone":"', '"}')
    return [
        Scenario("baseline", "baseline Starlette JSON POST", "baseline", "/echo", *phone_body, '"ok":true', "seq"),
        Scenario(
            "rest_send_otp",
            "REST POST /api/v2/auth/send/otp",
            "washgate",
            "/api/v2/auth/send/otp",
            *phone_body,
            '"sent_success"',
            "seq",
        ),
        Scenario(
            "rest_login",
            "REST POST /api/v2/auth/login",
            "washgate",
            "/api/v2/auth/login",
            '{"phone":"',
            f'","otp":"{TEST_CODE}"}}',
            '"login-success"',
            "accounts",
        ),
        Scenario(
            "gql_login",
            "GraphQL mutation login",
            "washgate",
            "/graphql",
            json.dumps({"query": GQL_LOGIN})[:-1] + ',"variables":{"input":{"phone":"',
            f'","otp":"{TEST_CODE}"}}}}}}',
            '"__typename":"AuthSuccess"',
            "accounts",
        ),
        Scenario(
            "gql_me",
            "GraphQL query me (token)",
            "washgate",
            "/graphql",
            json.dumps({"query": GQL_ME}),
            "",
            '"me":{"id":',
            "tokens",
            header_name="Authorization",
            header_pre="Bearer ",
        ),
    ]


@dataclass
class Result:
    scenario: Scenario
    requests: int = 0
    rps: float = 0.0
    p50_ms: float = 0.0
    p99_ms: float = 0.0
    max_ms: float = 0.0
    errors: int = 0
    error_detail: dict[str, int] = field(default_factory=dict)
    server_cpu: float = 0.0  # share of one core used by the server during the run
    cpu_ms_per_request: float = 0.0  # server CPU per completed request: steadier than req/s on a busy machine
    generator_cpu: float = 0.0
    other_cpu: float = 0.0  # CPU used by everything else on the machine, in cores
    ratio: float | None = None
    note: str = ""


# --- servers -----------------------------------------------------------------------------------


class Server:
    """A server subprocess with its log file; knows its RSS and CPU time."""

    def __init__(
        self, name: str, command: list[str], env: dict[str, str], cwd: Path, log_path: Path, cpus: set[int] | None
    ) -> None:
        self.name = name
        self.log_path = log_path
        self._log = open(log_path, "wb")  # noqa: SIM115 - closed in stop()
        self.process = subprocess.Popen(
            command, env=env, cwd=cwd, stdout=self._log, stderr=subprocess.STDOUT, preexec_fn=pin_to(cpus)
        )

    @property
    def pid(self) -> int:
        return self.process.pid

    def wait_ready(self, port: int, path: str, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                return False
            try:
                status, _ = http_call(port, "GET", path, None, timeout=2)
                if status == 200:
                    return True
            except OSError:
                pass
            time.sleep(0.2)
        return False

    def rss_mib(self) -> float:
        for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
        return 0.0

    def cpu_seconds(self) -> float:
        fields = Path(f"/proc/{self.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def log_tail(self, lines: int = 30) -> str:
        self._log.flush()
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self._log.close()


def port_in_use(port: int) -> bool:
    with socket.socket() as probe:
        probe.settimeout(1)
        return probe.connect_ex((HOST, port)) == 0


def pin_to(cpus: set[int] | None) -> Any:
    """A preexec_fn pinning the child to `cpus` (None: no pinning)."""
    if not cpus:
        return None
    return lambda: os.sched_setaffinity(0, cpus)


def http_call(
    port: int, method: str, path: str, body: Any, headers: dict[str, str] | None = None, timeout: float = 10
) -> tuple[int, Any]:
    connection = http.client.HTTPConnection(HOST, port, timeout=timeout)
    try:
        payload = json.dumps(body).encode() if body is not None else None
        all_headers = {"Content-Type": "application/json", **(headers or {})}
        connection.request(method, path, body=payload, headers=all_headers)
        response = connection.getresponse()
        raw = response.read()
        try:
            return response.status, json.loads(raw) if raw else None
        except ValueError:
            return response.status, raw.decode(errors="replace")
    finally:
        connection.close()


def postgres_database(admin_url: str, name: str, *, create: bool) -> str:
    """Create (or drop) database `name` through `admin_url`; returns its SQLAlchemy URL."""
    import asyncio

    import asyncpg
    from sqlalchemy.engine import make_url

    url = make_url(admin_url)
    plain = url.set(drivername="postgresql").render_as_string(hide_password=False)

    async def run() -> None:
        conn = await asyncpg.connect(plain, timeout=10)
        try:
            if create:
                await conn.execute(f'CREATE DATABASE "{name}"')
            else:
                await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await conn.close()

    asyncio.run(run())
    return url.set(database=name).render_as_string(hide_password=False)


def washgate_command() -> list[str]:
    script = Path(sys.executable).with_name("washgate")
    if script.exists():
        return [str(script)]
    found = shutil.which("washgate")
    if found:
        return [found]
    sys.exit("bench: the `washgate` command is not installed (pip install -e . in the project)")


def washgate_env(database_url: str, accounts: int) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if not key.startswith("WASHGATE_")}
    test_phones = ",".join(f"+{ACCOUNT_PHONE_BASE + i}={TEST_CODE}" for i in range(accounts))
    env.update(
        WASHGATE_DATABASE_URL=database_url,
        WASHGATE_ENV="development",
        WASHGATE_OTP_LENGTH="4",
        WASHGATE_OTP_RESEND_SECONDS="0",
        WASHGATE_SMS_DAILY_QUOTA="1000000",
        WASHGATE_IP_SENDS_PER_HOUR="100000000",
        WASHGATE_SMS_HOURLY_LIMIT="100000000",
        WASHGATE_PHONE_LOCK_FAILURES="1000000",
        WASHGATE_ACCESS_TOKEN_TTL_SECONDS="86400",
        WASHGATE_TEST_PHONES=test_phones,
    )
    return env


def register_accounts(port: int, accounts: int) -> tuple[list[str], list[str]]:
    """Register `accounts` test-phone accounts (their fixed code needs no send); phones and access tokens."""
    phones, tokens = [], []
    connection = http.client.HTTPConnection(HOST, port, timeout=30)
    try:
        for i in range(accounts):
            phone = f"+{ACCOUNT_PHONE_BASE + i}"
            body = {
                "phone": phone,
                "otp": TEST_CODE,
                "isTermsAccepted": True,
                "isPromoTermsAccepted": False,
                "name": f"Bench {i}",
            }
            connection.request(
                "POST", "/api/v2/auth/register", body=json.dumps(body), headers={"Content-Type": "application/json"}
            )
            response = connection.getresponse()
            raw = response.read()
            if response.status != 201:
                raise RuntimeError(f"registering {phone} answered {response.status}: {raw[:300]!r}")
            phones.append(phone)
            tokens.append(json.loads(raw)["data"]["tokens"]["accessToken"])
    finally:
        connection.close()
    return phones, tokens


# --- load generation --------------------------------------------------------------------------


class Generator:
    """Runs one timed load with wrk (preferred) or bench/loadgen.py; one client thread/process."""

    def __init__(self, kind: str, connections: int, workdir: Path, cpus: set[int] | None = None) -> None:
        self.kind = kind
        self.cpus = cpus
        self.connections = connections
        self.workdir = workdir
        self.block = 0
        self.value_files: dict[str, Path] = {}

    @staticmethod
    def detect(wanted: str) -> str:
        if wanted in ("auto", "wrk") and shutil.which("wrk"):
            return "wrk"
        if wanted == "wrk":
            sys.exit("bench: --generator wrk but `wrk` is not installed (apt-get install wrk)")
        return "python"

    def describe(self) -> str:
        if self.kind == "wrk":
            version = subprocess.run(["wrk", "--version"], capture_output=True, text=True).stdout.split("\n")[0]
            name = version.split(" Copyright")[0].strip()
            return f"wrk ({name}), 1 thread, {self.connections} connections, bench/wrk.lua"
        return f"python asyncio streams (bench/loadgen.py, own process), {self.connections} connections"

    def set_values(self, source: str, values: list[str]) -> None:
        path = self.workdir / f"values_{source}.txt"
        path.write_text("\n".join(values) + "\n")
        self.value_files[source] = path

    def _source(self, scenario: Scenario) -> str:
        if scenario.source == "seq":
            self.block += 1
            return f"seq:{SEND_PHONE_PREFIX}:{self.block * SEQUENCE_BLOCK}"
        return f"file:{self.value_files[scenario.source]}"

    def run(self, scenario: Scenario, port: int, duration: float) -> dict[str, Any]:
        source = self._source(scenario)
        if self.kind == "wrk":
            command = [
                "wrk",
                "-t1",
                f"-c{self.connections}",
                f"-d{max(1, round(duration))}s",
                "--timeout",
                "5s",
                "-s",
                str(BENCH_DIR / "wrk.lua"),
                f"http://{HOST}:{port}",
                "--",
                scenario.path,
                scenario.body_pre,
                scenario.body_post,
                scenario.header_name,
                scenario.header_pre,
                scenario.expect,
                source,
            ]
        else:
            spec = self.workdir / f"spec_{scenario.name}.json"
            spec.write_text(
                json.dumps(
                    {
                        "path": scenario.path,
                        "body_pre": scenario.body_pre,
                        "body_post": scenario.body_post,
                        "header_name": scenario.header_name,
                        "header_pre": scenario.header_pre,
                        "expect": scenario.expect,
                        "source": source,
                    }
                )
            )
            command = [
                sys.executable,
                str(BENCH_DIR / "loadgen.py"),
                "--port",
                str(port),
                "--duration",
                str(duration),
                "--connections",
                str(self.connections),
                "--spec",
                str(spec),
            ]
        completed = subprocess.run(
            command, capture_output=True, text=True, timeout=duration + 60, preexec_fn=pin_to(self.cpus)
        )
        for line in completed.stdout.splitlines():
            if line.startswith("BENCH_JSON "):
                return json.loads(line[len("BENCH_JSON ") :])
        raise RuntimeError(
            f"load generator printed no result (exit {completed.returncode}):\n"
            f"{completed.stdout[-2000:]}\n{completed.stderr[-2000:]}"
        )


def machine_busy_seconds() -> float:
    """CPU seconds the whole machine spent busy (all cores), from /proc/stat."""
    fields = [int(value) for value in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)
    return (sum(fields[:8]) - idle) / os.sysconf("SC_CLK_TCK")


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def smoke_check(scenario: Scenario, port: int, value: str) -> str | None:
    """One request of the scenario; None when it succeeds, else what came back."""
    headers: dict[str, str] = {}
    if scenario.header_name:
        headers[scenario.header_name] = scenario.header_pre + value
        raw = scenario.body_pre + scenario.body_post
    else:
        raw = scenario.body_pre + value + scenario.body_post
    connection = http.client.HTTPConnection(HOST, port, timeout=10)
    try:
        connection.request(
            "POST", scenario.path, body=raw.encode(), headers={"Content-Type": "application/json", **headers}
        )
        response = connection.getresponse()
        body = response.read().decode(errors="replace")
    finally:
        connection.close()
    if 200 <= response.status <= 299 and scenario.expect in body:
        return None
    return f"HTTP {response.status}: {body[:500]}"


def measure(
    generator: Generator, scenario: Scenario, server: Server, port: int, args: argparse.Namespace, smoke_value: str
) -> Result:
    result = Result(scenario)
    problem = smoke_check(scenario, port, smoke_value)
    if problem is not None:
        result.errors = 1
        result.note = f"smoke request failed: {problem}"
        return result
    if args.warmup > 0:
        generator.run(scenario, port, args.warmup)
    profiler = start_profiler(args, scenario, server)
    machine_before = machine_busy_seconds()
    cpu_before, gen_before, started = server.cpu_seconds(), children_cpu(), time.perf_counter()
    raw = generator.run(scenario, port, args.duration)
    elapsed = time.perf_counter() - started
    server_cpu_seconds = server.cpu_seconds() - cpu_before
    generator_seconds = children_cpu() - gen_before  # the generator has been reaped; py-spy not yet
    machine_seconds = machine_busy_seconds() - machine_before
    finish_profiler(profiler, scenario)
    result.server_cpu = server_cpu_seconds / elapsed
    result.generator_cpu = generator_seconds / elapsed
    result.other_cpu = max(0.0, machine_seconds - server_cpu_seconds - generator_seconds) / elapsed
    seconds = raw["duration_us"] / 1e6
    result.requests = int(raw["requests"])
    result.rps = result.requests / seconds if seconds else 0.0
    result.cpu_ms_per_request = 1000 * server_cpu_seconds / result.requests if result.requests else 0.0
    result.p50_ms = raw["p50_us"] / 1000
    result.p99_ms = raw["p99_us"] / 1000
    result.max_ms = raw["max_us"] / 1000
    # wrk's "status" errors (HTTP >= 400) are already among the bad responses.
    result.error_detail = {
        key: int(raw[key]) for key in ("bad_responses", "connect", "read", "write", "timeout") if raw[key]
    }
    result.errors = sum(result.error_detail.values())
    return result


# --- profiling (optional) ---------------------------------------------------------------------


def start_profiler(args: argparse.Namespace, scenario: Scenario, server: Server) -> subprocess.Popen[bytes] | None:
    if not args.profile or scenario.target != "washgate":
        return None
    py_spy = Path(sys.executable).with_name("py-spy")
    command = str(py_spy) if py_spy.exists() else shutil.which("py-spy")
    if command is None:
        sys.exit("bench: --profile needs py-spy (pip install py-spy)")
    out = Path(args.profile) / f"{scenario.name}.txt"
    return subprocess.Popen(
        [
            command,
            "record",
            "--pid",
            str(server.pid),
            "--duration",
            str(max(1, round(args.duration))),
            "--rate",
            "200",
            "--format",
            "raw",
            "--threads",
            "--output",
            str(out),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )


def finish_profiler(profiler: subprocess.Popen[bytes] | None, scenario: Scenario) -> None:
    if profiler is None:
        return
    try:
        _, err = profiler.communicate(timeout=30)
    except subprocess.TimeoutExpired:
        profiler.kill()
        _, err = profiler.communicate()
    if profiler.returncode != 0:
        print(f"  py-spy failed for {scenario.name}: {err.decode(errors='replace')[-500:]}", file=sys.stderr)


# --- report -----------------------------------------------------------------------------------


def print_report(
    results: list[Result], rss: dict[str, float], args: argparse.Namespace, generator: Generator
) -> list[tuple[str, bool]]:
    print()
    print(f"load generator: {generator.describe()}; {args.duration:g} s per scenario after {args.warmup:g} s warm-up")
    pinned = f"; pinned: {args.pinned}" if args.pinned else ""
    print(f"server: washgate serve (uvloop, httptools, 1 worker, no access log), {args.db_label}{pinned}")
    print()
    header = (
        f"{'scenario':<34}{'req/s':>9}{'p50 ms':>9}{'p99 ms':>9}{'errors':>8}{'ratio':>8}"
        f"{'srv CPU':>9}{'CPU ms/req':>11}{'gen CPU':>9}{'other':>7}"
    )
    print(header)
    print("-" * len(header))
    for r in results:
        ratio = f"{r.ratio:.3f}" if r.ratio is not None else "-"
        print(
            f"{r.scenario.label:<34}{r.rps:>9.0f}{r.p50_ms:>9.2f}{r.p99_ms:>9.2f}{r.errors:>8}{ratio:>8}"
            f"{r.server_cpu:>8.0%} {r.cpu_ms_per_request:>10.3f} {r.generator_cpu:>8.0%}{r.other_cpu:>6.0%}"
        )
    print(f"(CPU columns in % of one core of {os.cpu_count()}; 'other' is every other process on the machine)")
    busy = max((r.other_cpu for r in results), default=0.0)
    if busy > 0.25:
        print(
            f"WARNING: other processes used up to {busy:.0%} of a core during the run: req/s and latencies are "
            "depressed; CPU ms/req is the steadier number. Run again on a quiet machine."
        )
    print()
    for name, value in rss.items():
        print(f"RSS at the end ({name}): {value:.1f} MiB")
    for r in results:
        if r.error_detail or r.note:
            print(f"errors in {r.scenario.name}: {r.error_detail} {r.note}".rstrip())
    print()
    goals: list[tuple[str, bool]] = []
    by_name = {r.scenario.name: r for r in results}
    for name, minimum in RATIO_GOALS.items():
        if name in by_name and by_name[name].ratio is not None:
            ratio = by_name[name].ratio
            goals.append((f"{name}: ratio {ratio:.3f} >= {minimum}", ratio >= minimum))
    for r in results:
        if r.scenario.target == "washgate":
            goals.append((f"{r.scenario.name}: p99 {r.p99_ms:.1f} ms <= {P99_GOAL_MS:g} ms", r.p99_ms <= P99_GOAL_MS))
    total_errors = sum(r.errors for r in results)
    goals.append((f"errors: {total_errors} == 0", total_errors == 0))
    if "washgate" in rss:
        goals.append((f"washgate RSS {rss['washgate']:.1f} MiB < {RSS_GOAL_MIB:g} MiB", rss["washgate"] < RSS_GOAL_MIB))
    print("goals:")
    for text, ok in goals:
        print(f"  {'PASS' if ok else 'MISS'}  {text}")
    return goals


def parse_args() -> argparse.Namespace:
    names = [s.name for s in scenarios()]
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--duration", type=float, default=10.0, help="seconds of measured load per scenario [10]")
    parser.add_argument("--warmup", type=float, default=2.0, help="seconds of unmeasured load before each [2]")
    parser.add_argument("--connections", type=int, default=32, help="concurrent keep-alive connections [32]")
    parser.add_argument(
        "--accounts", type=int, default=200, help="accounts registered for the login/me scenarios [200]"
    )
    parser.add_argument("--scenarios", default=",".join(names), help=f"comma-separated subset of: {','.join(names)}")
    parser.add_argument(
        "--generator",
        choices=("auto", "wrk", "python"),
        default="auto",
        help="load generator: wrk when installed (auto), or the Python fallback [auto]",
    )
    parser.add_argument("--port", type=int, default=8106, help="washgate's port on 127.0.0.1 [8106]")
    parser.add_argument("--baseline-port", type=int, default=8107, help="the baseline's port on 127.0.0.1 [8107]")
    parser.add_argument(
        "--postgres",
        metavar="ADMIN_URL",
        default=None,
        help="run washgate on a fresh temporary PostgreSQL database created through ADMIN_URL "
        "(e.g. postgresql+asyncpg://postgres@127.0.0.1:5432/postgres) and dropped afterwards, instead of SQLite",
    )
    parser.add_argument(
        "--profile",
        metavar="DIR",
        default=None,
        help="record each washgate scenario with py-spy into DIR/<scenario>.txt (collapsed stacks; "
        "summarise with bench/profile_report.py); numbers are disturbed by the sampling",
    )
    parser.add_argument(
        "--pin",
        action="store_true",
        help="pin the servers to CPU 0 and the load generator to CPU 1 (steadier numbers)",
    )
    parser.add_argument("--json", metavar="FILE", default=None, help="also write the results as JSON")
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory (database, server logs)")
    args = parser.parse_args()
    args.selected = [s for s in scenarios() if s.name in args.scenarios.split(",")]
    unknown = set(args.scenarios.split(",")) - set(names)
    if unknown or not args.selected:
        parser.error(f"unknown scenarios: {', '.join(sorted(unknown)) or '(none given)'}")
    if args.duration <= 0 or args.connections <= 0 or args.accounts <= 0:
        parser.error("--duration, --connections and --accounts must be positive")
    return args


def main() -> int:
    args = parse_args()
    for port in (args.port, args.baseline_port):
        if port_in_use(port):
            print(f"bench: port {port} on {HOST} is already in use; choose another with --port/--baseline-port")
            return 2
    workdir = Path(tempfile.mkdtemp(prefix="washgate-bench-"))
    if args.profile:
        Path(args.profile).mkdir(parents=True, exist_ok=True)
    postgres_name = None
    if args.postgres:
        postgres_name = f"washgate_bench_{uuid.uuid4().hex[:12]}"
        database_url = postgres_database(args.postgres, postgres_name, create=True)
        args.db_label = f"database: fresh temporary PostgreSQL ({postgres_name})"
    else:
        database_url = f"sqlite+aiosqlite:///{workdir / 'bench.db'}"
        args.db_label = "database: fresh temporary SQLite"
    server_cpus: set[int] | None = None
    generator_cpus: set[int] | None = None
    args.pinned = ""
    if args.pin:
        available = sorted(os.sched_getaffinity(0))
        if len(available) < 2:
            sys.exit("bench: --pin needs at least 2 CPUs")
        server_cpus, generator_cpus = {available[0]}, {available[1]}
        args.pinned = f"server on CPU {available[0]}, generator on CPU {available[1]}"
    generator = Generator(Generator.detect(args.generator), args.connections, workdir, generator_cpus)
    print(f"bench: {generator.describe()}; work dir {workdir}", flush=True)
    results: list[Result] = []
    rss: dict[str, float] = {}
    exit_code = 0
    baseline: Server | None = None
    washgate: Server | None = None
    try:
        by_target = {t: [s for s in args.selected if s.target == t] for t in ("baseline", "washgate")}
        if by_target["baseline"]:
            baseline = Server(
                "baseline",
                [sys.executable, str(BENCH_DIR / "baseline_app.py"), "--port", str(args.baseline_port)],
                dict(os.environ),
                workdir,
                workdir / "baseline.log",
                server_cpus,
            )
            if not baseline.wait_ready(args.baseline_port, "/healthz", 30):
                print(f"bench: the baseline server did not start:\n{baseline.log_tail()}", file=sys.stderr)
                return 2
            for scenario in by_target["baseline"]:
                print(f"bench: running {scenario.name} ...", flush=True)
                results.append(measure(generator, scenario, baseline, args.baseline_port, args, "+79900000000"))
            rss["baseline"] = baseline.rss_mib()
            baseline.stop()
            baseline = None
        if by_target["washgate"]:
            washgate = Server(
                "washgate",
                [*washgate_command(), "serve", "--port", str(args.port), "--no-access-log"],
                washgate_env(database_url, args.accounts),
                workdir,
                workdir / "washgate.log",
                server_cpus,
            )
            if not washgate.wait_ready(args.port, "/readyz", 90):
                print(f"bench: washgate did not become ready:\n{washgate.log_tail()}", file=sys.stderr)
                return 2
            print(f"bench: washgate ready (pid {washgate.pid}); registering {args.accounts} accounts ...", flush=True)
            phones, tokens = register_accounts(args.port, args.accounts)
            generator.set_values("accounts", phones)
            generator.set_values("tokens", tokens)
            smoke = {"seq": "+79900000000", "accounts": phones[0], "tokens": tokens[0]}
            for scenario in by_target["washgate"]:
                print(f"bench: running {scenario.name} ...", flush=True)
                results.append(measure(generator, scenario, washgate, args.port, args, smoke[scenario.source]))
            rss["washgate"] = washgate.rss_mib()
    except Exception as exc:
        print(f"bench: {type(exc).__name__}: {exc}", file=sys.stderr)
        for server in (baseline, washgate):
            if server is not None:
                print(f"--- {server.name} log tail ---\n{server.log_tail()}", file=sys.stderr)
        exit_code = 1
    finally:
        for server in (baseline, washgate):
            if server is not None:
                server.stop()
        if not args.keep:
            shutil.rmtree(workdir, ignore_errors=True)
        if postgres_name is not None:
            postgres_database(args.postgres, postgres_name, create=False)

    base = next((r for r in results if r.scenario.name == "baseline"), None)
    for r in results:
        if base is not None and base.rps:
            r.ratio = r.rps / base.rps
    print_report(results, rss, args, generator)
    if args.json:
        Path(args.json).write_text(
            json.dumps(
                {
                    "generator": generator.kind,
                    "duration": args.duration,
                    "connections": args.connections,
                    "rss_mib": rss,
                    "results": [
                        {
                            "scenario": r.scenario.name,
                            "rps": r.rps,
                            "p50_ms": r.p50_ms,
                            "p99_ms": r.p99_ms,
                            "max_ms": r.max_ms,
                            "errors": r.errors,
                            "ratio": r.ratio,
                            "server_cpu": r.server_cpu,
                            "generator_cpu": r.generator_cpu,
                            "note": r.note,
                        }
                        for r in results
                    ],
                },
                indent=2,
            )
        )
    if args.profile:
        print(
            f"\nprofiles in {args.profile}/ (summarise: python bench/profile_report.py {args.profile}/<scenario>.txt)"
        )
    if exit_code == 0 and any(r.errors for r in results):
        exit_code = 1
    return exit_code


if __name__ == "__main__":
    sys.exit(main())
