#!/usr/bin/env python3
"""Turns bench_he_ckks JSON output (with --benchmark_repetitions) into the markdown table of
docs/benchmarks/he-ckks.md: our medians (CPU and wall) next to Microsoft SEAL 4.4.3's medians for
the same benchmark name, read from SEAL's own sealbench JSON (default ../shared/bench/seal-4.4.3.json
relative to the repository root), and the ratio CPU / SEAL CPU.

usage: report.py OURS.json [SEAL.json]

The SEAL file on the shared drive was cut off before its closing brackets; the reader closes an
unterminated top-level object/array before parsing and says so on stderr."""
import json
import os
import sys

NS = [4096, 8192, 16384, 32768]
HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_SEAL = os.path.join(HERE, "..", "..", "..", "..", "shared", "bench", "seal-4.4.3.json")


def load_tolerant(path):
    text = open(path).read()
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        # Truncated after a complete benchmark entry: close the "benchmarks" array and the object.
        cut = text.rstrip()
        if cut.endswith(","):
            cut = cut[:-1]
        data = json.loads(cut + "\n]\n}\n")
        print(f"report.py: {path} was truncated; read {len(data['benchmarks'])} complete entries",
              file=sys.stderr)
        return data


def medians(data):
    """{(op, n): (cpu_us, wall_us)} from aggregate 'median' rows named 'n=N / log(q)=.. / GROUP / OP'."""
    out = {}
    for b in data["benchmarks"]:
        if b.get("aggregate_name") != "median":
            continue
        parts = [p.strip() for p in b["run_name"].split("/")]
        if len(parts) < 4 or not parts[0].startswith("n="):
            continue
        n = int(parts[0][2:])
        op = parts[3].split("/")[0]
        unit = {"us": 1, "ms": 1e3, "ns": 1e-3, "s": 1e6}[b["time_unit"]]
        group = parts[2]
        out[(group, op, n)] = (b["cpu_time"] * unit, b["real_time"] * unit)
    return out


def main(ours_path, seal_path):
    ours = medians(json.load(open(ours_path)))
    seal = medians(load_tolerant(seal_path))
    ops = []
    for (group, op, _n) in ours:
        if (group, op) not in ops:
            ops.append((group, op))
    print("| op | " + " | ".join(f"N={n}: CPU µs (wall) / SEAL = ratio" for n in NS) + " |")
    print("|---|" + "---:|" * len(NS))
    worst = {}
    for group, op in ops:
        cells = []
        for n in NS:
            if (group, op, n) not in ours:
                cells.append("–")
                continue
            cpu, wall = ours[(group, op, n)]
            ref = seal.get((group, op, n))
            if ref:
                ratio = cpu / ref[0]
                worst[op] = max(worst.get(op, 0), ratio)
                cells.append(f"{cpu:,.0f} ({wall:,.0f}) / {ref[0]:,.0f} = **{ratio:.2f}×**")
            else:
                cells.append(f"{cpu:,.0f} ({wall:,.0f}) / no SEAL number")
        print(f"| {op} | " + " | ".join(cells) + " |")
    print()
    print("Largest ratio per op over the N with a SEAL number: " +
          ", ".join(f"{op} {r:.2f}×" for op, r in worst.items()))


if __name__ == "__main__":
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    main(sys.argv[1], sys.argv[2] if len(sys.argv) > 2 else DEFAULT_SEAL)
