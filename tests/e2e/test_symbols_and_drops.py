"""Symbolization of code loaded late or deleted from disk, and visible drops."""
import shutil
import subprocess

from conftest import (FIXTURES, LEAKSCOPE, Fixture, Tracer, by_function,
                      first_frames, marker_lines, parse_reports, run_command)
import expected


def assert_plugin(report):
    assert by_function(report).get("plugin_leak") == expected.DL["plugin_leak"]
    line = marker_lines("lib_dlleak.c")["plugin_leak"]
    for f in first_frames(report, "plugin_leak"):
        assert f["module"].endswith("lib_dlleak.so")
        assert f["file"].endswith("lib_dlleak.c") and f["line"] == line


def test_dlopen_then_exit_command_mode():
    """The plugin is loaded and the program exits right after: leakscope
    holds the child at its exit to read its mappings."""
    reports, _ = run_command("dl_leaks", "run")
    assert_plugin(reports[-1])


def test_dlopen_after_attach(fixture_proc):
    fx = fixture_proc("dl_leaks")
    t = Tracer(fx.pid, "--json", "-n", "1000")
    assert fx.step() == "done"
    rc, out, err = t.stop()
    assert rc == 0, err
    assert_plugin(parse_reports(out)[-1])


def test_dlclosed_library_still_named_command_mode():
    """The plugin leaks and is unloaded (dlclose) long before the report:
    its frames are named from what was read while it was mapped."""
    reports, _ = run_command("dl_leaks", "run", "close")
    assert_plugin(reports[-1])


def test_dlclosed_library_still_named_after_attach(fixture_proc):
    """Attached: the plugin is unloaded 0.5 s after it leaked, before the
    report (which comes at Ctrl-C): named from what was read meanwhile."""
    fx = fixture_proc("dl_leaks", "close-late")
    t = Tracer(fx.pid, "--json", "-n", "1000")
    assert fx.step() == "done"
    rc, out, err = t.stop()
    assert rc == 0, err
    assert_plugin(parse_reports(out)[-1])


def test_deleted_binary(tmp_path, fixture_proc):
    """The binary was replaced on disk (an upgrade): read through map_files."""
    copy = tmp_path / "leaks_old"
    shutil.copy(FIXTURES / "leaks", copy)
    fx = Fixture.__new__(Fixture)
    fx.proc = subprocess.Popen([str(copy), "wait"], stdin=subprocess.PIPE,
                               stdout=subprocess.PIPE, text=True)
    try:
        assert fx.readline() == "ready"
        fx.pid = fx.proc.pid
        copy.unlink()
        t = Tracer(fx.pid, "--json", "-n", "1000")
        assert fx.step() == "done"
        rc, out, err = t.stop()
        assert rc == 0, err
        r = parse_reports(out)[-1]
        assert by_function(r).get("leak_malloc") == expected.LEAKS["leak_malloc"]
        line = marker_lines("leaks.c")["leak_malloc"]
        for f in first_frames(r, "leak_malloc"):
            assert f["line"] == line and f["module"].endswith("leaks_old")
    finally:
        fx.close()


def test_full_map_is_counted_and_shown():
    reports, _ = run_command("many_leaks", "run", extra=["--max-allocs", "1024"])
    r = reports[-1]
    kept = by_function(r).get("leak_many", (0, 0))
    drops = r["totals"]["drops"]["alloc_map_full"]
    assert drops > 0 and r["totals"]["dropped"] >= drops
    assert kept[1] <= 1024     # the whole map, at most
    assert kept[0] == kept[1] * expected.MANY_BYTES
    assert kept[1] + drops >= expected.MANY_BLOCKS
    # text: the loss is spelled out
    p = subprocess.run([str(LEAKSCOPE), "--max-allocs", "1024", "--",
                        str(FIXTURES / "many_leaks"), "run"],
                       capture_output=True, text=True, timeout=60)
    assert "alloc_map_full" in p.stdout and "lower bound" in p.stdout


def test_full_stack_map_counts_each_loss_once_and_keeps_its_bytes():
    """400 leaks of 32 bytes from 400 distinct stacks, --max-stacks 256:
    the stacks that found the map full are counted once each in
    stack_lost (it counted every loss twice before), and their bytes stay
    in the totals, under the lost stack."""
    reports, _ = run_command("distinct_stacks", "run", extra=["--max-stacks", "256"])
    r = reports[-1]
    t = r["totals"]
    fns = by_function(r)
    kept = [sum(fns.get(f, (0, 0))[i] for f in ("leak_a", "leak_b", "leak_c", "leak_d"))
            for i in (0, 1)]
    lost = [s for s in r["stacks"] if s["stack_lost"]]
    lost_blocks = sum(s["outstanding_allocs"] for s in lost)
    assert 0 < kept[1] < 400, kept                   # some stacks were kept, not all
    assert kept[0] == 32 * kept[1]
    assert lost_blocks >= 400 - kept[1]               # the others' blocks: kept, unnamed
    assert sum(s["outstanding_bytes"] for s in lost) >= 32 * (400 - kept[1])
    assert t["drops"]["stack_lost"] >= 400 - kept[1]
    assert t["drops"]["stack_lost"] <= t["allocs"]   # never more losses than allocations
    assert t["outstanding_bytes"] == sum(s["outstanding_bytes"] for s in r["stacks"])
    assert t["dropped"] == sum(t["drops"].values())


def test_without_drops_the_same_program_is_exact():
    reports, _ = run_command("many_leaks", "run")
    r = reports[-1]
    assert by_function(r)["leak_many"] == (expected.MANY_BLOCKS * expected.MANY_BYTES,
                                           expected.MANY_BLOCKS)
    assert r["totals"]["dropped"] == 0


def test_signals_reach_the_command():
    p = subprocess.run([str(LEAKSCOPE), "--", "sh", "-c",
                        'trap "echo got-usr1" USR1; kill -USR1 $$; echo after'],
                       capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, p.stderr
    assert p.stdout.splitlines()[:2] == ["got-usr1", "after"]
