"""`leakscope -- CMD`: traced from the first allocation, final report at exit."""
from conftest import by_function, first_frames, marker_lines, run_command
import expected


def assert_exact(report, table, zero):
    got = by_function(report)
    for fn, want in table.items():
        assert got.get(fn) == want, f"{fn}: got {got.get(fn)}, want {want}"
    for fn in zero:
        assert fn not in got, f"{fn} should have nothing outstanding: {got[fn]}"


def assert_lines(report, source, functions):
    """Every stack whose innermost frame is one of `functions` ({function:
    marker}) points at the marker's line in `source`."""
    lines = marker_lines(source)
    for fn, marker in functions.items():
        frames = first_frames(report, fn)
        assert frames, fn
        for f in frames:
            assert f["file"].endswith("tests/fixtures/" + source), f
            assert f["line"] == lines[marker], (fn, f)


def assert_totals_consistent(report):
    t = report["totals"]
    assert t["outstanding_bytes"] == sum(s["outstanding_bytes"] for s in report["stacks"])
    assert t["outstanding_allocs"] == sum(s["outstanding_allocs"] for s in report["stacks"])
    assert report["stacks_total"] == len(report["stacks"])
    assert t["dropped"] == 0 and not any(t["drops"].values())


def test_every_api_exact():
    reports, _ = run_command("leaks", "run")
    r = reports[-1]
    assert r["comm"] == "leaks"
    assert_exact(r, expected.LEAKS, expected.LEAKS_ZERO)
    assert r["totals"]["failed_allocs"] == expected.LEAKS_FAILED_ALLOCS
    assert r["totals"]["untracked_frees"] == 0   # traced from the start
    assert_totals_consistent(r)


def test_frames_name_function_file_and_line():
    reports, _ = run_command("leaks", "run")
    assert_lines(reports[-1], "leaks.c", {fn: fn for fn in expected.LEAKS})
    for fn in expected.LEAKS:
        for f in first_frames(reports[-1], fn):
            assert f["module"].endswith("/build/fixtures/leaks"), f
            assert f["address"].startswith("0x")
    # the caller's caller is main, on the line that calls the leaker
    stack = next(s for s in reports[-1]["stacks"]
                 if s["frames"][0]["function"] == "leak_malloc")
    assert stack["frames"][1]["function"] == "main"
    assert stack["oldest_age_s"] is not None and stack["oldest_age_s"] >= 0


def test_cxx_new_exact_and_demangled():
    # run_command asserts exit status 0: a throwing operator new under
    # tracing must not kill the target (no return probe on new)
    reports, _ = run_command("cxx_leaks", "run")
    r = reports[-1]
    assert_exact(r, expected.CXX, expected.CXX_ZERO)
    assert_totals_consistent(r)
    assert_lines(r, "cxx_leaks.cc", {"shop::Cache::leak_orders()": "leak_orders",
                                     "leak_after_throw()": "leak_after_throw"})
    # the caller's caller follows the caller
    s = next(s for s in r["stacks"]
             if s["frames"][0]["function"] == "shop::Cache::leak_orders()")
    assert s["frames"][1]["function"] == "main"


def test_threads_exact():
    reports, _ = run_command("mt_leaks", "run")
    r = reports[-1]
    assert_exact(r, expected.MT, expected.MT_ZERO)
    assert_totals_consistent(r)
    assert_lines(r, "mt_leaks.c", {"thread_leak": "thread_leak"})


def test_obj_probes_a_static_program():
    path = "build/fixtures/static_leaks"
    reports, p = run_command("static_leaks", "run", extra=["--obj", path])
    assert_exact(reports[-1], expected.STATIC, [])
    assert "static_leaks" in p.stderr   # "tracing PID ... through <obj>"


def test_static_program_found_without_obj():
    """A program with malloc linked in is its own allocator: no --obj."""
    reports, p = run_command("static_leaks", "run")
    assert_exact(reports[-1], expected.STATIC, [])
    assert "through malloc in" in p.stderr and "static_leaks" in p.stderr


def test_exit_status_is_passed_on():
    import subprocess
    from conftest import LEAKSCOPE
    p = subprocess.run([str(LEAKSCOPE), "--", "sh", "-c", "exit 7"],
                       capture_output=True, text=True, timeout=60)
    assert p.returncode == 7, p.stderr


def test_text_report_lists_leaks():
    import subprocess
    from conftest import LEAKSCOPE, FIXTURES
    p = subprocess.run([str(LEAKSCOPE), "-n", "3", "--",
                        str(FIXTURES / "leaks"), "run"],
                       capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, p.stderr
    out = p.stdout
    assert "final report" in out
    assert "untracked frees: 0" in out
    assert "dropped: 0" in out
    assert "top 3 stacks by outstanding bytes" in out
    # the biggest: leak_big_malloc's 1 MiB blocks, with its source line
    line = marker_lines("leaks.c")["leak_big_malloc"]
    assert "leak_big_malloc+0x" in out
    assert f"tests/fixtures/leaks.c:{line}" in out
