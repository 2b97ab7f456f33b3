"""Where the server's Python time goes under load: starts `ie_serving` on one benchmark model,
drives it with the load generator and samples its serving process with py-spy (only samples
that hold the GIL, i.e. Python doing work), then prints the functions by share of samples.

    python -m benchmarks.profile --model cnn --form rest_row --concurrency 4 --seconds 12

Needs py-spy (the `bench` extra) and permission to attach to a child process (root, or
ptrace_scope 0)."""

from __future__ import annotations

import argparse
import collections
import dataclasses
import json
import pathlib
import shutil
import subprocess
import sys
import tempfile
import time

from benchmarks import contenders, models, payloads
from benchmarks.loadgen import Spec


def serving_pid(pid: int) -> int:
    """The gunicorn worker when there is one (it serves both protocols), else the process itself."""
    children = pathlib.Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    return int(children[0]) if children else pid


def summarize(raw: pathlib.Path, top: int) -> list[str]:
    """py-spy's raw (collapsed) stacks -> 'share% function' lines, inclusive of callees."""
    counts: collections.Counter[str] = collections.Counter()
    total = 0
    for line in raw.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        total += int(count)
        for name in {frame.split(" (")[0] for frame in stack.split(";")}:
            counts[name] += int(count)
    return [f"{100 * n / max(total, 1):5.1f}% {name}" for name, n in counts.most_common(top)] + [f"{total} samples"]


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.profile", description=__doc__)
    parser.add_argument("--model", choices=("tiny", "cnn"), default="cnn")
    parser.add_argument("--form", choices=("grpc", "rest_row", "rest_column"), default="rest_row")
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--seconds", type=float, default=12)
    parser.add_argument("--top", type=int, default=30)
    args = parser.parse_args()
    py_spy = shutil.which("py-spy") or str(pathlib.Path(sys.executable).parent / "py-spy")
    row = next(r for r in contenders.ROWS if r.service == "ie_serving" and r.form == args.form)
    with tempfile.TemporaryDirectory() as tmp:
        work = pathlib.Path(tmp)
        base = models.write(args.model, work / "models")
        running = contenders.start_ie_serving(base, args.model, work)
        try:
            request = payloads.build(args.form, args.model, models.sample(args.model))
            target = running.targets[row.kind]
            running.process.wait_answer(row.kind, target, request)
            (work / "body").write_bytes(request.body)
            spec = Spec(row.kind, target, request.path, str(work / "body"), request.headers)
            spec = dataclasses.replace(spec, concurrencies=[args.concurrency], warmup=1.0, seconds=args.seconds)
            (work / "spec.json").write_text(json.dumps(dataclasses.asdict(spec)))
            load = subprocess.Popen(
                [sys.executable, "-m", "benchmarks.loadgen", str(work / "spec.json")], stdout=subprocess.PIPE, text=True
            )
            time.sleep(1.5)
            record = [py_spy, "record", "--gil", "-r", "200", "-f", "raw", "-o", str(work / "raw.txt")]
            duration = ["-d", str(max(1, int(args.seconds) - 2)), "-p", str(serving_pid(running.process.pid))]
            subprocess.run(record + duration, capture_output=True, check=True)
            print(load.communicate()[0].strip())
            print("\n".join(summarize(work / "raw.txt", args.top)))
        finally:
            running.process.stop()


if __name__ == "__main__":
    main()
