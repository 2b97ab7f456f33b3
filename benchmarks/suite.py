"""Run the whole suite: build the models, measure every contender at every concurrency,
the batch sweep and the start-up figures, then write RESULTS.md, results.json and the plots.

    python -m benchmarks [--quick] [--out DIR]

A full run takes about 20 minutes on 2 cores; --quick (short points, concurrency 1 and 16,
10 models instead of 50) takes about 5 and writes to a temporary directory unless --out is given.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime
import functools
import itertools
import json
import pathlib
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable

import numpy as np

from benchmarks import contenders, environment, models, payloads, report, startup
from benchmarks.contenders import ROWS, Row
from benchmarks.loadgen import Spec
from benchmarks.processes import call_once, rss_mib
from ie_serving.compile_policy import CPU_DEFAULTS, compile_for_serving
from ie_serving.config import ModelConfig

HERE = pathlib.Path(__file__).resolve().parent


@dataclasses.dataclass(frozen=True)
class Settings:
    concurrencies: list[int]
    warmup: float
    seconds: float
    batch_sizes: list[int]
    startup_repeats: int
    model_count: int

    @classmethod
    def of(cls, quick: bool) -> Settings:
        if quick:
            return cls([1, 16], 1.0, 3.0, [1, 8], 1, 10)
        return cls([1, 4, 16, 64], 2.0, 10.0, [1, 8, 32], 3, 50)


class Bench:
    """One run's working directory, settings and the loads it sends."""

    def __init__(self, settings: Settings, work: pathlib.Path):
        self.settings = settings
        self.work = work
        self.logs = work / "logs"
        self.logs.mkdir(parents=True, exist_ok=True)

    def load(self, spec: Spec, tag: str) -> list[dict]:
        """Run the load generator in its own process; one dict per concurrency."""
        spec_path = self.work / f"{tag}.spec.json"
        spec_path.write_text(json.dumps(dataclasses.asdict(spec)))
        budget = len(spec.concurrencies) * (spec.warmup + spec.seconds) + 300
        done = subprocess.run(
            [sys.executable, "-m", "benchmarks.loadgen", str(spec_path)],
            capture_output=True,
            text=True,
            timeout=budget,
            check=False,
        )
        if done.returncode != 0:
            raise RuntimeError(f"load generator failed: {done.stderr[-2000:]}")
        return [json.loads(line) for line in done.stdout.splitlines() if line.strip()]

    def spec(self, kind: str, concurrencies: list[int] | None = None, **fields: object) -> Spec:
        s = self.settings
        return Spec(kind, concurrencies=concurrencies or s.concurrencies, warmup=s.warmup, seconds=s.seconds, **fields)

    def body_spec(self, row: Row, target: str, request: payloads.Request, tag: str, **fields: object) -> Spec:
        body = self.work / f"{tag}.body"
        body.write_bytes(request.body)
        return self.spec(
            row.kind, target=target, path=request.path, body_file=str(body), headers=request.headers, **fields
        )

    def inproc(self, kind: str, xml: pathlib.Path, tag: str, **fields: object) -> list[dict]:
        spec = self.spec(kind, model_xml=str(xml), properties=serving_properties(xml), **fields)
        return self.load(spec, tag)


_STARTED = time.monotonic()


def say(text: str) -> None:
    print(f"[bench {time.monotonic() - _STARTED:6.0f} s] {text}", flush=True)


def guarded(measure: Callable[[], dict]) -> dict:
    """The figures, or {"error": ...}: one failed part must not lose the others."""
    try:
        return measure()
    except Exception as exc:
        say(f"failed: {type(exc).__name__}: {exc}")
        return {"error": f"{type(exc).__name__}: {exc}"[:500]}


@functools.cache
def serving_properties(xml: pathlib.Path) -> dict[str, str]:
    """The properties the server compiles this model with by default: its CPU defaults, with
    LATENCY for a model that infers in under engine.FAST_INFERENCE_SECONDS."""
    compiled = compile_for_serving(str(xml), ModelConfig(xml.parent.parent.name, str(xml.parent.parent)))
    return {**CPU_DEFAULTS, "PERFORMANCE_HINT": str(compiled.get_property("PERFORMANCE_HINT"))}


def reference(xml: pathlib.Path, sample: np.ndarray) -> np.ndarray:
    """OpenVINO's own answer with the server's default properties."""
    import openvino as ov

    compiled = ov.Core().compile_model(str(xml), "CPU", serving_properties(xml))
    return compiled.create_infer_request().infer({0: sample})[0].copy()


