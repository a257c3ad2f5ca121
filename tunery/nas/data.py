"""The data sets NAS trainers learn on, all offline (docs/nas.md, "Data sets").

``load(name)`` returns a :class:`NasData`: a train and a validation ``TensorDataset`` of float32
images in NCHW, normalised per channel with the training set's mean and standard deviation, and
int64 labels.  Names:

* ``digits`` (the default): scikit-learn's bundled 8x8 handwritten digits (1,797 images, 10
  classes), upsampled to ``image_size`` (default 32) and repeated to ``channels`` (default 3);
  a stratified 80/20 split drawn with ``seed``.
* ``photos``: square crops of ten photographs bundled with scikit-image (astronaut, camera,
  chelsea, coffee, coins, moon, rocket, hubble_deep_field, ihc, motorcycle_left); a crop's class
  is the photograph it comes from.  Each photograph is cut into a 4x4 grid of blocks and 4 blocks,
  drawn with ``seed``, give the validation crops, so no validation crop overlaps a training one.
  Files are read from scikit-image's package folder; nothing is downloaded.
* ``cifar10:PATH``: CIFAR-10 from a folder in torchvision's layout (``PATH/cifar-10-batches-py/``
  with ``data_batch_1`` .. ``data_batch_5`` and ``test_batch``; ``PATH`` may also be that folder
  itself).  The training batches are the train set and ``test_batch`` the validation set, as in
  torchvision.  The batches are pickles, read with :mod:`pickle`: only point it at files you trust.

``limit`` keeps at most that many examples in each split, chosen with ``seed`` and balanced
across classes, for quick runs and tests.  torch, numpy and the package a data set comes from
are imported only when :func:`load` runs.
"""

from __future__ import annotations

import importlib.util
import pickle
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tunery.errors import UserInputError
from tunery.nas import MAX_SEED, import_optional, import_torch

if TYPE_CHECKING:
    import numpy as np
    import torch
    from torch.utils.data import TensorDataset

#: The data set names :func:`load` knows (``cifar10`` takes a folder: ``cifar10:PATH``).
NAMES = ("digits", "photos", "cifar10:PATH")
DEFAULT_IMAGE_SIZE = 32
DEFAULT_CHANNELS = 3
#: The photographs of the ``photos`` set, in class order (files in scikit-image's data folder).
PHOTOS = (
    ("astronaut", "astronaut.png"),
    ("camera", "camera.png"),
    ("chelsea", "chelsea.png"),
    ("coffee", "coffee.png"),
    ("coins", "coins.png"),
    ("moon", "moon.png"),
    ("rocket", "rocket.jpg"),
    ("hubble_deep_field", "hubble_deep_field.jpg"),
    ("ihc", "ihc.png"),
    ("motorcycle_left", "motorcycle_left.png"),
)
#: Crops per photograph in the train and validation sets of ``photos``.
PHOTO_TRAIN_CROPS = 160
PHOTO_VALID_CROPS = 40
#: Each photograph is cut into GRID x GRID blocks; VALID_BLOCKS of them give validation crops.
GRID = 4
VALID_BLOCKS = 4
#: The largest seed (torch's generators take 64 bits; the validation subset uses seed + 1).
#: The share of each digit class held out for validation.
DIGITS_VALID_FRACTION = 0.2
CIFAR_FOLDER = "cifar-10-batches-py"
CIFAR_TRAIN = tuple(f"data_batch_{i}" for i in range(1, 6))
CIFAR_VALID = "test_batch"


@dataclass(frozen=True)
class NasData:
    """A data set ready for training: images NCHW float32 (normalised), labels int64."""

    train: TensorDataset
    valid: TensorDataset
    num_classes: int
    shape: tuple[int, int, int]
    name: str


@dataclass
class _Raw:
    """A data set as read, per split: images (N, C, H, W), uint8 or float in [0, 1], and
    int64 labels."""

    train_x: torch.Tensor
    train_y: torch.Tensor
    valid_x: torch.Tensor
    valid_y: torch.Tensor
    num_classes: int


