"""One code path for one or many processes (issue 11): `serve --all`
exposes every leaking process in /metrics and in /debug/pprof/heap (as `go
tool pprof` reads it, per pid label); two Python processes under --comm
each get their own lines; leak classes come from leakscope's own 1 s clock
(present in the second report of `-p PID 8 2`); a closed stdout ends the
trace with a non-zero exit and nothing attached; `record --format html`
of a live fixture draws in a real browser."""
import json
import os
import re
import shutil
import signal
import subprocess
import time
import urllib.request

import pytest

from conftest import (FIXTURES, LEAKSCOPE, ROOT, default_sigint, free_port, go_pprof,
                      leakscope_programs_loaded)
import expected

TIMEOUT = 120


def get(url):
    with urllib.request.urlopen(url, timeout=10) as r:
        return r.read()


def series(text, name):
    """{pid label: value} of a metric family."""
    out = {}
    for line in text.splitlines():
        m = re.match(name + r'\{pid="([^"]+)".*\} (\S+)$', line)
        if m:
            out[m.group(1)] = out.get(m.group(1), 0) + float(m.group(2))
    return out


def start_serve(*args):
    p = subprocess.Popen([str(LEAKSCOPE), "serve", "--listen", "127.0.0.1:0", *args, "1"],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                         preexec_fn=default_sigint)
    port, lines = None, []
    for _ in range(20):
        line = p.stderr.readline()
        lines.append(line)
        m = re.search(r"on port (\d+)", line)
        port = port or (m and m.group(1))
        if "tracing" in line:
            break
    assert port and "tracing" in lines[-1], "".join(lines)
    return p, f"http://127.0.0.1:{port}"


def test_serve_all_exposes_each_process(fixture_proc, tmp_path):
    a, b = fixture_proc("leaks"), fixture_proc("leaks")
    p, url = start_serve("--all")
    try:
        assert a.step() == "done" and b.step() == "done"
        want = sum(v[0] for v in expected.LEAKS.values())
        deadline = time.time() + 30
        while time.time() < deadline:
            time.sleep(1)
            text = get(url + "/metrics").decode()
            got = series(text, "leakscope_outstanding_bytes")
            if got.get(str(a.pid), 0) >= want and got.get(str(b.pid), 0) >= want:
                break
        assert got.get(str(a.pid)) == want and got.get(str(b.pid)) == want, text
        assert re.search(r'leakscope_outstanding_bytes\{pid="%d",comm="leaks"' % a.pid, text)
        assert "# TYPE leakscope_processes gauge" in text
        prof = tmp_path / "heap.pb.gz"
        prof.write_bytes(get(url + "/debug/pprof/heap"))
        # each process's leaks under its own pid label, as pprof reads it
        for f in (a, b):
            top = go_pprof(tmp_path, "-top", "-nodecount=1000", "-unit=B",
                           "-sample_index=inuse_space", f"-tagfocus=pid={f.pid}", str(prof))
            assert "leak_big_malloc" in top and "leak_mmap" in top, top
            assert re.search(r"^\s*%dB .* leak_big_malloc$" % expected.LEAKS["leak_big_malloc"][0],
                             top, re.M), top
        # `/`: the HTML report of the live data, both processes in it
        from test_html_report import embedded_data
        page = get(url + "/").decode()
        data = embedded_data(page)
        assert {a.pid, b.pid} <= {s["pid"] for s in data["stacks"]}
        assert data["total_series"]
        raw = go_pprof(tmp_path, "-raw", str(prof))
        assert f"pid:[{a.pid}]" in raw.replace(" ", "") or f"pid:[{a.pid}" in raw
    finally:
        p.send_signal(signal.SIGTERM)
        _, err = p.communicate(timeout=TIMEOUT)
    assert p.returncode == 0, err
    assert not leakscope_programs_loaded()


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
        self.proc.wait(timeout=TIMEOUT)
        reports = [json.loads(l) for l in self.out.read_text().splitlines()]
        return self.proc.returncode, reports[-1] if reports else None, self.err.read_text()


