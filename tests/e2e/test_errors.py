"""Bad input gets a clear message, a non-zero exit, and nothing attached."""
import random
import signal
import subprocess
import time

from conftest import (FIXTURES, LEAKSCOPE, default_sigint, is_libc,
                      leakscope_programs_loaded, text_mapping_intact)


def run(*args, **kw):
    return subprocess.run([str(LEAKSCOPE), *args], capture_output=True,
                          text=True, timeout=60, **kw)


def test_bad_arguments_exit_2():
    for args in (["-p", "abc"], ["-p", "1", "0"], ["--bogus", "-p", "1"], []):
        p = run(*args)
        assert p.returncode == 2, args
        assert "leakscope:" in p.stderr and "--help" in p.stderr


def test_help():
    p = run("--help")
    assert p.returncode == 0
    assert "-p, --pid" in p.stdout and "--json" in p.stdout


def test_no_such_pid():
    p = run("-p", "4194000")
    assert p.returncode == 1
    assert "no process with PID 4194000" in p.stderr


def test_not_root():
    p = subprocess.run(["setpriv", "--reuid=65534", "--regid=65534",
                        "--clear-groups", "--inh-caps=-all",
                        str(LEAKSCOPE), "-p", "1"],
                       capture_output=True, text=True, timeout=60)
    assert p.returncode == 1
    assert "needs root" in p.stderr and "sudo" in p.stderr


def test_process_without_libc_names_obj():
    """No C library, no malloc of its own: nothing to probe, say so."""
    fx = subprocess.Popen([str(FIXTURES / "nolibc")])
    try:
        p = run("-p", str(fx.pid))
    finally:
        fx.kill()
        fx.wait()
    assert p.returncode == 1
    assert "maps no C library" in p.stderr and "--obj" in p.stderr
    assert leakscope_programs_loaded() == []


def test_static_command_names_obj():
    p = run("--", str(FIXTURES / "nolibc"))
    assert p.returncode == 1
    assert "statically linked" in p.stderr and "--obj" in p.stderr


def test_missing_command():
    p = run("--", "/nonexistent/program")
    assert p.returncode == 1
    assert "cannot run '/nonexistent/program'" in p.stderr


def test_obj_not_mapped(fixture_proc):
    fx = fixture_proc("leaks")
    p = run("--obj", "/usr/lib/x86_64-linux-gnu/libz.so.1", "-p", str(fx.pid))
    assert p.returncode == 1
    assert "does not map" in p.stderr


def test_ctrl_c_during_attach_leaves_nothing(fixture_proc):
    """SIGINT at several moments of start-up and tracing: never a probe
    left, and leakscope always ends (killed before its handler is in
    place, 130 before tracing began, 0 after a final report)."""
    fx = fixture_proc("leaks")
    for delay in (0.0, 0.01, 0.05, 0.1, 0.2, 0.5, 1.0):
        p = subprocess.Popen([str(LEAKSCOPE), "-p", str(fx.pid)],
                             stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                             preexec_fn=default_sigint)
        time.sleep(delay)
        p.send_signal(signal.SIGINT)
        p.wait(timeout=60)
        assert p.returncode in (0, 130, -signal.SIGINT), p.stderr.read()
        assert text_mapping_intact(fx.pid, is_libc) == 0
        assert leakscope_programs_loaded() == []
    assert fx.step() == "done"


def test_sigkill_leaves_no_probe(fixture_proc):
    """Even killed outright, the kernel drops the probes with our fds."""
    fx = fixture_proc("leaks")
    p = subprocess.Popen([str(LEAKSCOPE), "-p", str(fx.pid)],
                         stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                         preexec_fn=default_sigint)
    assert "tracing PID" in p.stderr.readline().decode()
    p.kill()
    p.wait()
    for _ in range(100):      # the kernel releases them asynchronously
        if text_mapping_intact(fx.pid, is_libc) == 0:
            break
        time.sleep(0.1)
    assert text_mapping_intact(fx.pid, is_libc) == 0
    assert fx.step() == "done"


def leaking_uprobe_lines():
    out = subprocess.run(["dmesg"], capture_output=True, text=True).stdout
    return out.count("leaking uprobe")


def keepers():
    out = subprocess.run(["pgrep", "-x", "leakscope-keep"], capture_output=True, text=True)
    return out.stdout.split()


