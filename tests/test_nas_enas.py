"""tunery.nas.enas and enas_model: Katib's ENAS child network, built and trained in PyTorch."""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("sklearn")

from tunery.collect.stdout import TextLineParser  # noqa: E402
from tunery.nas.enas import main  # noqa: E402
from tunery.nas.enas_model import (  # noqa: E402
    ArchitectureError,
    _concat_padding,
    _same_padding,
    build,
    plan,
)

torch.set_num_threads(1)
ROOT = Path(__file__).resolve().parents[1]
METRICS = ("Training-Accuracy", "Training-Loss", "Validation-Accuracy", "Validation-Loss")


def _conv(key: int, size: int, filters: int, stride: int) -> dict[str, Any]:
    params = {"filter_size": str(size), "num_filter": str(filters), "stride": str(stride)}
    return {"opt_id": key, "opt_type": "convolution", "opt_params": params}


def katib_example() -> tuple[str, str]:
    """The architecture and nn_config of Katib's ENAS README, as the suggestion formats them."""
    arch = [
        [27],
        [29, 0],
        [22, 1, 0],
        [13, 0, 0, 0],
        [26, 1, 1, 0, 0],
        [30, 1, 0, 1, 0, 0],
        [11, 0, 1, 1, 0, 1, 1],
        [9, 1, 0, 0, 1, 0, 0, 0],
    ]
    embedding = {
        "27": _conv(27, 7, 96, 2),
        "29": _conv(29, 7, 128, 2),
        "22": _conv(22, 7, 48, 1),
        "13": _conv(13, 5, 48, 2),
        "26": _conv(26, 7, 96, 1),
        "30": {
            "opt_id": 30,
            "opt_type": "reduction",
            "opt_params": {"reduction_type": "max_pooling", "pool_size": 2},
        },
        "11": _conv(11, 5, 32, 2),
        "9": _conv(9, 3, 128, 2),
    }
    config = {
        "num_layers": 8,
        "input_sizes": [32, 32, 3],
        "output_sizes": [10],
        "embedding": embedding,
    }
    return json.dumps(arch).replace('"', "'"), json.dumps(config).replace('"', "'")


def small(
    arch: list[list[int]], embedding: dict[str, Any], size: int = 8, channels: int = 1
) -> tuple[str, str]:
    config = {
        "num_layers": len(arch),
        "input_sizes": [size, size, channels],
        "output_sizes": [10],
        "embedding": embedding,
    }
    return json.dumps(arch).replace('"', "'"), json.dumps(config).replace('"', "'")


def test_katib_readme_architecture_layers_and_skip_inputs() -> None:
    child = plan(*katib_example())
    assert child.input_shape == (3, 32, 32) and child.num_classes == 10
    # row l: [op, skip bits...]; skip bit i connects layer i (0 = the image); l-1 always
    expected = [
        (27, (0,), (3, 32, 32), (96, 16, 16)),
        (29, (1,), (96, 16, 16), (128, 8, 8)),
        (22, (2, 0), (131, 32, 32), (48, 32, 32)),
        (13, (3,), (48, 32, 32), (48, 16, 16)),
        (26, (4, 0, 1), (147, 32, 32), (96, 32, 32)),
        (30, (5, 0, 2), (227, 32, 32), (227, 16, 16)),
        (11, (6, 1, 2, 4, 5), (595, 32, 32), (32, 16, 16)),
        (9, (7, 0, 3), (83, 32, 32), (128, 16, 16)),
    ]
    got = [(x.operation.key, x.inputs, x.in_shape, x.out_shape) for x in child.layers]
    assert got == expected
    assert child.layers[5].operation.kind == "reduction" and child.layers[5].pool == 2
    assert child.warnings == ()
    lines = child.describe()
    assert lines[3].startswith("layer 3: operation 22, convolution 7x7, 48 filters, stride 1")
    assert "from layers 2, 0" in lines[3]
    assert lines[-1] == "classifier: global average pooling, dense 128 -> 10"
    assert not any("=" in line for line in lines)  # nothing a collector would read


