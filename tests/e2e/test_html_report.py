"""The HTML report drawn by a real browser: Debian's chromium, headless,
driven over --remote-debugging-pipe (the DevTools protocol), which tells
console errors and uncaught exceptions apart and sees every request the
page makes.

build/tools/html_sample writes the page from a made-up report; these tests
check that it draws without a script error or a network request, that the
flame graph and chart show what the embedded data holds, and that the
controls (search, zoom, growing only, allocation volume, table rows) work.

For other tests: render(html_path) -> (dom, console_errors), open_page()
for more, embedded_data(html_text) for the report the page carries, and
elements(dom, ...) to pick elements out of the DOM.
"""
import base64
import json
import os
import re
import select
import shutil
import subprocess
import tempfile
import time
from html.parser import HTMLParser
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
HTML_SAMPLE = ROOT / "build" / "tools" / "html_sample"
SCREENSHOT = ROOT / "build" / "html_report.png"
TIMEOUT = 60


def chromium_path():
    return shutil.which("chromium") or shutil.which("chromium-browser")


class Page:
    """One headless chromium showing one page, over the DevTools pipe:
    chromium reads commands on its fd 3 and writes replies and events on
    fd 4, each a JSON message ended by a NUL byte."""

    def __init__(self, url, size=(1400, 1000)):
        self.profile = tempfile.TemporaryDirectory(prefix="leakscope-chromium-")
        self.log = open(os.path.join(self.profile.name, "stderr.log"), "w+")
        cmd_r, self.cmd_w = os.pipe()
        self.res_r, res_w = os.pipe()
        args = ["--headless", "--no-sandbox", "--disable-gpu", "--remote-debugging-pipe",
                "--user-data-dir=" + self.profile.name, "--no-first-run",
                "--window-size=%d,%d" % size, "about:blank"]
        # bash puts the pipe ends where chromium expects them (dash's
        # redirections stop at fd 9)
        self.proc = subprocess.Popen(
            ["bash", "-c", 'exec "$0" "$@" 3<&%d 4>&%d' % (cmd_r, res_w), chromium_path(), *args],
            pass_fds=(cmd_r, res_w), stdout=self.log, stderr=self.log)
        os.close(cmd_r)
        os.close(res_w)
        self.buf = b""
        self.next_id = 0
        self.events = []
        self.session = None
        try:
            self._open(url, size)
        except Exception:
            self.close()
            raise

    def _open(self, url, size):
        target = self.call("Target.createTarget", {"url": "about:blank"})["targetId"]
        self.session = self.call("Target.attachToTarget",
                                 {"targetId": target, "flatten": True})["sessionId"]
        for domain in ("Page", "Runtime", "Log", "Network"):
            self.call(domain + ".enable")
        self.call("Emulation.setDeviceMetricsOverride",
                  {"width": size[0], "height": size[1], "deviceScaleFactor": 1, "mobile": False})
        self.call("Page.navigate", {"url": url})
        self.wait_event("Page.loadEventFired")

    def _read(self, deadline):
        while b"\0" not in self.buf:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([self.res_r], [], [], left)[0]:
                raise TimeoutError("chromium did not answer; its log:\n" + self.stderr())
            chunk = os.read(self.res_r, 1 << 16)
            if not chunk:
                raise RuntimeError("chromium exited; its log:\n" + self.stderr())
            self.buf += chunk
        msg, self.buf = self.buf.split(b"\0", 1)
        return json.loads(msg)

    def call(self, method, params=None):
        """Sends a command (to the page once attached); its result."""
        self.next_id += 1
        msg = {"id": self.next_id, "method": method, "params": params or {}}
        if self.session and not method.startswith("Target."):
            msg["sessionId"] = self.session
        os.write(self.cmd_w, json.dumps(msg).encode() + b"\0")
        deadline = time.monotonic() + TIMEOUT
        while True:
            m = self._read(deadline)
            if m.get("id") == self.next_id:
                if "error" in m:
                    raise RuntimeError("%s: %s" % (method, m["error"]))
                return m["result"]
            self.events.append(m)

    def wait_event(self, method):
        deadline = time.monotonic() + TIMEOUT
        while not any(e.get("method") == method for e in self.events):
            self.events.append(self._read(deadline))

    def eval(self, expression):
        """The value of a JavaScript expression in the page (JSON-able)."""
        r = self.call("Runtime.evaluate", {"expression": expression, "returnByValue": True,
                                           "awaitPromise": True})
        if "exceptionDetails" in r:
            raise RuntimeError("in the page: " + json.dumps(r["exceptionDetails"]))
        return r["result"].get("value")

    def dom(self):
        return self.eval("document.documentElement.outerHTML")

    def screenshot(self, path):
        """The whole page, not only the window, as a PNG."""
        h = self.eval("document.documentElement.scrollHeight")
        w = self.eval("document.documentElement.scrollWidth")
        r = self.call("Page.captureScreenshot", {
            "format": "png", "captureBeyondViewport": True,
            "clip": {"x": 0, "y": 0, "width": w, "height": h, "scale": 1}})
        Path(path).write_bytes(base64.b64decode(r["data"]))

    def console_errors(self):
        """console.error/assert calls, uncaught exceptions, error log
        entries (a resource that failed to load, a CSP violation)."""
        out = []
        for e in self.events:
            p = e.get("params", {})
            if e.get("method") == "Runtime.consoleAPICalled" and p["type"] in ("error", "assert"):
                out.append(" ".join(str(a.get("value", a.get("description"))) for a in p["args"]))
            elif e.get("method") == "Runtime.exceptionThrown":
                d = p["exceptionDetails"]
                out.append(d.get("exception", {}).get("description") or d.get("text"))
            elif e.get("method") == "Log.entryAdded" and p["entry"]["level"] == "error":
                out.append(p["entry"]["text"])
        return out

    def requests(self):
        """Every URL the page asked for (itself included)."""
        return [e["params"]["request"]["url"] for e in self.events
                if e.get("method") == "Network.requestWillBeSent"]

    def stderr(self):
        self.log.flush()
        self.log.seek(0)
        return self.log.read()[-4000:]

    def close(self):
        try:
            if self.proc.poll() is None:
                self.session = None
                self.call("Browser.close")
        except Exception:
            pass
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        for fd in (self.cmd_w, self.res_r):
            try:
                os.close(fd)
            except OSError:
                pass
        self.log.close()
        self.profile.cleanup()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def open_page(html_path, size=(1400, 1000)):
    """`with open_page(path) as page:` the page loaded and drawn."""
    return Page(Path(html_path).resolve().as_uri(), size)


