"""--sample-bytes: large blocks exact, small ones estimated without bias."""
from conftest import by_function, run_command
import expected


def test_large_blocks_are_always_caught():
    # p = 1 - exp(-size/N) is 1 (in 64-bit fixed point) from 44 N up:
    # 1 MiB blocks with N = 16 KiB are all sampled, with weight 1
    reports, _ = run_command("leaks", "run", extra=["--sample-bytes", "16384"])
    r = reports[-1]
    assert r["sample_bytes"] == 16384
    got = by_function(r)
    assert got["leak_big_malloc"] == expected.LEAKS["leak_big_malloc"]


def test_small_blocks_estimate_the_truth():
    # 5000 x 16 bytes with N = 256: p = 0.0606, ~303 samples, so the
    # estimate's relative standard deviation is ~5.6%; 30% is > 5 sigma
    reports, _ = run_command("many_leaks", "run", extra=["--sample-bytes", "256"])
    r = reports[-1]
    est_bytes, est_blocks = by_function(r)["leak_many"]
    true_blocks = expected.MANY_BLOCKS
    assert abs(est_blocks - true_blocks) / true_blocks < 0.30, est_blocks
    assert abs(est_bytes - true_blocks * expected.MANY_BYTES) / (true_blocks * 16) < 0.30
    # raw sampled counts are far below the truth: sampling did happen
    assert r["totals"]["allocs"] < true_blocks / 3
    assert r["totals"]["dropped"] == 0