def test_katib_readme_network_runs_with_the_planned_layers() -> None:
    child = plan(*katib_example())
    model = build(child)
    convs = [m for m in model.modules() if isinstance(m, torch.nn.Conv2d)]
    assert [tuple(c.weight.shape) for c in convs[:3]] == [
        (96, 3, 7, 7),
        (128, 96, 7, 7),
        (48, 131, 7, 7),
    ]
    assert [c.stride for c in convs[:3]] == [(2, 2), (2, 2), (1, 1)]
    assert sum(isinstance(m, torch.nn.MaxPool2d) for m in model.modules()) == 1
    assert model.classifier.in_features == 128 and model.classifier.out_features == 10
    model.eval()
    with torch.no_grad():
        out = model(torch.randn(2, 3, 32, 32))
    assert tuple(out.shape) == (2, 10)
    # layer 3 reads layer 2 (128 channels) and, by its skip bit, the image (3 channels)
    assert model.ops[2].convs[0].in_channels == 131


def test_separable_depthwise_and_pool_operations() -> None:
    embedding = {
        "0": {
            "opt_id": 0,
            "opt_type": "separable_convolution",
            "opt_params": {
                "filter_size": "5",
                "num_filter": "16",
                "stride": "2",
                "depth_multiplier": "2",
            },
        },
        "1": {
            "opt_id": 1,
            "opt_type": "depthwise_convolution",
            "opt_params": {"filter_size": "3", "stride": "1", "depth_multiplier": "3"},
        },
        "2": {
            "opt_id": 2,
            "opt_type": "reduction",
            "opt_params": {"reduction_type": "avg_pooling", "pool_size": "3"},
        },
    }
    child = plan(*small([[0], [1, 1], [2, 0, 1]], embedding, size=9, channels=2))
    shapes = [(x.inputs, x.in_shape, x.out_shape) for x in child.layers]
    assert shapes == [
        ((0,), (2, 9, 9), (16, 5, 5)),
        ((1, 0), (18, 9, 9), (54, 9, 9)),
        ((2, 1), (70, 9, 9), (70, 3, 3)),
    ]
    model = build(child)
    separable, depthwise = model.ops[0].convs, model.ops[1].convs
    assert separable[0].groups == 2 and separable[0].out_channels == 4
    assert separable[0].bias is None and separable[1].kernel_size == (1, 1)
    assert depthwise[0].groups == 18 and depthwise[0].out_channels == 54
    assert isinstance(model.ops[2].pool, torch.nn.AvgPool2d)
    assert tuple(model(torch.randn(3, 2, 9, 9)).shape) == (3, 10)


def test_padding_follows_tensorflow_and_keras() -> None:
    # "same": the output is ceil(size / stride); the odd pixel goes after
    assert _same_padding(32, 7, 2) == (2, 3)
    assert _same_padding(32, 3, 1) == (1, 1)
    assert _same_padding(5, 4, 1) == (1, 2)
    assert _same_padding(8, 1, 2) == (0, 0)
    # concat pads a smaller input to the largest, odd pixel at the bottom/right
    assert _concat_padding((3, 5, 5), 8, 8) == (1, 2, 1, 2)
    assert _concat_padding((3, 4, 4), 8, 8) == (2, 2, 2, 2)
    # for stride 1 and an odd kernel this is torch's own "same"
    child = plan(*small([[0]], {"0": _conv(0, 5, 4, 1)}, size=6))
    layer = build(child).ops[0]
    x = torch.randn(1, 1, 6, 6)
    conv = layer.convs[0]
    ours = conv(torch.nn.functional.pad(x, layer.padding))
    theirs = torch.nn.functional.conv2d(x, conv.weight, conv.bias, padding="same")
    assert torch.allclose(ours, theirs, atol=1e-6)


