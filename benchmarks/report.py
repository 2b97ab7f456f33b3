"""RESULTS.md and the PNG plots from one run's results (results.json)."""

from __future__ import annotations

import pathlib

from benchmarks.contenders import ROWS
from benchmarks.targets import evaluate

LABELS = {row.key: row.label for row in ROWS}
MODELS = ("tiny", "cnn")
BUSY_LOAD = 0.5  # a load average above this before the run means other processes were running


def _fmt(value: float | None, digits: int = 2) -> str:
    return "n/a" if value is None else f"{value:.{digits}f}"


def _header(results: dict) -> list[str]:
    m = results["machine"]
    versions = ", ".join(f"{k} {v}" for k, v in m["versions"].items())
    lines = [
        "# Benchmark results",
        "",
        "Written by `make bench` (`python -m benchmarks`); do not edit by hand."
        + (" **Quick smoke run: short points, not representative.**" if results["quick"] else ""),
        "",
        f"- date: {results['date']}; duration {results['duration_s'] / 60:.1f} min",
        f"- machine: {m['cpu']}, {m['cores']} cores, {m['memory_gib']} GiB, {m['os']}, Python {m['python']}",
        f"- versions: {versions}",
        f"- load average (1, 5, 15 min) before: {m['load_before']}, after: {m.get('load_after')}",
        f"- each point: {results['settings']['warmup']:.0f} s warm-up, then {results['settings']['seconds']:.0f} s "
        "measured; closed loop (each client sends its next request when the answer arrives); the load generator "
        "runs in its own process on the same machine",
    ]
    if m["load_before"][0] > BUSY_LOAD:
        lines += [
            "",
            f"> **Taken while other processes were running** (load average {m['load_before'][0]} on {m['cores']} "
            "cores before the run): absolute and relative figures are noisy. Re-run `make bench` on a quiet "
            "machine to regenerate this file.",
        ]
    return lines


def _targets(results: dict) -> list[str]:
    lines = [
        "",
        "## Targets",
        "",
        "`ceiling`: for a throughput ratio against another contender, the ratio a server running at the "
        "in-process limit would reach in this run; a target above it is out of reach on this machine.",
        "",
        "| target | measured | ceiling | met |",
        "|---|---|---|---|",
    ]
    for target in evaluate(results):
        met = {True: "yes", False: "**no**", None: "not measured"}[target.met]
        ceiling = "-" if target.ceiling is None else _fmt(target.ceiling)
        lines.append(f"| {target.text} | {_fmt(target.ratio)} | {ceiling} | {met} |")
    return lines


def _table(results: dict) -> list[str]:
    lines = [
        "",
        "## Every contender at every concurrency",
        "",
        "Throughput in requests/s, latencies in ms. `ready` is seconds from process start to the first answer, "
        "`RSS` the resident memory (MiB, with children) after the load, `diff` the largest absolute difference of "
        "the first answer from OpenVINO's own result.",
        "",
        "| model | contender | concurrency | requests | errors | throughput | p50 | p90 | p99 |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    notes = []
    for model in MODELS:
        for key, label in LABELS.items():
            entry = results["models"].get(model, {}).get(key)
            if entry is None:
                lines.append(
                    f"| {model} | {key}: {label} | {results['skipped'].get(key, 'not measured')} | | | | | | |"
                )
                continue
            if "error" in entry:
                lines.append(f"| {model} | {key}: {label} | failed: {entry['error']} | | | | | | |")
                continue
            for p in entry["points"]:
                lines.append(
                    f"| {model} | {key}: {label} | {p['concurrency']} | {p['requests']} | {p['errors']} | "
                    f"{p['throughput']:.1f} | {p['p50']:.2f} | {p['p90']:.2f} | {p['p99']:.2f} |"
                )
                if p["first_error"]:
                    first_error = " ".join(p["first_error"].split())
                    notes.append(f"- {model} {key} at {p['concurrency']}: {p['errors']} errors, first: {first_error}")
            if "ready_s" in entry:
                notes.append(
                    f"- {model} {key}: ready {entry['ready_s']:.2f} s, RSS {entry.get('rss_mib', 0):.0f} MiB, "
                    f"diff {entry.get('max_abs_diff', 'n/a (echo)')}"
                )
    return lines + ["", *notes]


def _batch(results: dict) -> list[str]:
    lines = [
        "",
        "## Batch sweep (`batch` model, dynamic batch, concurrency 4)",
        "",
        "| contender | batch | requests | items/s | p50 | p99 |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    batch = results.get("batch", {})
    if "error" in batch:
        return [*lines, f"| failed: {batch['error']} | | | | | |"]
    for key, points in batch.items():
        for p in points:
            lines.append(
                f"| {key}: {LABELS[key]} | {p['batch']} | {p['requests']} | {p['throughput'] * p['batch']:.1f} | "
                f"{p['p50']:.2f} | {p['p99']:.2f} |"
            )
    return lines


def _startup(results: dict) -> list[str]:
    s = results["startup"]
    if "error" in s:
        return ["", "## Start-up and memory (`ie_serving`)", "", f"Failed: {s['error']}"]
    runs = ", ".join(f"{v:.2f}" for v in s["first_predict_runs"])
    return [
        "",
        "## Start-up and memory (`ie_serving`)",
        "",
        "| figure | value |",
        "|---|---|",
        f"| start to first Predict on `tiny` (median; runs) | {s['first_predict_s']:.2f} s ({runs}) |",
        f"| RSS serving `tiny` after 200 Predicts, gRPC only | {s['rss_tiny_grpc_mib']:.0f} MiB |",
        f"| RSS serving `tiny`, gRPC + REST (gunicorn master + worker) | {s['rss_tiny_grpc_rest_mib']:.0f} MiB |",
        f"| process start to first Predict with {s['models_loaded']} small models in one config file | "
        f"{s['load_models_s']:.2f} s |",
    ]


def _plots(results: dict, out: pathlib.Path) -> list[str]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    written = []
    for metric, ylabel, log in (("throughput", "requests/s (log)", True), ("p99", "p99 latency (ms, log)", True)):
        figure, axes = plt.subplots(1, len(MODELS), figsize=(12, 4.5))
        for axis, model in zip(axes, MODELS, strict=True):
            for key, entry in results["models"].get(model, {}).items():
                points = entry.get("points", [])
                if points:
                    axis.plot([p["concurrency"] for p in points], [p[metric] for p in points], "o-", label=key)
            axis.set_xscale("log", base=2)
            if log:
                axis.set_yscale("log")
            axis.set_title(f"{model}: {ylabel}")
            axis.set_xlabel("concurrency (clients)")
            axis.grid(True, alpha=0.3)
        axes[-1].legend(fontsize=8, loc="best")
        figure.tight_layout()
        path = out / f"{metric}.png"
        figure.savefig(path, dpi=90)
        plt.close(figure)
        written.append(path.name)
    legend = "; ".join(f"{k}: {v}" for k, v in LABELS.items())
    return ["", "## Plots", "", *(f"![{name}]({name})" for name in written), "", f"Legend: {legend}."]


def write(results: dict, out: pathlib.Path) -> pathlib.Path:
    lines = _header(results) + _targets(results) + _table(results) + _batch(results) + _startup(results)
    lines += _plots(results, out)
    path = out / "RESULTS.md"
    path.write_text("\n".join(lines) + "\n")
    return path
