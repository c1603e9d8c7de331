"""Exact outstanding (bytes, blocks) per leaking function of each fixture.

Stacks are captured when the allocator returns, so the innermost frame is
the function that called it.  Keep in sync with tests/fixtures/*.c.
"""

LEAKS = {
    "leak_malloc": (10 * 1000, 10),
    "leak_calloc": (5 * 20 * 50, 5),
    "leak_realloc_chain": (3 * 3000, 3),
    "leak_realloc_null": (2 * 700, 2),
    "leak_reallocarray": (2 * 30 * 40, 2),
    "leak_posix_memalign": (4 * 1500, 4),
    "leak_aligned_alloc": (3 * 512, 3),
    "leak_memalign": (2 * 800, 2),
    "leak_valloc": (2 * 5000, 2),
    "leak_pvalloc": (3000, 1),
    "leak_big_malloc": (2 * (1 << 20), 2),
    "leak_mmap": (3 * 65536, 3),
    "leak_mmap_partial": (2 * 4096, 2),   # 5 pages, 3 unmapped, split in two
    "leak_raw_mmap": (2 * 3 * 4096, 2),   # syscall instruction, no libc
    "leak_realloc_fail": (111, 1),
}
# Functions whose every allocation is freed again: must not appear.
LEAKS_ZERO = ["churn", "failures"]
# malloc(huge), calloc overflow, reallocarray overflow, realloc(p, huge)
LEAKS_FAILED_ALLOCS = 4
# fixture_common.h: blocks allocated before attach, freed after
PRE_BLOCKS = 7

CXX = {
    "shop::Cache::leak_orders()": (10 * 48, 10),
    "leak_arrays()": (3 * 100 * 4, 3),
    "leak_nothrow()": (2 * 777, 2),
    # after an operator new that threw: the thread is still traced
    "leak_after_throw()": (5 * 100, 5),
    # called right after the catch, deeper than the failed new's frame
    "leak_after_catch()": (3 * 200, 3),
}
CXX_ZERO = ["cxx_churn()"]

MT = {"thread_leak": (4 * 100 * 256, 400)}
MT_ZERO = ["thread_churn"]

STATIC = {"static_leak": (4 * 2500, 4)}

DL = {"plugin_leak": (6 * 333, 6)}

MANY_BLOCKS = 5000          # leak_many: 5000 x 16 bytes
MANY_BYTES = 16

# tests/fixtures/alloc/alloc_leaks.cc, under every allocator
ALLOC = {
    "leak_malloc()": (10 * 1000, 10),
    "leak_calloc()": (5 * 20 * 50, 5),
    "leak_realloc()": (3 * 3000, 3),
    "leak_memalign()": (4 * 1500, 4),
    "leak_new()": (7 * 48, 7),
    "leak_new_array()": (3 * 100 * 4, 3),
}
ALLOC_ZERO = ["churn()"]
