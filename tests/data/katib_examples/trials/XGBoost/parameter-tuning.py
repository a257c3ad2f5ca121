"""Local stand-in for the FPGA example's ``XGBoost/parameter-tuning.py`` (InAccel's XGBoost
parameter-tuning script in the ``inaccel/jupyter:lab`` image).

It takes that script's flags (``--alpha``, ``--eta``, ``--max-depth``, ``--name``,
``--num-boost-round``, ``--subsample``, ``--test-size``, ``--tree-method``, with the same
choices) and prints what it prints: ``time=T`` (seconds spent training, 3 decimals), then
``accuracy=A`` on the held-out split (3 decimals).  Instead of XGBoost on an OpenML download
it trains scikit-learn's gradient boosting on the bundled 8x8 digits, whatever ``--name``
says, with ``eta`` as the learning rate, ``max_depth``, ``subsample`` and ``num_boost_round``
rounds.  XGBoost's L1 term on leaf weights (``alpha``) and its tree construction method have
no counterpart there: both are accepted and recorded only.

When ``TUNERY_E2E_RECORD_DIR`` is set (by tests), it writes what it reported to
``<dir>/<KATIB_TRIAL_NAME>.rank0.json`` before printing it.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from timeit import default_timer as timestamp

from sklearn.datasets import load_digits
from sklearn.ensemble import GradientBoostingClassifier
from sklearn.metrics import accuracy_score
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import LabelEncoder, Normalizer


def record(data: dict[str, object]) -> None:
    directory, trial = os.environ.get("TUNERY_E2E_RECORD_DIR"), os.environ.get("KATIB_TRIAL_NAME")
    if not directory or not trial:
        return
    path = os.path.join(directory, f"{trial}.rank0.json")
    with open(path + ".tmp", "w", encoding="utf-8") as fh:
        json.dump(data, fh)
    os.replace(path + ".tmp", path)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--alpha", type=float, default=0.0)
    parser.add_argument("--eta", type=float, default=0.3)
    parser.add_argument("--max-depth", type=int, default=6)
    datasets = ["CIFAR_10", "Fashion-MNIST", "mnist_784", "SVHN"]
    parser.add_argument("--name", type=str, default="CIFAR_10", choices=datasets)
    parser.add_argument("--num-boost-round", type=int, default=10)
    parser.add_argument("--subsample", type=float, default=1.0)
    parser.add_argument("--test-size", type=float, default=0.25)
    methods = ["auto", "exact", "approx", "hist", "gpu_hist", "fpga_exact"]
    parser.add_argument("--tree-method", type=str, default="auto", choices=methods)
    args = parser.parse_args()

    x, y = load_digits(return_X_y=True)
    x_train, x_test, y_train, y_test = train_test_split(
        x, y, test_size=args.test_size, random_state=0
    )
    features = Normalizer()
    x_train, x_test = features.fit_transform(x_train), features.transform(x_test)
    label = LabelEncoder()
    y_train, y_test = label.fit_transform(y_train), label.transform(y_test)

    model = GradientBoostingClassifier(
        n_estimators=args.num_boost_round,
        learning_rate=args.eta,
        max_depth=args.max_depth,
        subsample=args.subsample,
        random_state=0,
    )
    start = timestamp()
    model.fit(x_train, y_train)
    stop = timestamp()
    rec: dict[str, object] = {"script": "parameter-tuning.py", "argv": sys.argv[1:], "rank": 0}
    rec["time"] = f"{stop - start:.3f}"
    record(rec)
    print(f"time={rec['time']}", flush=True)

    rec["accuracy"] = f"{accuracy_score(y_test, model.predict(x_test)):.3f}"
    record(rec)
    print(f"accuracy={rec['accuracy']}", flush=True)


if __name__ == "__main__":
    main()
