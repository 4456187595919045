"""Summarise a py-spy collapsed-stack file (`py-spy record --format raw`, as `bench/run.py --profile` writes).

    python bench/profile_report.py /tmp/prof/gql_me.txt [--top 25] [--focus TEXT]

Prints the share of samples per thread, the functions with the most samples on top
of the stack (self), the most samples anywhere on the stack (inclusive, washgate's
own code and the libraries' entry points), and self time per package. `--focus`
keeps only stacks that contain TEXT (e.g. `check_code`).
"""

from __future__ import annotations

import argparse
import re
from collections import Counter
from pathlib import Path

FRAME = re.compile(r"^(?P<func>.*) \((?P<file>[^()]*?)(?::(?P<line>\d+))?\)$")
OWN_PACKAGES = ("core/", "models/", "resolvers/", "rest_compat/", "schema/", "washgate/")


def parse(path: Path, focus: str | None) -> list[tuple[list[str], int]]:
    stacks = []
    for line in path.read_text(errors="replace").splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        if focus and focus not in stack:
            continue
        stacks.append((stack.split(";"), int(count)))
    return stacks


def name_of(frame: str) -> str:
    """`func (file)` without the line number, so one function is one row."""
    match = FRAME.match(frame)
    if not match:
        return frame
    return f"{match['file']}:{match['func']}"


def package_of(frame: str) -> str:
    match = FRAME.match(frame)
    file = match["file"] if match else frame
    if file.startswith(OWN_PACKAGES):
        return "washgate (" + file.split("/")[0] + ")"
    if "/" not in file:
        return file
    return file.split("/")[0]


def report(path: Path, top: int, focus: str | None) -> None:
    stacks = parse(path, focus)
    total = sum(count for _, count in stacks)
    if not total:
        print(f"{path}: no samples")
        return
    threads: Counter[str] = Counter()
    self_time: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    packages: Counter[str] = Counter()
    for frames, count in stacks:
        thread = frames[0] if frames[0].startswith("thread") else "?"
        threads[thread.split(":")[0] + (" " + frames[1].split(" (")[0] if len(frames) > 1 else "")] += count
        body = frames[1:] if frames[0].startswith("thread") else frames
        if not body:
            continue
        self_time[name_of(body[-1])] += count
        packages[package_of(body[-1])] += count
        for name in {name_of(frame) for frame in body}:
            inclusive[name] += count

    def show(title: str, counter: Counter[str], limit: int, keep=lambda name: True) -> None:
        print(f"\n{title}")
        shown = 0
        for name, count in counter.most_common():
            if not keep(name):
                continue
            print(f"  {100 * count / total:5.1f}%  {name}")
            shown += 1
            if shown >= limit:
                break

    print(f"{path}: {total} samples" + (f" in stacks containing {focus!r}" if focus else ""))
    show("threads", threads, 10)
    show("self time by package", packages, 15)
    show("self time by function", self_time, top)
    show("inclusive time, washgate's own functions", inclusive, top, lambda name: name.startswith(OWN_PACKAGES))
    libraries = ("strawberry/", "graphql/", "sqlalchemy/", "sqlmodel/", "starlette/", "aiosqlite/", "jwt/", "pydantic")
    show("inclusive time, library functions", inclusive, top, lambda name: name.startswith(libraries))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("files", nargs="+", type=Path)
    parser.add_argument("--top", type=int, default=25)
    parser.add_argument("--focus", default=None, help="only stacks containing this text")
    args = parser.parse_args()
    for path in args.files:
        report(path, args.top, args.focus)
        print()


if __name__ == "__main__":
    main()
