"""Multi-objective trial: a random forest on scikit-learn's bundled digits data set, judged on
three things at once: its validation accuracy (higher is better), its prediction latency
(lower is better) and its size (a constraint: at most ``--max-kb`` in the experiment).

It prints one Katib-format metric line, which tunery's StdOut collector reads:
``accuracy=0.95 latency_ms=3.1 model_kb=412.0``.  Run it by hand to try it:

    python train.py --trees 40 --depth 8 --features 0.3
"""

from __future__ import annotations

import argparse
import pickle
import time

from sklearn.datasets import load_digits
from sklearn.ensemble import RandomForestClassifier
from sklearn.model_selection import train_test_split

#: Predictions timed per measurement, and measurements (the median is reported).
REPEATS = 5


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trees", type=int, default=40, help="trees in the forest")
    parser.add_argument("--depth", type=int, default=8, help="the trees' maximum depth")
    parser.add_argument("--features", type=float, default=0.3, help="features per split (share)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    x, y = load_digits(return_X_y=True)
    x_train, x_val, y_train, y_val = train_test_split(
        x, y, test_size=0.3, random_state=args.seed, stratify=y
    )
    model = RandomForestClassifier(
        n_estimators=args.trees,
        max_depth=args.depth,
        max_features=args.features,
        random_state=args.seed,
        n_jobs=1,
    ).fit(x_train, y_train)
    accuracy = float((model.predict(x_val) == y_val).mean())
    # Latency: the median time to predict the whole validation set (540 images), in ms.
    times = []
    for _ in range(REPEATS):
        start = time.perf_counter()
        model.predict(x_val)
        times.append((time.perf_counter() - start) * 1000)
    latency_ms = sorted(times)[REPEATS // 2]
    model_kb = len(pickle.dumps(model)) / 1024
    print(f"accuracy={accuracy:.4f} latency_ms={latency_ms:.3f} model_kb={model_kb:.1f}")


if __name__ == "__main__":
    main()
