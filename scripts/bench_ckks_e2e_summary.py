#!/usr/bin/env python3
"""Medians and CKKS/BFV ratios from scripts/bench_ckks_e2e.sh's work directory."""
import glob, json, os, re, statistics, sys

w = sys.argv[1] if len(sys.argv) > 1 else "/tmp/lc-ckks-bench"
runs = {}
for t in glob.glob(os.path.join(w, "time-*.txt")):
    name = re.match(r"time-(.*)-(\d+)\.txt", os.path.basename(t)).group(1)
    r = re.match(r"time-.*-(\d+)\.txt", os.path.basename(t)).group(1)
    fields = open(t).read().split()
    if len(fields) < 2:
        continue  # still running
    wall, rss = fields[-2:]
    j = json.load(open(os.path.join(w, f"eval-{name}-{r}.json")))
    rep = j["report"]
    runs.setdefault(name, []).append({
        "wall": float(wall), "rss_gb": int(rss) / 1e6, "server": rep.get("evaluate_seconds", 0),
        "total": j["seconds_total"], "sent": j.get("bytes_sent_per_cell", 0),
        "received": j.get("bytes_received_per_cell", 0), "err": j.get("largest_logit_error"),
        "agree": j["agreement"]["argmax_vs_float"], "n": j["params"].get("n", j["params"].get("N"))})
med = lambda name, k: statistics.median(x[k] for x in runs[name])
print("| run | runs | N | encrypted total s (median) | server s | process wall s | peak RSS GB | bytes sent/cell | bytes received/cell | argmax = float | largest logit error |")
print("|---|---|---|---|---|---|---|---|---|---|---|")
for name in sorted(runs):
    e = [x["err"] for x in runs[name] if x["err"] is not None]
    print(f"| {name} | {len(runs[name])} | {runs[name][0]['n']} | {med(name,'total'):.1f} | {med(name,'server'):.1f} | "
          f"{med(name,'wall'):.1f} | {max(x['rss_gb'] for x in runs[name]):.2f} | {med(name,'sent'):.0f} | "
          f"{med(name,'received'):.0f} | {min(x['agree'] for x in runs[name])*100:.2f} % | {max(e) if e else '-'} |")
for a, b in [("cnmc-ckks8192", "cnmc-bfv"), ("cnmc-ckks16384", "cnmc-bfv"), ("mnist-ckks", "mnist-bfv"),
             ("cnmc-ckkscp", "cnmc-bfv"), ("mnist-ckkscp", "mnist-bfv"), ("cnmc-ckkscp", "cnmc-ckks16384"),
             ("mnist-ckkscp", "mnist-ckks")]:
    if a in runs and b in runs:
        print(f"{a}/{b}: total {med(a,'total')/med(b,'total'):.2f}x, server {med(a,'server')/med(b,'server'):.2f}x")
