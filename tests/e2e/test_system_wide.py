"""Several processes at once: --all (every process on the host), --comm,
and -p given twice.  Each leak is attributed to its own process and
function; a process that exits disappears from the report (counted)."""
import json
import os
import subprocess
import time

from conftest import (LEAKSCOPE, Traced, default_sigint, leakscope_programs_loaded,
                      text_mapping_intact, is_libc)
import expected


class Tracer:
    def __init__(self, *args):
        self.proc = subprocess.Popen([str(LEAKSCOPE), "--json", "-n", "1000", *args, "1"],
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                     preexec_fn=default_sigint)
        line = self.proc.stderr.readline()
        if "tracing" not in line:
            self.proc.kill()
            raise AssertionError(line + self.proc.communicate(timeout=60)[1])
        self.started = line

    def next_report(self):
        return json.loads(self.proc.stdout.readline())

    def stop(self):
        self.proc.send_signal(2)
        out, err = self.proc.communicate(timeout=90)
        assert self.proc.returncode == 0, err
        return [json.loads(l) for l in out.splitlines()], err


def per_process_functions(report):
    """{pid: {innermost function: (bytes, blocks)}}"""
    out = {}
    for s in report["stacks"]:
        fn = s["frames"][0]["function"] if s["frames"] else None
        d = out.setdefault(s["pid"], {})
        b, n = d.get(fn, (0, 0))
        d[fn] = (b + s["outstanding_bytes"], n + s["outstanding_allocs"])
    return out


def test_all_attributes_each_process_and_drops_the_exited(fixture_proc):
    a, b, c = fixture_proc("leaks"), fixture_proc("cxx_leaks"), fixture_proc("leaks")
    t = Tracer("--all")
    assert "every process" in t.started
    assert a.step() == "done" and b.step() == "done" and c.step() == "done"
    t.next_report()
    assert c.step().startswith("ok")            # c exits now
    c.proc.wait()
    for _ in range(3):                          # a report after the exit
        last = t.next_report()
    reports, err = t.stop()
    last = reports[-1] if reports else last
    procs = {p["pid"]: p for p in last["processes"]}
    got = per_process_functions(last)
    for fn, want in expected.LEAKS.items():
        assert got[a.pid].get(fn) == want, (fn, got[a.pid].get(fn))
    for fn, want in expected.CXX.items():
        assert got[b.pid].get(fn) == want, (fn, got[b.pid].get(fn))
    assert "leak_malloc" not in got.get(b.pid, {})      # each leak in its own process
    assert procs[a.pid]["comm"] == "leaks" and procs[b.pid]["comm"] == "cxx_leaks"
    assert procs[a.pid]["outstanding_bytes"] >= sum(v[0] for v in expected.LEAKS.values())
    # the exited process: gone from the report, its records dropped and counted
    assert c.pid not in procs and c.pid not in got
    assert last["totals"]["exited_processes"] >= 1
    assert last["totals"]["exited_blocks"] >= sum(v[1] for v in expected.LEAKS.values())
    assert not leakscope_programs_loaded()
    assert text_mapping_intact(a.pid, is_libc) == 0


def test_comm_selects_by_name(fixture_proc):
    a, b = fixture_proc("leaks"), fixture_proc("cxx_leaks")
    t = Tracer("--comm", "cxx_leaks")
    assert "every process named cxx_leaks" in t.started
    assert a.step() == "done" and b.step() == "done"
    time.sleep(1.5)
    reports, _ = t.stop()
    pids = {p["pid"] for p in reports[-1]["processes"]}
    assert pids == {b.pid}
    got = per_process_functions(reports[-1])
    for fn, want in expected.CXX.items():
        assert got[b.pid].get(fn) == want


def test_several_pids(fixture_proc):
    a, b, other = fixture_proc("leaks"), fixture_proc("cxx_leaks"), fixture_proc("leaks")
    t = Tracer("-p", str(a.pid), "-p", str(b.pid))
    assert "tracing 2 processes" in t.started
    assert a.step() == "done" and b.step() == "done" and other.step() == "done"
    time.sleep(1.5)
    reports, _ = t.stop()
    pids = {p["pid"] for p in reports[-1]["processes"]}
    assert pids == {a.pid, b.pid}                 # not the third one
    got = per_process_functions(reports[-1])
    assert got[a.pid]["leak_malloc"] == expected.LEAKS["leak_malloc"]
    assert got[b.pid]["leak_arrays()"] == expected.CXX["leak_arrays()"]


