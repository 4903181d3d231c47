#!/usr/bin/env python3
"""Compare flopprint's CPU GEMM calibration with numpy (OpenBLAS) matmul.

Usage:
    flopprint calibrate --device cpu --full --format json --out calib.json
    python3 reports/calibration/compare_openblas.py calib.json [--threads 2] [--sizes 1024,2048,4096]

Without a JSON path only the numpy figures are printed. The table gives
n, dtype, numpy GFLOP/s, flopprint GFLOP/s and flopprint/numpy. numpy is timed
like flopprint times gemm: warm-up, then repeats of C = A @ B until the 95%
CI of the median is within +-2% or ~3 s per size have passed (min 5), median.
"""
import argparse
import json
import os
import sys
import time


def parse_args():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("calibration_json", nargs="?", help="output of `flopprint calibrate --format json`")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--sizes", default="1024,2048,4096")
    p.add_argument("--dtypes", default="fp32,fp64")
    p.add_argument("--budget", type=float, default=3.0, help="seconds per (n, dtype)")
    return p.parse_args()


ARGS = parse_args()

# Must happen before numpy is imported: the BLAS reads these at load time.
for var in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE"):
    os.environ.pop(var, None)
for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS", "BLIS_NUM_THREADS"):
    os.environ[var] = str(ARGS.threads)

import numpy as np  # noqa: E402


def blas_info():
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        print("threadpoolctl not installed: BLAS details unknown (pip install threadpoolctl)")
        return
    for lib in threadpool_info():
        if lib.get("user_api") == "blas":
            print(
                "BLAS: {} {} ({}), threads={}, arch={}".format(
                    lib.get("internal_api"),
                    lib.get("version"),
                    lib.get("filepath"),
                    lib.get("num_threads"),
                    lib.get("architecture"),
                )
            )


def median(xs):
    s = sorted(xs)
    n = len(s)
    return s[n // 2] if n % 2 else 0.5 * (s[n // 2 - 1] + s[n // 2])


def median_ci_halfwidth(xs):
    """Relative half-width of the order-statistic 95% CI of the median
    (normal approximation of the binomial ranks)."""
    s = sorted(xs)
    n = len(s)
    if n < 6:
        return float("inf")
    d = 1.96 * (n ** 0.5) / 2
    lo = max(int(n / 2 - d), 0)
    hi = min(int(n / 2 + d + 1), n - 1)
    m = median(s)
    return (s[hi] - s[lo]) / 2 / m


def time_numpy(n, dtype, budget):
    rng = np.random.default_rng(0)
    a = rng.random((n, n), dtype=np.float64).astype(dtype)
    b = rng.random((n, n), dtype=np.float64).astype(dtype)
    c = np.empty((n, n), dtype=dtype)
    for _ in range(2):
        np.matmul(a, b, out=c)
    t0 = time.perf_counter()
    xs = []
    while True:
        t = time.perf_counter()
        np.matmul(a, b, out=c)
        xs.append(time.perf_counter() - t)
        if len(xs) >= 5 and (median_ci_halfwidth(xs) < 0.02 or time.perf_counter() - t0 > budget):
            break
        if len(xs) >= 200:
            break
    # sanity check on a few elements
    for i, j in ((0, 0), (n - 1, n - 1), (n // 2, n // 3)):
        ref = float(np.dot(a[i, :].astype(np.float64), b[:, j].astype(np.float64)))
        assert abs(float(c[i, j]) - ref) <= 1e-3 * abs(ref), (n, dtype, i, j)
    return 2.0 * n ** 3 / median(xs), len(xs)


def load_flopprint(path):
    with open(path) as f:
        prof = json.load(f)
    if prof.get("schema_version") != 1:
        sys.exit(f"{path}: unsupported schema_version {prof.get('schema_version')}")
    out = {}
    for r in prof["results"]:
        if r["m"] == r["n"] == r["k"]:
            out[(r["dtype"], r["m"])] = r["flops_per_s"]
    dev = prof["device"]
    print(
        "flopprint: {} on {} ({} threads), {} {}".format(
            prof["software"].get("flopprint_version"),
            dev.get("name"),
            dev.get("threads"),
            prof["software"].get("backend"),
            prof["software"].get("backend_version"),
        )
    )
    return out


def main():
    print(f"numpy {np.__version__}, OPENBLAS_NUM_THREADS={ARGS.threads}")
    blas_info()
    fp = load_flopprint(ARGS.calibration_json) if ARGS.calibration_json else {}
    np_types = {"fp32": np.float32, "fp64": np.float64}
    sizes = [int(x) for x in ARGS.sizes.split(",")]
    dtypes = [d for d in ARGS.dtypes.split(",") if d in np_types]
    print()
    print(f"{'n':>6} {'dtype':>6} {'numpy GFLOP/s':>14} {'flopprint GFLOP/s':>18} {'ratio':>7}")
    for dt in dtypes:
        for n in sizes:
            g, reps = time_numpy(n, np_types[dt], ARGS.budget)
            f = fp.get((dt, n))
            fs = f"{f / 1e9:18.1f}" if f else f"{'-':>18}"
            ratio = f"{f / g:7.2f}" if f else f"{'-':>7}"
            print(f"{n:>6} {dt:>6} {g / 1e9:14.1f} {fs} {ratio}", flush=True)
    print("\nratio = flopprint (gemm crate) / numpy (OpenBLAS); target >= 0.95")


if __name__ == "__main__":
    main()
