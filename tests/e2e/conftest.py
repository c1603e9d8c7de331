"""Helpers for leakscope's end-to-end tests.

They run the real build/leakscope as root against the fixture programs in
build/fixtures and read its JSON Lines output.  Expected numbers live in
expected.py; expected source lines come from the "LINE:name" markers in the
fixtures' sources.
"""
import json
import os
import re
import signal
import socket
import subprocess
import time
from pathlib import Path

import pytest

from reports import by_function, marker_lines, parse_reports  # noqa: F401 (re-exported)

ROOT = Path(__file__).resolve().parents[2]
LEAKSCOPE = ROOT / "build" / "leakscope"
FIXTURES = ROOT / "build" / "fixtures"
SOURCES = ROOT / "tests" / "fixtures"
TIMEOUT = 60


def pytest_collection_modifyitems(config, items):
    if os.geteuid() != 0:
        skip = pytest.mark.skip(reason="end-to-end tests need root (BPF)")
        for item in items:
            item.add_marker(skip)


def first_frames(report, function):
    return [s["frames"][0] for s in report["stacks"]
            if s["frames"] and s["frames"][0]["function"] == function]


def run_command(fixture, *args, extra=()):
    """`leakscope --json -n 1000 [extra] -- fixture args`: all reports."""
    cmd = [str(LEAKSCOPE), "--json", "-n", "1000", *extra, "--",
           str(FIXTURES / fixture), *args]
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=TIMEOUT)
    assert p.returncode == 0, p.stderr
    reports = parse_reports(p.stdout)
    assert reports and reports[-1]["final"], p.stdout + p.stderr
    return reports, p


class Fixture:
    """A fixture started in 'wait' mode: it allocates PRE blocks, prints
    'ready', and waits for a line before leaking (see fixture_common.h)."""

    def __init__(self, name, *args):
        self.proc = subprocess.Popen([str(FIXTURES / name), "wait", *args],
                                     stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, text=True)
        assert self.readline() == "ready"
        self.pid = self.proc.pid

    def readline(self):
        return self.proc.stdout.readline().strip()

    def step(self):
        self.proc.stdin.write("go\n")
        self.proc.stdin.flush()
        return self.readline()

    def close(self):
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()


def default_sigint():
    """For Popen(preexec_fn=...): a test runner started in the background
    has SIGINT ignored, and children inherit that; an interactive user's
    Ctrl-C is SIG_DFL until leakscope installs its handler."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


class Tracer:
    """build/leakscope -p PID, in the background."""

    def __init__(self, pid, *args):
        self.proc = subprocess.Popen([str(LEAKSCOPE), *args, "-p", str(pid)],
                                     stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, text=True,
                                     preexec_fn=default_sigint)
        line = self.proc.stderr.readline()
        assert "tracing PID" in line, line + self.proc.stderr.read()
        self.started = line

    def stop(self, sig=signal.SIGINT):
        self.proc.send_signal(sig)
        return self.wait()

    def wait(self):
        out, err = self.proc.communicate(timeout=TIMEOUT)
        return self.proc.returncode, out, err


class Traced:
    """leakscope ARGS in the background, stdout and stderr in files (read
    at leisure: never a full pipe), until its stderr says `until`."""

    def __init__(self, tmp_path, *args, until="tracing"):
        self.out, self.err = tmp_path / "out.json", tmp_path / "err.txt"
        with open(self.out, "w") as out_f, open(self.err, "w") as err_f:
            self.proc = subprocess.Popen([str(LEAKSCOPE), *args], stdout=out_f, stderr=err_f,
                                         preexec_fn=default_sigint)
        deadline = time.time() + 60
        while until not in self.err.read_text() and time.time() < deadline:
            assert self.proc.poll() is None, self.err.read_text()
            time.sleep(0.1)

    def stop(self):
        """Ctrl-C; (exit status, the last report, stderr)."""
        self.proc.send_signal(signal.SIGINT)
        self.proc.wait(timeout=120)
        reports = [json.loads(l) for l in self.out.read_text().splitlines()]
        return self.proc.returncode, reports[-1] if reports else None, self.err.read_text()


def text_mapping_intact(pid, lib_pred):
    """Compares every executable mapping of matching libraries in the
    target's memory with the file: a uprobe left behind is an int3 byte
    that differs.  Returns the number of differing bytes."""
    diffs = 0
    with open(f"/proc/{pid}/maps") as maps, open(f"/proc/{pid}/mem", "rb") as mem:
        for line in maps:
            parts = line.split()
            if len(parts) < 6 or "x" not in parts[1] or not lib_pred(parts[5]):
                continue
            lo, hi = (int(x, 16) for x in parts[0].split("-"))
            off = int(parts[2], 16)
            mem.seek(lo)
            live = mem.read(hi - lo)
            with open(f"/proc/{pid}/root{parts[5]}", "rb") as f:
                f.seek(off)
                disk = f.read(hi - lo)
            n = min(len(live), len(disk))
            diffs += sum(1 for a, b in zip(live[:n], disk[:n]) if a != b)
    return diffs


def is_libc(path):
    return os.path.basename(path).startswith("libc.so")


def leakscope_programs_loaded():
    out = subprocess.run(["bpftool", "prog", "show"], capture_output=True,
                         text=True).stdout
    return [n for n in ("malloc_enter", "free_enter", "alloc_return")
            if f"name {n} " in out]


@pytest.fixture
def service():
    """cache_leak running on its own: an unbounded leak and a bounded cache."""
    p = subprocess.Popen([str(FIXTURES / "cache_leak"), "run"])
    yield p
    p.kill()
    p.wait()


def free_port():
    """A TCP port on loopback nobody listens on (now)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def fixture_proc():
    started = []

    def start(name, *args):
        f = Fixture(name, *args)
        started.append(f)
        return f
    yield start
    for f in started:
        f.close()


def go_pprof(tmp_path, *args):
    """`go tool pprof ARGS` (Debian's golang-go), offline, saving fetched
    profiles under tmp_path; returns its stdout."""
    env = dict(os.environ, HOME=str(tmp_path), PPROF_TMPDIR=str(tmp_path),
               GOCACHE=str(tmp_path / "gocache"), GOFLAGS="", GOTOOLCHAIN="local")
    p = subprocess.run(["go", "tool", "pprof", *args], capture_output=True,
                       text=True, timeout=120, env=env)
    assert p.returncode == 0, p.stderr
    return p.stdout


def pprof_top(tmp_path, source, index):
    """{function: flat value} of `go tool pprof -top` in raw units."""
    out = go_pprof(tmp_path, "-top", "-nodecount=100000", "-nodefraction=0",
                   "-edgefraction=0", "-unit=B" if index.endswith("space") else "-unit=count",
                   f"-sample_index={index}", str(source))
    flat = {}
    for line in out.splitlines():
        parts = line.split(None, 5)
        if len(parts) == 6 and parts[1].endswith("%") and parts[4].endswith("%"):
            flat[parts[5]] = int(parts[0].rstrip("B") or 0)
    return flat
