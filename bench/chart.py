"""Draws bench/results/latest.png from the bench's chart data (curves.json): Certificates Ready
over time per throughput run, and controller RSS over time per memory run.

    python3 bench/chart.py CURVES_JSON OUT_PNG

Run by bench/run.sh in its own virtualenv (matplotlib from PyPI, cached)."""
import json
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def main(curves_path, out_path):
    with open(curves_path) as f:
        curves = json.load(f)
    fig, (left, right) = plt.subplots(1, 2, figsize=(13, 4.8), dpi=100)

    runs = curves.get("throughput", [])
    for c in runs:
        left.step(c["t"], c["ready"], where="post", label=f"run {c['run']}")
    left.set_title("Throughput: CA Certificates Ready after apply")
    left.set_xlabel("seconds since the first create")
    left.set_ylabel("Certificates Ready")
    if runs:
        n = max(len(c["ready"]) for c in runs)
        # The target rate: 33 Certificates per second.
        left.plot([0, n / 33.0], [0, n], "k--", linewidth=0.8, label="target 33/s")
        left.legend()
    else:
        left.text(0.5, 0.5, "not run", ha="center", transform=left.transAxes)
    left.grid(alpha=0.3)

    runs = curves.get("memory", [])
    for c in runs:
        (line,) = right.plot(c["t"], c["rss_mib"], label=f"run {c['run']}")
        for m in c.get("marks", []):
            right.axvline(m["t"], color=line.get_color(), alpha=0.3, linewidth=0.8)
            right.annotate(m["label"], (m["t"], 1), xycoords=("data", "axes fraction"), rotation=90,
                           fontsize=7, va="top", ha="right", color=line.get_color())
    right.axhline(64, color="k", linestyle="--", linewidth=0.8, label="target peak 64 MiB")
    right.set_title("Memory: controller RSS (unrelated Secrets, then Certificates)")
    right.set_xlabel("seconds since controller start")
    right.set_ylabel("RSS (MiB)")
    right.set_ylim(bottom=0)
    if not runs:
        right.text(0.5, 0.5, "not run", ha="center", transform=right.transAxes)
    right.legend()
    right.grid(alpha=0.3)

    fig.tight_layout()
    fig.savefig(out_path)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
