"""`leakscope record`: one profile at the end, folded stacks, JSON or HTML
(drawn by headless chromium; pprof: test_pprof.py)."""
import json
import re
import subprocess

import pytest

from conftest import FIXTURES, LEAKSCOPE, ROOT, by_function, default_sigint
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


def test_record_html_of_a_live_service_draws(service, tmp_path):
    from test_html_report import chromium_path, embedded_data, render
    if not chromium_path():
        pytest.skip("chromium is not installed (tools/install-deps.sh installs it)")
    out = tmp_path / "leak.html"
    p = subprocess.run([str(LEAKSCOPE), "record", "--duration", "12s", "--format", "html",
                        "-o", str(out), "-p", str(service.pid)],
                       capture_output=True, text=True, timeout=120)
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