def test_reduction_of_a_single_pixel_is_the_identity_and_big_pools_shrink() -> None:
    pool = {
        "0": {"opt_id": 0, "opt_type": "reduction", "opt_params": {"pool_size": "3"}},
    }
    child = plan(*small([[0], [0, 0], [0, 0, 0]], pool, size=4))
    assert [x.out_shape for x in child.layers] == [(1, 1, 1), (1, 1, 1), (1, 1, 1)]
    assert [x.pool for x in child.layers] == [3, None, None]
    assert [x.identity for x in child.layers] == [False, True, True]
    assert "identity" in child.describe()[2]
    shrunk = plan(*small([[0]], pool, size=2))
    assert shrunk.layers[0].pool == 2 and "pool shrunk to 2x2" in shrunk.describe()[1]


def test_parameters_are_read_under_opt_params_or_at_the_top() -> None:
    top = {"opt_id": 0, "opt_type": "convolution", "num_filter": "8", "filter_size": "5"}
    child = plan(*small([[0]], {"0": top}))
    assert child.layers[0].operation.params == {"num_filter": 8, "filter_size": 5, "stride": 1}
    defaults = plan(*small([[0]], {"0": {"opt_type": "convolution"}}))
    assert defaults.layers[0].out_shape == (64, 8, 8)
    typo = {"opt_type": "convolution", "opt_params": {"num_filters": "8"}}
    warned = plan(*small([[0]], {"0": typo}))
    assert warned.warnings and "num_filters" in warned.warnings[0]


CONV = {"0": _conv(0, 3, 4, 1)}


@pytest.mark.parametrize(
    ("arch", "config", "words"),
    [
        ("[[0], [0]]", None, "--architecture: layer 2 has 1 values; it needs 2"),
        ("[[0], [0, 2]]", None, "skip bits [2] must be 0 or 1"),
        ("[[0], [0, 0]", None, "--architecture: not JSON"),
        ("", None, "--architecture: is empty"),
        ("[]", None, "non-empty list of layers"),
        ("[[5]]", None, "layer 1's operation 5 is not in nn_config's embedding (it has 0)"),
        ("[[0], [0, 0]]", None, "has 2 layers but nn_config's num_layers is 1"),
        ("[[0]]", "{'num_layers': 1}", "--nn_config: lacks input_sizes, output_sizes, embedding"),
        ("[[0]]", {"input_sizes": [8, 8]}, "input_sizes must be a list of 3 positive integers"),
        ("[[0]]", {"output_sizes": []}, "output_sizes must be a list of positive integers"),
        (
            "[[0]]",
            {"embedding": {"0": {"opt_type": "skip_connection"}}},
            "'skip_connection', not an operation of the ENAS child network",
        ),
        (
            "[[0]]",
            {"embedding": {"0": {"opt_type": "convolution", "opt_params": {"stride": "0"}}}},
            'embedding["0"].opt_params.stride must be a positive integer',
        ),
        (
            "[[0]]",
            {"embedding": {"0": {"opt_type": "reduction", "opt_params": {"reduction_type": "x"}}}},
            "reduction_type is 'x'; use max_pooling or avg_pooling",
        ),
        ("[[0]]", "not json", "--nn_config: not JSON"),
    ],
)
def test_bad_architecture_or_config_is_one_line(
    arch: str, config: dict[str, Any] | str | None, words: str
) -> None:
    base: dict[str, Any] = {
        "num_layers": 1,
        "input_sizes": [8, 8, 1],
        "output_sizes": [10],
        "embedding": CONV,
    }
    text = config if isinstance(config, str) else json.dumps({**base, **(config or {})})
    with pytest.raises(ArchitectureError) as caught:
        plan(arch, text)
    line = caught.value.one_line()
    assert "\n" not in line and words in line and caught.value.exit_code == 2


