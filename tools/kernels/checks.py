"""checks.py - leakscope's checks inside a booted kernel (run by the guest's
/init, tools/kernels/init, with Debian's python3.11 from the initramfs).

One line per check on stdout (the serial console), for the host to parse:

    LEAKSCOPE-CHECK <name> PASS|FAIL <one-line reason>

Before each check "LEAKSCOPE-BEGIN <name>" (a hung guest is then known to
have hung there), after it the kernel's new log lines as "KMSG <name>:
<line>".  The assertions are those of tests/e2e (expected.py's exact
numbers, the fixtures' LINE: markers, test_unwind.py's sites), kept short
enough for software emulation.  A program the verifier refused is a
failure whose reason is the verifier's one-line complaint.

Kernel command line knobs (read from /proc/cmdline):
    ls.checks=a,b,...   run only these checks, in this order (a check may
                        be named more than once: attach-persite,attach-persite)
    ls.timeout=SECONDS  per check (default 120)
"""
import json
import os
import re
import signal
import subprocess
import sys
import time

ROOT = os.environ.get("LEAKSCOPE_ROOT", "/ls")   # the repository, as laid out in the guest
LEAKSCOPE = f"{ROOT}/build/leakscope"
FIXTURES = f"{ROOT}/build/fixtures"
SOURCES = f"{ROOT}/tests/fixtures"
PYTHON = "/usr/bin/python3.11"
sys.path.insert(0, f"{ROOT}/tests/e2e")
import expected  # noqa: E402  (tests/e2e/expected.py, copied as it is)
from reports import by_function, marker_lines, parse_reports, pipe_bytes  # noqa: E402

CMDLINE = open("/proc/cmdline").read().split() if os.path.exists("/proc/cmdline") else []
KNOBS = dict(a.split("=", 1) for a in CMDLINE if a.startswith("ls.") and "=" in a)
TIMEOUT = float(KNOBS.get("ls.timeout", "120"))
KERNEL = os.uname().release
VERSION = tuple(int(x) for x in re.match(r"(\d+)\.(\d+)", KERNEL).groups())

# tests/e2e/test_unwind.py SITES["unwind_leaks"]: blocks per leaking
# function of unwind_leaks (made inside libc, four frames below main).
UNWIND_LEAKS = {"leak_strdup": 3, "leak_strndup": 5, "leak_asprintf": 7,
                "leak_getline": 9, "leak_fopen": 11, "leak_realpath": 13,
                "leak_malloc": 15}


class Fail(Exception):
    pass


def check(cond, msg):
    if not cond:
        raise Fail(msg)


# ---------------------------------------------------------------- helpers

def verifier_complaints(err):
    """The verifier's one-line reasons in leakscope -v's stderr: for each
    program libbpf could not load, the last line of its load log before
    "processed N insns"; and leakscope's own lines saying what a kernel
    refused (it may run on without a feature)."""
    out = []
    lines = err.splitlines()
    prog = None
    i = 0
    while i < len(lines):
        line = lines[i]
        m = re.search(r"prog '([^']+)': BPF program load failed", line)
        if m:
            prog = m.group(1)
        if "-- BEGIN PROG LOAD LOG --" in line:
            reason = None
            i += 1
            while i < len(lines) and "-- END PROG LOAD LOG --" not in lines[i]:
                t = lines[i].strip()
                if t.startswith("processed ") and reason:
                    break
                if t and not re.match(r"(verification time|stack depth|processed |"
                                      r"max_states_per_insn|peak_states|mark_read)", t):
                    reason = t
                i += 1
            if reason and f"{prog or '?'}: {reason}" not in out:
                out.append(f"{prog or '?'}: {reason}")
        i += 1
    for line in lines:
        if re.search(r"refused|cannot load|not supported by this kernel", line) \
                and "LOAD LOG" not in line:
            t = line.strip()
            if t not in out:
                out.append(t)
    return out


def short(text, n=300):
    text = " ".join(text.split())
    return text if len(text) <= n else text[:n] + "..."


