"""`leakscope serve`: a real Prometheus scrapes /metrics, promtool accepts
it, `go tool pprof` fetches /debug/pprof/heap over HTTP; `serve --all`
shows each leaking process in /metrics, in the profile (its pid label)
and in `/`."""
import base64
import json
import re
import shutil
import signal
import socket
import ssl
import subprocess
import time
import urllib.request
import warnings

import pytest

from conftest import (FIXTURES, LEAKSCOPE, SOURCES, default_sigint, free_port, go_pprof,
                      leakscope_programs_loaded, pprof_top)
import expected


def get(url, timeout=10):
    with urllib.request.urlopen(url, timeout=timeout) as r:
        return r.status, r.headers.get("Content-Type"), r.read()


class Server:
    def __init__(self, pid, *args):
        self.proc = subprocess.Popen([str(LEAKSCOPE), "serve", "--listen", "127.0.0.1:0",
                                      *args, "-p", str(pid), "1"],
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                     text=True, preexec_fn=default_sigint)
        line = self.proc.stderr.readline()
        m = re.search(r"on port (\d+)", line)
        assert m, line + self.proc.stderr.read()
        self.url = f"http://127.0.0.1:{m.group(1)}"
        for _ in range(5):                          # (a Python target says so first)
            line = self.proc.stderr.readline()
            if "tracing PID" in line:
                break
        assert "tracing PID" in line, line

    def wait_report(self, timeout=20):
        """/metrics once a report has seen the target's leak."""
        deadline = time.time() + timeout
        while time.time() < deadline:
            try:
                r = get(self.url + "/metrics")
                if (metric(r[2].decode(), "leakscope_outstanding_bytes") or 0) > 0:
                    return r
            except urllib.error.HTTPError as e:
                assert e.code == 503        # no report yet
            time.sleep(0.2)
        raise AssertionError("no report with outstanding bytes")

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        out, err = self.proc.communicate(timeout=60)
        return self.proc.returncode, err


@pytest.fixture
def server(service):
    s = Server(service.pid)
    yield s
    if s.proc.poll() is None:
        s.stop()


def metric(text, name, **labels):
    for line in text.splitlines():
        if line.startswith(name + "{") and all(f'{k}="{v}"' in line for k, v in labels.items()):
            return float(line.rsplit(" ", 1)[1])
    return None


def test_metrics_promtool_and_clean_exit(server, service):
    status, ctype, body = server.wait_report()
    assert status == 200
    assert ctype == "text/plain; version=0.0.4; charset=utf-8"
    text = body.decode()
    assert metric(text, "leakscope_outstanding_bytes", pid=service.pid, comm="cache_leak") > 0
    assert metric(text, "leakscope_drops_total", reason="alloc_map_full") == 0
    assert "leakscope_bpf_runs_total" in text and "leakscope_cpu_seconds_total" in text
    assert not re.search(r"leak_unbounded|cache_insert", text)   # no per-stack series
    if shutil.which("promtool"):
        p = subprocess.run(["promtool", "check", "metrics"], input=body,
                           capture_output=True, timeout=30)
        assert p.returncode == 0, p.stdout + p.stderr
    deadline = time.time() + 30                     # classes need 5 reports
    while metric(text, "leakscope_stacks", **{"class": "growing"}) != 1 and time.time() < deadline:
        time.sleep(1)
        text = get(server.url + "/metrics")[2].decode()
    assert metric(text, "leakscope_stacks", **{"class": "growing"}) == 1   # leak_unbounded
    assert metric(text, "leakscope_growing_bytes") > 0
    with pytest.raises(urllib.error.HTTPError) as e:
        get(server.url + "/nothing")
    assert e.value.code == 404
    rc, err = server.stop()
    assert rc == 0, err
    assert not leakscope_programs_loaded()


