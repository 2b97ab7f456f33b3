"""The KServe v2 / Open Inference Protocol side by side with its references, in one run on the
`cnn` model (the suite's rows and load generator, only these contenders):

- v2 gRPC ModelInfer throughput vs the TF Serving API's gRPC Predict (target >= 0.95);
- v2 REST with binary tensors vs v2 gRPC, p50 at one client (target <= 1.2);
- v2 REST JSON throughput vs KServe's own Python server over v2 JSON (target >= 1.5).

Every contender's first answer is checked against OpenVINO's own result. Writes
benchmarks/V2_RESULTS.md (or --out) with each point and the load average around the run.
usage: python -m benchmarks.v2_compare [--seconds 10] [--concurrencies 1,4,16] [--out DIR]
"""

from __future__ import annotations

import argparse
import datetime
import pathlib
import tempfile

from benchmarks import contenders, environment, models, targets
from benchmarks.suite import Bench, Settings, measure_service, say

HERE = pathlib.Path(__file__).resolve().parent
SERVER_ROWS = ("c", "c-v2", "d-v2bin", "d-v2json")
PEER_ROWS = ("f-v2",)
V2_TARGETS = ("v2 gRPC", "v2 REST binary", "v2 REST JSON")


def _rows(keys: tuple[str, ...]) -> list[contenders.Row]:
    return [row for row in contenders.ROWS if row.key in keys]


def run(settings: Settings) -> dict:
    with tempfile.TemporaryDirectory(prefix="ie_serving_bench_v2_") as tmp:
        work = pathlib.Path(tmp)
        bench = Bench(settings, work)
        base = models.write("cnn", work / "models")
        load_before = environment.load_average()
        say("cnn: ie_serving " + ", ".join(SERVER_ROWS))
        figures = measure_service(bench, "ie_serving", _rows(SERVER_ROWS), "cnn", base)
        if contenders.kserve_available():
            say("cnn: KServe " + ", ".join(PEER_ROWS))
            figures.update(measure_service(bench, "kserve", _rows(PEER_ROWS), "cnn", base))
        return {"models": {"cnn": figures}, "load_before": load_before, "load_after": environment.load_average()}


def write(results: dict, settings: Settings, out: pathlib.Path) -> str:
    labels = {row.key: row.label for row in contenders.ROWS}
    lines = [
        "# KServe v2 side by side",
        "",
        "Written by `make bench_v2` (`python -m benchmarks.v2_compare`); do not edit by hand.",
        "",
        f"- date: {datetime.datetime.now().astimezone().isoformat(timespec='seconds')}; model `cnn`, batch 1",
        f"- load average (1, 5, 15 min) before: {results['load_before']}, after: {results['load_after']} "
        "(the machine is shared: figures taken beside other work are noisy; compare the ratios, taken in one run)",
        f"- each point: {settings.warmup:.0f} s warm-up, {settings.seconds:.0f} s measured, closed loop",
        "",
        "| contender | clients | req/s | p50 ms | p99 ms | errors | first answer vs OpenVINO (max abs diff) |",
        "|---|---|---|---|---|---|---|",
    ]
    for key, entry in results["models"]["cnn"].items():
        for point in entry.get("points", []):
            lines.append(
                f"| {labels[key]} | {point['concurrency']} | {point['throughput']:.1f} | {point['p50']:.2f} "
                f"| {point['p99']:.2f} | {point['errors']} | {entry.get('max_abs_diff', float('nan')):.2g} |"
            )
        if "error" in entry:
            lines.append(f"| {labels[key]} | failed: {entry['error']} | | | | | |")
    lines += ["", "| target | measured | limit | met |", "|---|---|---|---|"]
    for target in targets.evaluate(results):
        if target.text.startswith(V2_TARGETS):
            value = "n/a" if target.ratio is None else f"{target.ratio:.2f}"
            met = {True: "yes", False: "**no**", None: "n/a"}[target.met]
            lines.append(f"| {target.text} | {value} | {target.limit} | {met} |")
    text = "\n".join(lines) + "\n"
    out.mkdir(parents=True, exist_ok=True)
    (out / "V2_RESULTS.md").write_text(text)
    return text


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.v2_compare", description=__doc__)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--warmup", type=float, default=2.0)
    parser.add_argument("--concurrencies", default="1,4,16")
    parser.add_argument("--out", type=pathlib.Path, default=HERE)
    args = parser.parse_args()
    concurrencies = [int(c) for c in args.concurrencies.split(",")]
    settings = Settings(concurrencies, args.warmup, args.seconds, [1], 1, 1)
    print(write(run(settings), settings, args.out))


if __name__ == "__main__":
    main()