def load(
    name: str = "digits",
    *,
    image_size: int | None = None,
    channels: int | None = None,
    seed: int = 0,
    limit: int | None = None,
) -> NasData:
    """The data set ``name`` (``digits``, ``photos`` or ``cifar10:PATH``), split and normalised.

    Raises :class:`~tunery.errors.UserInputError` (one line naming the fix) for a bad name,
    size, channel count or limit, or a missing or malformed CIFAR-10 folder, and
    :class:`~tunery.nas.MissingDependencyError` when torch or the data set's package is missing.
    """
    size = _positive("image_size", DEFAULT_IMAGE_SIZE if image_size is None else image_size)
    depth = _positive("channels", DEFAULT_CHANNELS if channels is None else channels)
    if limit is not None:
        _positive("limit", limit)
    if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed <= MAX_SEED:
        raise UserInputError(f"seed: must be an integer from 0 to 2**62, got {seed!r}")
    kind, path = _parse_name(name)
    if kind != "digits" and depth not in (1, 3):
        raise UserInputError(
            f"channels: the {kind} data set has 1 (grey) or 3 (colour) channels, got {depth}",
            "use channels 1 or 3, or the digits data set, which repeats its grey channel",
        )
    torch = import_torch()
    if kind == "digits":
        raw = _digits(seed)
    elif kind == "photos":
        raw = _photos(seed, size, depth)
    else:
        raw = _cifar10(path)
    train_x, train_y = _subset(raw.train_x, raw.train_y, limit, seed)
    valid_x, valid_y = _subset(raw.valid_x, raw.valid_y, limit, seed + 1)
    train_x = _channels(_resize(_unit(train_x), size), depth)
    valid_x = _channels(_resize(_unit(valid_x), size), depth)
    mean = train_x.mean(dim=(0, 2, 3), keepdim=True)
    std = train_x.std(dim=(0, 2, 3), keepdim=True) if len(train_x) > 1 else torch.ones_like(mean)
    std = std.clamp_min(1e-6)
    dataset = torch.utils.data.TensorDataset
    return NasData(
        train=dataset(train_x.sub_(mean).div_(std).contiguous(), train_y),
        valid=dataset(valid_x.sub_(mean).div_(std).contiguous(), valid_y),
        num_classes=raw.num_classes,
        shape=(depth, size, size),
        name=name,
    )


def num_classes(name: str) -> int:
    """How many classes the data set ``name`` has, checking the name but loading nothing."""
    kind, _ = _parse_name(name)
    return len(PHOTOS) if kind == "photos" else 10


