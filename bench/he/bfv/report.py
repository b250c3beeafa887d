#!/usr/bin/env python3
"""Turns bench_he_bfv JSON output (with --benchmark_repetitions) into the markdown table of
docs/benchmarks/he-bfv.md: medians (wall and CPU) and the ratio to Microsoft SEAL 4.4.3."""
import json
import sys

SEAL = {  # SEAL 4.4.3, no HEXL, one thread, median us, N = 4096/8192/16384/32768 (issue 4)
    "KeyGenRelin": [1246, 7555, 52450, 355989],
    "EncryptPublic": [919, 2747, 9824, 37671],
    "Decrypt": [266, 1008, 4099, 16157],
    "Encode": [40, 88, 185, 388],
    "Decode": [53, 113, 239, 495],
    "Add": [19, 77, 313, 1513],
    "MultiplyPlain": [442, 1868, 8132, 32381],
    "Multiply": [2740, 10827, 47055, 214100],
    "Square": [2030, 8080, 35204, 159972],
    "Relinearize": [602, 3222, 19668, 121350],
    "RotateRows": [621, 3281, 20141, 123503],
    "NttForwardOnePrime": [48, 103, 215, 469],
}
NS = [4096, 8192, 16384, 32768]


def main(path):
    data = json.load(open(path))
    med = {}
    for b in data["benchmarks"]:
        if b.get("aggregate_name") != "median":
            continue
        name, n = b["run_name"].split("/")
        scale = {"us": 1, "ms": 1e3, "ns": 1e-3}[b["time_unit"]]
        med[(name, int(n))] = (b["real_time"] * scale, b["cpu_time"] * scale)
    ops = []
    for b in data["benchmarks"]:
        name = b["run_name"].split("/")[0]
        if name not in ops:
            ops.append(name)
    print("| op | " + " | ".join(f"N={n}: CPU µs (wall) / SEAL = ratio" for n in NS) + " |")
    print("|---|" + "---:|" * len(NS))
    for op in ops:
        cells = []
        for i, n in enumerate(NS):
            if (op, n) not in med:
                cells.append("–")
                continue
            wall, cpu = med[(op, n)]
            ref = SEAL.get(op)
            ratio = f" / {ref[i]:,} = **{cpu / ref[i]:.2f}×**" if ref else ""
            cells.append(f"{cpu:,.0f} ({wall:,.0f}){ratio}")
        print(f"| {op} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "/dev/stdin")