def render(html_path, screenshot=None):
    """(the DOM after the page's script ran, console errors); with
    screenshot, also a PNG of the whole page there."""
    with open_page(html_path) as page:
        dom = page.dom()
        if screenshot:
            page.screenshot(screenshot)
        return dom, page.console_errors()


def embedded_data(html_text):
    """The report a page carries (its leakscope-data element), parsed."""
    m = re.search(r'<script type="application/json" id="leakscope-data">(.*?)</script>',
                  html_text, re.S)
    assert m, "no leakscope-data element"
    return json.loads(m.group(1))


class _Collect(HTMLParser):
    VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta",
            "source", "track", "wbr"}

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.stack, self.found = [], []

    def handle_starttag(self, tag, attrs):
        el = {"tag": tag, "attrs": dict(attrs), "text": "",
              "within": [dict(a["attrs"], tag=a["tag"]) for a in self.stack]}
        if tag in self.VOID:
            self.found.append(el)
        else:
            self.stack.append(el)

    def handle_startendtag(self, tag, attrs):
        self.handle_starttag(tag, attrs)
        if tag not in self.VOID:
            self.handle_endtag(tag)

    def handle_endtag(self, tag):
        for i in range(len(self.stack) - 1, -1, -1):
            if self.stack[i]["tag"] == tag:
                for el in reversed(self.stack[i:]):
                    self.found.append(el)
                del self.stack[i:]
                return

    def handle_data(self, data):
        for el in self.stack:
            el["text"] += data


def elements(dom, tag=None, cls=None, within_id=None):
    """The elements of dom with that tag, class and ancestor id: dicts of
    tag, attrs, text (all text inside, entities decoded)."""
    p = _Collect()
    p.feed(dom)
    p.close()
    return [e for e in p.found
            if (tag is None or e["tag"] == tag)
            and (cls is None or cls in e["attrs"].get("class", "").split())
            and (within_id is None or any(a.get("id") == within_id for a in e["within"]))]


# --- tests -----------------------------------------------------------------

pytestmark = pytest.mark.skipif(not chromium_path(),
                                reason="chromium is not installed (tools/install-deps.sh)")

GROWING = "leak_growing_buffer"
HOSTILE = "</script><b>x\u2028y"


@pytest.fixture(scope="module")
def sample(tmp_path_factory):
    if not HTML_SAMPLE.exists():
        pytest.skip("build/tools/html_sample is not built (make build/tools/html_sample)")
    path = tmp_path_factory.mktemp("html") / "report.html"
    subprocess.run([str(HTML_SAMPLE), str(path)], check=True, timeout=TIMEOUT)
    return path


@pytest.fixture(scope="module")
def drawn(sample):
    SCREENSHOT.parent.mkdir(exist_ok=True)
    dom, errors = render(sample, screenshot=SCREENSHOT)
    return dom, errors, embedded_data(sample.read_text())


def test_draws_without_errors_or_network(sample):
    with open_page(sample) as page:
        assert page.console_errors() == []
        assert page.eval("!!document.getElementById('render-error')") is False
        assert [u for u in page.requests() if not u.startswith(("file:", "data:"))] == []