class Run:
    """leakscope -v in the background, stdout and stderr in files (a
    verifier log can be megabytes: it must not go to the console)."""
    seq = 0

    def __init__(self, args, name):
        Run.seq += 1
        self.out_path = f"/tmp/{name}.{Run.seq}.out"
        self.err_path = f"/tmp/{name}.{Run.seq}.err"
        self.out = open(self.out_path, "w")
        self.err = open(self.err_path, "w")
        self.proc = subprocess.Popen([LEAKSCOPE, "-v", *args], stdout=self.out,
                                     stderr=self.err, stdin=subprocess.DEVNULL,
                                     preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))

    def stderr(self):
        with open(self.err_path, errors="replace") as f:
            return f.read()

    def stdout(self):
        with open(self.out_path, errors="replace") as f:
            return f.read()

    def wait_stderr(self, what, timeout):
        """Until stderr says `what` (True), or leakscope exits (False)."""
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if what in self.stderr():
                return True
            if self.proc.poll() is not None:
                return what in self.stderr()
            time.sleep(0.1)
        raise Fail(f"leakscope did not say '{what}' within {timeout:.0f} s")

    def finish(self, sig=None, timeout=TIMEOUT):
        if sig is not None and self.proc.poll() is None:
            self.proc.send_signal(sig)
        try:
            self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise Fail(f"leakscope did not exit within {timeout:.0f} s")
        self.out.close()
        self.err.close()
        return self.proc.returncode

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()

    def refused(self):
        """Fails with the verifier's complaint when the kernel refused a
        program (leakscope then fails, or runs without a feature)."""
        c = verifier_complaints(self.stderr())
        if c:
            raise Fail("refused: " + "; ".join(c[:3]))

    def check_exit(self, rc):
        self.refused()
        if rc != 0:
            err = self.stderr().strip().splitlines()
            raise Fail(f"leakscope exited {rc}: " + short(" / ".join(
                l for l in err if l.startswith("leakscope:"))[-400:] or " / ".join(err[-3:])))


class Fixture:
    """A fixture in 'wait' mode (tests/fixtures/fixture_common.h)."""

    def __init__(self, argv):
        self.proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     text=True)
        self.pid = self.proc.pid

    def readline(self, timeout=60):
        import select
        r, _, _ = select.select([self.proc.stdout], [], [], timeout)
        if not r:
            raise Fail(f"fixture {self.proc.args[0]} said nothing for {timeout} s")
        return self.proc.stdout.readline().strip()

    def step(self, line="go"):
        self.proc.stdin.write(line + "\n")
        self.proc.stdin.flush()
        return self.readline()

    def close(self):
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()


def text_mapping_differs(pid, lib_pred):
    """Bytes of the target's executable mappings of matching files that
    differ from the files: a uprobe is an int3 there."""
    diffs = 0
    with open(f"/proc/{pid}/maps") as maps, open(f"/proc/{pid}/mem", "rb") as mem:
        for line in maps:
            parts = line.split()
            if len(parts) < 6 or "x" not in parts[1] or not lib_pred(parts[5]):
                continue
            lo, hi = (int(x, 16) for x in parts[0].split("-"))
            mem.seek(lo)
            live = mem.read(hi - lo)
            with open(parts[5], "rb") as f:
                f.seek(int(parts[2], 16))
                disk = f.read(hi - lo)
            diffs += sum(1 for a, b in zip(live, disk) if a != b)
    return diffs


def is_libc(path):
    return os.path.basename(path).startswith("libc.so")


def children(pid):
    out = []
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                with open(f"/proc/{d}/stat") as f:
                    if int(f.read().rsplit(")", 1)[1].split()[1]) == pid:
                        out.append(int(d))
            except (OSError, IndexError, ValueError):
                pass
    return out


