"""Python targets: leakscope attached live to CPython names the Python
lines that leak, classifies them, and agrees with tracemalloc.

Every interpreter present is tested: Debian's /usr/bin/python3.11
(libpython linked in statically) and pyenv's shared-libpython builds of
3.6 to 3.13 (a version not installed is skipped, saying so).

Several Python processes in one trace: two copies of an interpreter
under --comm, --pymalloc with -p twice, and --all finding an interpreter
embedded in a program of another name; each process's leak on its own
line.
"""
import glob
import json
import os
import shutil
import subprocess
import time

import pytest

from conftest import (LEAKSCOPE, ROOT, SOURCES, Traced, default_sigint,
                      leakscope_programs_loaded, marker_lines)

SCRIPT = SOURCES / "py_leaks.py"
LINES = marker_lines("py_leaks.py")
PYENV = os.environ.get("PYENV_ROOT", "/root/.pyenv")


def interpreter(pattern):
    found = sorted(glob.glob(pattern))
    return found[-1] if found else None


INTERPRETERS = {
    "debian-3.11-static": "/usr/bin/python3.11" if os.path.exists("/usr/bin/python3.11") else None,
    "pyenv-3.6-shared": interpreter(f"{PYENV}/versions/3.6.*/bin/python3.6"),
    "pyenv-3.7-shared": interpreter(f"{PYENV}/versions/3.7.*/bin/python3.7"),
    "pyenv-3.8-shared": interpreter(f"{PYENV}/versions/3.8.*/bin/python3.8"),
    "pyenv-3.9-shared": interpreter(f"{PYENV}/versions/3.9.*/bin/python3.9"),
    "pyenv-3.10-shared": interpreter(f"{PYENV}/versions/3.10.*/bin/python3.10"),
    "pyenv-3.11-shared": interpreter(f"{PYENV}/versions/3.11.*/bin/python3.11"),
    "pyenv-3.12-shared": interpreter(f"{PYENV}/versions/3.12.*/bin/python3.12"),
    "pyenv-3.13-shared": interpreter(f"{PYENV}/versions/3.13.*/bin/python3.13"),
}


# 3.6-3.10 with libpython linked statically (tests/fixtures/python/python.mk
# builds them from pyenv's libpython3.X.a): the static layout of versions
# Debian does not ship.
STATIC = {f"pyenv-3.{m}-static": str(ROOT / "build" / "pystatic" / f"3.{m}" / f"python3.{m}")
          for m in range(6, 11)}
INTERPRETERS.update({k: (v if os.path.exists(v) else None) for k, v in STATIC.items()})
LIVE = [k for k in INTERPRETERS if not k.endswith("-static")] + \
    ["pyenv-3.6-static", "pyenv-3.9-static"]


def minor(name):
    """10 for "pyenv-3.10-shared" """
    return int(name.split("-")[1].split(".")[1])


def need(name):
    path = INTERPRETERS[name]
    if not path:
        pytest.skip(f"{name}: interpreter not installed on this machine"
                    + (" (built from pyenv's libpython3.X.a)" if "static" in name and
                       not name.startswith("debian") else ""))
    return path


def start_fixture(python, seconds=60):
    p = subprocess.Popen([python, str(SCRIPT), "run", str(seconds)], stdout=subprocess.PIPE,
                         text=True)
    assert p.stdout.readline().strip() == "ready"
    return p


def first_python_line(stack):
    for f in stack["frames"]:
        if f["python"]:
            return f["line"], f["function"], f["file"]
    return None


def tracemalloc_top(python, n=3):
    """The n lines tracemalloc (inside the fixture) says grew most."""
    out = subprocess.run([python, str(SCRIPT), "tracemalloc", "3"], capture_output=True,
                         text=True, timeout=60, check=True).stdout
    rows = [line.rsplit(" ", 1) for line in out.splitlines()]
    rows = [(int(loc.rsplit(":", 1)[1]), int(size)) for loc, size in rows]
    return {line for line, size in sorted(rows, key=lambda r: -r[1])[:n]}


def classes_by_line(report):
    """{line: (class, bytes)} of each leak line, its biggest stack."""
    out = {}
    for s in report["stacks"]:
        where = first_python_line(s)
        if where and where[0] not in out:        # stacks come sorted by bytes
            out[where[0]] = (s["class"], s["outstanding_bytes"], where)
    return out