def test_flame_graph_shows_the_leak(drawn):
    dom, errors, data = drawn
    assert errors == []
    frames = [e["text"] for e in elements(dom, "div", "frame", within_id="flame")]
    assert GROWING in frames
    assert "append_record (store.py:88)" in frames	# a Python frame
    assert frames[0] == "all"
    # hostile names are text, never markup
    assert HOSTILE in frames
    assert "<img src=x onerror=alert(1)>" in frames
    assert elements(dom, "img") == [] and elements(dom, "b", within_id="app") == []
    assert SCREENSHOT.stat().st_size > 10000
    assert SCREENSHOT.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_chart_has_one_series_per_top_stack(drawn):
    dom, _, data = drawn
    with_history = [i for i, s in enumerate(data["stacks"]) if s["series"]]
    top = sorted(with_history, key=lambda i: -data["stacks"][i]["outstanding_bytes"])[:10]
    svg = elements(dom, "svg", within_id="chart")
    assert len(svg) == 1 and svg[0]["attrs"]["data-series-count"] == str(len(top))
    paths = elements(dom, "path", "series-stack", within_id="chart")
    assert [int(p["attrs"]["data-stack"]) for p in paths] == top
    assert [p["attrs"]["data-class"] for p in paths] == [data["stacks"][i]["class"] for i in top]
    assert len(elements(dom, "path", "series-total", within_id="chart")) == 1
    assert len(top) == 10 < len(data["stacks"])


def test_header_and_table(drawn):
    dom, _, data = drawn
    header = elements(dom, "header")[0]["text"]
    assert "demo_server (pid 4242)" in header and "demo.service" in header
    assert "stack_lost 3" in header
    rows = elements(dom, "tr", "stack-row")
    assert len(rows) == len(data["stacks"])
    assert GROWING in rows[0]["text"] and rows[0]["attrs"]["data-class"] == "growing"


# What the controls do, read back from the page
FRAMES_JS = "[...document.querySelectorAll('#flame .frame')]"
TEXTS_JS = FRAMES_JS + ".map(e => e.textContent)"


def test_controls(sample):
    with open_page(sample) as page:
        # search: matches highlighted, nothing else
        page.eval("(() => { const s = document.getElementById('flame-search');"
                  " s.value = 'growing_buf'; s.dispatchEvent(new Event('input')); })()")
        matched = page.eval(FRAMES_JS + ".filter(e => e.classList.contains('match'))"
                            ".map(e => e.textContent)")
        assert matched == [GROWING]
        assert "matching" in page.eval("document.getElementById('flame-info').textContent")

        # click a frame: it fills the width, other branches go
        page.eval(FRAMES_JS + ".find(e => e.textContent === 'handle (server.py:41)').click()")
        zoomed = page.eval(FRAMES_JS + ".find(e => e.textContent === 'handle (server.py:41)')"
                           ".offsetWidth / document.getElementById('flame').clientWidth")
        assert zoomed > 0.99
        texts = page.eval(TEXTS_JS)
        assert GROWING not in texts and "append_record (store.py:88)" in texts
        assert page.eval(FRAMES_JS + ".filter(e => e.classList.contains('ancestor')).length") > 0
        page.eval(FRAMES_JS + "[0].click()")	# the root: all again
        assert GROWING in page.eval(TEXTS_JS)

        # hover: a tooltip with bytes, class, growth
        tip = page.eval("(() => { const f = " + FRAMES_JS + ".find(e => e.textContent === '"
                        + GROWING + "'); const r = f.getBoundingClientRect();"
                        " f.dispatchEvent(new MouseEvent('mousemove', {bubbles: true,"
                        " clientX: r.left + 2, clientY: r.top + 2}));"
                        " const t = document.getElementById('tooltip');"
                        " return [getComputedStyle(t).display, t.textContent]; })()")
        assert tip[0] == "block"
        assert "outstanding: 8.00 MiB" in tip[1] and "class: growing" in tip[1]
        assert "growth: +" in tip[1]

        # growing only: the plateau's cache goes
        assert "cache_insert" in page.eval(TEXTS_JS)
        page.eval("document.getElementById('flame-growing').click()")
        texts = page.eval(TEXTS_JS)
        assert "cache_insert" not in texts and GROWING in texts
        page.eval("document.getElementById('flame-growing').click()")

        # allocation volume: the churning stack, tiny outstanding, dominates
        assert "churn_temp_buffer" not in page.eval(TEXTS_JS)
        page.eval("document.getElementById('flame-mode-alloc').click()")
        assert "churn_temp_buffer" in page.eval(TEXTS_JS)

        # a table row opens its whole stack, and closes it again
        page.eval("document.getElementById('stack-row-2').click()")
        detail = page.eval("document.getElementById('stack-detail-2').textContent")
        for f in ("PyMem_Malloc", "append_record (store.py:88)", "handle (server.py:41)",
                  "Py_RunMain", "main"):
            assert f in detail
        page.eval("document.getElementById('stack-row-2').click()")
        assert page.eval("document.getElementById('stack-detail-2')") is None

        assert page.console_errors() == []
