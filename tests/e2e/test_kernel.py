"""--kernel smoke test: pipes kept open grow the kernel's stacks that
create them; closing them brings those stacks down."""
import json
import subprocess
import time

from conftest import LEAKSCOPE, SOURCES, default_sigint, leakscope_programs_loaded
from reports import pipe_bytes


def test_kernel_pipes_grow_then_shrink():
    fx = subprocess.Popen(["/usr/bin/python3", str(SOURCES / "kernel_pipes.py")],
                          stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    assert fx.stdout.readline().strip() == "ready"
    t = subprocess.Popen([str(LEAKSCOPE), "--kernel", "--json", "-n", "5000", "1"],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                         preexec_fn=default_sigint)
    try:
        assert "tracing the kernel's allocations" in t.stderr.readline()
        t.stdout.readline()                      # a report before the pipes
        fx.stdin.write("go\n")
        fx.stdin.flush()
        for _ in range(30):                      # while they are being opened
            classes = pipe_bytes(json.loads(t.stdout.readline()))[1]
            if "growing" in classes:
                break
        assert "growing" in classes, classes
        assert fx.stdout.readline().startswith("opened 1600")
        opened = time.time()
        while True:                              # a report after the last pipe
            held = json.loads(t.stdout.readline())
            if held["timestamp"] >= opened + 1:
                break
        peak = pipe_bytes(held)[0]
        procs = {p["pid"]: p for p in held["processes"]}
        assert procs[0]["comm"] == "[kernel]"
        # 1,600 pipes, each a pipe_inode_info, its buffers and a page of data
        assert peak >= 1600 * 4096, peak
        fx.stdin.write("close\n")
        fx.stdin.flush()
        assert fx.stdout.readline().strip() == "closed"
        closed = time.time()
        while True:
            after = json.loads(t.stdout.readline())
            if after["timestamp"] >= closed + 1.5:
                break
        assert pipe_bytes(after)[0] < peak / 4, (pipe_bytes(after), peak)
    finally:
        fx.kill()
        fx.wait()
        t.send_signal(2)
        t.communicate(timeout=60)
    assert t.returncode == 0
    assert not leakscope_programs_loaded()
