"""`leakscope -p PID`: attach to a live process, detach leaving it untouched;
its leak classes by the second report of `-p PID 8 2`."""
import json
import os
import shutil
import signal
import subprocess
import time

import pytest

from conftest import (LEAKSCOPE, Tracer, by_function, is_libc, leakscope_programs_loaded,
                      parse_reports, text_mapping_intact)
import expected


def test_attach_exact_and_untouched_after(fixture_proc):
    fx = fixture_proc("leaks")
    assert text_mapping_intact(fx.pid, is_libc) == 0
    t = Tracer(fx.pid, "--json", "-n", "1000", "1")
    # probes are in the target while tracing: the check can see them
    assert text_mapping_intact(fx.pid, is_libc) > 0
    assert fx.step() == "done"
    rc, out, err = t.stop()
    assert rc == 0, err
    reports = parse_reports(out)
    r = reports[-1]
    assert r["final"] and all(not x["final"] for x in reports[:-1])
    assert r["pid"] == fx.pid and r["comm"] == "leaks"
    got = by_function(r)
    for fn, want in expected.LEAKS.items():
        assert got.get(fn) == want, f"{fn}: got {got.get(fn)}, want {want}"
    for fn in expected.LEAKS_ZERO:
        assert fn not in got
    # blocks allocated before attach and freed after: counted, not negative
    assert r["totals"]["untracked_frees"] == expected.PRE_BLOCKS
    assert all(s["outstanding_bytes"] > 0 for s in r["stacks"])
    # detached: no probe byte left in libc, no program loaded, target works
    assert text_mapping_intact(fx.pid, is_libc) == 0
    assert leakscope_programs_loaded() == []
    assert fx.step().startswith("ok ")


def test_interval_and_count_then_detach(fixture_proc):
    fx = fixture_proc("leaks")
    t = Tracer(fx.pid, "--json", "1", "2")
    assert fx.step() == "done"
    rc, out, err = t.wait()          # stops by itself after 2 reports
    assert rc == 0, err
    reports = parse_reports(out)
    assert len(reports) == 2
    assert [r["final"] for r in reports] == [False, True]
    assert text_mapping_intact(fx.pid, is_libc) == 0
    assert fx.step().startswith("ok ")


def test_size_filter(fixture_proc):
    fx = fixture_proc("leaks")
    t = Tracer(fx.pid, "--json", "-n", "1000", "--min-size", "1000",
               "--max-size", "1000")
    assert fx.step() == "done"
    rc, out, err = t.stop(signal.SIGTERM)
    assert rc == 0, err
    r = parse_reports(out)[-1]
    assert r["filtered"] is True
    got = by_function(r)
    # only 1000-byte blocks: malloc(1000) and calloc(20, 50)
    assert got.get("leak_malloc") == expected.LEAKS["leak_malloc"]
    assert got.get("leak_calloc") == expected.LEAKS["leak_calloc"]
    assert "leak_big_malloc" not in got and "leak_mmap" not in got


def test_age_filter(fixture_proc):
    fx = fixture_proc("leaks")
    young = Tracer(fx.pid, "--json", "--min-age", "3600")
    old = Tracer(fx.pid, "--json", "-n", "1000", "--min-age", "1")
    assert fx.step() == "done"
    time.sleep(1.5)                   # every leak is now older than 1 s
    rc, out, err = young.stop()
    assert rc == 0, err
    assert parse_reports(out)[-1]["stacks"] == []
    rc, out, err = old.stop()
    assert rc == 0, err
    r = parse_reports(out)[-1]
    got = by_function(r)
    assert got.get("leak_malloc") == expected.LEAKS["leak_malloc"]
    assert all(s["oldest_age_s"] >= 1.0 for s in r["stacks"])


def test_target_exits_mid_trace(fixture_proc):
    fx = fixture_proc("leaks")
    t = Tracer(fx.pid, "--json", "-n", "1000")
    assert fx.step() == "done"
    fx.proc.stdin.write("go\n")
    fx.proc.stdin.flush()
    fx.proc.wait(timeout=30)          # the target exits; leakscope follows
    rc, out, err = t.wait()
    assert rc == 0, err
    assert "exited" in err
    r = parse_reports(out)[-1]
    assert r["final"]
    assert by_function(r).get("leak_malloc") == expected.LEAKS["leak_malloc"]
    assert leakscope_programs_loaded() == []


def test_threads_live(fixture_proc):
    fx = fixture_proc("mt_leaks")
    t = Tracer(fx.pid, "--json", "-n", "1000")
    assert fx.step() == "done"
    rc, out, err = t.stop()
    assert rc == 0, err
    got = by_function(parse_reports(out)[-1])
    assert got.get("thread_leak") == expected.MT["thread_leak"]
    assert "thread_churn" not in got
    assert fx.step().startswith("ok ")