def trace_until_classified(pid, extra=()):
    """Reports every second until the leaks are classified (or 40 s)."""
    p = subprocess.Popen([str(LEAKSCOPE), "--json", "-n", "30", *extra, "-p", str(pid), "1"],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                         preexec_fn=default_sigint)
    last = None
    try:
        for n, line in enumerate(p.stdout):
            last = json.loads(line)
            got = classes_by_line(last)
            if n >= 6 and all(got.get(LINES[k], ("-",))[0] != "-" for k in
                              ("py_cache", "py_closure", "py_handler", "py_cycle", "py_deque")):
                break
            if n > 40:
                break
    finally:
        p.send_signal(2)
        _, err = p.communicate(timeout=60)
    assert p.returncode == 0, err
    return last, err


@pytest.mark.parametrize("name", LIVE)
def test_python_lines_classes_and_tracemalloc(name):
    python = need(name)
    oracle = tracemalloc_top(python)
    fx = start_fixture(python)
    try:
        report, err = trace_until_classified(fx.pid)
        assert "Python frames in every stack" in err
        got = classes_by_line(report)
        for leak in ("py_cache", "py_closure", "py_handler", "py_cycle"):
            cls, nbytes, (line, fn, file) = got[LINES[leak]]
            assert cls == "growing", (leak, got)
            assert file == str(SCRIPT)
        assert got[LINES["py_deque"]][0] == "plateau", got
        # the deque holds at most 100 x bytes(4096): a plateau at that bound
        assert 100 * 4096 <= got[LINES["py_deque"]][1] <= 100 * 4200
        assert got[LINES["py_closure"]][2][1] == "make_closure"
        # qualified names from 3.11 (co_qualname); the plain name before
        handler = "Handler.__init__" if minor(name) >= 11 else "__init__"
        assert got[LINES["py_handler"]][2][1] == handler
        # the independent oracle: tracemalloc's top growing lines
        growing = sorted(((b, line) for line, (cls, b, _) in got.items() if cls == "growing"),
                         reverse=True)
        assert {line for _, line in growing[:3]} == oracle
        assert fx.poll() is None                   # the target lives on
        gc = report["python"]["gc"]
        if name.startswith("debian"):                # built with USDT probes
            assert gc["collections"][0] > 0 and gc["pause_max_s"] > 0, gc
            assert gc["pause_p50_s"] <= gc["pause_max_s"]
        else:                                        # pyenv: built without them
            assert gc is None and "no gc__start/gc__done USDT probes" in err
    finally:
        fx.kill()
        fx.wait()
    assert not leakscope_programs_loaded()


@pytest.mark.parametrize("name", ["debian-3.11-static", "pyenv-3.6-shared", "pyenv-3.9-shared",
                                  "pyenv-3.10-shared"])
def test_python_only_and_folded(tmp_path, name):
    python = need(name)
    fx = start_fixture(python)
    out = tmp_path / "py.folded"
    try:
        p = subprocess.run([str(LEAKSCOPE), "record", "--python-only", "--format", "folded",
                            "--duration", "3", "-o", str(out), "-p", str(fx.pid)],
                           capture_output=True, text=True, timeout=60)
        assert p.returncode == 0, p.stderr
    finally:
        fx.kill()
        fx.wait()
    lines = out.read_text().splitlines()
    # root first, Python frames only: the module, run, tick, then the leak
    assert any(l.startswith("<module>;run;tick;cache_put ") for l in lines), lines
    handler = "Handler.__init__" if minor(name) >= 11 else "__init__"
    assert any(l.startswith(f"<module>;run;tick;subscribe;{handler} ") for l in lines)
    assert not any("??" in l or "python3." in l for l in lines), [l for l in lines if "??" in l or "python3." in l]


def test_unsupported_python_says_so_and_traces_natively(tmp_path):
    """Python 2.7: one line saying why, native stacks, exact C bytes."""
    python = interpreter(f"{PYENV}/versions/2.7.*/bin/python2.7")
    if not python:
        pytest.skip("no Python 2.7 on this machine")
    script = tmp_path / "leak27.py"
    script.write_text("import sys, time\nkept = []\nprint('ready'); sys.stdout.flush()\n"
                      "while True:\n    kept.append(b'x' * 100000)\n    time.sleep(0.05)\n")
    fx = subprocess.Popen([python, str(script)], stdout=subprocess.PIPE, text=True)
    assert fx.stdout.readline().strip() == "ready"
    try:
        p = subprocess.run([str(LEAKSCOPE), "--json", "-p", str(fx.pid), "1", "2"],
                           capture_output=True, text=True, timeout=60)
    finally:
        fx.kill()
        fx.wait()
    assert p.returncode == 0, p.stderr
    assert "Python 2.7 is not supported (3.6 to 3.13 are)" in p.stderr, p.stderr
    assert "native stacks only" in p.stderr
    reports = [json.loads(l) for l in p.stdout.splitlines()]
    assert reports[-1]["totals"]["outstanding_bytes"] >= 10 * 100000
    assert not any(f["python"] for s in reports[-1]["stacks"] for f in s["frames"])


