"""tunery.nas.data: the offline data sets of the NAS trainers (real files, real torch)."""

from __future__ import annotations

import pickle
import subprocess
import sys
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("sklearn")

from tunery.errors import UserInputError  # noqa: E402
from tunery.nas import MissingDependencyError  # noqa: E402
from tunery.nas.data import CIFAR_FOLDER, PHOTOS, NasData, load  # noqa: E402

torch.set_num_threads(1)


def _images(data: NasData) -> tuple[torch.Tensor, torch.Tensor]:
    return data.train.tensors[0], data.valid.tensors[0]


def test_digits_default_shapes_types_and_normalisation() -> None:
    data = load()
    assert data.name == "digits"
    assert data.shape == (3, 32, 32)
    assert data.num_classes == 10
    train_x, valid_x = _images(data)
    train_y, valid_y = data.train.tensors[1], data.valid.tensors[1]
    assert train_x.dtype == torch.float32 and train_y.dtype == torch.int64
    assert tuple(train_x.shape[1:]) == (3, 32, 32) and tuple(valid_x.shape[1:]) == (3, 32, 32)
    # every one of the 1,797 digits lands in exactly one split, a fifth of each class held out
    assert len(train_y) + len(valid_y) == 1797
    for label in range(10):
        held, kept = int((valid_y == label).sum()), int((train_y == label).sum())
        assert abs(held / (held + kept) - 0.2) < 0.01
    # normalised per channel with the training set's statistics
    means = train_x.mean(dim=(0, 2, 3))
    stds = train_x.std(dim=(0, 2, 3))
    assert torch.allclose(means, torch.zeros(3), atol=1e-4)
    assert torch.allclose(stds, torch.ones(3), atol=1e-4)
    # the grey digit repeated on every channel
    assert torch.equal(train_x[:, 0], train_x[:, 2])


def test_digits_size_and_channels() -> None:
    data = load("digits", image_size=12, channels=1, limit=40)
    assert data.shape == (1, 12, 12)
    assert tuple(data.train.tensors[0].shape) == (40, 1, 12, 12)
    five = load("digits", image_size=8, channels=5, limit=40)
    assert five.shape == (5, 8, 8)
    assert tuple(five.valid.tensors[0].shape[1:]) == (5, 8, 8)


def test_split_is_fixed_by_the_seed() -> None:
    first, again, other = load(limit=100), load(limit=100), load(seed=1, limit=100)
    assert torch.equal(first.train.tensors[0], again.train.tensors[0])
    assert torch.equal(first.valid.tensors[1], again.valid.tensors[1])
    assert not torch.equal(first.train.tensors[0], other.train.tensors[0])
    whole, whole_other = load(), load(seed=1)
    # another seed holds out other digits, but as many of each class
    assert not torch.equal(whole.valid.tensors[0], whole_other.valid.tensors[0])
    assert torch.equal(
        torch.bincount(whole.valid.tensors[1]), torch.bincount(whole_other.valid.tensors[1])
    )


def test_train_and_valid_digits_do_not_overlap() -> None:
    data = load(image_size=8, channels=1)
    train = {tuple(x.flatten().tolist()) for x in data.train.tensors[0]}
    overlap = sum(tuple(x.flatten().tolist()) in train for x in data.valid.tensors[0])
    # the digits set has a few exact duplicates of its own; a leaky split would share hundreds
    assert overlap < 10


def test_limit_takes_the_classes_in_turn() -> None:
    data = load(limit=25)
    assert len(data.train) == 25 and len(data.valid) == 25
    counts = torch.bincount(data.train.tensors[1], minlength=10)
    assert int(counts.min()) == 2 and int(counts.max()) == 3
    assert len(load(limit=10**6).train) == 1438


def test_photos() -> None:
    pytest.importorskip("PIL")
    if __import__("importlib").util.find_spec("skimage") is None:
        pytest.skip("scikit-image is not installed")
    data = load("photos", image_size=16)
    assert data.num_classes == len(PHOTOS) == 10
    assert data.shape == (3, 16, 16)
    train_y, valid_y = data.train.tensors[1], data.valid.tensors[1]
    assert torch.equal(torch.bincount(train_y), torch.full((10,), 160))
    assert torch.equal(torch.bincount(valid_y), torch.full((10,), 40))
    again = load("photos", image_size=16)
    assert torch.equal(data.valid.tensors[0], again.valid.tensors[0])
    other = load("photos", image_size=16, seed=3)
    assert not torch.equal(data.valid.tensors[0], other.valid.tensors[0])
    grey = load("photos", image_size=16, channels=1, limit=30)
    assert grey.shape == (1, 16, 16) and len(grey.train) == 30
    # crops of different photographs differ: a class's mean image is not another's
    x = data.train.tensors[0]
    centroids = torch.stack([x[train_y == c].mean(dim=0) for c in range(10)])
    assert torch.cdist(centroids.flatten(1), centroids.flatten(1)).fill_diagonal_(1e9).min() > 1