def start_script(interp, script, text):
    """interp running script (text), once it printed "ready"."""
    script.write_text(text)
    p = subprocess.Popen([str(interp), str(script)], stdin=subprocess.PIPE,
                         stdout=subprocess.PIPE, text=True)
    assert p.stdout.readline().strip() == "ready"
    return p


def go(procs):
    """Each script leaks now (the "go" line), and says when it has."""
    for p in procs:
        p.stdin.write("go\n")
        p.stdin.flush()
        assert p.stdout.readline().strip() == "done"


def kill_all(procs):
    for p in procs:
        p.kill()
        p.wait()


PY_SCRIPT = """\
import sys, time
keep = []
def leak_{name}():
    keep.append(bytearray(100000))   # LINE
print("ready", flush=True)
sys.stdin.readline()
for _ in range(5):
    leak_{name}()
print("done", flush=True)
sys.stdin.readline()
"""


def test_two_pythons_under_comm_each_get_their_lines(tmp_path):
    python = "/usr/bin/python3.11"
    if not os.path.exists(python):
        pytest.skip("Debian's python3.11 is not installed")
    # a name of their own (--comm picks them alone) that does not say
    # "python": the interpreter is found as the process's executable
    interp = tmp_path / "leaky-svc"
    shutil.copy(python, interp)
    procs = [(name, start_script(interp, tmp_path / f"{name}.py", PY_SCRIPT.format(name=name)),
              tmp_path / f"{name}.py") for name in ("alpha", "beta")]
    t = Traced(tmp_path, "--json", "-n", "100", "--comm", "leaky-svc", "1")
    try:
        assert "every process named leaky-svc" in t.err.read_text(), t.err.read_text()
        time.sleep(1)
        go([p for _, p, _ in procs])
        time.sleep(2.5)
    finally:
        rc, last, err = t.stop()
        kill_all([p for _, p, _ in procs])
    assert rc == 0, err
    for name, p, script in procs:
        mine = [s for s in last["stacks"] if s["pid"] == p.pid]
        py = [f for s in mine for f in s["frames"] if f["python"]]
        assert any(f["function"] == f"leak_{name}" and f["file"] == str(script) and f["line"] == 4
                   for f in py), (name, mine[:3], err)
        other = "beta" if name == "alpha" else "alpha"
        assert not any(f["function"] == f"leak_{other}" for f in py)
        held = sum(s["outstanding_bytes"] for s in mine
                   if any(f["python"] and f["function"] == f"leak_{name}" for f in s["frames"]))
        assert held >= 5 * 100000, mine[:3]
    assert "Python frames in every stack of 2 processes" in err, err


def test_classes_in_the_second_report_of_8_2(service):
    """cache_leak: a 20 KB/s leak and a cache full after 4 s.  Reports at
    8 s and 16 s: the timeline samples every second, so the second report
    classes both (before: 5 reports, 40 s at this interval)."""
    p = subprocess.run([str(LEAKSCOPE), "--json", "-p", str(service.pid), "8", "2"],
                       capture_output=True, text=True, timeout=TIMEOUT)
    assert p.returncode == 0, p.stderr
    reports = [json.loads(l) for l in p.stdout.splitlines()]
    assert len(reports) == 2
    cls = {}
    for s in reports[1]["stacks"]:
        fns = [f["function"] for f in s["frames"]]
        for fn in ("leak_unbounded", "cache_insert"):
            if fn in fns:
                cls[fn] = s["class"]
    assert cls == {"leak_unbounded": "growing", "cache_insert": "plateau"}, reports[1]["stacks"][:2]


def test_closed_stdout_ends_with_an_error_and_detaches(service):
    sh = subprocess.run(["bash", "-c", f"set -o pipefail; {LEAKSCOPE} -p {service.pid} 1 "
                         "| head -1"], capture_output=True, text=True, timeout=TIMEOUT)
    assert sh.returncode != 0, sh.stderr
    assert "cannot write the report to stdout" in sh.stderr, sh.stderr
    assert "detaching" in sh.stderr
    assert not leakscope_programs_loaded()


