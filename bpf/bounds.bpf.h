/* bounds.bpf.h - variable offsets the verifier of every kernel accepts.
 *
 * A buffer index must carry a bound of its own.  Clang is free to test a
 * value the index was derived from instead (`x && x < N` becomes one
 * unsigned test of `x - 1` in another register); only the newest
 * verifiers (7.x) carry such a bound back to the index, and 6.1 through
 * 6.19 refuse the access as an "unbounded variable-offset read".  The
 * barrier below makes the index opaque to the compiler just before its
 * test, so the test is made on the very register the access then uses.
 * Cost: none (no instruction; it only keeps clang from combining tests).
 */
#ifndef LEAKSCOPE_BOUNDS_BPF_H
#define LEAKSCOPE_BOUNDS_BPF_H

/* x < n, tested on x itself: `if (!idx_below(i, N)) return; buf[i]` */
#define idx_below(x, n) ({ asm volatile("" : "+r"(x)); (x) < (n); })

#endif
