#!/usr/bin/env python3
"""matrix.py - the kernel matrix (`make test-kernels`): boots Debian's kernel
packages under qemu (software emulation: no KVM needed) with an initramfs
holding this build, runs leakscope's checks in each (tools/kernels/checks.py)
and prints a table kernel x check; also written to build/kernels/matrix.md.
Exits 1 when any check failed or a kernel logged an oops, BUG, WARNING,
panic, general protection fault or "leaking uprobe".

Environment:
  KERNELS               series or packages (tools/kernels/fetch.sh), default
                        "6.1 6.12 6.18 7"
  KERNEL_CACHE          where kernels are kept (/var/cache/leakscope-kernels)
  KERNEL_CHECKS         only these checks, comma-separated (checks.py's names)
  KERNEL_SMP            vCPUs per guest (default 1, see SMP below)
  KERNEL_JOBS           guests booted at once (default: host CPUs / KERNEL_SMP)
  KERNEL_TIMEOUT        seconds a guest may run (default 300)
  KERNEL_CHECK_TIMEOUT  seconds a check may run in the guest (default 120)
  BUILD                 the build directory (default build)
"""
import concurrent.futures
import datetime
import os
import re
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
HERE = REPO / "tools" / "kernels"
BUILD = Path(os.environ.get("BUILD", REPO / "build"))
if not BUILD.is_absolute():
    BUILD = REPO / BUILD