@pytest.mark.skipif(not shutil.which("go"), reason="golang-go missing")
def test_go_tool_pprof_over_http(server, tmp_path):
    server.wait_report()
    top = pprof_top(tmp_path, server.url + "/debug/pprof/heap", "inuse_space")
    assert top.get("leak_unbounded", 0) > 0 and top.get("cache_insert", 0) > 0


def prometheus_scrape(tmp_path, job):
    """A real Prometheus scraping one job (YAML lines under the job name)
    every second: what its API answers for leakscope_outstanding_bytes
    (waits up to 60 s for a sample)."""
    port = free_port()
    (tmp_path / "prometheus.yml").write_text(
        "global:\n  scrape_interval: 1s\nscrape_configs:\n  - job_name: leakscope\n" + job)
    prom = subprocess.Popen(["prometheus", f"--config.file={tmp_path}/prometheus.yml",
                             f"--storage.tsdb.path={tmp_path}/data",
                             f"--web.listen-address=127.0.0.1:{port}"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        query = f"http://127.0.0.1:{port}/api/v1/query?query=leakscope_outstanding_bytes"
        deadline, result = time.time() + 60, []
        while time.time() < deadline and not result:
            time.sleep(1)
            try:
                result = json.loads(get(query)[2])["data"]["result"]
            except (OSError, ValueError):
                pass
        return result
    finally:
        prom.terminate()
        prom.wait(timeout=30)


@pytest.mark.skipif(not shutil.which("prometheus"), reason="prometheus missing")
def test_prometheus_scrapes(server, service, tmp_path):
    target = server.url.split("//")[1]
    result = prometheus_scrape(tmp_path, f"    static_configs:\n      - targets: ['{target}']\n")
    assert result, "Prometheus never had leakscope_outstanding_bytes"
    assert result[0]["metric"]["pid"] == str(service.pid)
    assert result[0]["metric"]["comm"] == "cache_leak"
    assert float(result[0]["value"][1]) > 0


@pytest.mark.skipif(not shutil.which("promtool"), reason="prometheus missing")
def test_deploy_configs_are_valid():
    deploy = FIXTURES.parent.parent / "deploy"
    for args in (["check", "config", "prometheus.yml"], ["check", "rules", "leakscope.rules.yml"]):
        p = subprocess.run(["promtool", *args], cwd=deploy, capture_output=True, text=True,
                           timeout=30)
        assert p.returncode == 0, p.stdout + p.stderr


def test_port_in_use_fails_before_tracing(service):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        p = subprocess.run([str(LEAKSCOPE), "serve", "--listen", f"127.0.0.1:{port}",
                            "-p", str(service.pid)], capture_output=True, text=True, timeout=30)
    assert p.returncode == 1
    assert f"cannot listen on 127.0.0.1:{port}" in p.stderr
    assert "tracing PID" not in p.stderr
    p = subprocess.run([str(LEAKSCOPE), "serve", "--listen", "localhost", "-p", "1"],
                       capture_output=True, text=True, timeout=30)
    assert p.returncode == 1 and "expected ADDR:PORT" in p.stderr
    p = subprocess.run([str(LEAKSCOPE), "--listen", "127.0.0.1:1", "-p", "1"],
                       capture_output=True, text=True, timeout=30)
    assert p.returncode == 2 and "leakscope serve" in p.stderr


def status_field(pid, name):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(name + ":"):
                return line.split()[1]
    return None


def test_serve_keeps_only_what_tracing_needs(tmp_path):
    """Once attached, the agent keeps CAP_BPF, CAP_PERFMON, CAP_SYS_PTRACE,
    CAP_CHECKPOINT_RESTORE and CAP_DAC_READ_SEARCH, with no_new_privs —
    and still names a Python target's lines (its memory read through
    /proc/PID/mem) in the profile it serves."""
    script = SOURCES / "py_leaks.py"
    fx = subprocess.Popen(["/usr/bin/python3", str(script), "run", "60"], stdout=subprocess.PIPE,
                          text=True)
    assert fx.stdout.readline().strip() == "ready"
    s = Server(fx.pid)
    try:
        s.wait_report()
        want = 1 << 39 | 1 << 38 | 1 << 19 | 1 << 40 | 1 << 2
        for field in ("CapEff", "CapPrm", "CapBnd"):
            assert int(status_field(s.proc.pid, field), 16) == want, field
        assert status_field(s.proc.pid, "CapInh") == "0" * 16
        assert status_field(s.proc.pid, "NoNewPrivs") == "1"
        time.sleep(2)                                # a report with the Python lines
        prof = tmp_path / "heap.pb.gz"
        prof.write_bytes(get(s.url + "/debug/pprof/heap")[2])
        top = subprocess.run(["go", "tool", "pprof", "-top", str(prof)], capture_output=True,
                             text=True, timeout=60).stdout
        assert "make_closure" in top or "cache_put" in top, top
    finally:
        rc, err = s.stop()
        fx.kill()
        fx.wait()
    assert rc == 0, err
    assert leakscope_programs_loaded() == []


@pytest.mark.skipif(not shutil.which("prometheus") or not shutil.which("openssl"),
                    reason="prometheus or openssl missing")
def test_https_and_basic_auth_with_a_real_prometheus(service, tmp_path):
    """--web-config: a self-signed certificate and a bcrypt user; a real
    Prometheus scrapes over HTTPS with basic auth; no credentials, a wrong
    password or plain HTTP get nothing."""
    with warnings.catch_warnings():                 # deprecated in 3.11, still libxcrypt's
        warnings.simplefilter("ignore", DeprecationWarning)
        import crypt                                # bcrypt, as htpasswd -B
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
                    "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
                    "-keyout", str(tmp_path / "key.pem"), "-out", str(tmp_path / "cert.pem")],
                   check=True, capture_output=True, timeout=60)
    hashed = crypt.crypt("s3cret", crypt.mksalt(crypt.METHOD_BLOWFISH, rounds=16))
    (tmp_path / "web.yml").write_text(
        "tls_server_config:\n  cert_file: cert.pem\n  key_file: key.pem\n"
        f"basic_auth_users:\n  prometheus: '{hashed}'\n")
    s = Server(service.pid, "--web-config", str(tmp_path / "web.yml"))
    https = s.url.replace("http://", "https://")
    ctx = ssl.create_default_context(cafile=str(tmp_path / "cert.pem"))

    def fetch(user=None, password=None, url=https + "/metrics"):
        req = urllib.request.Request(url)
        if user:
            token = base64.b64encode(f"{user}:{password}".encode()).decode()
            req.add_header("Authorization", f"Basic {token}")
        with urllib.request.urlopen(req, timeout=10, context=ctx) as r:
            return r.status

    try:
        with pytest.raises(urllib.error.HTTPError) as e:
            fetch()
        assert e.value.code == 401 and "Basic" in e.value.headers.get("WWW-Authenticate")
        with pytest.raises(urllib.error.HTTPError) as e:
            fetch("prometheus", "wrong")
        assert e.value.code == 401
        for _ in range(40):                         # authenticated: 503 until a report
            try:
                assert fetch("prometheus", "s3cret") == 200
                break
            except urllib.error.HTTPError as e:
                assert e.code == 503
                time.sleep(0.5)
        with pytest.raises((urllib.error.URLError, ConnectionError, OSError)):
            urllib.request.urlopen(s.url + "/metrics", timeout=5)     # plain HTTP
        target = s.url.split("//")[1]
        result = prometheus_scrape(tmp_path, "    scheme: https\n"
                                   f"    tls_config:\n      ca_file: {tmp_path}/cert.pem\n"
                                   "    basic_auth:\n      username: prometheus\n"
                                   "      password: s3cret\n"
                                   f"    static_configs:\n      - targets: ['{target}']\n")
        assert result, "Prometheus never scraped leakscope over HTTPS"
        assert result[0]["metric"]["pid"] == str(service.pid)
        assert float(result[0]["value"][1]) > 0
    finally:
        rc, err = s.stop()
    assert rc == 0, err