def attach_kinds(pid):
    """{kind: count} of the probes leakscope (and its keeper, a child)
    holds: BPF link types from fdinfo, and bare perf events."""
    kinds = {}
    for p in [pid, *children(pid)]:
        try:
            fds = os.listdir(f"/proc/{p}/fd")
        except OSError:
            continue
        for fd in fds:
            try:
                target = os.readlink(f"/proc/{p}/fd/{fd}")
                if target == "anon_inode:bpf_link":
                    with open(f"/proc/{p}/fdinfo/{fd}") as f:
                        m = re.search(r"link_type:\s*(\S+)", f.read())
                    k = "link:" + (m.group(1) if m else "?")
                elif target == "anon_inode:[perf_event]":
                    k = "perf_event"
                else:
                    continue
            except OSError:
                continue
            kinds[k] = kinds.get(k, 0) + 1
    return kinds


def bpf_objects():
    """IDs of loaded BPF programs and links (bpftool, from the initramfs)."""
    ids = set()
    for what in ("prog", "link"):
        p = subprocess.run(["/usr/sbin/bpftool", "-j", what, "show"], capture_output=True,
                           text=True, timeout=30)
        if p.returncode == 0 and p.stdout.strip():
            for o in json.loads(p.stdout):
                ids.add((what, o.get("id"), o.get("name") or o.get("type") or ""))
    return ids


# ----------------------------------------------------------------- checks

def assert_leaks_exact(r, where):
    got = by_function(r)
    for fn, want in expected.LEAKS.items():
        check(got.get(fn) == want, f"{where}: {fn} got {got.get(fn)}, want {want}")
    for fn in expected.LEAKS_ZERO:
        check(fn not in got, f"{where}: {fn} should have nothing outstanding: {got.get(fn)}")
    lines = marker_lines("leaks.c")
    stack = next((s for s in r["stacks"] if s["frames"]
                  and s["frames"][0]["function"] == "leak_malloc"), None)
    f0 = stack["frames"][0]
    check(f0["file"].endswith("tests/fixtures/leaks.c") and f0["line"] == lines["leak_malloc"],
          f"{where}: leak_malloc's frame is {f0['file']}:{f0['line']}, "
          f"want leaks.c:{lines['leak_malloc']}")
    check(len(stack["frames"]) > 1 and stack["frames"][1]["function"] == "main",
          f"{where}: leak_malloc's caller is "
          f"{[f['function'] for f in stack['frames'][1:3]]}, want main")


def command(args, fixture, name):
    run = Run(["--json", "-n", "1000", *args, "--", *fixture], name)
    rc = run.finish(timeout=TIMEOUT)
    run.check_exit(rc)
    reports = parse_reports(run.stdout())
    check(reports and reports[-1]["final"], "no final report: " + short(run.stdout()))
    return reports[-1], run


def check_cmd():
    """`-- CMD`: every allocation API exact (DWARF unwinding, the default),
    and DWARF stacks through libc (no frame pointers) reach main."""
    r, _ = command([], [f"{FIXTURES}/leaks", "run"], "cmd")
    assert_leaks_exact(r, "leaks")
    check(r["totals"]["failed_allocs"] == expected.LEAKS_FAILED_ALLOCS,
          f"failed_allocs {r['totals']['failed_allocs']}, want {expected.LEAKS_FAILED_ALLOCS}")
    r, _ = command([], [f"{FIXTURES}/unwind_leaks_nofp", "run"], "cmd-nofp")
    for fn, blocks in UNWIND_LEAKS.items():
        stacks = [s for s in r["stacks"] if any(f["function"] == fn for f in s["frames"])]
        n = sum(s["outstanding_allocs"] for s in stacks)
        check(n == blocks, f"unwind_leaks_nofp: {fn} {n} blocks, want {blocks}")
        for s in stacks:
            names = [f["function"] for f in s["frames"]]
            check("main" in names, f"unwind_leaks_nofp: {fn}'s stack stops short of main: "
                  + " < ".join(str(x) for x in names))
    return "leaks.c exact, unwind_leaks_nofp reaches main"


def check_unwind_fp():
    r, _ = command(["--unwind", "fp"], [f"{FIXTURES}/leaks", "run"], "unwind-fp")
    assert_leaks_exact(r, "leaks --unwind fp")
    return "leaks.c exact"


