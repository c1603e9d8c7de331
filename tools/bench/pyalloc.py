"""pyalloc.py - `make bench`'s Python workload: N allocations of 1 KiB
bytes objects (malloc underneath) at a call depth of 12 Python frames,
each freed 100 allocations later.  Prints RESULT ns_per_op=..."""
import sys
import time


def leaf(n):
    keep = []
    for _ in range(n):
        keep.append(bytes(1024))
        if len(keep) > 100:
            keep.pop(0)


def nest(depth, n):
    if depth == 0:
        return leaf(n)
    return nest(depth - 1, n)


N = int(sys.argv[1])
t0 = time.perf_counter()
nest(10, N)
print(f"RESULT ns_per_op={(time.perf_counter() - t0) / N * 1e9:.0f}", flush=True)
