"""Python line tables: leakscope's decoders (co_lnotab of 3.6-3.9, the
3.10 co_linetable, the 3.11+ location table) give, for every instruction
of thousands of real functions (the standard library's), the line the
interpreter itself gives (dis.findlinestarts up to 3.9, co_lines() from
3.10).  Needs no root: tests/tools/pyline_decode runs the decoders."""
import subprocess
from pathlib import Path

import pytest

from conftest import ROOT
from test_python import PYENV, interpreter

DECODE = ROOT / "build" / "tools" / "pyline_decode"
VECTORS = Path(__file__).with_name("pyline_vectors.py")
VERSIONS = ["3.6", "3.7", "3.8", "3.9", "3.10", "3.11", "3.12", "3.13"]


@pytest.mark.parametrize("version", VERSIONS)
def test_line_tables_match_the_interpreter(version):
    python = interpreter(f"{PYENV}/versions/{version}.*/bin/python{version}")
    if not python:
        pytest.skip(f"Python {version}: not installed on this machine")
    vectors = subprocess.run([python, str(VECTORS)], capture_output=True, text=True,
                             timeout=120, check=True).stdout.splitlines()
    queries, expected = vectors[0::2], vectors[1::2]
    assert len(queries) > 1000, len(queries)            # thousands of functions
    got = subprocess.run([str(DECODE)], input="\n".join(queries) + "\n", capture_output=True,
                         text=True, timeout=120, check=True).stdout.splitlines()
    assert len(got) == len(queries)
    bad = [(q[:120], e, g) for q, e, g in zip(queries, expected, got) if e.split() != g.split()]
    assert not bad, f"{len(bad)} of {len(queries)} differ, e.g. {bad[:2]}"