def test_katib_quotes_are_accepted() -> None:
    arch, config = small([[0]], CONV)
    # the quote swap, and the value still wrapped in its command line's double quotes
    assert plan(f'"{arch}"', f'"{config}"').layers[0].out_shape == (4, 8, 8)
    assert plan(arch.replace("'", '"'), config.replace("'", '"')).layers[0].out_shape == (4, 8, 8)


def _metric_lines(stdout: str) -> list[tuple[str, float]]:
    parser = TextLineParser(METRICS)
    return [(r.name, r.value) for line in stdout.splitlines() for r in parser(line)]


def test_the_child_learns_digits(capsys: pytest.CaptureFixture[str]) -> None:
    arch, config = small(
        [[0], [1, 0], [0, 0, 1]],
        {
            "0": _conv(0, 3, 16, 1),
            "1": {"opt_type": "reduction", "opt_params": {"reduction_type": "max_pooling"}},
        },
    )
    flags = ["--architecture", arch, "--nn_config", config, "--num_epochs", "4"]
    assert main([*flags, "--batch-size", "32", "--device", "cpu"]) == 0
    out = capsys.readouterr().out
    metrics = _metric_lines(out)
    assert [name for name, _ in metrics] == list(METRICS) * 4
    accuracy = [value for name, value in metrics if name == "Validation-Accuracy"]
    losses = [value for name, value in metrics if name == "Training-Loss"]
    assert accuracy[-1] > 0.6, accuracy  # chance is 0.1
    assert losses[-1] < losses[0]
    assert "layer 3: operation 0, convolution 3x3, 16 filters, stride 1; from layers 2, 1" in out