OUT = BUILD / "kernels"
CHECKS = ["cmd", "unwind-fp", "attach-multi", "attach-persite", "python", "kernel"]
KERNELS = os.environ.get("KERNELS", "6.1 6.12 6.18 7").split()
# One vCPU per guest, and as many guests at once as the host has CPUs.
# With two vCPUs, qemu's multi-threaded TCG (a host thread per vCPU) lets
# a vCPU run a stale int3 after the kernel finished patching its own code
# (text_poke_bp, as tracepoints and static keys flip): "Oops: int3" (7.2,
# 6.18) or a hung CPU (6.1), also with no leakscope at all (the `patching`
# check).  One vCPU, or two on one host thread (-accel tcg,thread=single),
# never showed it.  An emulator artefact, measured in README.md here.
SMP = int(os.environ.get("KERNEL_SMP", "1"))
JOBS = int(os.environ.get("KERNEL_JOBS", max(1, (os.cpu_count() or 1) // SMP)))
BOOT_TIMEOUT = int(os.environ.get("KERNEL_TIMEOUT", "300"))
CHECK_TIMEOUT = int(os.environ.get("KERNEL_CHECK_TIMEOUT", "120"))
ONLY = os.environ.get("KERNEL_CHECKS", "")
ACCEL = os.environ.get("KERNEL_ACCEL", "tcg")

# Lines of the guest's console that fail a kernel's run.
BAD = re.compile(r"Oops|BUG[: ]|WARNING:|Kernel panic|general protection|leaking uprobe"
                 r"|Unable to handle kernel|blocked for more than \d+ seconds")


def log(msg):
    print(msg, flush=True)


def fetch():
    env = dict(os.environ)
    p = subprocess.run([str(HERE / "fetch.sh"), *KERNELS], stdout=subprocess.PIPE, text=True,
                       env=env)
    kernels = []
    for line in p.stdout.splitlines():
        series, version, package, vmlinuz = line.split()
        kernels.append({"series": series, "version": version, "package": package,
                        "vmlinuz": vmlinuz})
    return kernels, p.returncode


def boot(k, initrd, attempt):
    name = f"{k['series']}-{k['version']}".replace("~", "_")
    path = OUT / (f"{name}.log" if attempt == 1 else f"{name}.try{attempt}.log")
    append = f"console=ttyS0 panic=-1 quiet ls.timeout={CHECK_TIMEOUT}"
    if ONLY:
        append += f" ls.checks={ONLY}"
    cmd = ["qemu-system-x86_64", "-kernel", k["vmlinuz"], "-initrd", str(initrd),
           "-append", append, "-nographic", "-no-reboot", "-m", "2G", "-smp", str(SMP),
           "-cpu", "max", "-accel", ACCEL]
    t0 = time.monotonic()
    with open(path, "wb") as f:
        f.write(("# " + " ".join(cmd) + "\n").encode())
        f.flush()
        p = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=f, stderr=subprocess.STDOUT)
        try:
            p.wait(timeout=BOOT_TIMEOUT)
            timed_out = False
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()
            timed_out = True
    r = parse(path.read_bytes().decode("utf-8", "replace"))
    r.update(log=path, seconds=time.monotonic() - t0, timed_out=timed_out, attempt=attempt)
    return r


def parse(text):
    """Results, kernel complaints and progress from a console log."""
    r = {"checks": {}, "bad": [], "uname": None, "begun": None, "done": False}
    seen = set()
    for raw in text.splitlines():
        line = raw.replace("\r", "").strip()
        line = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", line)
        m = re.search(r"LEAKSCOPE-CHECK (\S+) (PASS|FAIL) ?(.*)", line)
        if m:
            r["checks"][m.group(1)] = (m.group(2), m.group(3))
            continue
        m = re.search(r"LEAKSCOPE-GUEST kernel (\S+)", line)
        if m:
            r["uname"] = m.group(1)
            continue
        m = re.search(r"LEAKSCOPE-BEGIN (\S+)", line)
        if m:
            r["begun"] = m.group(1)
            continue
        if "LEAKSCOPE-DONE" in line:
            r["done"] = True
            continue
        if line.startswith("#") or "LEAKSCOPE-" in line:
            continue
        if BAD.search(line):
            # the same message on the console and in the KMSG dump: once
            key = re.sub(r"^(KMSG \S+: )?(\[ *[0-9.]+\] )?", "", line)
            if key not in seen:
                seen.add(key)
                r["bad"].append(line)
    return r


def emulator_artefact(r):
    """An oops of multi-threaded TCG's cross-vCPU code patching (see SMP):
    an int3 trap in the kernel with more than one vCPU on several host
    threads.  Worth one more boot; anything else is not retried."""
    return SMP > 1 and "thread=single" not in ACCEL and r["bad"] and \
        any("Oops: int3" in b for b in r["bad"])


def run_kernel(k, initrd):
    r = boot(k, initrd, 1)
    if emulator_artefact(r):
        log(f"  {k['series']}: {r['bad'][0]} -- multi-threaded TCG's cross-CPU code "
            f"patching (an emulator artefact, {SMP} vCPUs): booting once more")
        first = r
        r = boot(k, initrd, 2)
        r["retried"] = first["bad"][0]
    return k, r


def md_escape(s):
    return s.replace("|", "\\|")


def table(results):
    cols = CHECKS if not ONLY else [c for c in ONLY.split(",") if c]
    cols = list(dict.fromkeys(cols)) + ["cleanup"]
    head = ["kernel", "package"] + [f"`{c}`" for c in cols] + ["kernel log"]
    rows, notes, failed = [], [], False

    def cell(text):
        notes.append(text)
        return f"FAIL [{len(notes)}]"

    for k, r in results:
        uname = k["version"].split("-")[0]     # upstream version: 6.1.192, not 6.1.0-57
        row = [uname, f"`{k['package']}` {k['version']}"]
        for c in cols:
            got = r["checks"].get(c)
            if got and got[0] == "PASS":
                # which path a live attach took: uprobe-multi is 6.6+
                path = re.match(r"(uprobe-multi|per-site):", got[1]) if c == "attach-multi" else None
                row.append(f"PASS ({path.group(1)})" if path else "PASS")
            elif got:
                failed = True
                row.append(cell(f"{uname} `{c}`: {got[1]}"))
            else:
                failed = True
                why = ("guest timed out" if r["timed_out"] else "guest stopped") + \
                    (f" during `{r['begun']}`" if r["begun"] else " before the checks")
                row.append(cell(f"{uname} `{c}`: not run: {why} (log: {r['log']})"))
        if r["bad"]:
            failed = True
            row.append(cell(f"{uname} kernel log: " + " / ".join(r["bad"][:4])))
        else:
            row.append("clean" + (" (retried)" if r.get("retried") else ""))
        rows.append(row)
    out = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    out += ["| " + " | ".join(md_escape(c) for c in row) + " |" for row in rows]
    if notes:
        out.append("")
        out += [f"{i}. {md_escape(n)}" for i, n in enumerate(notes, 1)]
    retried = [(k, r) for k, r in results if r.get("retried")]
    for k, r in retried:
        out.append(f"\n{k['series']} was booted twice: the first boot logged "
                   f"`{r['retried']}` (multi-threaded TCG, {SMP} vCPUs).")
    return "\n".join(out), failed


def main():
    t0 = time.monotonic()
    OUT.mkdir(parents=True, exist_ok=True)
    kernels, fetch_rc = fetch()
    if not kernels:
        log("test-kernels: no kernel could be fetched")
        return 1
    initrd = OUT / "initramfs.cpio"
    subprocess.run([str(HERE / "initramfs.sh"), str(REPO), str(BUILD), str(initrd)], check=True)
    log(f"test-kernels: {len(kernels)} kernels, {SMP} vCPU each, {JOBS} at once, "
        f"software emulation ({ACCEL})")
    results = []
    with concurrent.futures.ThreadPoolExecutor(JOBS) as pool:
        futures = [pool.submit(run_kernel, k, initrd) for k in kernels]
        for f in concurrent.futures.as_completed(futures):
            k, r = f.result()
            ok = sum(1 for s, _ in r["checks"].values() if s == "PASS")
            log(f"  {k['package']} {k['version']}: {r['uname']}, {ok}/{len(r['checks'])} "
                f"checks passed, {len(r['bad'])} kernel complaints, {r['seconds']:.0f} s "
                f"({r['log'].relative_to(REPO) if r['log'].is_relative_to(REPO) else r['log']})")
            for b in r["bad"]:
                log(f"    {b}")
            results.append((k, r))
    order = {k["series"]: i for i, k in enumerate(kernels)}
    results.sort(key=lambda kr: order[kr[0]["series"]])
    text, failed = table(results)
    rev = subprocess.run(["git", "-C", str(REPO), "describe", "--always", "--dirty"],
                         capture_output=True, text=True).stdout.strip()
    stamp = datetime.date.today().isoformat()
    doc = (f"Kernel matrix of leakscope {rev} ({stamp}): Debian's kernels under "
           f"qemu-system-x86_64 (TCG, {SMP} vCPU), `make test-kernels`.\n\n{text}\n")
    (OUT / "matrix.md").write_text(doc)
    log("")
    log(doc)
    log(f"test-kernels: {time.monotonic() - t0:.0f} s; logs and matrix.md in "
        f"{OUT.relative_to(REPO) if OUT.is_relative_to(REPO) else OUT}")
    return 1 if failed or fetch_rc else 0


if __name__ == "__main__":
    sys.exit(main())
