"""Quickstart trial: a small neural network on scikit-learn's bundled digits data set.

It prints Katib-format metric lines (``name=value``) after every epoch, which tunery's StdOut
collector reads: ``epoch=3 loss=0.41 accuracy=0.93``.  Run it by hand to try it:

    python train.py --lr 0.01 --hidden 64 --alpha 0.0001 --activation relu
"""

from __future__ import annotations

import argparse
import warnings

from sklearn.datasets import load_digits
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import train_test_split
from sklearn.neural_network import MLPClassifier
from sklearn.preprocessing import StandardScaler


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lr", type=float, default=0.001, help="initial learning rate")
    parser.add_argument("--hidden", type=int, default=32, help="hidden units")
    parser.add_argument("--alpha", type=float, default=1e-4, help="L2 penalty")
    parser.add_argument("--activation", default="relu", choices=["relu", "tanh", "logistic"])
    parser.add_argument("--epochs", type=int, default=15)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    x, y = load_digits(return_X_y=True)
    x_train, x_val, y_train, y_val = train_test_split(
        x, y, test_size=0.3, random_state=args.seed, stratify=y
    )
    scaler = StandardScaler().fit(x_train)
    x_train, x_val = scaler.transform(x_train), scaler.transform(x_val)

    model = MLPClassifier(
        hidden_layer_sizes=(args.hidden,),
        activation=args.activation,
        alpha=args.alpha,
        learning_rate_init=args.lr,
        batch_size=64,
        random_state=args.seed,
    )
    classes = sorted(set(y))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        for epoch in range(1, args.epochs + 1):
            model.partial_fit(x_train, y_train, classes=classes)
            accuracy = model.score(x_val, y_val)
            print(f"epoch={epoch} loss={model.loss_:.5f} accuracy={accuracy:.5f}", flush=True)


if __name__ == "__main__":
    main()
