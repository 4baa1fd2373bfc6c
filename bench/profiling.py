"""Where the server's event loop spends its time: pyinstrument when installed, else cProfile.

pyinstrument samples the stack (1 ms) and barely slows the server; cProfile
traces every call, which inflates call-heavy code (graphql-core, strawberry)
and so overstates its share. Either way the result is the same summary:

- idle: time the loop's thread waited in epoll (for clients, PostgreSQL,
  aiosqlite's threads); busy: the rest;
- with several worker processes, each profiles its own loop and `summarise` adds them up;
- self time by library, C functions charged to the library that called them;
- the top functions by self time, the project's functions by cumulative time,
  and the cumulative time of a few named steps (`MILESTONES`).
"""

from __future__ import annotations

import cProfile
import pstats
import sysconfig
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
_LIBRARIES = [Path(sysconfig.get_paths()[key]).resolve() for key in ("purelib", "platlib")]
_STDLIB = Path(sysconfig.get_paths()["stdlib"]).resolve()
TOP = 15
# Steps of a request worth naming, found by file and function: time in them and what they called.
MILESTONES = {
    "GraphQL parsing (graphql-core `parse`)": [("graphql/language/parser.py", "parse")],
    "GraphQL validation (graphql-core `validate`)": [("graphql/validation/validate.py", "validate")],
    "caller from the token (`MarketGraphQL.get_context`)": [("app.py", "get_context")],
    "ORM queries (`Session.execute`, `Session.get`)": [
        ("sqlalchemy/orm/session.py", "execute"),
        ("sqlalchemy/orm/session.py", "get"),
    ],
    "ORM flush": [("sqlalchemy/orm/session.py", "flush")],
    "ORM commit, with the journal append": [("sqlalchemy/orm/session.py", "commit")],
    "DataLoader batches (`dispatch_batch`)": [("strawberry/dataloader.py", "dispatch_batch")],
    "response JSON (`MarketGraphQL.encode_json`)": [("app.py", "encode_json")],
}


def group_of(filename: str) -> str:
    """A distribution in site-packages, a stdlib module, or a top-level part of the project."""
    path = Path(filename).resolve()
    for site in _LIBRARIES:
        if path.is_relative_to(site):
            return path.relative_to(site).parts[0].removesuffix(".py")
    if path.is_relative_to(_STDLIB):
        return "stdlib " + path.relative_to(_STDLIB).parts[0].removesuffix(".py")
    if path.is_relative_to(ROOT):
        return "project " + path.relative_to(ROOT).parts[0].removesuffix(".py")
    return "other"


def short(filename: str, line: int, function: str) -> str:
    path = Path(filename).resolve()
    for base in (*_LIBRARIES, _STDLIB, ROOT):
        if path.is_relative_to(base):
            return f"{path.relative_to(base)}:{line} {function}"
    return f"{filename}:{line} {function}"


class Tally:
    def __init__(self):
        self.idle = 0.0
        self.groups: dict[str, float] = {}
        self.self_time: dict[str, float] = {}
        self.cumulative: dict[str, float] = {}
        self.milestones: dict[str, float] = {}

    def add_self(self, group: str, label: str, seconds: float) -> None:
        self.groups[group] = self.groups.get(group, 0.0) + seconds
        self.self_time[label] = self.self_time.get(label, 0.0) + seconds

    def to_json(self, name: str, wall: float) -> dict:
        """Everything measured (not yet cut to the top rows), so that workers' tallies can be added up."""
        return {"profiler": name, "wall_s": wall, "idle_s": self.idle, "groups": self.groups,
                "self_time": self.self_time, "cumulative": self.cumulative,
                "milestones": self.milestones}  # fmt: skip