def test_multi_option_errors():
    for args, msg in ((["--all", "-p", "1"], "no -p or -- CMD"),
                      (["--all", "--comm", "x"], "drop --all"),
                      (["--comm", "a" * 20], "--comm"),
                      (["probes", "--all"], "--all and --comm probe every C library")):
        p = subprocess.run([str(LEAKSCOPE), *args], capture_output=True, text=True, timeout=30)
        assert p.returncode == 2 and msg in p.stderr, (args, p.stderr)


STORM = """
import os, sys, time
end = time.monotonic() + float(sys.argv[1])
n = 0
while time.monotonic() < end:
    pid = os.posix_spawn("/bin/true", ["true"], os.environ)
    os.waitpid(pid, 0)
    n += 1
print(n)
"""


def test_fork_exec_storm_forgets_every_exit(tmp_path):
    """Hundreds of short processes a second under --all: every exit is
    forgotten (counted once, its blocks and stacks deleted), whatever the
    rate; the maps do not fill, nothing is dropped."""
    out = tmp_path / "reports.json"
    with open(out, "w") as f:                       # read at leisure: never a full pipe
        # reports every 5 s: 3,000 exits between two (leakscope forgot
        # at most 1,024 a report before)
        p = subprocess.Popen([str(LEAKSCOPE), "--json", "-n", "1000", "--all", "5"], stdout=f,
                             stderr=subprocess.PIPE, text=True, preexec_fn=default_sigint)
        assert "tracing" in p.stderr.readline()
        time.sleep(1.5)
        storm = subprocess.run(["python3", "-c", STORM, "20"], capture_output=True, text=True,
                               timeout=120, check=True)
        started = int(storm.stdout) + 1             # and the storm itself
        time.sleep(3)                               # the last exits: forgotten each second
        p.send_signal(2)
        _, err = p.communicate(timeout=90)
    assert p.returncode == 0, err
    reports = [json.loads(l) for l in out.read_text().splitlines()]
    first, last = reports[0], reports[-1]
    exited = last["totals"]["exited_processes"]     # since tracing began
    assert started > 2000, started                  # >= 100 a second
    assert started <= exited <= started + 100, (started, exited)   # + the host's own
    assert last["totals"]["dropped"] == 0, last["totals"]["drops"]
    dead = [q for q in last["processes"] if q["pid"] > 0 and
            not os.path.exists(f"/proc/{q['pid']}")]
    assert len(dead) <= 2, dead                      # exited in the report's last moment
    # the maps do not grow with the processes that came and went
    assert last["totals"]["outstanding_allocs"] < 2 * first["totals"]["outstanding_allocs"] + 1000
    assert leakscope_programs_loaded() == []


def test_several_pids_one_exits_the_other_stays_traced(fixture_proc, tmp_path):
    """-p A -p B: A exits first; B's anonymous mmaps and everything else
    are still traced (the tracepoints every process shares are the
    trace's, not A's)."""
    a, b = fixture_proc("leaks"), fixture_proc("leaks")
    t = Traced(tmp_path, "--json", "-n", "1000", "-p", str(a.pid), "-p", str(b.pid), "1",
               until="tracing 2 processes")
    try:
        a.close()                               # A goes first
        time.sleep(2.5)                         # forgotten (a report in between)
        assert b.step() == "done"
        time.sleep(1.5)
    finally:
        rc, last, err = t.stop()
    assert rc == 0, err
    got = {}
    for s in last["stacks"]:
        if s["pid"] == b.pid and s["frames"]:
            fn = s["frames"][0]["function"]
            n, blocks = got.get(fn, (0, 0))
            got[fn] = (n + s["outstanding_bytes"], blocks + s["outstanding_allocs"])
    for fn in ("leak_mmap", "leak_malloc", "leak_big_malloc"):
        assert got.get(fn) == expected.LEAKS[fn], (fn, got)
    assert last["totals"]["exited_processes"] >= 1
