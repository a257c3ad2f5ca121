"""ESPCN image super-resolution, trained on the luminance (Y) of real photographs.

The model of Shi et al. (2016), "Real-Time Single Image and Video Super-Resolution Using an
Efficient Sub-Pixel Convolutional Neural Network": three convolutions on the low-resolution
image and a pixel shuffle that rearranges ``r*r`` channels into an ``r``-times larger image.

Data ships inside installed packages, nothing is downloaded: scikit-image's bundled photographs
and scikit-learn's two sample images.  Training patches are cut from one set of images, the
validation PSNR is measured on whole held-out images (chelsea, coffee, china).  Low-resolution
inputs are made by bicubic downscaling with antialiasing; the bicubic upscaling of the same
inputs is the baseline to beat, printed once as ``PSNR-bicubic``.

Every epoch prints Katib metric lines::

    epoch=3 loss=0.00123 PSNR-validation=27.41

Example::

    python train.py --learning_rate 0.002 --batch_size 32 --epochs 12
"""

from __future__ import annotations

import argparse
import math
import os
import time

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

TRAIN_IMAGES = (
    "astronaut",
    "camera",
    "rocket",
    "moon",
    "coins",
    "brick",
    "grass",
    "gravel",
    "hubble_deep_field",
    "immunohistochemistry",
    "sklearn:flower",
)
VALIDATION_IMAGES = ("chelsea", "coffee", "sklearn:china")


def load_y(name: str) -> np.ndarray:
    """The image's luminance (ITU-R BT.601 Y, as in YCbCr) in [0, 1]."""
    if name.startswith("sklearn:"):
        from sklearn.datasets import load_sample_image

        image = load_sample_image(f"{name.split(':', 1)[1]}.jpg")
    else:
        from skimage import data

        image = getattr(data, name)()
    image = image.astype(np.float32) / 255.0
    if image.ndim == 3:
        r, g, b = image[..., 0], image[..., 1], image[..., 2]
        image = (16.0 + 65.481 * r + 128.553 * g + 24.966 * b) / 255.0
    return image.astype(np.float32)


def downscale(hr: torch.Tensor, scale: int) -> torch.Tensor:
    return F.interpolate(hr, scale_factor=1 / scale, mode="bicubic", antialias=True).clamp(0, 1)


def upscale_bicubic(lr: torch.Tensor, scale: int) -> torch.Tensor:
    return F.interpolate(lr, scale_factor=scale, mode="bicubic", align_corners=False).clamp(0, 1)


def crop_to(image: np.ndarray, multiple: int, limit: int | None = None) -> np.ndarray:
    h, w = image.shape
    if limit:
        h, w = min(h, limit), min(w, limit)
    h, w = h - h % multiple, w - w % multiple
    top, left = (image.shape[0] - h) // 2, (image.shape[1] - w) // 2
    return image[top : top + h, left : left + w]


def make_patches(scale: int, patch: int, count: int, seed: int) -> torch.Tensor:
    """``count`` high-resolution patches, the same for every trial (fixed seed)."""
    rng = np.random.default_rng(seed)
    images = [load_y(name) for name in TRAIN_IMAGES]
    weights = np.array([im.size for im in images], dtype=float)
    weights /= weights.sum()
    out = np.empty((count, 1, patch, patch), dtype=np.float32)
    choice = rng.choice(len(images), size=count, p=weights)
    for i, k in enumerate(choice):
        im = images[k]
        top = rng.integers(0, im.shape[0] - patch + 1)
        left = rng.integers(0, im.shape[1] - patch + 1)
        tile = im[top : top + patch, left : left + patch]
        if rng.random() < 0.5:
            tile = tile[:, ::-1]
        out[i, 0] = np.rot90(tile, k=int(rng.integers(0, 4)))
    return torch.from_numpy(out)


