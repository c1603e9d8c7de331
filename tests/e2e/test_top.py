"""`leakscope top` in a real terminal (tmux): the leak on top and growing,
the bounded cache a plateau, keys work, q detaches cleanly."""
import re
import shutil
import subprocess
import time

import pytest

from conftest import (FIXTURES, LEAKSCOPE, is_libc, leakscope_programs_loaded,
                      text_mapping_intact)

SESSION = "leakscope-top-test"


def tmux(*args):
    return subprocess.run(["tmux", *args], capture_output=True, text=True,
                          timeout=30).stdout


def screen():
    return tmux("capture-pane", "-p", "-t", SESSION)


def rows(text):
    """Table rows, top to bottom: (function, class)."""
    out, in_table = [], False
    for line in text.splitlines():
        if "BYTES" in line and "CLASS" in line:
            in_table = True
            continue
        if in_table and line.strip() and not line.startswith("q quit"):
            parts = line.split()
            cls = next((p for p in parts if p in ("growing", "plateau", "old", "churn", "-")), None)
            fn = next((p for p in parts if p in ("leak_unbounded", "cache_insert")), parts[-2])
            out.append((fn, cls))
    return out


def wait_for(pred, timeout=40):
    deadline = time.time() + timeout
    while time.time() < deadline:
        text = screen()
        if pred(text):
            return text
        time.sleep(0.5)
    raise AssertionError("screen never matched:\n" + screen())


def exit_code(rc_file, timeout=30):
    """What the shell in the tmux session wrote once leakscope exited."""
    deadline = time.time() + timeout
    while not rc_file.exists() and time.time() < deadline:
        time.sleep(0.2)
    return rc_file.read_text().strip()


@pytest.mark.skipif(not shutil.which("tmux"), reason="tmux missing")
def test_top_classifies_and_quits(service, tmp_path):
    rc_file = tmp_path / "rc"
    tmux("kill-session", "-t", SESSION)
    tmux("new-session", "-d", "-s", SESSION, "-x", "160", "-y", "40",
         f"{LEAKSCOPE} top -p {service.pid} 2>{tmp_path}/err; echo $? > {rc_file}; sleep 60")
    try:
        # 1 s interval: the cache is full after 4 s, then flat
        text = wait_for(lambda t: rows(t)[:2] == [("leak_unbounded", "growing"),
                                                  ("cache_insert", "plateau")])
        assert f"pid {service.pid} (cache_leak)" in text
        assert "cache_leak.c:" in text and "/s" in text
        assert text_mapping_intact(service.pid, is_libc) > 0      # attached

        tmux("send-keys", "-t", SESSION, "c")        # by blocks: leak still first
        wait_for(lambda t: "sort: blocks" in t and rows(t)[0][0] == "leak_unbounded")
        # filter by function or file ("cache" would match both: same file)
        tmux("send-keys", "-t", SESSION, "/")
        tmux("send-keys", "-t", SESSION, "-l", "insert")    # literal: not the Insert key
        tmux("send-keys", "-t", SESSION, "Enter")
        wait_for(lambda t: "filter: insert" in t and [r[0] for r in rows(t)] == ["cache_insert"])
        tmux("send-keys", "-t", SESSION, "Enter")    # the whole stack
        text = wait_for(lambda t: "stack:" in t and "#1" in t)
        assert "cache_insert" in text and "main" in text
        tmux("send-keys", "-t", SESSION, "Escape")
        tmux("send-keys", "-t", SESSION, "q")
        assert exit_code(rc_file) == "0", (tmp_path / "err").read_text()
        assert leakscope_programs_loaded() == []
        assert text_mapping_intact(service.pid, is_libc) == 0     # detached
        assert service.poll() is None                             # still running
    finally:
        tmux("kill-session", "-t", SESSION)


def test_top_without_a_terminal_prints_text(service):
    p = subprocess.run([str(LEAKSCOPE), "top", "-p", str(service.pid), "1", "2"],
                       capture_output=True, text=True, timeout=60,
                       stdin=subprocess.DEVNULL)
    assert p.returncode == 0, p.stderr
    assert p.stdout.count("outstanding in") == 2      # two text reports
    assert "leak_unbounded" in p.stdout


@pytest.mark.skipif(not shutil.which("tmux"), reason="tmux missing")
def test_top_several_processes_groups_by_process(service, tmp_path):
    """`top -p A -p B`: the processes first, then stacks grouped by process."""
    other = subprocess.Popen([str(FIXTURES / "cache_leak"), "run"])
    rc_file = tmp_path / "rc"
    tmux("kill-session", "-t", SESSION)
    tmux("new-session", "-d", "-s", SESSION, "-x", "160", "-y", "40",
         f"{LEAKSCOPE} top -p {service.pid} -p {other.pid} 2>{tmp_path}/err; "
         f"echo $? > {rc_file}; sleep 60")
    try:
        text = wait_for(lambda t: "2 processes" in t and f"{other.pid} cache_leak:" in t
                        and f"{service.pid} cache_leak:" in t)
        assert "PID COMM" in text
        # stacks of one process are together: no interleaving of the two
        owners = [int(l.split(":")[0].split()[-2]) for l in text.splitlines()
                  if re.search(r"\d+ cache_leak: ", l)]
        assert owners == sorted(owners, key=owners.index) and len(set(owners)) == 2
        changes = sum(1 for a, b in zip(owners, owners[1:]) if a != b)
        assert changes == 1, owners
        tmux("send-keys", "-t", SESSION, "q")
        assert exit_code(rc_file) == "0", (tmp_path / "err").read_text()
        assert leakscope_programs_loaded() == []
    finally:
        tmux("kill-session", "-t", SESSION)
        other.kill()
        other.wait()