def test_sigkill_during_detach_leaves_no_breakpoint(fixture_proc):
    """SIGKILL at random moments after Ctrl-C (final report, detach): the
    keeper process still holds every link and removes the probes itself.
    Before it, kills during detach left "leaking uprobe" in the kernel log
    and int3s in the target's code."""
    rnd = random.Random(1234)
    fx = fixture_proc("leaks")
    before = leaking_uprobe_lines()
    for trial in range(30):
        # odd trials: a perf event per site (kernels before 6.6), whose
        # detach takes seconds: the window the keeper was made for
        slow = trial % 2 == 1
        p = subprocess.Popen([str(LEAKSCOPE), *(["--no-uprobe-multi"] if slow else []),
                              "-p", str(fx.pid), "1"],
                             stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                             preexec_fn=default_sigint)
        assert "tracing PID" in p.stderr.readline().decode()
        time.sleep(0.2)
        p.send_signal(signal.SIGINT)
        time.sleep(rnd.uniform(0.0, 2.5 if slow else 0.6))   # into the detach
        p.kill()
        p.wait()
        for _ in range(100):                    # the keeper finishes on its own
            if not keepers() and leakscope_programs_loaded() == []:
                break
            time.sleep(0.1)
        assert not keepers(), trial
        assert leakscope_programs_loaded() == [], trial
        assert text_mapping_intact(fx.pid, is_libc) == 0, trial
    assert leaking_uprobe_lines() == before
    assert fx.step() == "done"


def test_probes_lists_placement(fixture_proc):
    """`leakscope probes -p PID`: every site, where it went and why."""
    fx = fixture_proc("cxx_leaks")
    p = run("probes", "-p", str(fx.pid))
    assert p.returncode == 0, p.stderr
    rows = {line.split()[0]: line for line in p.stdout.splitlines()[1:]}
    # Debian 12's free() starts with test/je (single-stepped): moved to the
    # push after the NULL check, which the kernel emulates
    assert "+9 " in rows["free"] and " emulated " in rows["free"]
    assert "push rbp" in rows["free"]
    # return-probed functions: already emulated at the entry, they stay
    for fn in ("malloc", "calloc", "realloc"):
        assert "entry+ret" in rows[fn] and "+" not in rows[fn].split()[2]
    # posix_memalign starts with cmpb (single-stepped): entry and return
    # probe move together to the push, before rsp or [rsp] change
    assert "entry+ret" in rows["posix_memalign"] and "+7" in rows["posix_memalign"]
    assert " emulated " in rows["posix_memalign"] and "return probe too" in rows["posix_memalign"]
    assert "alias" in rows["memalign"]
    # operator new: past endbr64
    assert "endbr64" in rows["_Znwm"] and " emulated " in rows["_Znwm"]
    # listing attaches nothing
    assert leakscope_programs_loaded() == []
    assert text_mapping_intact(fx.pid, is_libc) == 0


def test_closed_stdout_stops_with_an_error(fixture_proc):
    """`leakscope -p PID 1 | head -1`: once the reader is gone, the next
    report fails to write; leakscope says so, detaches and exits 1 instead
    of tracing on into a closed pipe."""
    fx = fixture_proc("leaks")
    p = subprocess.Popen(f"{LEAKSCOPE} -p {fx.pid} 1 | head -1; exit ${{PIPESTATUS[0]}}",
                         shell=True, executable="/bin/bash",
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:                          # head prints one line and exits
        _, err = p.communicate(timeout=30)
    except subprocess.TimeoutExpired:
        subprocess.run(["pkill", "-INT", "-f", f"leakscope -p {fx.pid} 1"])
        _, err = p.communicate(timeout=30)
        raise AssertionError("leakscope went on writing into a closed pipe: " + err)
    assert p.returncode == 1, err
    assert "cannot write the report to stdout" in err, err
    assert "detaching from PID" in err
    assert leakscope_programs_loaded() == []
    assert text_mapping_intact(fx.pid, is_libc) == 0
    assert fx.step() == "done"


def test_closed_stdout_ends_with_an_error_and_detaches(service):
    sh = subprocess.run(["bash", "-c", f"set -o pipefail; {LEAKSCOPE} -p {service.pid} 1 "
                         "| head -1"], capture_output=True, text=True, timeout=120)
    assert sh.returncode != 0, sh.stderr
    assert "cannot write the report to stdout" in sh.stderr, sh.stderr
    assert "detaching" in sh.stderr
    assert not leakscope_programs_loaded()