def test_record_html_of_a_live_service_draws(service, tmp_path):
    from test_html_report import chromium_path, embedded_data, render
    if not chromium_path():
        pytest.skip("chromium is not installed (tools/install-deps.sh installs it)")
    out = tmp_path / "leak.html"
    p = subprocess.run([str(LEAKSCOPE), "record", "--duration", "12s", "--format", "html",
                        "-o", str(out), "-p", str(service.pid)],
                       capture_output=True, text=True, timeout=TIMEOUT)
    assert p.returncode == 0, p.stderr
    html = out.read_text()
    data = embedded_data(html)
    classes = {}
    for s in data["stacks"]:
        names = [f.get("function") for f in s["frames"]]
        for fn in ("leak_unbounded", "cache_insert"):
            if fn in names:
                classes[fn] = s["class"]
                assert len(s["series"]) >= 10        # a point a second
    assert classes == {"leak_unbounded": "growing", "cache_insert": "plateau"}
    dom, errors = render(out, screenshot=ROOT / "build" / "record_html.png")
    assert not errors, errors
    assert "leak_unbounded" in dom


PYMALLOC_SCRIPT = """\
import sys
keep = []
print("ready", flush=True)
sys.stdin.readline()
for i in range(20000):
    keep.append((i, i + 1, str(i)))   # LINE
print("done", flush=True)
sys.stdin.readline()
"""


def test_pymalloc_with_several_pids(tmp_path):
    """--pymalloc with -p given twice: each interpreter's object allocator
    is probed for its own process; each one's tuples on its own line."""
    python = "/usr/bin/python3.11"
    if not os.path.exists(python):
        pytest.skip("Debian's python3.11 is not installed")
    procs = [(start_script(python, tmp_path / f"{name}.py", PYMALLOC_SCRIPT),
              tmp_path / f"{name}.py") for name in ("one", "two")]
    t = Traced(tmp_path, "--json", "-n", "1000", "--pymalloc", "-p", str(procs[0][0].pid),
               "-p", str(procs[1][0].pid), "1", until="tracing 2 processes")
    try:
        go([p for p, _ in procs])
        time.sleep(1.5)
    finally:
        rc, last, err = t.stop()
        kill_all([p for p, _ in procs])
    assert rc == 0, err
    for p, script in procs:
        mine = [s for s in last["stacks"] if s["pid"] == p.pid and
                any(f["python"] and f["file"] == str(script) and f["line"] == 6
                    for f in s["frames"])]
        blocks = sum(s["outstanding_allocs"] for s in mine)
        nbytes = sum(s["outstanding_bytes"] for s in mine)
        assert blocks >= 15000, (p.pid, blocks, err)     # tuples and strs (some from free lists)
        assert nbytes / blocks <= 512                    # objects, not arenas


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


def test_all_finds_an_interpreter_embedded_under_another_name(tmp_path):
    """--all: a program whose name and executable do not say python but
    that maps a libpython (uwsgi-like) gets Python frames from its first
    allocation on, whether it ran before leakscope started or after."""
    import glob
    found = sorted(glob.glob(os.path.expanduser("~/.pyenv/versions/3.12*/bin/python3.12")))
    if not found:
        pytest.skip("no pyenv CPython 3.12 (a shared libpython) here")
    exe = tmp_path / "svc-embed"
    shutil.copy(found[0], exe)

    def start(name):
        script = tmp_path / f"{name}.py"
        return start_script(exe, script, PY_SCRIPT.format(name=name)), script

    procs = [start("before")]
    t = Traced(tmp_path, "--json", "-n", "1000", "--all", "1")
    try:
        procs.append(start("after"))
        time.sleep(1)
        go([p for p, _ in procs])
        time.sleep(2.5)
    finally:
        rc, last, err = t.stop()
        kill_all([p for p, _ in procs])
    assert rc == 0, err
    for (p, script), name in zip(procs, ("before", "after")):
        mine = [s for s in last["stacks"] if s["pid"] == p.pid]
        assert any(f["python"] and f["function"] == f"leak_{name}" and f["file"] == str(script)
                   and f["line"] == 4 for s in mine for f in s["frames"]), (name, mine[:2], err)