def _positive(field: str, value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise UserInputError(f"{field}: must be a positive integer, got {value!r}")
    return value


def _parse_name(name: object) -> tuple[str, Path | None]:
    """``(kind, folder)`` for a data set name, or a one-line error listing the names."""
    if not isinstance(name, str):
        raise UserInputError(f"data set: must be a string, got {name!r}", _names_hint())
    text = name.strip()
    if text in ("digits", "photos"):
        return text, None
    kind, colon, rest = text.partition(":")
    if kind.lower() in ("cifar10", "cifar-10"):
        if not colon or not rest.strip():
            raise UserInputError(
                f"data set {name!r}: CIFAR-10 is read from a folder you have",
                f"write cifar10:PATH, PATH the folder holding {CIFAR_FOLDER}/ "
                "(torchvision's layout; tunery downloads nothing)",
            )
        return "cifar10", Path(rest.strip()).expanduser()
    raise UserInputError(f"data set {name!r} is unknown", _names_hint())


def _names_hint() -> str:
    return "use digits (the default), photos or cifar10:PATH"


def _subset(
    images: torch.Tensor, labels: torch.Tensor, limit: int | None, seed: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """At most ``limit`` examples, drawn with ``seed``, taking the classes in turn."""
    if limit is None or limit >= len(labels):
        return images, labels
    torch = import_torch()
    order = torch.randperm(len(labels), generator=torch.Generator().manual_seed(seed))
    shuffled = labels[order]
    rank = torch.empty_like(order)
    for label in shuffled.unique():
        where = (shuffled == label).nonzero().flatten()
        rank[where] = torch.arange(len(where))
    # the first example of every class, then the second of every class, ...
    keep = order[torch.sort(rank, stable=True).indices[:limit]]
    keep = keep.sort().values
    return images[keep], labels[keep]


def _unit(images: torch.Tensor) -> torch.Tensor:
    """float32 images in [0, 1] (uint8 ones divided by 255)."""
    torch = import_torch()
    if images.dtype == torch.uint8:
        return images.float().div_(255.0)
    return images.float()


def _resize(images: torch.Tensor, size: int) -> torch.Tensor:
    if images.shape[-2:] == (size, size):
        return images
    functional = import_torch().nn.functional
    shrinking = images.shape[-1] > size or images.shape[-2] > size
    return functional.interpolate(
        images, size=(size, size), mode="bilinear", align_corners=False, antialias=shrinking
    ).clamp(0.0, 1.0)


def _channels(images: torch.Tensor, depth: int) -> torch.Tensor:
    have = images.shape[1]
    if have == depth:
        return images
    if have == 1:
        return images.expand(-1, depth, -1, -1).contiguous()
    if depth == 1:  # colour to grey: ITU-R 601 luma, as PIL's "L" conversion
        weights = images.new_tensor([0.299, 0.587, 0.114]).view(1, 3, 1, 1)
        return (images * weights).sum(dim=1, keepdim=True)
    raise UserInputError(f"channels: cannot make {depth} channels out of {have}")


def _stratified_split(
    labels: np.ndarray, fraction: float, seed: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """Train and validation indices: ``fraction`` of each class to validation, drawn by seed."""
    torch = import_torch()
    generator = torch.Generator().manual_seed(seed)
    targets = torch.as_tensor(labels)
    train: list[Any] = []
    valid: list[Any] = []
    for label in targets.unique():
        where = (targets == label).nonzero().flatten()
        where = where[torch.randperm(len(where), generator=generator)]
        held = max(1, round(len(where) * fraction))
        valid.append(where[:held])
        train.append(where[held:])
    return torch.cat(train).sort().values, torch.cat(valid).sort().values


def _digits(seed: int) -> _Raw:
    datasets = import_optional(
        "sklearn.datasets", "pip install scikit-learn (the digits data set ships with it)"
    )
    torch = import_torch()
    bunch: Any = datasets.load_digits()
    images = torch.as_tensor(bunch.images, dtype=torch.float32).unsqueeze(1) / 16.0
    labels = torch.as_tensor(bunch.target, dtype=torch.int64)
    train, valid = _stratified_split(bunch.target, DIGITS_VALID_FRACTION, seed)
    return _Raw(images[train], labels[train], images[valid], labels[valid], 10)


def _photo_folder() -> Path:
    spec = importlib.util.find_spec("skimage")
    if spec is None or not spec.submodule_search_locations:
        raise UserInputError(
            "data set 'photos': scikit-image is not installed (its bundled photographs are "
            "the data)",
            "pip install scikit-image, or use the digits data set",
        )
    return Path(next(iter(spec.submodule_search_locations))) / "data"


def _photos(seed: int, size: int, depth: int) -> _Raw:
    image_module = import_optional("PIL.Image", "pip install pillow (scikit-image needs it too)")
    numpy = import_optional("numpy", "pip install 'tunery[nas]'")
    torch = import_torch()
    folder = _photo_folder()
    generator = torch.Generator().manual_seed(seed)
    mode = "L" if depth == 1 else "RGB"
    splits: dict[str, tuple[list[Any], list[int]]] = {"train": ([], []), "valid": ([], [])}
    for label, (title, filename) in enumerate(PHOTOS):
        path = folder / filename
        if not path.is_file():
            raise UserInputError(
                f"data set 'photos': scikit-image's photograph {title} ({path.name}) is not in "
                f"its data folder {folder}",
                "reinstall scikit-image (pip install --force-reinstall scikit-image), or use "
                "the digits data set",
            )
        with image_module.open(path) as opened:
            photo = opened.convert(mode)
        blocks = torch.randperm(GRID * GRID, generator=generator).tolist()
        for split, chosen, count in (
            ("valid", blocks[:VALID_BLOCKS], PHOTO_VALID_CROPS),
            ("train", blocks[VALID_BLOCKS:], PHOTO_TRAIN_CROPS),
        ):
            crops, labels = splits[split]
            for _ in range(count):
                crop = _crop(photo, chosen, size, generator, image_module)
                crops.append(numpy.asarray(crop, dtype=numpy.uint8))
                labels.append(label)
    tensors = {}
    for split, (crops, labels) in splits.items():
        stacked = torch.as_tensor(numpy.stack(crops))
        stacked = stacked.unsqueeze(1) if depth == 1 else stacked.permute(0, 3, 1, 2)
        tensors[split] = (stacked.contiguous(), torch.as_tensor(labels, dtype=torch.int64))
    return _Raw(*tensors["train"], *tensors["valid"], len(PHOTOS))


def _crop(
    photo: Any, blocks: list[int], size: int, generator: torch.Generator, image_module: Any
) -> Any:
    """A random square crop inside one of ``blocks``, resized to ``size``, maybe mirrored."""
    torch = import_torch()

    def uniform(low: int, high: int) -> int:  # an integer in [low, high]
        return int(torch.randint(low, high + 1, (1,), generator=generator).item())

    width, height = photo.size
    block_w, block_h = width // GRID, height // GRID
    block = blocks[uniform(0, len(blocks) - 1)]
    row, column = divmod(block, GRID)
    largest = min(block_w, block_h)
    side = uniform(max(1, largest // 2), largest)
    left = column * block_w + uniform(0, block_w - side)
    top = row * block_h + uniform(0, block_h - side)
    crop = photo.crop((left, top, left + side, top + side))
    crop = crop.resize((size, size), image_module.Resampling.BILINEAR)
    if uniform(0, 1):
        crop = crop.transpose(image_module.Transpose.FLIP_LEFT_RIGHT)
    return crop


def _cifar_folder(path: Path | None) -> Path:
    assert path is not None
    hint = (
        f"give the folder that holds {CIFAR_FOLDER}/ (torchvision's layout: "
        f"{', '.join(CIFAR_TRAIN[:1])} .. {CIFAR_TRAIN[-1]} and {CIFAR_VALID}); extract "
        "cifar-10-python.tar.gz from https://www.cs.toronto.edu/~kriz/cifar.html there"
    )
    if not path.is_dir():
        raise UserInputError(f"data set 'cifar10:{path}': no such folder", hint)
    for candidate in (path / CIFAR_FOLDER, path):
        if all((candidate / part).is_file() for part in (*CIFAR_TRAIN, CIFAR_VALID)):
            return candidate
    missing = [
        part for part in (*CIFAR_TRAIN, CIFAR_VALID) if not (path / CIFAR_FOLDER / part).is_file()
    ]
    raise UserInputError(
        f"data set 'cifar10:{path}': {path / CIFAR_FOLDER} lacks {', '.join(missing)}", hint
    )


def _cifar_batch(path: Path) -> tuple[Any, Any]:
    """The images (N, 3, 32, 32) uint8 and labels of one pickled CIFAR-10 batch."""
    numpy = import_optional("numpy", "pip install 'tunery[nas]'")
    problem = f"data set cifar10: {path} is not a CIFAR-10 python batch"
    hint = "extract cifar-10-python.tar.gz (the python version) again"
    try:
        with path.open("rb") as handle:
            batch = pickle.load(handle, encoding="bytes")
    except (OSError, pickle.UnpicklingError, EOFError, ValueError, TypeError) as exc:
        raise UserInputError(f"{problem} ({' '.join(str(exc).split())})", hint) from None
    if not isinstance(batch, dict):
        raise UserInputError(f"{problem} (not a dictionary)", hint)
    data = batch.get(b"data", batch.get("data"))
    labels = batch.get(b"labels", batch.get("labels"))
    data = numpy.asarray(data) if data is not None else None
    if data is None or labels is None or data.ndim != 2 or data.shape[1] != 3 * 32 * 32:
        raise UserInputError(f"{problem} (no N x 3072 'data' with 'labels')", hint)
    targets = numpy.asarray(labels, dtype=numpy.int64)
    if len(targets) != len(data) or (len(targets) and (targets.min() < 0 or targets.max() > 9)):
        raise UserInputError(f"{problem} ('labels' do not match 'data' or lie outside 0-9)", hint)
    return data.astype(numpy.uint8).reshape(-1, 3, 32, 32), targets


def _cifar10(path: Path | None) -> _Raw:
    numpy = import_optional("numpy", "pip install 'tunery[nas]'")
    torch = import_torch()
    folder = _cifar_folder(path)
    parts = [_cifar_batch(folder / part) for part in CIFAR_TRAIN]
    train_x = numpy.concatenate([images for images, _ in parts])
    train_y = numpy.concatenate([labels for _, labels in parts])
    valid_x, valid_y = _cifar_batch(folder / CIFAR_VALID)
    return _Raw(
        torch.as_tensor(train_x),
        torch.as_tensor(train_y),
        torch.as_tensor(valid_x),
        torch.as_tensor(valid_y),
        10,
    )
