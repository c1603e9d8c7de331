"""Reading leakscope's JSON reports: the helpers the e2e tests and the
kernel matrix's guest checks (tools/kernels/checks.py, which runs without
pytest) share.  Pure: no pytest, no subprocess."""
import json
import re
from pathlib import Path

SOURCES = Path(__file__).resolve().parents[1] / "fixtures"

# kernel functions that create and fill pipes (--kernel tests)
PIPE_FUNCS = {"do_pipe2", "create_pipe_files", "alloc_pipe_info", "anon_pipe_write",
              "pipe_write"}


def marker_lines(source):
    """{name: line} for every 'LINE:name' marker in a fixture source."""
    lines = {}
    for n, text in enumerate((SOURCES / source).read_text().splitlines(), 1):
        m = re.search(r"LINE:(\w+)", text)
        if m:
            lines[m.group(1)] = n
    return lines


def parse_reports(stdout):
    return [json.loads(line) for line in stdout.splitlines() if line.strip()]


def by_function(report):
    """Sums outstanding bytes/blocks per innermost frame's function: the
    caller of the allocator, since stacks are captured at its return."""
    out = {}
    for s in report["stacks"]:
        fn = s["frames"][0]["function"] if s["frames"] else None
        b, n = out.get(fn, (0, 0))
        out[fn] = (b + s["outstanding_bytes"], n + s["outstanding_allocs"])
    return out


def pipe_bytes(report):
    """Bytes and classes of the kernel stacks that go through pipe code."""
    total, classes = 0, set()
    for s in report["stacks"]:
        if s["pid"] == 0 and any(f["function"] in PIPE_FUNCS for f in s["frames"]):
            total += s["outstanding_bytes"]
            classes.add(s["class"])
    return total, classes
