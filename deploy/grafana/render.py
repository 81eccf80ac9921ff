#!/usr/bin/env python3
"""Renders the shipped Grafana dashboard's panels as one PNG, from a running
Prometheus: every panel's queries over the last minutes, drawn with
matplotlib. For the picture in docs/telemetry.md, where Grafana itself is not
at hand.

    python3 deploy/grafana/render.py http://127.0.0.1:9090 docs/telemetry-dashboard.png [MINUTES]
"""
import json
import sys
import time
import urllib.parse
import urllib.request
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def query_range(base, expr, start, end, step):
    data = urllib.parse.urlencode(
        {"query": expr, "start": start, "end": end, "step": step}
    ).encode()
    with urllib.request.urlopen(f"{base}/api/v1/query_range", data=data) as r:
        answer = json.load(r)
    if answer.get("status") != "success":
        raise SystemExit(f"{expr}: {answer}")
    return answer["data"]["result"]


def legend(fmt, labels):
    out = fmt or ""
    for k, v in labels.items():
        out = out.replace("{{" + k + "}}", v)
    return out or ",".join(f"{k}={v}" for k, v in labels.items() if k != "__name__")


def main():
    base, out = sys.argv[1], sys.argv[2]
    minutes = int(sys.argv[3]) if len(sys.argv) > 3 else 15
    dashboard = json.loads((Path(__file__).parent / "claudeops-fleet.json").read_text())
    end = time.time()
    start = end - minutes * 60
    step = max(5, minutes * 60 // 120)
    panels = dashboard["panels"]
    cols = 4
    rows = (len(panels) + cols - 1) // cols
    fig, axes = plt.subplots(rows, cols, figsize=(cols * 4.6, rows * 2.7))
    for ax, panel in zip(axes.flat, panels):
        ax.set_title(panel["title"], fontsize=9, loc="left")
        ax.tick_params(labelsize=6)
        drawn = False
        for target in panel["targets"]:
            expr = target["expr"].replace("$site", ".*").replace("$__rate_interval", "1m")
            for series in query_range(base, expr, start, end, step):
                xs = [(float(t) - end) / 60 for t, _ in series["values"]]
                ys = [float(v) for _, v in series["values"]]
                label = legend(target.get("legendFormat"), series["metric"])
                if panel["type"] == "stat":
                    ax.text(0.5, 0.45, f"{ys[-1]:.4g}", ha="center", va="center", fontsize=22,
                            transform=ax.transAxes)
                    ax.set_xticks([])
                    ax.set_yticks([])
                else:
                    ax.plot(xs, ys, label=label[:40], linewidth=1.2)
                drawn = True
        if not drawn:
            ax.text(0.5, 0.5, "no data", ha="center", va="center", fontsize=9, color="grey",
                    transform=ax.transAxes)
        elif panel["type"] != "stat":
            ax.legend(fontsize=5, loc="upper left")
            ax.set_xlabel("minutes", fontsize=6)
    for ax in list(axes.flat)[len(panels):]:
        ax.axis("off")
    fig.suptitle(f"{dashboard['title']} (rendered from Prometheus, last {minutes} min)", fontsize=11)
    fig.tight_layout()
    fig.savefig(out, dpi=90)


if __name__ == "__main__":
    main()