def test_ages_without_a_block_scan(fixture_proc):
    """Above --scan-limit, a report reads only the per-stack aggregates
    (O(stacks)); a leaking stack's age is then how long it has held
    memory, which for a leak is its oldest block's age."""
    fx = fixture_proc("leaks")
    exact = Tracer(fx.pid, "--json", "-n", "1000")
    cheap = Tracer(fx.pid, "--json", "-n", "1000", "--scan-limit", "0")
    assert fx.step() == "done"
    time.sleep(1.2)
    exact.proc.send_signal(signal.SIGINT)    # both report at the same time
    cheap.proc.send_signal(signal.SIGINT)
    _, out_e, _ = exact.wait()
    rc, out_c, err = cheap.wait()
    assert rc == 0, err
    e, c = parse_reports(out_e)[-1], parse_reports(out_c)[-1]
    assert e["ages_exact"] is True and c["ages_exact"] is False
    assert by_function(c) == by_function(e)          # same bytes and counts
    age_e = {s["frames"][0]["function"]: s["oldest_age_s"] for s in e["stacks"] if s["frames"]}
    for s in c["stacks"]:
        fn = s["frames"][0]["function"] if s["frames"] else None
        if fn in expected.LEAKS:                      # never freed: the same age
            assert s["oldest_age_s"] >= 1.0
            assert abs(s["oldest_age_s"] - age_e[fn]) < 0.5


def cgroup2_root():
    for d in ("/sys/fs/cgroup", "/sys/fs/cgroup/unified"):
        if os.path.exists(os.path.join(d, "cgroup.procs")) and \
                os.path.exists(os.path.join(d, "cgroup.subtree_control")):
            return d
    return None


@pytest.mark.parametrize("where", ["unit", "pod"])
def test_service_labels_from_the_cgroup(fixture_proc, tmp_path, where):
    """A process in a systemd-like unit's cgroup, or in a Kubernetes pod's
    (containerd's cgroupfs layout, the pod's log directory as kubelet
    makes it): reports name the service."""
    root = cgroup2_root()
    if not root:
        pytest.skip("no cgroup v2 hierarchy to make a cgroup in")
    uid = "8d3c2b1a-4e5f-6a7b-8c9d-0e1f2a3b4c5d"
    cid = "4f8a3c2b1d0e9f8a7b6c5d4e3f2a1b0c9d8e7f6a5b4c3d2e1f0a9b8c7d6e5f4a"
    rel = "leakscope-e2e.service" if where == "unit" else \
        f"leakscope-e2e-kubepods/burstable/pod{uid}/{cid}"
    cg = os.path.join(root, rel)
    pods = f"/var/log/pods/shop_cart-7d9f_{uid}"
    os.makedirs(cg, exist_ok=True)
    made_pods_dir = not os.path.exists("/var/log/pods")
    if where == "pod":
        os.makedirs(pods, exist_ok=True)
    fx = fixture_proc("leaks")
    try:
        with open(os.path.join(cg, "cgroup.procs"), "w") as f:
            f.write(str(fx.pid))
        t = Tracer(fx.pid, "--json", "-n", "1000")
        assert fx.step() == "done"
        rc, out, err = t.stop()
        assert rc == 0, err
        report = parse_reports(out)[-1]
        if where == "unit":
            assert report["labels"]["unit"] == "leakscope-e2e.service", report["labels"]
            assert report["labels"]["container"] is None
        else:
            assert report["labels"]["pod_uid"] == uid, report["labels"]
            assert report["labels"]["container"] == cid
            assert (report["labels"]["namespace"], report["labels"]["pod"]) == \
                ("shop", "cart-7d9f")
        text = subprocess.run([str(LEAKSCOPE), "-p", str(fx.pid), "1", "1"], capture_output=True,
                              text=True, timeout=60).stdout
        want = "leakscope-e2e.service" if where == "unit" else "shop/cart-7d9f"
        assert f"service: {want}" in text, text[:400]
    finally:
        fx.close()
        parts = rel.split("/")
        for k in range(len(parts), 0, -1):          # the cgroups made, leaf first
            d = os.path.join(root, *parts[:k])
            for _ in range(50):                     # the process is leaving it
                try:
                    os.rmdir(d)
                    break
                except FileNotFoundError:
                    break
                except OSError:
                    time.sleep(0.1)
        if where == "pod":
            shutil.rmtree("/var/log/pods" if made_pods_dir else pods, ignore_errors=True)


def test_classes_in_the_second_report_of_8_2(service):
    """cache_leak: a 20 KB/s leak and a cache full after 4 s.  Reports at
    8 s and 16 s: the timeline samples every second, so the second report
    classes both."""
    p = subprocess.run([str(LEAKSCOPE), "--json", "-p", str(service.pid), "8", "2"],
                       capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, p.stderr
    reports = [json.loads(l) for l in p.stdout.splitlines()]
    assert len(reports) == 2
    cls = {}
    for s in reports[1]["stacks"]:
        fns = [f["function"] for f in s["frames"]]
        for fn in ("leak_unbounded", "cache_insert"):
            if fn in fns:
                cls[fn] = s["class"]
    assert cls == {"leak_unbounded": "growing", "cache_insert": "plateau"}, reports[1]["stacks"][:2]