def _run(*flags: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run(
        [sys.executable, "-m", "tunery.nas.enas", *flags],
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
        env=env,
        cwd=ROOT,
    )


@pytest.mark.slow  # a subprocess that imports torch and scikit-learn: about 10 s
def test_one_epoch_prints_katibs_lines() -> None:
    arch, config = small([[0], [0, 1]], CONV)
    # Katib's trial command (enas-cpu.yaml), joined and run with sh -c as Katib's webhook does
    command = (
        f"{shlex.quote(sys.executable)} -u -m tunery.nas.enas --num_epochs=1 --limit 60 "
        f'--architecture="{arch}" --nn_config="{config}"'
    )
    done = subprocess.run(
        ["sh", "-c", command],
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        cwd=ROOT,
    )
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[:2] == [">>> arch received by trial", arch.replace("'", '"')]
    assert ">>> nn_config received by trial" in lines and "Total Epoch 1/1" in lines
    metric_lines = [line for line in lines if "=" in line]
    assert [line.split("=")[0] for line in metric_lines] == list(METRICS)
    for line in metric_lines:
        assert re.fullmatch(r"[\w-]+=\d+(\.\d+)?(e-?\d+)?", line), line
    assert len(_metric_lines(done.stdout)) == 4
    assert "Training starts" in done.stdout and "60 training" in done.stdout


@pytest.mark.parametrize(
    ("flags", "words"),
    [
        (["--architecture", "[[0], [0]]"], "error: --architecture: layer 2 has 1 values"),
        (["--num_epochs", "0"], "error: argument --num_epochs: must be at least 1, got 0"),
        (["--seed", "-1"], "error: argument --seed: must be from 0 to 2**62, got -1"),
        (["--device", "tpu"], "error: argument --device: invalid choice: 'tpu'"),
        (["--data", "mnist"], "error: data set 'mnist' is unknown"),
        (["--nn_config", "{'num_layers': 1}"], "error: --nn_config: lacks input_sizes"),
    ],
)
def test_command_line_errors_are_one_line_exit_2(flags: list[str], words: str) -> None:
    arch, config = small([[0]], CONV)
    given = {flags[i]: flags[i + 1] for i in range(0, len(flags), 2)}
    argv = {"--architecture": arch, "--nn_config": config, "--limit": "20", **given}
    done = _run(*(part for item in argv.items() for part in item))
    assert done.returncode == 2, (done.stdout, done.stderr)
    assert done.stderr.count("\n") == 1 and done.stderr.startswith(words), done.stderr
    assert "Traceback" not in done.stderr


def test_more_classes_than_outputs_is_refused() -> None:
    config = {"num_layers": 1, "input_sizes": [8, 8, 1], "output_sizes": [5], "embedding": CONV}
    done = _run("--architecture", "[[0]]", "--nn_config", json.dumps(config), "--limit", "20")
    assert done.returncode == 2
    assert "output_sizes ends in 5, but the digits data set has 10 classes" in done.stderr
    assert "outputSizes to [10]" in done.stderr


@pytest.mark.skipif(torch.cuda.is_available(), reason="a CUDA device is there")
def test_cuda_without_a_gpu_is_refused(capsys: pytest.CaptureFixture[str]) -> None:
    arch, config = small([[0]], CONV)
    assert main(["--architecture", arch, "--nn_config", config, "--device", "cuda"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: --device cuda: no CUDA device") and err.count("\n") == 1


def test_same_seed_same_run(capsys: pytest.CaptureFixture[str]) -> None:
    arch, config = small([[0], [0, 1]], CONV)
    runs = []
    for seed in ("3", "3", "4"):
        flags = ["--architecture", arch, "--nn_config", config, "--num_epochs", "2"]
        assert main([*flags, "--limit", "40", "--seed", seed, "--augment"]) == 0
        runs.append(_metric_lines(capsys.readouterr().out))
    assert runs[0] == runs[1]
    assert runs[0] != runs[2]


def _reflected(size: int, shift: int) -> list[int]:
    index = [i + shift for i in range(size)]
    return [-i if i < 0 else 2 * (size - 1) - i if i > size - 1 else i for i in index]


def test_augmentation_is_a_reflected_translation_maybe_mirrored() -> None:
    from tunery.nas.enas import _augment

    images = torch.arange(64 * 2 * 20 * 20, dtype=torch.float32).view(64, 2, 20, 20)
    out = _augment(torch, images, torch.Generator().manual_seed(0), flip=True)
    assert out.shape == images.shape
    seen = set()
    for b in range(64):
        matches = [
            (dy, dx, flipped)
            for dy in (-2, -1, 0, 1, 2)
            for dx in (-2, -1, 0, 1, 2)
            for flipped in (False, True)
            if torch.equal(
                out[b],
                images[b][:, _reflected(20, dy)][
                    :, :, _reflected(20, dx)[::-1] if flipped else _reflected(20, dx)
                ],
            )
        ]
        assert len(matches) == 1, (b, matches)
        seen.add(matches[0])
    assert any(flipped for _, _, flipped in seen) and any(not f for _, _, f in seen)
    assert len({(dy, dx) for dy, dx, _ in seen}) > 10
    plain = _augment(torch, images, torch.Generator().manual_seed(0), flip=False)
    assert all(
        any(
            torch.equal(plain[b], images[b][:, _reflected(20, dy)][:, :, _reflected(20, dx)])
            for dy in (-2, -1, 0, 1, 2)
            for dx in (-2, -1, 0, 1, 2)
        )
        for b in range(64)
    )


def test_missing_torch_is_one_line_exit_1() -> None:
    arch, config = small([[0]], CONV)
    code = (
        "import sys\n"
        "sys.modules['torch'] = None  # as if torch were not installed\n"
        "from tunery.nas.enas import main\n"
        f"sys.exit(main(['--architecture', {arch!r}, '--nn_config', {config!r}]))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    assert done.returncode == 1, done.stderr
    assert done.stderr.count("\n") == 1
    assert done.stderr.startswith("error: tunery's neural architecture search needs torch")
    assert done.stderr.rstrip().endswith("pip install 'tunery[nas]'")
