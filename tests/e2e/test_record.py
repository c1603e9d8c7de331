"""`leakscope record`: one profile at the end, folded stacks or JSON
(pprof: test_pprof.py)."""
import json
import re
import subprocess

from conftest import FIXTURES, LEAKSCOPE, by_function, default_sigint
import expected


def test_folded_lines(tmp_path):
    out = tmp_path / "leaks.folded"
    p = subprocess.run([str(LEAKSCOPE), "record", "--format", "folded", "-o", str(out),
                        "--", str(FIXTURES / "leaks"), "run"],
                       capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, p.stderr
    assert f"wrote {out}" in p.stderr
    lines = out.read_text().splitlines()
    assert lines == sorted(lines) and len(lines) == len(set(l.rsplit(" ", 1)[0] for l in lines))
    per_leaf, parents = {}, {}
    for line in lines:
        m = re.fullmatch(r"(\S.*) (\d+)", line)       # "root;...;leaf BYTES"
        assert m, line
        frames = m.group(1).split(";")
        per_leaf[frames[-1]] = per_leaf.get(frames[-1], 0) + int(m.group(2))
        if len(frames) > 1:
            parents.setdefault(frames[-1], set()).add(frames[-2])
    for fn, (nbytes, _) in expected.LEAKS.items():
        assert per_leaf.get(fn) == nbytes, (fn, per_leaf.get(fn))
        assert parents[fn] == {"main"}                # root first: caller before leaf
    for fn in expected.LEAKS_ZERO:
        assert fn not in per_leaf


def test_json_duration_live(fixture_proc, tmp_path):
    fx = fixture_proc("leaks")
    out = tmp_path / "profile.json"
    p = subprocess.Popen([str(LEAKSCOPE), "record", "--format", "json",
                          "--duration", "3", "-o", str(out), "-p", str(fx.pid)],
                         stderr=subprocess.PIPE, text=True, preexec_fn=default_sigint)
    assert "tracing PID" in p.stderr.readline()
    assert fx.step() == "done"
    p.wait(timeout=60)                                # stops by itself
    assert p.returncode == 0, p.stderr.read()
    r = json.loads(out.read_text())
    assert r["final"] is True
    got = by_function(r)
    for fn, want in expected.LEAKS.items():
        assert got.get(fn) == want, fn
    assert r["stacks_total"] == len(r["stacks"])      # every stack, not a top N


def test_record_options_need_record():
    p = subprocess.run([str(LEAKSCOPE), "--duration", "5", "-p", "1"],
                       capture_output=True, text=True, timeout=30)
    assert p.returncode == 2 and "leakscope record" in p.stderr
    p = subprocess.run([str(LEAKSCOPE), "record", "--format", "xml", "-p", "1"],
                       capture_output=True, text=True, timeout=30)
    assert p.returncode == 2 and "json or html" in p.stderr


def test_unwritable_output_fails_before_tracing():
    """A typo in -o must not cost the user a whole recording."""
    p = subprocess.run([str(LEAKSCOPE), "record", "-o", "/nonexistent/dir/p.folded",
                        "--", str(FIXTURES / "leaks"), "run"],
                       capture_output=True, text=True, timeout=30)
    assert p.returncode == 1
    assert "cannot write /nonexistent/dir/p.folded" in p.stderr
    assert "tracing PID" not in p.stderr