def attach(extra, name, want_multi):
    fx = Fixture([f"{FIXTURES}/leaks", "wait"])
    run = None
    try:
        check(fx.readline() == "ready", "fixture not ready")
        check(text_mapping_differs(fx.pid, is_libc) == 0, "libc differs before attach")
        run = Run(["--json", "-n", "1000", *extra, "-p", str(fx.pid)], name)
        if not run.wait_stderr("tracing PID", TIMEOUT):
            run.check_exit(run.finish())
            raise Fail("leakscope exited before tracing")
        kinds = attach_kinds(run.proc.pid)
        probed = text_mapping_differs(fx.pid, is_libc)
        check(probed > 0, "no probe byte in the target's libc while tracing")
        # link types by fdinfo: uprobe_multi (uretprobe_multi on newer
        # kernels) for uprobe-multi links, perf / perf_event for a perf event
        multi = sum(v for k, v in kinds.items() if k.startswith("link:") and "multi" in k)
        perf = sum(v for k, v in kinds.items() if k.startswith(("link:perf", "perf_event")))
        if want_multi:
            check(multi > 0, f"no uprobe-multi link on {KERNEL} (held: {kinds})")
        else:
            check(multi == 0, f"uprobe-multi links used: {kinds}")
            check(perf > 0, f"no per-site perf-event probe held: {kinds}")
        check(fx.step() == "done", "fixture did not leak")
        t0 = time.monotonic()
        rc = run.finish(signal.SIGINT)
        detach_s = time.monotonic() - t0
        run.check_exit(rc)
        reports = parse_reports(run.stdout())
        check(reports and reports[-1]["final"], "no final report")
        r = reports[-1]
        check(r["pid"] == fx.pid, f"report of pid {r['pid']}, want {fx.pid}")
        assert_leaks_exact(r, "leaks -p")
        check(r["totals"]["untracked_frees"] == expected.PRE_BLOCKS,
              f"untracked_frees {r['totals']['untracked_frees']}, want {expected.PRE_BLOCKS}")
        left = text_mapping_differs(fx.pid, is_libc)
        check(left == 0, f"{left} probe bytes left in libc after detach")
        check(fx.step().startswith("ok "), "the target does not work after detach")
        how = ", ".join(f"{k} {v}" for k, v in sorted(kinds.items()))
        path = "uprobe-multi" if multi else "per-site"
        return f"{path}: exact; held {how}; detach {detach_s:.1f} s"
    finally:
        if run:
            run.kill()
        fx.close()


def check_attach_multi():
    # uprobe-multi links exist from 6.6; before, leakscope must fall back
    # to a perf event per site by itself
    return attach([], "attach-multi", want_multi=VERSION >= (6, 6))


def check_attach_persite():
    return attach(["--no-uprobe-multi"], "attach-persite", want_multi=False)


def check_python():
    """test_python.py's live attach, shorter: Python file:line of each leak."""
    script = f"{SOURCES}/py_leaks.py"
    lines = marker_lines("py_leaks.py")
    fx = Fixture([PYTHON, "-I", "-S", script, "run", "600"])
    run = None
    try:
        check(fx.readline() == "ready", "py_leaks.py not ready")
        run = Run(["--json", "-n", "30", "-p", str(fx.pid), "1"], "python")
        if not run.wait_stderr("tracing PID", TIMEOUT):
            run.check_exit(run.finish())
            raise Fail("leakscope exited before tracing")
        leaks = ("py_cache", "py_closure", "py_handler", "py_cycle")
        end = time.monotonic() + min(TIMEOUT - 20, 60)
        got = {}
        while time.monotonic() < end and run.proc.poll() is None:
            time.sleep(1)
            reports = parse_reports_partial(run.stdout())
            if not reports:
                continue
            got = python_lines(reports[-1])
            if len(reports) >= 4 and all(got.get(lines[k], ("-",))[0] == "growing" for k in leaks):
                break
        rc = run.finish(signal.SIGINT)
        run.check_exit(rc)
        err = run.stderr()
        check("Python frames in every stack" in err, "no 'Python frames in every stack': "
              + short(" / ".join(l for l in err.splitlines() if "ython" in l)))
        for k in leaks:
            check(lines[k] in got, f"no stack at py_leaks.py:{lines[k]} ({k}); lines seen: "
                  f"{sorted(got)}")
            cls, _, (line, fn, file) = got[lines[k]]
            check(file == script, f"{k}: file {file}, want {script}")
            check(cls == "growing", f"{k} (py_leaks.py:{line}) is {cls}, want growing")
        check(got[lines["py_closure"]][2][1] == "make_closure",
              f"py_closure's function {got[lines['py_closure']][2][1]}")
        check(got[lines["py_handler"]][2][1] == "Handler.__init__",
              f"py_handler's function {got[lines['py_handler']][2][1]}")
        check(fx.proc.poll() is None, "the Python process died")
        return "py_leaks.py:" + ",".join(str(lines[k]) for k in leaks) + " growing"
    finally:
        if run:
            run.kill()
        fx.close()