def test_bad_web_config_fails_before_attaching(service, tmp_path):
    (tmp_path / "web.yml").write_text("tls_server_config:\n  cert_fil: x.pem\n")
    p = subprocess.run([str(LEAKSCOPE), "serve", "--listen", "127.0.0.1:0", "--web-config",
                        str(tmp_path / "web.yml"), "-p", str(service.pid)],
                       capture_output=True, text=True, timeout=60)
    assert p.returncode != 0
    assert "line 2: not supported here" in p.stderr and "cert_fil" in p.stderr, p.stderr
    assert "tracing" not in p.stderr and leakscope_programs_loaded() == []


def series(text, name):
    """{pid label: value} of a metric family."""
    out = {}
    for line in text.splitlines():
        m = re.match(name + r'\{pid="([^"]+)".*\} (\S+)$', line)
        if m:
            out[m.group(1)] = out.get(m.group(1), 0) + float(m.group(2))
    return out


def start_serve(*args):
    p = subprocess.Popen([str(LEAKSCOPE), "serve", "--listen", "127.0.0.1:0", *args, "1"],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                         preexec_fn=default_sigint)
    port, lines = None, []
    for _ in range(20):
        line = p.stderr.readline()
        lines.append(line)
        m = re.search(r"on port (\d+)", line)
        port = port or (m and m.group(1))
        if "tracing" in line:
            break
    assert port and "tracing" in lines[-1], "".join(lines)
    return p, f"http://127.0.0.1:{port}"