def _write_cifar(folder: Path, per_batch: int = 20) -> None:
    """A CIFAR-10 folder in torchvision's layout, with small batches in the real format."""
    numpy = pytest.importorskip("numpy")
    folder.mkdir(parents=True)
    rng = numpy.random.default_rng(0)
    for index, name in enumerate([*(f"data_batch_{i}" for i in range(1, 6)), "test_batch"]):
        labels = [(index + i) % 10 for i in range(per_batch)]
        data = rng.integers(0, 256, size=(per_batch, 3072), dtype=numpy.uint8)
        data[:, :1024] = numpy.array(labels, dtype=numpy.uint8)[:, None] * 20  # red = label
        with (folder / name).open("wb") as handle:
            pickle.dump({b"data": data, b"labels": labels, b"batch_label": name.encode()}, handle)


def test_cifar10_from_a_torchvision_folder(tmp_path: Path) -> None:
    _write_cifar(tmp_path / CIFAR_FOLDER)
    data = load(f"cifar10:{tmp_path}")
    assert data.shape == (3, 32, 32) and data.num_classes == 10
    assert len(data.train) == 100 and len(data.valid) == 20
    # the red channel carries the label, so the pixels were read in CIFAR's channel order
    red = data.train.tensors[0][:, 0, 0, 0]
    labels = data.train.tensors[1]
    assert torch.equal(torch.argsort(red, stable=True), torch.argsort(labels, stable=True))
    # the batches folder itself is accepted too; sizes and grey as asked
    small = load(f"cifar10:{tmp_path / CIFAR_FOLDER}", image_size=8, channels=1, limit=10)
    assert small.shape == (1, 8, 8) and len(small.train) == 10


@pytest.mark.parametrize(
    ("kwargs", "words"),
    [
        ({"name": "mnist"}, ["data set 'mnist' is unknown", "digits", "photos", "cifar10:PATH"]),
        ({"name": "cifar10"}, ["cifar10:PATH", CIFAR_FOLDER]),
        ({"name": "cifar10:"}, ["cifar10:PATH"]),
        ({"image_size": 0}, ["image_size: must be a positive integer, got 0"]),
        ({"channels": -1}, ["channels: must be a positive integer"]),
        ({"limit": 0}, ["limit: must be a positive integer"]),
        ({"seed": "x"}, ["seed: must be an integer"]),
        ({"seed": -1}, ["seed: must be an integer from 0 to 2**62, got -1"]),
        ({"name": "photos", "channels": 2}, ["1 (grey) or 3 (colour)", "digits"]),
    ],
)
def test_bad_arguments_are_one_line(kwargs: dict[str, object], words: list[str]) -> None:
    with pytest.raises(UserInputError) as caught:
        load(**kwargs)  # type: ignore[arg-type]
    line = caught.value.one_line()
    assert "\n" not in line
    for word in words:
        assert word in line
    assert caught.value.exit_code == 2


def test_cifar10_missing_or_broken_folder(tmp_path: Path) -> None:
    with pytest.raises(UserInputError, match=r"no such folder.*cifar-10-python\.tar\.gz"):
        load(f"cifar10:{tmp_path / 'nowhere'}")
    with pytest.raises(UserInputError, match=r"lacks data_batch_1, .*test_batch"):
        load(f"cifar10:{tmp_path}")
    _write_cifar(tmp_path / "c" / CIFAR_FOLDER)
    (tmp_path / "c" / CIFAR_FOLDER / "data_batch_3").write_bytes(b"not a pickle")
    with pytest.raises(UserInputError, match="data_batch_3 is not a CIFAR-10 python batch"):
        load(f"cifar10:{tmp_path / 'c'}")
    with (tmp_path / "c" / CIFAR_FOLDER / "data_batch_3").open("wb") as handle:
        pickle.dump({b"data": [[1, 2, 3]], b"labels": [0]}, handle)
    with pytest.raises(UserInputError, match="N x 3072"):
        load(f"cifar10:{tmp_path / 'c'}")


def _python(code: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=False
    )


def test_importing_the_package_does_not_import_torch() -> None:
    done = _python(
        "import sys, tunery, tunery.nas, tunery.nas.data\n"
        "assert 'torch' not in sys.modules, 'torch imported'\n"
        "assert 'sklearn' not in sys.modules, 'sklearn imported'\n"
    )
    assert done.returncode == 0, done.stderr


def test_missing_torch_is_one_line_naming_the_extra() -> None:
    done = _python(
        "import sys\n"
        "sys.modules['torch'] = None  # as if torch were not installed\n"
        "from tunery.nas import MissingDependencyError\n"
        "from tunery.nas.data import load\n"
        "try:\n"
        "    load()\n"
        "except MissingDependencyError as exc:\n"
        "    print(exc)\n"
    )
    assert done.returncode == 0, done.stderr
    line = done.stdout.strip()
    assert "\n" not in line and line.endswith("pip install 'tunery[nas]'"), line
    assert issubclass(MissingDependencyError, ImportError)