def parse_reports_partial(text):
    out = []
    for line in text.splitlines():
        try:
            out.append(json.loads(line))
        except ValueError:
            pass            # a line being written
    return out


def python_lines(report):
    """{line: (class, bytes, (line, function, file))} of each stack's first
    Python frame, the biggest stack of a line first."""
    out = {}
    for s in report["stacks"]:
        for f in s["frames"]:
            if f.get("python"):
                if f["line"] not in out:
                    out[f["line"]] = (s["class"], s["outstanding_bytes"],
                                      (f["line"], f["function"], f["file"]))
                break
    return out


def check_kernel():
    """test_kernel.py: 1,600 pipes held grow the pipe code's stacks; closed,
    they come down."""
    fx = Fixture([PYTHON, "-I", "-S", f"{SOURCES}/kernel_pipes.py"])
    run = None
    try:
        check(fx.readline() == "ready", "kernel_pipes.py not ready")
        run = Run(["--kernel", "--json", "-n", "5000", "1"], "kernel")
        if not run.wait_stderr("tracing the kernel's allocations", TIMEOUT):
            run.check_exit(run.finish())
            raise Fail("leakscope exited before tracing")

        def reports_after(t):
            end = time.monotonic() + 60
            while time.monotonic() < end:
                for r in reversed(parse_reports_partial(run.stdout())):
                    if r["timestamp"] >= t:
                        return r
                if run.proc.poll() is not None:
                    run.check_exit(run.finish())
                    raise Fail("leakscope exited")
                time.sleep(0.5)
            raise Fail("no report for 60 s")

        reports_after(time.time() - 1)               # a report before the pipes
        fx.proc.stdin.write("go\n")
        fx.proc.stdin.flush()
        opened = fx.readline(120)
        check(opened.startswith("opened 1600"), f"kernel_pipes.py: {opened}")
        held = reports_after(time.time() + 1)
        peak, classes = pipe_bytes(held)
        procs = {p["pid"]: p for p in held["processes"]}
        check(procs.get(0, {}).get("comm") == "[kernel]", "no [kernel] process in the report")
        check(peak >= 1600 * 4096, f"pipe stacks hold {peak} bytes, want >= {1600 * 4096}")
        check(fx.step("close") == "closed", "kernel_pipes.py did not close")
        after = reports_after(time.time() + 1.5)
        check(pipe_bytes(after)[0] < peak / 4, f"after close pipe stacks hold "
              f"{pipe_bytes(after)[0]} of {peak} bytes")
        rc = run.finish(signal.SIGINT)
        run.check_exit(rc)
        return f"pipes: {peak // 1024} KiB held, {pipe_bytes(after)[0] // 1024} KiB after close"
    finally:
        if run:
            run.kill()
        fx.close()