class ESPCN(nn.Module):
    def __init__(self, scale: int, width: int = 64) -> None:
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(1, width, 5, padding=2),
            nn.Tanh(),
            nn.Conv2d(width, width // 2, 3, padding=1),
            nn.Tanh(),
            nn.Conv2d(width // 2, scale * scale, 3, padding=1),
        )
        self.shuffle = nn.PixelShuffle(scale)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.shuffle(self.body(x))


def psnr(a: torch.Tensor, b: torch.Tensor, border: int) -> float:
    """PSNR in dB of two [0, 1] images, ignoring ``border`` pixels at each edge."""
    if border:
        a = a[..., border:-border, border:-border]
        b = b[..., border:-border, border:-border]
    mse = float(torch.mean((a - b) ** 2))
    return 10 * math.log10(1.0 / max(mse, 1e-12))


def validation_set(scale: int, limit: int) -> list[tuple[torch.Tensor, torch.Tensor]]:
    pairs = []
    for name in VALIDATION_IMAGES:
        hr = torch.from_numpy(crop_to(load_y(name), scale, limit).copy())[None, None]
        pairs.append((downscale(hr, scale), hr))
    return pairs


def evaluate(model: nn.Module, pairs: list[tuple[torch.Tensor, torch.Tensor]], scale: int) -> float:
    model.eval()
    with torch.no_grad():
        values = [psnr(model(lr).clamp(0, 1), hr, scale) for lr, hr in pairs]
    model.train()
    return float(np.mean(values))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--learning_rate", type=float, default=0.002)
    parser.add_argument("--batch_size", type=int, default=32)
    parser.add_argument("--epochs", type=int, default=12)
    parser.add_argument("--width", type=int, default=64, help="channels of the first layer")
    parser.add_argument("--scale", type=int, default=3, choices=[2, 3, 4])
    parser.add_argument("--patches", type=int, default=8192, help="training patches per epoch")
    parser.add_argument("--threads", type=int, default=1, help="torch threads (1 per trial)")
    parser.add_argument("--val-size", type=int, default=288, help="validation crop (pixels)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--out",
        default=os.path.join(os.environ.get("TUNERY_TRIAL_DIR", "."), "espcn.pt"),
        help="where to save the trained model",
    )
    args = parser.parse_args()
    if args.learning_rate <= 0 or args.batch_size <= 0 or args.epochs <= 0:
        parser.error("--learning_rate, --batch_size and --epochs must be positive")

    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    scale = args.scale
    hr_patches = make_patches(scale, patch=scale * 11, count=args.patches, seed=1234)
    lr_patches = downscale(hr_patches, scale)
    pairs = validation_set(scale, args.val_size)
    baseline = float(np.mean([psnr(upscale_bicubic(lr, scale), hr, scale) for lr, hr in pairs]))
    print(f"PSNR-bicubic={baseline:.4f}", flush=True)

    model = ESPCN(scale, args.width)
    optimizer = torch.optim.Adam(model.parameters(), lr=args.learning_rate)
    steps_per_epoch = math.ceil(args.patches / args.batch_size)
    # Short warm-up, then cosine decay: stable at the high end of the learning-rate range.
    schedule = torch.optim.lr_scheduler.OneCycleLR(
        optimizer,
        max_lr=args.learning_rate,
        total_steps=args.epochs * steps_per_epoch,
        pct_start=0.1,
        final_div_factor=20.0,
    )
    generator = torch.Generator().manual_seed(args.seed)
    started = time.time()
    for epoch in range(1, args.epochs + 1):
        order = torch.randperm(args.patches, generator=generator)
        total = 0.0
        for i in range(0, args.patches, args.batch_size):
            idx = order[i : i + args.batch_size]
            loss = F.mse_loss(model(lr_patches[idx]), hr_patches[idx])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            schedule.step()
            total += loss.item() * len(idx)
        value = evaluate(model, pairs, scale)
        print(
            f"epoch={epoch} loss={total / args.patches:.6f} PSNR-validation={value:.4f}",
            flush=True,
        )
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    torch.save({"state_dict": model.state_dict(), "scale": scale, "width": args.width}, args.out)
    print(f"# trained in {time.time() - started:.1f}s; model saved to {args.out}", flush=True)


if __name__ == "__main__":
    main()