def test_serve_all_exposes_each_process(fixture_proc, tmp_path):
    a, b = fixture_proc("leaks"), fixture_proc("leaks")
    p, url = start_serve("--all")
    try:
        assert a.step() == "done" and b.step() == "done"
        want = sum(v[0] for v in expected.LEAKS.values())
        deadline = time.time() + 30
        while time.time() < deadline:
            time.sleep(1)
            text = get(url + "/metrics")[2].decode()
            got = series(text, "leakscope_outstanding_bytes")
            if got.get(str(a.pid), 0) >= want and got.get(str(b.pid), 0) >= want:
                break
        assert got.get(str(a.pid)) == want and got.get(str(b.pid)) == want, text
        assert re.search(r'leakscope_outstanding_bytes\{pid="%d",comm="leaks"' % a.pid, text)
        assert "# TYPE leakscope_processes gauge" in text
        prof = tmp_path / "heap.pb.gz"
        prof.write_bytes(get(url + "/debug/pprof/heap")[2])
        # each process's leaks under its own pid label, as pprof reads it
        for f in (a, b):
            top = go_pprof(tmp_path, "-top", "-nodecount=1000", "-unit=B",
                           "-sample_index=inuse_space", f"-tagfocus=pid={f.pid}", str(prof))
            assert "leak_big_malloc" in top and "leak_mmap" in top, top
            assert re.search(r"^\s*%dB .* leak_big_malloc$" % expected.LEAKS["leak_big_malloc"][0],
                             top, re.M), top
        # `/`: the HTML report of the live data, both processes in it
        from test_html_report import embedded_data
        page = get(url + "/")[2].decode()
        data = embedded_data(page)
        assert {a.pid, b.pid} <= {s["pid"] for s in data["stacks"]}
        assert data["total_series"]
        raw = go_pprof(tmp_path, "-raw", str(prof))
        assert f"pid:[{a.pid}]" in raw.replace(" ", "") or f"pid:[{a.pid}" in raw
    finally:
        p.send_signal(signal.SIGTERM)
        _, err = p.communicate(timeout=120)
    assert p.returncode == 0, err
    assert not leakscope_programs_loaded()