def check_patching():
    """Not leakscope: the kernel patching its own code while another CPU
    runs it.  Tracepoints are static keys; enabling or disabling one
    rewrites each site with text_poke_bp (int3 first, then the new bytes,
    with IPIs in between) -- what attaching and detaching leakscope's
    tracepoints and perf events does.  Here the sched fork/exec/exit
    tracepoints are toggled through tracefs while children fork, exec and
    exit in a loop.  The host's scan of the console judges it (an "Oops:
    int3" is a CPU that ran a stale int3 after patching finished); this
    only checks that the loop ran.  Selected with ls.checks=patching."""
    seconds = float(KNOBS.get("ls.patching_s", "30"))
    events = [f"/sys/kernel/tracing/events/sched/{e}/enable"
              for e in ("sched_process_fork", "sched_process_exec", "sched_process_exit")]
    for e in events:
        check(os.path.exists(e), f"no {e}")
    busy = subprocess.Popen(["/bin/sh", "-c", "while :; do /bin/true; done"])
    toggles = 0
    try:
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            for v in ("1", "0"):
                for e in events:
                    with open(e, "w") as f:
                        f.write(v)
                    toggles += 1
    finally:
        busy.kill()
        busy.wait()
    return f"{toggles} tracepoint toggles in {seconds:.0f} s, {os.cpu_count()} CPUs"


CHECKS = {
    "cmd": check_cmd,
    "unwind-fp": check_unwind_fp,
    "attach-multi": check_attach_multi,
    "attach-persite": check_attach_persite,
    "python": check_python,
    "kernel": check_kernel,
}
# run only when named in ls.checks
EXTRA = {"patching": check_patching}


def kmsg(name):
    """The kernel's log since the last call, on the console, prefixed."""
    p = subprocess.run(["/bin/dmesg", "-c"], capture_output=True, text=True)
    for line in p.stdout.splitlines():
        print(f"KMSG {name}: {line}", flush=True)


def result(name, ok, why):
    why = " ".join(str(why).split()) or "-"
    print(f"LEAKSCOPE-CHECK {name} {'PASS' if ok else 'FAIL'} {why}", flush=True)


def timed_out(*_):
    raise Fail(f"timed out after {TIMEOUT + 30:.0f} s")


def main():
    print(f"LEAKSCOPE-GUEST kernel {KERNEL} cpus {os.cpu_count()}", flush=True)
    kmsg("boot")
    before = bpf_objects()
    names = KNOBS.get("ls.checks", ",".join(CHECKS)).split(",")
    CHECKS.update(EXTRA)
    for name in names:
        if name not in CHECKS:
            result(name, False, "no such check")
            continue
        print(f"LEAKSCOPE-BEGIN {name}", flush=True)
        t0 = time.monotonic()
        signal.signal(signal.SIGALRM, timed_out)
        signal.alarm(int(TIMEOUT) + 30)
        try:
            why = CHECKS[name]()
            ok = True
        except Fail as e:
            ok, why = False, str(e)
        except Exception as e:       # a bug here, reported as this check's failure
            ok, why = False, f"{type(e).__name__}: {e}"
        finally:
            signal.alarm(0)
        result(name, ok, f"{why} ({time.monotonic() - t0:.0f} s)")
        kmsg(name)
    # nothing of leakscope's stays loaded (freeing is deferred: wait a bit)
    print("LEAKSCOPE-BEGIN cleanup", flush=True)
    for _ in range(20):
        left = bpf_objects() - before
        if not left:
            break
        time.sleep(0.5)
    result("cleanup", not left, "no BPF program or link left" if not left else
           "left loaded: " + ", ".join(f"{w} {i} {n}" for w, i, n in sorted(left)))
    kmsg("cleanup")
    print("LEAKSCOPE-DONE", flush=True)


if __name__ == "__main__":
    if sys.argv[1:] == ["--list-modules"]:
        # what the initramfs needs of /usr/lib/python3.11: this script's
        # imports and the fixtures' (py_leaks.py, kernel_pipes.py)
        import collections, resource, select, tracemalloc  # noqa: F401,E401
        for m in list(sys.modules.values()):
            f = getattr(m, "__file__", None)
            if f:
                print(f)
    else:
        main()
