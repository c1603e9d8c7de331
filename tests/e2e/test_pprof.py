"""`leakscope record` in pprof (the default): read back by the real
`go tool pprof`, with exact bytes and blocks per leaking function."""
import shutil
import socket
import subprocess

import pytest

from conftest import FIXTURES, LEAKSCOPE, go_pprof, pprof_top
import expected

pytestmark = pytest.mark.skipif(not shutil.which("go"), reason="golang-go missing")


@pytest.fixture(scope="module")
def profile(tmp_path_factory):
    out = tmp_path_factory.mktemp("pprof") / "heap.pb.gz"
    p = subprocess.run([str(LEAKSCOPE), "record", "-o", str(out), "--",
                        str(FIXTURES / "leaks"), "run"],
                       capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, p.stderr
    assert out.read_bytes()[:2] == b"\x1f\x8b"        # gzip
    return out


def test_inuse_exact(profile, tmp_path):
    space = pprof_top(tmp_path, profile, "inuse_space")
    objects = pprof_top(tmp_path, profile, "inuse_objects")
    for fn, (nbytes, blocks) in expected.LEAKS.items():
        assert space.get(fn) == nbytes, (fn, space.get(fn))
        assert objects.get(fn) == blocks, (fn, objects.get(fn))
    for fn in expected.LEAKS_ZERO:
        assert space.get(fn, 0) == 0


def test_alloc_counts_freed_memory_too(profile, tmp_path):
    space = pprof_top(tmp_path, profile, "alloc_space")
    objects = pprof_top(tmp_path, profile, "alloc_objects")
    # pure leaks: everything allocated is still there
    for fn in ("leak_malloc", "leak_calloc", "leak_big_malloc", "leak_mmap"):
        assert space[fn] == expected.LEAKS[fn][0]
        assert objects[fn] == expected.LEAKS[fn][1]
    # churn() frees all it allocates: in alloc_*, not in inuse_*.  What
    # reaches the allocator (gcc drops its unused malloc/free pairs):
    # 1000 x (realloc(NULL, 10), realloc(p, 5000)), malloc(50), mmap(8192)
    # (mremap resizes it: no new block), malloc(3 MiB), realloc to 5 MiB
    assert objects["churn"] == 2000 + 4
    assert space["churn"] == 1000 * (10 + 5000) + 50 + 8192 + (3 << 20) + (5 << 20)


def test_labels_mappings_build_ids(profile, tmp_path):
    raw = go_pprof(tmp_path, "-raw", str(profile))
    assert "alloc_objects/count alloc_space/bytes inuse_objects/count inuse_space/bytes[dflt]" in raw
    assert "PeriodType: space bytes" in raw
    assert "comm:[leaks]" in raw and f"hostname:[{socket.gethostname()}]" in raw
    assert "pid:[" in raw and "class:[" in raw
    build_id = subprocess.run(["readelf", "-n", str(FIXTURES / "leaks")], capture_output=True,
                              text=True).stdout.split("Build ID:")[1].split()[0]
    mappings = raw.split("Mappings")[1]
    assert any(str(FIXTURES / "leaks") in m and build_id in m for m in mappings.splitlines())


def test_pprof_refuses_a_terminal():
    """Binary on a terminal helps nobody: say what to do instead."""
    p = subprocess.run(["script", "-qec", f"{LEAKSCOPE} record -p 1", "/dev/null"],
                       capture_output=True, text=True, timeout=30)
    assert "give -o FILE" in p.stdout + p.stderr


def test_a_failed_new_allocates_nothing(tmp_path):
    """operator new whose malloc returns NULL throws bad_alloc: the
    exception object's allocation is not new's block (it once was, with
    the failed request's ~4 EiB in alloc_space)."""
    out = tmp_path / "cxx.pb.gz"
    p = subprocess.run([str(LEAKSCOPE), "record", "-o", str(out), "--",
                        str(FIXTURES / "cxx_leaks")],
                       capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, p.stderr
    space = pprof_top(tmp_path, out, "alloc_space")
    nbytes, blocks = expected.CXX["leak_after_throw()"]
    assert space.get("leak_after_throw", space.get("leak_after_throw()")) == nbytes, space
    assert sum(space.values()) < 1 << 30, space