def measure_service(bench: Bench, service: str, rows: list[Row], name: str, base: pathlib.Path) -> dict[str, dict]:
    """Start one service for one model, check each row's first answer, load it, stop it."""
    sample = models.sample(name)
    expected = reference(base / "1" / "model.xml", sample)
    running = contenders.SERVICES[service](base, name, bench.logs)
    results: dict[str, dict] = {}
    try:
        first = rows[0]
        ready = running.process.wait_answer(
            first.kind, running.targets[first.kind], payloads.build(first.form, name, sample)
        )
        for row in rows:
            request = payloads.build(row.form, name, sample)
            target = running.targets[row.kind]
            entry: dict = {"ready_s": ready}
            if row.form != "grpc" or service != "echo":
                answer = payloads.decode_answer(row.form, call_once(row.kind, target, request))
                entry["max_abs_diff"] = float(np.abs(answer.reshape(expected.shape) - expected).max())
            entry["points"] = bench.load(
                bench.body_spec(row, target, request, f"{name}-{row.key}"), f"{name}-{row.key}"
            )
            results[row.key] = entry
        for entry in results.values():
            entry["rss_mib"] = rss_mib(running.process.pid)
    finally:
        running.process.stop()
    return results


def active_rows() -> tuple[list[Row], dict[str, str]]:
    """The rows this machine can measure, and why the others are not."""
    skipped = {}
    rows = []
    for row in ROWS:
        if row.service == "serve" and not contenders.serve_available():
            skipped[row.key] = "TODO: not measured, `serve` is not in pyproject's [project.scripts] yet"
        elif row.service == "kserve" and not contenders.kserve_available():
            skipped[row.key] = "not measured: .venv-bench-kserve is missing (`make bench` creates it)"
        else:
            rows.append(row)
    return rows, skipped


def measure_model(bench: Bench, name: str, base: pathlib.Path, rows: list[Row]) -> dict[str, dict]:
    results: dict[str, dict] = {}
    for service, group in itertools.groupby(rows, key=lambda r: r.service):
        group = list(group)
        say(f"{name}: {', '.join(r.key for r in group)}")
        try:
            if service == "inproc":
                for row in group:
                    results[row.key] = {"points": bench.inproc(row.kind, base / "1" / "model.xml", f"{name}-{row.key}")}
            else:
                results.update(measure_service(bench, service, group, name, base))
        except Exception as exc:  # one broken contender must not lose the others' figures
            for row in group:
                results[row.key] = {"error": f"{type(exc).__name__}: {exc}"[:500]}
    return results


def batch_sweep(bench: Bench, base: pathlib.Path) -> dict[str, list[dict]]:
    """The dynamic-batch model at concurrency 4: in-process limit vs gRPC, per batch size."""
    sweep: dict[str, list[dict]] = {"a": [], "c": []}
    xml = base / "1" / "model.xml"
    running = contenders.SERVICES["ie_serving"](base, "batch", bench.logs)
    grpc_row = next(r for r in ROWS if r.key == "c")
    try:
        running.process.wait_answer(
            "grpc", running.targets["grpc"], payloads.grpc_predict("batch", models.sample("batch"))
        )
        for size in bench.settings.batch_sizes:
            say(f"batch {size}")
            sweep["a"] += [
                {**p, "batch": size}
                for p in bench.inproc("inproc", xml, f"batch{size}-a", concurrencies=[4], batch=size)
            ]
            request = payloads.grpc_predict("batch", models.sample("batch", size))
            spec = bench.body_spec(grpc_row, running.targets["grpc"], request, f"batch{size}-c", concurrencies=[4])
            sweep["c"] += [{**p, "batch": size} for p in bench.load(spec, f"batch{size}-c")]
    finally:
        running.process.stop()
    return sweep


def run(settings: Settings, out: pathlib.Path, quick: bool) -> dict:
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="ie_serving_bench_") as tmp:
        work = pathlib.Path(tmp)
        bench = Bench(settings, work)
        bases = {name: models.write(name, work / "models") for name in models.BUILDERS}
        rows, skipped = active_rows()
        results = {
            "date": datetime.datetime.now().astimezone().isoformat(timespec="seconds"),
            "quick": quick,
            "settings": dataclasses.asdict(settings),
            "machine": environment.describe(),
            "skipped": skipped,
            "models": {name: measure_model(bench, name, bases[name], rows) for name in ("tiny", "cnn")},
        }
        say("batch sweep")
        results["batch"] = guarded(lambda: batch_sweep(bench, bases["batch"]))
        say("start-up")
        results["startup"] = guarded(
            lambda: startup.measure(bases["tiny"], work, bench.logs, settings.startup_repeats, settings.model_count)
        )
        results["machine"]["load_after"] = environment.load_average()
        results["duration_s"] = time.monotonic() - started
    out.mkdir(parents=True, exist_ok=True)
    (out / "results.json").write_text(json.dumps(results, indent=1))
    report.write(results, out)
    return results


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="short points, concurrency 1 and 16 (smoke run)")
    parser.add_argument("--out", type=pathlib.Path, help="where RESULTS.md, results.json and plots go")
    parser.add_argument("--report-only", action="store_true", help="rewrite RESULTS.md and plots from results.json")
    args = parser.parse_args(argv)
    out = args.out or (pathlib.Path(tempfile.gettempdir()) / "ie_serving_bench_quick" if args.quick else HERE)
    if args.report_only:
        report.write(json.loads((out / "results.json").read_text()), out)
    else:
        run(Settings.of(args.quick), out, args.quick)
    print(f"[bench] wrote {out / 'RESULTS.md'}", flush=True)
