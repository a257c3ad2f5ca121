"""Render a trained ESPCN model's output next to bicubic upscaling (for docs/espcn.md).

    python render.py MODEL.pt --out ../../docs/espcn.png

Takes the held-out validation image ``chelsea``, downscales it, and writes one PNG with three
panels of the same crop: bicubic upscaling, ESPCN, and the original, each titled with its PSNR
(Y channel, as in training).
"""

from __future__ import annotations

import argparse

import numpy as np
import torch
from PIL import Image, ImageDraw
from train import ESPCN, crop_to, downscale, load_y, psnr, upscale_bicubic


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model")
    parser.add_argument("--out", default="espcn.png")
    parser.add_argument("--image", default="chelsea")
    parser.add_argument("--zoom", type=int, default=2, help="pixel zoom of the crop")
    args = parser.parse_args()

    saved = torch.load(args.model, map_location="cpu")
    scale = int(saved["scale"])
    model = ESPCN(scale, int(saved["width"]))
    model.load_state_dict(saved["state_dict"])
    model.eval()

    hr = torch.from_numpy(crop_to(load_y(args.image), scale).copy())[None, None]
    lr = downscale(hr, scale)
    with torch.no_grad():
        sr = model(lr).clamp(0, 1)
    bicubic = upscale_bicubic(lr, scale)
    panels = [
        ("bicubic", bicubic, psnr(bicubic, hr, scale)),
        ("ESPCN", sr, psnr(sr, hr, scale)),
        ("original", hr, None),
    ]
    h, w = hr.shape[-2:]
    size = min(h, w, 150)
    top, left = (h - size) // 2, (w - size) // 2
    tiles = []
    for title, image, value in panels:
        crop = image[0, 0, top : top + size, left : left + size].numpy()
        tile = Image.fromarray((crop * 255).round().astype(np.uint8), mode="L")
        tile = tile.resize((size * args.zoom, size * args.zoom), Image.NEAREST).convert("RGB")
        label = title if value is None else f"{title}: {value:.2f} dB"
        draw = ImageDraw.Draw(tile)
        draw.rectangle([0, 0, 8 * len(label) + 8, 18], fill=(0, 0, 0))
        draw.text((4, 3), label, fill=(255, 255, 0))
        tiles.append(tile)
    canvas = Image.new("RGB", (sum(t.width for t in tiles) + 8 * (len(tiles) - 1), tiles[0].height))
    x = 0
    for tile in tiles:
        canvas.paste(tile, (x, 0))
        x += tile.width + 8
    canvas.save(args.out, optimize=True)
    print(f"wrote {args.out}: bicubic {panels[0][2]:.2f} dB, ESPCN {panels[1][2]:.2f} dB")


if __name__ == "__main__":
    main()