def small_object_stacks(python, *extra):
    """The stacks of py_small.py's keep_small(), 3 s into a trace."""
    fx = subprocess.Popen([python, str(SOURCES / "py_small.py"), "60"], stdout=subprocess.PIPE,
                          text=True)
    assert fx.stdout.readline().strip() == "ready"
    try:
        p = subprocess.run([str(LEAKSCOPE), "--json", "-n", "20", *extra, "-p", str(fx.pid),
                            "3", "1"], capture_output=True, text=True, timeout=60)
    finally:
        fx.kill()
        fx.wait()
    assert p.returncode == 0, p.stderr
    report = json.loads(p.stdout.splitlines()[-1])
    small = marker_lines("py_small.py")["py_small"]
    return [s for s in report["stacks"]
            if first_python_line(s) and first_python_line(s)[1] == "keep_small"], small, p.stderr


@pytest.mark.parametrize("name", ["debian-3.11-static", "pyenv-3.12-shared", "pyenv-3.8-shared"])
def test_small_objects_arenas_by_default_objects_with_pymalloc(name):
    python = need(name)
    # default: pymalloc's arenas (mmap'd whole) show the growth, by line
    stacks, line, _ = small_object_stacks(python)
    arenas = [s for s in stacks if any(s["outstanding_bytes"] == s["outstanding_allocs"] * size
                                       for size in (256 << 10, 1 << 20))]
    assert sum(s["outstanding_bytes"] for s in arenas) >= 1 << 20, stacks
    assert line in {first_python_line(s)[0] for s in arenas}
    # --pymalloc: the objects themselves, on the line that made them
    stacks, line, err = small_object_stacks(python, "--pymalloc")
    mine = [s for s in stacks if first_python_line(s)[0] == line]
    blocks = sum(s["outstanding_allocs"] for s in mine)
    nbytes = sum(s["outstanding_bytes"] for s in mine)
    assert blocks >= 10000, (blocks, err)                # 2,000 tuples every 0.1 s
    assert nbytes / blocks <= 512                        # small objects, not arenas


@pytest.mark.parametrize("name", list(INTERPRETERS))
def test_command_mode_names_lines_after_exit(name):
    """`leakscope -- python script.py`, no INTERVAL: the one report comes
    after the interpreter exited, and still names each leaking function
    (code objects read while it lived), with exact bytes, though the
    script leaks in its first and last moments.  No Python frame of any
    stack (imports, module bodies freed at once) is left unnamed."""
    python = need(name)
    script = SOURCES / "py_exit_leaks.py"
    p = subprocess.run([str(LEAKSCOPE), "--json", "-n", "1000", "--", python, str(script)],
                       capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, p.stderr
    report = json.loads(p.stdout.splitlines()[-1])
    by_fn = {}
    unnamed = []
    for s in report["stacks"]:
        py = [f for f in s["frames"] if f["python"]]
        unnamed += [f for f in py if f["function"] in ("??", "[freed code object]")]
        if not py:
            continue
        b, n = by_fn.get(py[0]["function"], (0, 0))
        by_fn[py[0]["function"]] = (b + s["outstanding_bytes"], n + s["outstanding_allocs"])
    assert by_fn.get("keep_sessions") == (7 * 100033, 7), by_fn
    assert by_fn.get("keep_buffers") == (3 * 250033, 3), by_fn
    assert not unnamed, unnamed[:3]
    assert len(report["stacks"]) < 1000                 # every stack was looked at
    assert leakscope_programs_loaded() == []


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


def test_all_finds_an_interpreter_embedded_under_another_name(tmp_path):
    """--all: a program whose name and executable do not say python but
    that maps a libpython (uwsgi-like) gets Python frames from its first
    allocation on, whether it ran before leakscope started or after."""
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
