"""A traced process that fights back.  Any local user's process can map a
file and truncate or rewrite it under the mapping; a tracer that maps the
files it reads then dies of SIGBUS (under Restart=on-failure: a crash loop
any user can cause).  leakscope reads targets' files with pread only, and
guards the one library call that maps one (libbpf's USDT notes)."""
import os
import shutil
import signal
import subprocess
import tempfile
import time

import pytest

from conftest import FIXTURES, LEAKSCOPE, default_sigint, leakscope_programs_loaded

NOBODY = 65534
VICTIM = "/usr/lib/x86_64-linux-gnu/libz.so.1"     # any library: its copy is cut


@pytest.fixture
def hostile():
    """hostile_truncate run as nobody on a copy of libz named like a
    libpython (so that the Python detection reads it too)."""
    d = tempfile.mkdtemp(prefix="leakscope-hostile-", dir="/tmp")
    os.chmod(d, 0o755)
    os.chown(d, NOBODY, NOBODY)
    prog = os.path.join(d, "hostile_truncate")
    shutil.copy(FIXTURES / "hostile_truncate", prog)
    os.chmod(prog, 0o755)

    def as_nobody():
        os.setgid(NOBODY)
        os.setuid(NOBODY)

    p = subprocess.Popen([prog, VICTIM, os.path.join(d, "libpython3.11.so")],
                         stdout=subprocess.PIPE, text=True, preexec_fn=as_nobody)
    assert p.stdout.readline().strip() == "ready"
    yield p
    p.kill()
    p.wait()
    shutil.rmtree(d)


def test_attach_20_times_to_a_process_cutting_its_mapped_library(hostile):
    warned = 0
    for _ in range(20):
        p = subprocess.run([str(LEAKSCOPE), "-n", "5", "-p", str(hostile.pid), "1", "1"],
                           capture_output=True, text=True, timeout=60)
        assert p.returncode == 0, (p.returncode, p.stderr)     # -7: SIGBUS before
        assert "final report" in p.stdout or "outstanding" in p.stdout
        warned += p.stderr.count("not a readable ELF file")
        assert p.stderr.count("not a readable ELF file") <= 1   # said once, if at all
        assert hostile.poll() is None
    assert leakscope_programs_loaded() == []


def test_all_while_a_process_cuts_its_mapped_library(hostile):
    p = subprocess.Popen([str(LEAKSCOPE), "-n", "5", "--all", "1"], stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True, preexec_fn=default_sigint)
    time.sleep(6)
    p.send_signal(signal.SIGINT)
    out, err = p.communicate(timeout=90)
    assert p.returncode == 0, (p.returncode, err)
    assert out.count("outstanding") >= 5                         # the trace went on
    assert err.count("not a readable ELF file") <= 1
    assert hostile.poll() is None
    assert leakscope_programs_loaded() == []