def summarise(tallies: list[dict]) -> dict:
    """The tallies of the profiled worker processes added up; shares are of their summed busy time."""

    def added(key: str) -> dict[str, float]:
        total: dict[str, float] = {}
        for tally in tallies:
            for name, seconds in tally[key].items():
                total[name] = total.get(name, 0.0) + seconds
        return total

    groups, milestones = added("groups"), added("milestones")
    busy = sum(groups.values()) or 1e-9

    def top(values: dict[str, float]) -> list:
        return [[k, v / busy] for k, v in sorted(values.items(), key=lambda kv: -kv[1])[:TOP]]

    return {
        "profiler": tallies[0]["profiler"],
        "workers": len(tallies),
        "wall_s": max(t["wall_s"] for t in tallies),
        "threads_wall_s": sum(t["wall_s"] for t in tallies),
        "idle_s": sum(t["idle_s"] for t in tallies),
        "busy_s": busy,
        "groups": top(groups),
        "top_self": top(added("self_time")),
        "top_cumulative_project": top(added("cumulative")),
        "milestones": [[k, milestones.get(k, 0.0) / busy] for k in MILESTONES],
    }


def _is_idle(function: str) -> bool:
    return "epoll" in function and "poll" in function


def _milestone(filename: str, function: str) -> str | None:
    for name, places in MILESTONES.items():
        if any(function == fn and filename.endswith(path) for path, fn in places):
            return name
    return None


class Profile:
    """Started in the event loop's thread (from a signal handler the loop runs), it profiles that thread."""

    def __init__(self, name: str, profiler):
        self.name, self.profiler, self.started = name, profiler, time.perf_counter()

    @classmethod
    def start(cls) -> Profile:
        try:
            from pyinstrument import Profiler
        except ImportError:
            profiler = cProfile.Profile()
            profiler.enable()
            return cls("cProfile", profiler)
        profiler = Profiler(interval=0.001, async_mode="disabled")
        profiler.start()
        return cls("pyinstrument", profiler)

    def stop(self) -> dict:
        """This thread's tally as JSON (`summarise` turns one or several into shares)."""
        wall = time.perf_counter() - self.started
        tally = Tally()
        if self.name == "cProfile":
            self.profiler.disable()
            _tally_cprofile(tally, pstats.Stats(self.profiler).stats)
        else:
            self.profiler.stop()
            root = self.profiler.last_session.root_frame()
            if root is not None:
                _tally_frame(tally, root, "other", frozenset())
        return tally.to_json(self.name, wall)


def _borrowed(filename: str | None) -> bool:
    """C functions and generated code (namedtuple constructors, SQLAlchemy's compiled lambdas)."""
    return not filename or filename.startswith(("<", "~"))


def _tally_frame(tally: Tally, frame, caller_group: str, stack: frozenset) -> None:
    """Walk pyinstrument's call tree; `[self]` leaves hold each frame's own time."""
    borrowed = _borrowed(frame.file_path)
    group = caller_group if borrowed else group_of(frame.file_path)
    label = (
        f"{frame.function} [{group}]" if borrowed else short(frame.file_path, frame.line_no, frame.function)
    )
    if _is_idle(frame.function):
        tally.idle += frame.time
        return
    if group.startswith("project") and label not in stack:
        tally.cumulative[label] = tally.cumulative.get(label, 0.0) + frame.time
    milestone = None if borrowed else _milestone(frame.file_path, frame.function)
    if milestone and milestone not in stack:
        tally.milestones[milestone] = tally.milestones.get(milestone, 0.0) + frame.time
    inner = stack | {label, milestone}
    for child in frame.children:
        if child.is_synthetic:
            tally.add_self(group, label, child.time)
        else:
            _tally_frame(tally, child, group, inner)


def _tally_cprofile(tally: Tally, stats: dict) -> None:
    for (filename, line, function), (_cc, _nc, own, total, callers) in stats.items():
        if _is_idle(function):
            tally.idle += own
            continue
        if not _borrowed(filename):
            label = short(filename, line, function)
            tally.add_self(group_of(filename), label, own)
            if group_of(filename).startswith("project"):
                tally.cumulative[label] = tally.cumulative.get(label, 0.0) + total
            milestone = _milestone(filename, function)
            if milestone:
                tally.milestones[milestone] = tally.milestones.get(milestone, 0.0) + total
            continue
        for (caller_file, _line, _name), (_ccc, _cnc, caller_own, _ct) in callers.items():
            group = "other" if _borrowed(caller_file) else group_of(caller_file)
            tally.add_self(group, f"{function} [{group}]", caller_own)
