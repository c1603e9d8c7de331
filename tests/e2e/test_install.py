"""Installed like any other tool: `make install DESTDIR=...` puts the
binary, the man page and the deploy files in place (and `make uninstall`
takes them away); the man page renders and names every option of
--help; --version answers; the systemd unit is valid."""
import re
import shutil
import subprocess

import pytest

from conftest import LEAKSCOPE, ROOT


def test_make_install_and_uninstall(tmp_path):
    dest = tmp_path / "root"
    subprocess.run(["make", "-C", str(ROOT), "install", f"DESTDIR={dest}", "PREFIX=/usr/local"],
                   check=True, capture_output=True, timeout=300)
    sbin = dest / "usr/local/sbin/leakscope"
    man = dest / "usr/local/share/man/man8/leakscope.8"
    unit = dest / "usr/local/share/leakscope/deploy/leakscope@.service"
    assert sbin.exists() and man.exists() and unit.exists()
    assert "/usr/local/sbin/leakscope" in unit.read_text()       # where it was installed
    out = subprocess.run([str(sbin), "--version"], capture_output=True, text=True, timeout=30)
    assert out.returncode == 0 and re.match(r"leakscope \S+\n$", out.stdout), out
    if shutil.which("man"):
        page = subprocess.run(["man", "-l", str(man)], capture_output=True, text=True,
                              timeout=30, env={"MANWIDTH": "80", "PATH": "/usr/bin:/bin"})
        assert page.returncode == 0, page.stderr
        assert "leakscope - trace memory leaks" in " ".join(page.stdout.split())
    subprocess.run(["make", "-C", str(ROOT), "uninstall", f"DESTDIR={dest}",
                    "PREFIX=/usr/local"], check=True, capture_output=True, timeout=60)
    assert not sbin.exists() and not man.exists() and not unit.exists()


def test_man_page_names_every_option():
    helptext = subprocess.run([str(LEAKSCOPE), "--help"], capture_output=True, text=True,
                              timeout=30).stdout
    page = (ROOT / "man" / "leakscope.8").read_text().replace("\\-", "-")
    options = set(re.findall(r"--[a-z][a-z-]+", helptext))
    assert len(options) > 20, options
    missing = sorted(o for o in options if o not in page)
    assert not missing, f"in --help, not in man/leakscope.8: {missing}"


@pytest.mark.skipif(not shutil.which("systemd-analyze"), reason="systemd-analyze missing")
def test_systemd_unit_verifies(tmp_path):
    unit = tmp_path / "leakscope@x.service"
    unit.write_text((ROOT / "deploy" / "leakscope@.service").read_text())
    p = subprocess.run(["systemd-analyze", "verify", str(unit)], capture_output=True,
                       text=True, timeout=60)
    # the instance's own service (x.service) does not exist here: only that
    bad = [l for l in p.stderr.splitlines() if l.strip() and "x.service" not in l]
    assert not bad, p.stderr
    sec = subprocess.run(["systemd-analyze", "security", "--offline=true", str(unit)],
                         capture_output=True, text=True, timeout=60).stdout
    score = float(re.search(r"Overall exposure level for \S+: ([0-9.]+)", sec).group(1))
    assert score <= 5.0, sec[-300:]


def test_dockerfile_installs_what_the_binary_links():
    """deploy/Dockerfile's runtime stage names, for every library the
    binary links (DT_NEEDED), the Debian package that ships it."""
    docker = (ROOT / "deploy" / "Dockerfile").read_text()
    runtime = docker.split("FROM debian:12\n", 1)[1]
    needed = re.findall(r"Shared library: \[(.+?)\]",
                        subprocess.run(["readelf", "-d", str(LEAKSCOPE)], capture_output=True,
                                       text=True, check=True).stdout)
    assert needed
    for lib in needed:
        owner = subprocess.run(["dpkg", "-S", f"*/x86_64-linux-gnu/{lib}"], capture_output=True,
                               text=True).stdout.splitlines()
        pkgs = {l.split(":")[0] for l in owner if "i386" not in l and "x32" not in l}
        assert pkgs & set(runtime.split()), (lib, pkgs)
    assert "make install" in docker and "/usr/local/sbin/leakscope" in docker


def test_daemonset_serves_the_named_processes_or_all():
    ds = (ROOT / "deploy" / "daemonset.yaml").read_text()
    args = ds.split("args:\n", 1)[1].split("ports:", 1)[0]
    cmd = " ".join(l.strip().lstrip("- ") for l in args.splitlines() if l.strip())
    cmd = cmd.replace("exec /usr/local/sbin/leakscope", "printf '%s\\n'")
    for comm, want in (("my-service", ["--comm", "my-service"]), ("", ["--all"])):
        out = subprocess.run(["sh", "-c", cmd], env={"LEAKSCOPE_COMM": comm, "PATH": "/usr/bin:/bin"},
                             capture_output=True, text=True, check=True).stdout.split("\n")
        assert out[0] == "serve" and out[-2] == "15", out
        assert want[0] in out and out[out.index(want[0]) + len(want) - 1] == want[-1], out
    assert "/var/log/pods" in ds
