"""Prints line-table test vectors of the running interpreter's own code
objects, for tests/tools/pyline_decode: FORMAT FIRSTLINENO HEXTABLE
OFFSET... on one line, the interpreter's answer for each offset on the
next (dis.findlinestarts up to 3.9, co_lines() in 3.10+, co_positions()
in 3.11+)."""
import dis
import importlib
import sys
import types

MODULES = ["argparse", "asyncio.base_events", "collections", "csv", "dataclasses",
           "decimal", "email.message", "enum", "ftplib", "http.client", "inspect",
           "json.decoder", "logging", "pathlib", "pydoc", "re", "shutil", "smtplib",
           "subprocess", "tarfile", "textwrap", "threading", "typing", "unittest.case",
           "urllib.parse", "zipfile"]


def code_objects():
    seen = set()
    todo = []
    for name in MODULES:
        try:
            mod = importlib.import_module(name)
        except ImportError:
            continue
        for obj in vars(mod).values():
            for f in [obj] + (list(vars(obj).values()) if isinstance(obj, type) else []):
                f = getattr(f, "__func__", f)
                if isinstance(f, types.FunctionType):
                    todo.append(f.__code__)
    while todo:
        co = todo.pop()
        if id(co) in seen:
            continue
        seen.add(id(co))
        yield co
        todo.extend(c for c in co.co_consts if isinstance(c, types.CodeType))


def lines_lnotab(co):
    starts = list(dis.findlinestarts(co))
    out = []
    for off in range(0, len(co.co_code), 2):
        line = co.co_firstlineno
        for start, ln in starts:
            if start <= off:
                line = ln
        out.append((off, line))
    return out


def lines_ranges(co, unit):
    out = []
    for start, end, line in co.co_lines():
        for off in range(start, end, 2):
            out.append((off // unit, line or 0))
    return out


def main():
    v = sys.version_info[:2]
    for co in code_objects():
        if v <= (3, 9):
            fmt, table, pairs = "lnotab", co.co_lnotab, lines_lnotab(co)
        elif v == (3, 10):
            fmt, table, pairs = "310", co.co_linetable, lines_ranges(co, 1)
        else:                       # locations: offsets in code units
            fmt, table, pairs = "locations", co.co_linetable, lines_ranges(co, 2)
        if not pairs:
            continue
        print(fmt, co.co_firstlineno, table.hex() or "-", *(o for o, _ in pairs))
        print(*(ln for _, ln in pairs))


main()
