"""UI scale: is the experiment page responsive at 10,000 trials?

Builds an experiment of N trials (default 10,000) with M observations each (default 50) in a
fresh SQLite database (bulk inserts through SQLAlchemy Core on the store's tables: building it
through the controller would take minutes), then

1. times each JSON API call the experiment page makes (median of several calls, through the
   in-process ASGI client, so the figure is server time plus serialization), the full lists
   both built and kept (the server keeps them while the trials are unchanged), then other
   calls of the API, and
2. serves the UI on 127.0.0.1 with uvicorn and loads the experiment page in headless Chromium
   without GPU, when Playwright and Chromium are installed: the time until the table and the
   best trial show, until a click on a column header has re-sorted the 10,000 rows (time to
   interactive), and until every graph is drawn, and the longest main-thread task after the
   page is ready (see ``time_interactive``).

Figures are printed against the targets: < 300 ms per API call, < 3 s to interactive, with
the machine's load average before and after.  Usage::

    python benchmarks/ui_scale.py [--trials 10000] [--observations 50] [--repeat 7] [--loads 5]
"""

from __future__ import annotations

import argparse
import math
import os
import random
import shutil
import socket
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

API_TARGET_MS = 300.0
INTERACTIVE_TARGET_S = 3.0
PARAMS = ("lr", "layers", "dropout", "optimizer")
CHROMIUM = os.environ.get("TUNERY_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def build(db: str, name: str, n_trials: int, n_obs: int, runs_dir: str, seed: int = 0) -> None:
    """Store an experiment ``name`` with ``n_trials`` finished trials of ``n_obs`` steps."""
    import sqlalchemy as sa

    from tunery.model import Experiment, ExperimentCondition, ExperimentReason
    from tunery.spec import parse_document, to_document
    from tunery.storage import Store, schema

    doc = {
        "apiVersion": "tunery/v1",
        "kind": "Experiment",
        "metadata": {"name": name},
        "spec": {
            "objective": {
                "type": "minimize",
                "objectiveMetricName": "loss",
                "additionalMetricNames": ["accuracy"],
            },
            "algorithm": {"algorithmName": "random"},
            "parallelTrialCount": 8,
            "maxTrialCount": n_trials,
            "parameters": [
                {
                    "name": "lr",
                    "parameterType": "double",
                    "feasibleSpace": {"min": "1e-5", "max": "1e-1", "distribution": "logUniform"},
                },
                {
                    "name": "layers",
                    "parameterType": "int",
                    "feasibleSpace": {"min": "1", "max": "8"},
                },
                {
                    "name": "dropout",
                    "parameterType": "double",
                    "feasibleSpace": {"min": "0", "max": "0.5"},
                },
                {
                    "name": "optimizer",
                    "parameterType": "categorical",
                    "feasibleSpace": {"list": ["sgd", "adam", "rmsprop"]},
                },
            ],
            "trialTemplate": {
                "command": [
                    "python",
                    "train.py",
                    *[f"--{p}=${{trialParameters.{p}}}" for p in PARAMS],
                ]
            },
        },
    }
    spec = parse_document(doc)
    store = Store(f"sqlite:///{db}")
    t0 = 1_700_000_000.0
    store.create_experiment(
        Experiment(
            name=name,
            spec=spec,
            document=to_document(spec),
            status=ExperimentCondition.RUNNING,
            reason=ExperimentReason.RUNNING.value,
            created_time=t0,
            start_time=t0,
            base_dir=runs_dir,
            runs_dir=runs_dir,
        )
    )
    rng = random.Random(seed)
    trial_rows: list[dict[str, Any]] = []
    obs_rows: list[dict[str, Any]] = []
    with store.engine.connect() as conn:
        conn.execution_options(tunery_write=True)
        for i in range(n_trials):
            lr = math.exp(rng.uniform(math.log(1e-5), math.log(1e-1)))
            layers = rng.randint(1, 8)
            dropout = rng.uniform(0, 0.5)
            opt = rng.choice(["sgd", "adam", "rmsprop"])
            final = (math.log10(lr) + 3) ** 2 * 0.1 + 0.02 * layers + (0.1 if opt == "sgd" else 0.0)
            final += rng.gauss(0, 0.02)
            tname = f"{name}-{i:05d}"
            losses = [final + 2.0 * math.exp(-s / 8) for s in range(n_obs)]
            status = "Running" if i >= n_trials - 8 else "Succeeded"
            start = t0 + i * 10
            trial_rows.append(
                {
                    "experiment": name,
                    "name": tname,
                    "trial_index": i,
                    "parameters": {
                        "lr": lr,
                        "layers": layers,
                        "dropout": dropout,
                        "optimizer": opt,
                    },
                    "status": status,
                    "reason": "TrialSucceeded" if status == "Succeeded" else "TrialRunning",
                    "message": None,
                    "labels": {},
                    "metrics": {
                        "loss": {"min": min(losses), "max": max(losses), "latest": losses[-1]},
                        "accuracy": {"min": 0.5, "max": 1 - final / 3, "latest": 1 - final / 3},
                    },
                    "objective": min(losses) if status == "Succeeded" else None,
                    "created_time": start,
                    "start_time": start,
                    "completion_time": start + 80 if status == "Succeeded" else None,
                    "handle": None,
                    "cursor": None,
                }
            )
            for s, loss in enumerate(losses):
                obs_rows.append(
                    {
                        "experiment": name,
                        "trial_name": tname,
                        "metric_name": "loss",
                        "value": loss,
                        "step": s,
                        "timestamp": start + s,
                    }
                )
            if len(obs_rows) >= 50_000 or i == n_trials - 1:
                with conn.begin():
                    if trial_rows:
                        conn.execute(sa.insert(schema.trials), trial_rows)
                    conn.execute(sa.insert(schema.observations), obs_rows)
                trial_rows, obs_rows = [], []
    store.close()


def _median_ms(fn: Any, repeat: int, before: Any = None) -> float:
    if before:
        before()
    fn()  # warm
    times = []
    for _ in range(repeat):
        if before:
            before()
        t = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t) * 1000)
    return statistics.median(times)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def time_api(db: str, name: str, repeat: int) -> list[tuple[str, str, float]]:
    """``(group, call, median ms)``: the page's calls first, then the other ones."""
    from fastapi.testclient import TestClient

    from tunery.storage import Store
    from tunery.ui.app import create_app

    store = Store(f"sqlite:///{db}")
    app = create_app(store, "bench-token")
    client = TestClient(app, base_url="http://127.0.0.1")
    first = client.get(f"/api/experiments/{name}/trial-columns").json()
    cursor = first["cursor"]
    trial = first["columns"]["name"][len(first["columns"]["name"]) // 2]
    base = f"/api/experiments/{name}"
    page = "the page's calls"
    other = "other calls"
    calls = [
        (page, "GET /api/experiments (list page)", "/api/experiments", False),
        (page, "GET /api/experiments/{name}", base, False),
        (page, "GET .../trial-columns (all; built)", f"{base}/trial-columns", True),
        (page, "GET .../trial-columns (all; kept)", f"{base}/trial-columns", False),
        (
            page,
            "GET .../trial-columns?after=cursor (poll)",
            f"{base}/trial-columns?after={cursor}",
            False,
        ),
        (page, "GET .../importance (built)", f"{base}/importance", True),
        (page, "GET .../importance (kept)", f"{base}/importance", False),
        (page, "GET .../observations (all curves; built)", f"{base}/observations", True),
        (page, "GET .../observations (all curves; kept)", f"{base}/observations", False),
        (
            page,
            "GET .../observations?after=cursor (poll)",
            f"{base}/observations?after={cursor}",
            False,
        ),
        (page, "GET .../trials/{trial} (trial page)", f"{base}/trials/{trial}", False),
        (other, "GET .../trials (all, rows; built)", f"{base}/trials", True),
        (other, "GET .../trials (all, rows; kept)", f"{base}/trials", False),
        (other, "GET .../trials?after=cursor (poll, rows)", f"{base}/trials?after={cursor}", False),
        (
            other,
            "GET .../trials?status=Succeeded&sort=-objective&limit=50",
            f"{base}/trials?status=Succeeded&sort=-objective&limit=50",
            True,
        ),
        (other, "GET .../trials.csv (export)", f"{base}/trials.csv", False),
    ]
    out = []
    for group, label, url, built in calls:

        def call(url: str = url) -> None:
            response = client.get(url)
            response.raise_for_status()

        # "built": the answer is built each time (the server keeps full lists and the
        # importance while the trials are unchanged; "kept" is that case).
        clear = app.state.trial_cache.clear if built else None
        out.append((group, label, _median_ms(call, repeat, clear)))
    store.close()
    return out


#: Records the page's long tasks (over 50 ms of main thread) from the start.
LONG_TASKS = """
window.__longTasks = [];
new PerformanceObserver((list) => {
  for (const e of list.getEntries()) window.__longTasks.push([e.startTime, e.duration]);
}).observe({ type: "longtask", buffered: true });
"""


def time_interactive(db: str, name: str, repeat: int) -> list[dict[str, float]] | str:
    """Per page load (the first with a cold browser cache), seconds from navigation to:

    ``ready``: the header, the best hyperparameters and the trial table are on the page and
    their handlers attached (the page's ``data-ready`` marker); ``interactive``: a click on
    the table's objective header, sent at ``ready``, has re-sorted the 10,000 rows (the first
    row is then the best trial); ``graphs``: parallel coordinates, history and importance are
    fully drawn (``data-graphs``); ``curves``: every trial's learning curve is drawn
    (``data-curves``: the intermediate values, from ``/observations``).  ``longest``: the
    longest main-thread task after ``ready`` (ms), what a click could wait for at worst.  The
    server's kept answers are dropped before each load, so every load builds its trial list.
    """
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        return "skipped: the playwright package is not installed"
    if not (os.path.exists(CHROMIUM) or shutil.which("chromium")):
        return f"skipped: no Chromium at {CHROMIUM}"
    import uvicorn

    from tunery.storage import Store, views
    from tunery.ui.app import create_app

    store = Store(f"sqlite:///{db}")
    app = create_app(store, "bench-token")
    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="error"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.02)
    best = views.best_trial(store, name, store.get_experiment(name).spec.objective)
    assert best is not None
    results = []
    try:
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.add_init_script(LONG_TASKS)
            for _ in range(repeat):
                app.state.trial_cache.clear()
                page.goto("about:blank")
                t = time.perf_counter()
                page.goto(f"http://127.0.0.1:{port}/#/experiments/{name}")
                page.wait_for_selector("body[data-ready='experiment']", timeout=60_000)
                ready = time.perf_counter() - t
                page.click("#trials th[data-key='objective']")
                page.wait_for_selector(
                    f"#trials tbody tr:first-child[data-trial='{best.name}']", timeout=60_000
                )
                interactive = time.perf_counter() - t
                page.wait_for_selector("body[data-graphs='drawn']", timeout=60_000)
                graphs = time.perf_counter() - t
                page.wait_for_selector("body[data-curves='drawn']", timeout=60_000)
                curves = time.perf_counter() - t
                longest = page.evaluate(
                    "(after) => Math.max(0, ...window.__longTasks"
                    ".filter(([s, d]) => s + d > after).map(([s, d]) => d))",
                    ready * 1000,
                )
                results.append(
                    {
                        "ready": ready,
                        "interactive": interactive,
                        "graphs": graphs,
                        "curves": curves,
                        "longest": float(longest),
                    }
                )
            browser.close()
    finally:
        server.should_exit = True
        thread.join(10)
        store.close()
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--trials", type=int, default=10_000)
    parser.add_argument("--observations", type=int, default=50)
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--loads", type=int, default=5, help="page loads in Chromium")
    args = parser.parse_args()
    name = "scale"
    print(f"load average: {' '.join(f'{x:.2f}' for x in os.getloadavg())} on {os.cpu_count()} CPUs")
    with tempfile.TemporaryDirectory() as tmp:
        db = str(Path(tmp) / "ui.db")
        t = time.perf_counter()
        build(db, name, args.trials, args.observations, tmp)
        print(
            f"built {args.trials} trials x {args.observations} observations "
            f"in {time.perf_counter() - t:.1f} s"
        )
        print(f"\nAPI calls (median of {args.repeat}; target < {API_TARGET_MS:.0f} ms):")
        worst = 0.0
        group = ""
        for call_group, label, ms in time_api(db, name, args.repeat):
            if call_group != group:
                group = call_group
                print(f"  {group}:")
            if call_group == "the page's calls":
                worst = max(worst, ms)
            verdict = "ok" if ms < API_TARGET_MS else "SLOW"
            print(f"    {label:<58} {ms:8.1f} ms  {verdict}")
        print(f"  slowest call of the page: {worst:.1f} ms = {worst / API_TARGET_MS:.2f} x target")
        result = time_interactive(db, name, args.loads)
        print(f"\npage in headless Chromium without GPU (target < {INTERACTIVE_TARGET_S:.0f} s):")
        if isinstance(result, str):
            print(f"  {result}")
        else:
            for key, what in (
                ("ready", "table and best trial shown"),
                ("interactive", "a sort click answered (time to interactive)"),
                ("graphs", "all graphs drawn"),
                ("curves", "intermediate values drawn (every curve)"),
            ):
                values = [r[key] for r in result]
                runs = ", ".join(f"{x:.2f}" for x in values)
                print(
                    f"  {what:<46} median {statistics.median(values):5.2f} s  ({runs}; "
                    "the first with a cold cache)"
                )
            med = statistics.median(r["interactive"] for r in result)
            verdict = "ok" if med < INTERACTIVE_TARGET_S else "SLOW"
            longest = max(r["longest"] for r in result)
            print(f"  longest main-thread task after ready: {longest:.0f} ms")
            print(f"  time to interactive = {med / INTERACTIVE_TARGET_S:.2f} x target  {verdict}")
    print(f"load average: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
