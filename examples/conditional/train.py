"""Model choice on scikit-learn's bundled breast-cancer data: each model has its own parameters.

tunery passes only the parameters that are active for the chosen model (the others' flags are
dropped from the command), so each argument below is optional.  It prints one Katib metric line:
``accuracy=0.95``.  Run it by hand to try it:

    python train.py --model svm --C 3.0 --kernel rbf
    python train.py --model forest --depth 6
    python train.py --model knn --neighbors 7 --weights distance
"""

from __future__ import annotations

import argparse

from sklearn.datasets import load_breast_cancer
from sklearn.ensemble import RandomForestClassifier
from sklearn.model_selection import cross_val_score
from sklearn.neighbors import KNeighborsClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import SVC


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", required=True, choices=["svm", "forest", "knn"])
    parser.add_argument("--C", type=float, help="svm: inverse regularisation")
    parser.add_argument("--kernel", choices=["linear", "rbf", "poly"], help="svm")
    parser.add_argument("--degree", type=int, help="svm with kernel poly")
    parser.add_argument("--depth", type=int, help="forest: maximum tree depth")
    parser.add_argument("--neighbors", type=int, help="knn")
    parser.add_argument("--weights", choices=["uniform", "distance"], help="knn")
    args = parser.parse_args()

    if args.model == "svm":
        svm = SVC(C=args.C, kernel=args.kernel, degree=args.degree or 3)
        model = make_pipeline(StandardScaler(), svm)
    elif args.model == "forest":
        model = RandomForestClassifier(n_estimators=30, max_depth=args.depth, random_state=0)
    else:
        knn = KNeighborsClassifier(n_neighbors=args.neighbors, weights=args.weights)
        model = make_pipeline(StandardScaler(), knn)
    x, y = load_breast_cancer(return_X_y=True)
    accuracy = cross_val_score(model, x, y, cv=3).mean()
    print(f"accuracy={accuracy:.6f}", flush=True)


if __name__ == "__main__":
    main()
