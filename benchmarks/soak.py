"""Soak: a bounded mixed load (gRPC + REST, several models) while versions are added and
removed every 30 s. Passes with zero wrong answers, zero failed requests on AVAILABLE
versions and RSS growth under 5% after warm-up. `make soak` (10 minutes; not in CI).

usage: python -m benchmarks.soak [--minutes 10] [--swap_seconds 30]
"""

from __future__ import annotations

import argparse
import datetime
import os
import pathlib
import shutil
import tempfile
import threading
import time

import grpc
import numpy as np
import requests

from tests import models
from tests.grpc_client import RawClient
from tests.rest_helpers import RestServer, write_config

FACTORS = {1: 1.0, 2: 2.0, 3: 3.0}
REFUSALS = {grpc.StatusCode.UNAVAILABLE}  # a version retired between lookup and lease


def rss_mb(pid: int) -> float:
    for line in pathlib.Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS")


class Tally:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.counts = {"ok": 0, "wrong": 0, "failed": 0}
        self.failures: list[str] = []

    def add(self, outcome: str, detail: str = "") -> None:
        with self.lock:
            self.counts[outcome] += 1
            if detail and len(self.failures) < 20:
                self.failures.append(detail)


def grpc_load(address: str, name: str, stop: threading.Event, tally: Tally) -> None:
    client, rng = RawClient(address), np.random.default_rng()
    while not stop.is_set():
        x = rng.random((4, 4), dtype=np.float32)
        try:
            version, outputs = client.predict(name, {"x": x}, timeout=30)
        except grpc.RpcError as exc:
            tally.add("failed", f"grpc {exc.code()}: {exc.details()}")
            continue
        ok = np.array_equal(outputs["y"], x * np.float32(FACTORS[version]))
        tally.add("ok" if ok else "wrong", "" if ok else f"grpc wrong answer from version {version}")
    client.close()


def rest_load(url: str, name: str, stop: threading.Event, tally: Tally) -> None:
    session, rng = requests.Session(), np.random.default_rng()
    while not stop.is_set():
        x = rng.integers(0, 100, (3, 4)).astype(np.float32)
        answer = session.post(f"{url}/v1/models/{name}:predict", json={"instances": x.tolist()}, timeout=30)
        if answer.status_code != 200:
            tally.add("failed", f"rest {answer.status_code}: {answer.text[:200]}")
            continue
        y = np.array(answer.json()["predictions"], np.float32)
        ok = any(np.array_equal(y, x * f) for f in FACTORS.values())
        tally.add("ok" if ok else "wrong", "" if ok else "rest wrong answer")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--minutes", type=float, default=10)
    parser.add_argument("--swap_seconds", type=float, default=30)
    parser.add_argument("--report", type=pathlib.Path, help="also write the figures as Markdown to this file")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = pathlib.Path(tmp)
        names = ["a", "b", "c"]
        for name in names:
            models.save(models.scale_model(1.0), root / name, 1)
        config = write_config(root / "config.json", [{"name": n, "base_path": str(root / n)} for n in names])
        server = RestServer(
            ["config", "--config_path", str(config), "--file_system_poll_wait_seconds", "1"],
            root / "server.log",
            {"LOG_LEVEL": "INFO"},
        ).wait_ready()
        stop, tally = threading.Event(), Tally()
        workers = [threading.Thread(target=grpc_load, args=(server.address, n, stop, tally)) for n in names]
        workers += [threading.Thread(target=rest_load, args=(server.url, n, stop, tally)) for n in names[:2]]
        for worker in workers:
            worker.start()
        started = time.monotonic()
        end = started + args.minutes * 60
        warm_rss, peak_rss, swaps, next_swap = None, 0.0, 0, started + args.swap_seconds
        try:
            while time.monotonic() < end:
                time.sleep(1)
                rss = rss_mb(server.process.pid)  # the REST host's worker holds the store
                for child in (
                    pathlib.Path(f"/proc/{server.process.pid}/task/{server.process.pid}/children").read_text().split()
                ):
                    rss = max(rss, rss_mb(int(child)))
                if warm_rss is None and time.monotonic() - started > min(60, args.minutes * 15):
                    warm_rss = rss
                peak_rss = max(peak_rss, rss)
                if time.monotonic() >= next_swap:  # add the next version of one model, or remove it
                    name = names[swaps % len(names)]
                    newest = max(int(p.name) for p in (root / name).iterdir())
                    if newest < 3:
                        staged = models.save(
                            models.scale_model(FACTORS[newest + 1]), root / "staging" / name, newest + 1
                        )
                        staged.rename(root / name / str(newest + 1))
                    else:
                        shutil.rmtree(root / name / "3")
                        shutil.rmtree(root / name / "2")
                    swaps += 1
                    next_swap += args.swap_seconds
        finally:
            stop.set()
            for worker in workers:
                worker.join()
            final_rss = max(
                [rss_mb(server.process.pid)]
                + [
                    rss_mb(int(c))
                    for c in pathlib.Path(f"/proc/{server.process.pid}/task/{server.process.pid}/children")
                    .read_text()
                    .split()
                ]
            )
            exit_code = server.stop()
    growth = (final_rss - warm_rss) / warm_rss * 100 if warm_rss else float("nan")
    total = sum(tally.counts.values())
    print(f"soak: {args.minutes} min, {swaps} version swaps, {total} requests: {tally.counts}")
    print(
        f"RSS after warm-up {warm_rss:.0f} MB, at the end {final_rss:.0f} MB ({growth:+.1f}%), peak {peak_rss:.0f} MB"
    )
    print(f"server exit code {exit_code}")
    for failure in tally.failures:
        print("  ", failure)
    passed = tally.counts["wrong"] == 0 and tally.counts["failed"] == 0 and growth < 5 and exit_code == 0
    print("PASSED" if passed else "FAILED")
    if args.report:
        args.report.write_text(
            "# Soak results\n\nWritten by `make soak` (`python -m benchmarks.soak`); do not edit by hand.\n\n"
            f"- date: {datetime.datetime.now(datetime.timezone.utc).isoformat(timespec='seconds')}, "
            f"{os.cpu_count()} cores; load: 3 gRPC + 2 REST closed-loop clients on 3 models, "
            f"a version added or removed every {args.swap_seconds:.0f} s\n\n"
            "| minutes | version swaps | requests | correct | wrong | failed | RSS after warm-up | RSS at end "
            "| growth | "
            "exit code | verdict |\n|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|\n"
            f"| {args.minutes:g} | {swaps} | {total} | {tally.counts['ok']} | {tally.counts['wrong']} | "
            f"{tally.counts['failed']} | {warm_rss:.0f} MB | {final_rss:.0f} MB | {growth:+.1f}% | {exit_code} | "
            f"{'passed' if passed else 'FAILED'} |\n"
        )
    raise SystemExit(0 if passed else 1)


if __name__ == "__main__":
    main()
