"""After the ESPCN experiment: the best PSNR against the bicubic baseline, and a picture.

    python show_best.py [--db tunery.db] [--name espcn] [--out best.png]

Reads the experiment through tunery's Python client, prints the best trial's validation PSNR
next to the bicubic PSNR of the same images (the trial reported both), and renders the best
model's output next to bicubic upscaling (render.py).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys

import tunery


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", default=None)
    parser.add_argument("--name", default="espcn")
    parser.add_argument("--out", default=None, help="PNG to write (default: next to the model)")
    args = parser.parse_args()

    client = tunery.Client(args.db)
    exp = client.get_experiment(args.name)
    best = client.get_optimal_hyperparameters(args.name)
    if best is None:
        sys.exit(f"experiment {args.name} has no successful trial yet")
    bicubic = best["metrics"].get("PSNR-bicubic", {}).get("latest")
    psnr = best["objective"]
    print(f"best trial {best['trial']}: PSNR-validation {psnr:.2f} dB")
    for name, value in best["parameters"].items():
        print(f"  {name} = {value}")
    if bicubic is not None:
        verdict = "beats" if psnr > bicubic else "does NOT beat"
        print(
            f"bicubic baseline: {bicubic:.2f} dB -> ESPCN {verdict} it by {psnr - bicubic:+.2f} dB"
        )
    model = os.path.join(exp.runs_dir or "tunery-runs", args.name, best["trial"], "espcn.pt")
    out = args.out or os.path.join(os.path.dirname(model), "super-resolution.png")
    here = os.path.dirname(os.path.abspath(__file__))
    subprocess.run(
        [sys.executable, os.path.join(here, "render.py"), model, "--out", out], cwd=here, check=True
    )


if __name__ == "__main__":
    main()
