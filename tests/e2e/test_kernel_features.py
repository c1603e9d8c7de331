"""What the running kernel offers, and a refused program costing its
feature, not the tool.

Older verifiers refuse what newer ones take (stack budget, bounds carried
through copies): leakscope then goes on without the feature that program
serves, says so in one line with the verifier's reason, and traces with
what is left.  LEAKSCOPE_TEST_REFUSE has the chosen feature's BPF code
refused for real by this kernel's verifier (an out-of-frame read on that
path only), so the fallback runs here as it would on such a kernel.
"""
import json
import os
import subprocess

from conftest import LEAKSCOPE, FIXTURES, SOURCES, leakscope_programs_loaded, run_command
import expected
from reports import pipe_bytes


def refused(features, *args, timeout=60):
    env = dict(os.environ, LEAKSCOPE_TEST_REFUSE=features)
    return subprocess.run([str(LEAKSCOPE), *args], capture_output=True, text=True,
                          timeout=timeout, env=env)


def test_version_v_lists_the_kernels_features():
    p = subprocess.run([str(LEAKSCOPE), "--version", "-v"], capture_output=True, text=True,
                       timeout=30)
    assert p.returncode == 0, p.stderr
    out = p.stdout
    assert out.startswith("leakscope "), out
    assert f"kernel {os.uname().release}:" in out
    for name in ("ring buffer map", "task storage map", "bpf_loop()", "uprobe-multi links",
                 "bpf_find_vma()", "private BPF stack", "task thread.fsbase",
                 "utask->return_instances", "kmem:* tracepoints"):
        line = next((l for l in out.splitlines() if name in l), None)
        assert line and line.split()[0] in ("yes", "no"), (name, out)
    # this machine runs every required one, or nothing else here would
    assert "no " not in "".join(l for l in out.splitlines() if "(required)" in l)
    # plain --version is one line, no probing
    p = subprocess.run([str(LEAKSCOPE), "--version"], capture_output=True, text=True)
    assert p.returncode == 0 and len(p.stdout.splitlines()) == 1


def test_refused_dwarf_unwinder_falls_back_to_frame_pointers():
    p = refused("dwarf", "--json", "-n", "1000", "--", str(FIXTURES / "leaks"), "run")
    assert p.returncode == 0, p.stderr
    line = next(l for l in p.stderr.splitlines() if "this kernel refused" in l)
    assert "invalid read from stack" in line, line          # the verifier's own words
    assert "going on without the DWARF unwinder" in line and "frame pointers" in line
    assert "unwind tables" not in p.stderr                   # no tables built
    report = json.loads(p.stdout.splitlines()[-1])
    got = {}
    for s in report["stacks"]:
        fn = s["frames"][0]["function"]
        b, n = got.get(fn, (0, 0))
        got[fn] = (b + s["outstanding_bytes"], n + s["outstanding_allocs"])
    for fn, want in expected.LEAKS.items():                 # still exact
        assert got.get(fn) == want, (fn, got.get(fn), want)
    assert leakscope_programs_loaded() == []


def test_refused_python_walk_keeps_native_stacks():
    script = SOURCES / "py_exit_leaks.py"
    p = refused("python", "--json", "--", "/usr/bin/python3", str(script), timeout=120)
    assert p.returncode == 0, p.stderr
    assert "going on without Python frames" in p.stderr, p.stderr
    report = json.loads(p.stdout.splitlines()[-1])
    assert report["stacks"]
    assert not any(f["python"] for s in report["stacks"] for f in s["frames"])
    # the leaks are still there, under the interpreter's C frames
    assert report["totals"]["outstanding_bytes"] >= 7 * 100033 + 3 * 250033


def test_refused_python_and_dwarf_together():
    p = refused("python,dwarf", "--json", "--", str(FIXTURES / "leaks"), "run")
    assert p.returncode == 0, p.stderr
    lost = [l for l in p.stderr.splitlines() if "this kernel refused" in l]
    # `-- CMD` walks Python frames (the command may exec an interpreter):
    # both walks are given up, each said once
    assert len(lost) == 2, lost
    assert "without Python frames" in lost[0] and "without the DWARF unwinder" in lost[1]
    report = json.loads(p.stdout.splitlines()[-1])
    assert report["totals"]["outstanding_bytes"] >= sum(b for b, _ in expected.LEAKS.values())


def test_refused_kernel_programs_cost_kernel_only():
    p = refused("kernel", "--kernel", "1", "1")
    assert p.returncode != 0
    assert "going on without --kernel" in p.stderr, p.stderr
    assert "nothing left to trace without --kernel" in p.stderr
    fx = subprocess.Popen([str(FIXTURES / "leaks"), "wait"], stdin=subprocess.PIPE,
                          stdout=subprocess.PIPE, text=True)
    try:
        assert fx.stdout.readline().strip() == "ready"
        p = refused("kernel", "--kernel", "--json", "-p", str(fx.pid), "1", "1")
        assert p.returncode == 0, p.stderr
        assert "going on without --kernel" in p.stderr
        report = json.loads(p.stdout.splitlines()[-1])
        assert all(s["pid"] == fx.pid for s in report["stacks"])
    finally:
        fx.kill()
        fx.wait()
    assert leakscope_programs_loaded() == []


def test_refused_vmalloc_pair_costs_vmalloc_only():
    env = dict(os.environ, LEAKSCOPE_TEST_REFUSE="vmalloc")
    t = subprocess.Popen([str(LEAKSCOPE), "--kernel", "--json", "-n", "1000", "1", "2"],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    pipes = []
    try:
        err = ""
        while "tracing the kernel's allocations" not in err:
            line = t.stderr.readline()
            assert line, err
            err += line
        pipes = [os.pipe() for _ in range(200)]     # kernel memory held meanwhile
        out, rest = t.communicate(timeout=60)
    finally:
        for a, b in pipes:
            os.close(a)
            os.close(b)
        if t.poll() is None:
            t.kill()
    err += rest
    assert t.returncode == 0, err
    line = next(l for l in err.splitlines() if "this kernel refused" in l)
    assert line.startswith("leakscope: this kernel refused kmem_vmap_alloc (invalid read"), line
    assert line.endswith("--kernel goes on without vmalloc areas"), line
    report = json.loads(out.splitlines()[-1])
    assert all(s["pid"] == 0 for s in report["stacks"])
    # each pipe holds its pipe_inode_info and buffer array (~3 KiB measured)
    assert pipe_bytes(report)[0] >= 200 * 1024, pipe_bytes(report)
    assert leakscope_programs_loaded() == []


def test_unwind_fp_never_loads_the_dwarf_walk():
    # --unwind fp: the DWARF code is pruned at load, so its refusal costs nothing
    p = refused("dwarf", "--unwind", "fp", "--", str(FIXTURES / "leaks"), "run")
    assert p.returncode == 0, p.stderr      # fp never runs the DWARF code
    assert "this kernel refused" not in p.stderr
