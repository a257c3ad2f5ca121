"""tunery.nas.darts: the DARTS trainer (supernet, bi-level steps, genotypes, the CLI)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")

from torch import Tensor  # noqa: E402
from torch.func import functional_call  # noqa: E402
from torch.optim import SGD  # noqa: E402

from tunery.nas.darts import main, read_settings, unquote  # noqa: E402
from tunery.nas.darts_architect import Architect  # noqa: E402
from tunery.nas.darts_model import (  # noqa: E402
    FixedNetwork,
    Genotype,
    GenotypeError,
    SearchNetwork,
    check_genotype,
    parse_genotype,
    random_genotype,
)
from tunery.nas.darts_ops import PrimitiveError, check_primitives  # noqa: E402
from tunery.suggest.darts import KATIB_DEFAULTS, katib_text  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
#: darts-cpu.yaml's metricsFormat: what Katib's collector reads from the trial.
METRICS_FORMAT = re.compile(r"([\w-]+)=(Genotype.*)")
ALL_OPS = [
    "convolution_3x3",
    "separable_convolution_3x3",
    "dilated_convolution_5x5",
    "avg_pooling_3x3",
    "max_pooling_3x3",
    "skip_connection",
]


@pytest.fixture(autouse=True)
def _one_thread() -> None:
    torch.set_num_threads(1)


def _net(primitives: list[str], **kw: int) -> SearchNetwork:
    options = {
        "input_channels": 3,
        "num_classes": 4,
        "num_layers": 1,
        "init_channels": 2,
        "num_nodes": 1,
        "stem_multiplier": 1,
    }
    options.update(kw)
    return SearchNetwork(primitives, **options)


def _batch(n: int, seed: int, size: int = 6) -> tuple[Tensor, Tensor]:
    """A toy batch: the label is the quadrant holding the brightest pixel (learnable)."""
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, 3, size, size, generator=g, dtype=torch.float64)
    flat = x.sum(1).flatten(1).argmax(1)
    row, col = flat // size, flat % size
    y = (row >= size // 2).long() * 2 + (col >= size // 2).long()
    return x, y


# --------------------------------------------------------------------------- networks


def test_every_operation_builds_and_keeps_shapes_through_reduction_cells() -> None:
    torch.manual_seed(0)
    net = _net(ALL_OPS, num_layers=3, num_nodes=2)
    out = net(torch.randn(2, 3, 9, 9))  # odd sizes halve too
    assert out.shape == (2, 4)
    assert len(net.alphas()) == 4 and net.alphas()[0].shape == (2, len(ALL_OPS) + 1)
    names = {id(p) for p in net.alphas()}
    assert not any(id(w) in names for w in net.weights())
    assert len(net.weights()) + len(net.alphas()) == len(list(net.parameters()))


@pytest.mark.parametrize(
    ("names", "fragment"),
    [
        (["max_pooling_4x4"], "must be odd"),
        (["conv_3x3"], "unknown operation 'conv_3x3'"),
        (["max_pooling_3x5"], "must be odd"),
        ([], "empty"),
        (["skip_connection", "skip_connection"], "twice"),
    ],
)
def test_unbuildable_primitives_are_refused_in_one_line(names: list[str], fragment: str) -> None:
    with pytest.raises(PrimitiveError, match=fragment) as info:
        check_primitives(names)
    assert "\n" not in str(info.value)


def test_genotype_is_derived_from_given_alphas_as_katib_parses_them() -> None:
    primitives = ["max_pooling_3x3", "skip_connection", "separable_convolution_3x3"]
    net = _net(primitives, num_layers=3, num_nodes=2)
    normal0 = [[0.1, 0.5, 0.0, 9.0], [0.7, 0.2, 0.3, 0.0]]  # 'none' (last) never chosen
    normal1 = [[0.0, 0.0, 0.2, 0.0], [0.9, 0.0, 0.0, 0.0], [0.0, 0.0, 0.95, 0.0]]
    reduce0 = [[0.0, 0.3, 0.0, 0.0], [0.0, 0.0, 0.4, 0.0]]
    reduce1 = [[0.0, 0.0, 0.0, 0.0], [0.0, 0.8, 0.0, 0.0], [0.6, 0.0, 0.0, 0.0]]
    with torch.no_grad():
        for alpha, value in zip(net.alphas(), [normal0, normal1, reduce0, reduce1], strict=True):
            alpha.copy_(torch.tensor(value))
    genotype = net.genotype()
    assert genotype == Genotype(
        normal=[
            [("max_pooling_3x3", 1), ("skip_connection", 0)],
            [("separable_convolution_3x3", 2), ("max_pooling_3x3", 1)],
        ],
        normal_concat=range(2, 4),
        reduce=[
            [("separable_convolution_3x3", 1), ("skip_connection", 0)],
            [("skip_connection", 1), ("max_pooling_3x3", 2)],
        ],
        reduce_concat=range(2, 4),
    )
    text = genotype.katib_text()
    assert text == (
        "Genotype(normal=[[('max_pooling_3x3',1),('skip_connection',0)],"
        "[('separable_convolution_3x3',2),('max_pooling_3x3',1)]],normal_concat=range(2,4),"
        "reduce=[[('separable_convolution_3x3',1),('skip_connection',0)],"
        "[('skip_connection',1),('max_pooling_3x3',2)]],reduce_concat=range(2,4))"
    )
    assert parse_genotype(text) == genotype and parse_genotype(str(genotype)) == genotype
    fixed = FixedNetwork(genotype, input_channels=3, num_classes=4, num_layers=3, init_channels=2)
    assert fixed(torch.randn(2, 3, 8, 8)).shape == (2, 4)


def test_one_layer_has_no_reduction_cell_as_in_katibs_example() -> None:
    net = _net(["max_pooling_3x3"])  # darts-cpu.yaml: one layer, one node, one operation
    assert len(net.alphas()) == 1
    with torch.no_grad():
        net.alphas()[0].copy_(torch.tensor([[0.2, 0.0], [0.5, 0.0]]))
    assert net.genotype().katib_text() == (
        "Genotype(normal=[[('max_pooling_3x3',1),('max_pooling_3x3',0)]],"
        "normal_concat=range(2,3),reduce=[],reduce_concat=range(2,3))"
    )


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("Genotype(normal=[", "is not a genotype"),
        ("Net(normal=[])", "Genotype(normal=..."),
        ("Genotype(normal=[],normal_concat=range(2,3),reduce=[])", "missing: reduce_concat"),
        (
            "Genotype(normal=[[('x',0)]],normal_concat=__import__('os'),reduce=[],"
            "reduce_concat=[2])",
            "normal_concat must be written with literals only",
        ),
        (
            "Genotype(normal=[['max_pooling_3x3']],normal_concat=[2],reduce=[],reduce_concat=[2])",
            "(operation, input) pairs",
        ),
    ],
)
def test_bad_genotype_text_is_one_line(text: str, fragment: str) -> None:
    with pytest.raises(GenotypeError) as info:
        parse_genotype(text)
    assert fragment in str(info.value) and "\n" not in str(info.value)


@pytest.mark.parametrize(
    ("genotype", "layers", "fragment"),
    [
        (
            "Genotype(normal=[[('max_pooling_3x3',2)]],normal_concat=[2],reduce=[],"
            "reduce_concat=[2])",
            1,
            "input 2 does not exist",
        ),
        (
            "Genotype(normal=[[('max_pooling_3x3',0)]],normal_concat=[2],reduce=[],"
            "reduce_concat=[2])",
            3,
            "use --num-layers 1",
        ),
        (
            "Genotype(normal=[[('none',0)]],normal_concat=[2],reduce=[],reduce_concat=[2])",
            1,
            "'none' cannot",
        ),
        (
            "Genotype(normal=[[('max_pooling_3x3',0)]],normal_concat=[3],reduce=[],"
            "reduce_concat=[2])",
            1,
            "must name nodes among [2]",
        ),
    ],
)
def test_genotype_that_cannot_be_built_is_refused(
    genotype: str, layers: int, fragment: str
) -> None:
    with pytest.raises(GenotypeError, match=re.escape(fragment)):
        check_genotype(parse_genotype(genotype), layers)


def test_random_genotype_is_seeded_and_from_the_space() -> None:
    space = ["max_pooling_3x3", "skip_connection", "avg_pooling_3x3"]
    draws = [random_genotype(space, num_nodes=3, num_layers=3, seed=s) for s in range(6)]
    assert draws[0] == random_genotype(space, num_nodes=3, num_layers=3, seed=0)
    assert len({g.katib_text() for g in draws}) > 1
    for g in draws:
        check_genotype(g, 3)
        for node in [*g.normal, *g.reduce]:
            assert len({j for _, j in node}) == 2 and all(op in space for op, _ in node)
    assert random_genotype(space, num_nodes=2, num_layers=1, seed=0).reduce == []


# --------------------------------------------------------------------------- the architect


def _setup(second_order: bool) -> tuple[SearchNetwork, Architect, SGD]:
    torch.manual_seed(3)
    net = _net(["max_pooling_3x3", "skip_connection", "convolution_3x3"], num_nodes=2).double()
    w_optim = torch.optim.SGD(net.weights(), 0.1, momentum=0.9, weight_decay=3e-4)
    architect = Architect(net, w_momentum=0.9, w_weight_decay=3e-4, second_order=second_order)
    return net, architect, w_optim


def _unrolled_loss(
    net: SearchNetwork,
    alphas: Sequence[Tensor],
    train: tuple[Tensor, Tensor],
    valid: tuple[Tensor, Tensor],
    xi: float,
) -> Tensor:
    """L_val(w - xi * (grad_w L_train(w, alpha) + decay * w), alpha), differentiable in alpha
    (written out with autograd through the weight step, no finite difference)."""
    names = [n for n, _ in net.named_parameters()]
    alpha_names = [n for n in names if n.startswith("alpha_")]
    weight_names = [n for n in names if not n.startswith("alpha_")]
    weights = dict(zip(weight_names, net.weights(), strict=True))
    params = {**weights, **dict(zip(alpha_names, alphas, strict=True))}
    loss = net.criterion(functional_call(net, params, (train[0],)), train[1])
    grads = torch.autograd.grad(loss, list(weights.values()), create_graph=True)
    stepped = {n: w - xi * (g + 3e-4 * w) for (n, w), g in zip(weights.items(), grads, strict=True)}
    params = {**stepped, **dict(zip(alpha_names, alphas, strict=True))}
    return net.criterion(functional_call(net, params, (valid[0],)), valid[1])


def test_second_order_is_the_unrolled_gradient_and_differs_from_first_order() -> None:
    """In float64 with a small finite-difference radius, the architect's second-order gradient
    is the exact gradient of the unrolled validation loss (autograd through the weight step);
    DARTS's radius 0.01 crosses ReLU/max-pool kinks, so only the formula is checked here."""
    train, valid, xi = _batch(16, 2), _batch(16, 12), 0.1
    net, second, w_optim = _setup(True)
    second.radius = 1e-6
    before = [p.detach().clone() for p in net.state_dict().values()]
    g2 = second.gradient(train, valid, xi, w_optim)
    after = list(net.state_dict().values())
    assert all(torch.equal(a, b) for a, b in zip(before, after, strict=True))  # restored
    g1 = Architect(net, w_momentum=0.9, w_weight_decay=3e-4, second_order=False).gradient(
        train, valid, xi, w_optim
    )
    exact = torch.autograd.grad(_unrolled_loss(net, net.alphas(), train, valid, xi), net.alphas())
    flat = [torch.cat([t.flatten() for t in g]) for g in (g1, g2, exact)]
    assert (flat[1] - flat[0]).norm() > 0.05 * flat[0].norm()  # the Hessian term matters
    assert (flat[1] - flat[2]).norm() < 1e-6 * flat[2].norm()  # and is right


@pytest.mark.parametrize("second_order", [False, True])
def test_both_orders_lower_the_validation_loss_they_descend(second_order: bool) -> None:
    train, valid, xi = _batch(16, 1), _batch(16, 2), 0.1
    net, architect, w_optim = _setup(second_order)

    def objective() -> float:
        if second_order:
            return _unrolled_loss(net, net.alphas(), train, valid, xi).item()
        with torch.no_grad():
            return float(net.loss(*valid))

    start = objective()
    alpha_optim = torch.optim.SGD(net.alphas(), lr=0.5)
    for _ in range(3):
        alpha_optim.zero_grad()
        architect.step(train, valid, xi, w_optim)
        alpha_optim.step()
    assert objective() < start - 1e-4


def test_momentum_buffer_enters_the_virtual_step() -> None:
    """The same weights and batches, with and without the optimizer's momentum buffer: the
    virtual step (hence the second-order gradient) differs; the first-order one does not."""
    train, valid = _batch(8, 1), _batch(8, 2)
    net, architect, w_optim = _setup(True)
    w_optim.zero_grad()
    net.loss(*train).backward()
    w_optim.step()  # a momentum buffer per weight now
    assert all("momentum_buffer" in w_optim.state[w] for w in net.weights())
    with_buffer = architect.gradient(train, valid, 0.1, w_optim)
    bare = torch.optim.SGD(net.weights(), 0.1, momentum=0.9)  # same weights, no state
    without = architect.gradient(train, valid, 0.1, bare)
    assert any(not torch.allclose(a, b) for a, b in zip(with_buffer, without, strict=True))
    first = Architect(net, w_momentum=0.9, w_weight_decay=3e-4, second_order=False)
    same = [first.gradient(train, valid, 0.1, o) for o in (w_optim, bare)]
    assert all(torch.equal(a, b) for a, b in zip(*same, strict=True))


# --------------------------------------------------------------------------- settings


def test_settings_read_katib_text_with_or_without_the_templates_quotes() -> None:
    text = katib_text({**KATIB_DEFAULTS, "num_epochs": "2", "batch_size": None, "mine": "1"})
    for given in (text, f'"{text}"'):
        settings, ignored = read_settings(given)
        assert settings.num_epochs == 2 and settings.batch_size is None
        assert settings.w_lr == 0.025 and settings.unrolled is True and ignored == ["mine"]
    assert read_settings("{'unrolled': 'False'}")[0].unrolled is False
    assert unquote('"3"') == "3" and unquote("3") == "3"


# --------------------------------------------------------------------------- the command


def _darts(*args: str, check: int = 0) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(
        [sys.executable, "-m", "tunery.nas.darts", *args],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    assert proc.returncode == check, (proc.stdout[-2000:], proc.stderr[-2000:])
    return proc


TINY = (
    "{'num_epochs': '1', 'init_channels': '2', 'num_nodes': '1', 'stem_multiplier': '1', "
    "'batch_size': '32', 'print_step': '1'"
)
DATA = ("--limit", "40", "--image-size", "8")


def _main(capsys: pytest.CaptureFixture[str], *args: str) -> str:
    """The command in this process (its module's ``main``); its stdout."""
    assert main(list(args)) == 0
    return capsys.readouterr().out


def test_cli_search_prints_a_best_genotype_line_katibs_format_catches(
    capsys: pytest.CaptureFixture[str],
) -> None:
    out = _darts(
        f'--algorithm-settings="{TINY}}}"',  # as a shell-less template would pass it
        "--search-space=['max_pooling_3x3', 'skip_connection']",
        '--num-layers="1"',
        *DATA,
    ).stdout
    assert "Architecture step: second-order (unrolled)" in out
    assert re.search(r"^Train: \[1/1\] Step 1/\d+ Loss \d", out, re.M)
    last = out.strip().splitlines()[-1]
    found = METRICS_FORMAT.fullmatch(last)
    assert found and found.group(1) == "Best-Genotype", last
    genotype = parse_genotype(found.group(2))
    check_genotype(genotype, 1)
    trained = _main(
        capsys,
        *("--train-genotype", found.group(2), "--num-layers", "1"),
        *("--algorithm-settings", f"{TINY}}}", *DATA),
    )
    value = float(trained.strip().splitlines()[-1].removeprefix("Validation-Accuracy="))
    assert 0.0 <= value <= 1.0


def test_cli_first_order_random_genotypes_and_their_training(
    capsys: pytest.CaptureFixture[str],
) -> None:
    space = "['max_pooling_3x3', 'skip_connection', 'avg_pooling_3x3']"
    draw = ("--random-genotype", "--search-space", space, "--num-layers", "3", "--seed", "5")
    drawn = _main(capsys, *draw).strip()
    assert drawn.startswith("Random-Genotype=Genotype(") and " " not in drawn
    assert _main(capsys, *draw).strip() == drawn
    first_order = f"{TINY}, 'unrolled': 'false'}}"
    out = _main(
        capsys,
        *("--train-genotype", "random", "--search-space", space, "--num-layers", "3"),
        *("--algorithm-settings", first_order, *DATA),
    )
    ops = ["max_pooling_3x3", "skip_connection", "avg_pooling_3x3"]
    seed0 = random_genotype(ops, num_nodes=1, num_layers=3, seed=0)  # --seed's default
    assert f"\nGenotype={seed0.katib_text()}\n" in out
    assert out.strip().splitlines()[-1].startswith("Validation-Accuracy=")
    searched = _main(
        capsys,
        *("--algorithm-settings", first_order, "--search-space", space, "--num-layers", "2"),
        *DATA,
    )
    assert "Architecture step: first-order" in searched
    assert "reduce=[[" in searched.strip().splitlines()[-1]  # two layers: a reduction cell


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["--search-space", "['conv_3x3']", "--num-layers", "1"], "--search-space: unknown"),
        (["--search-space", "[max_pooling_3x3]", "--num-layers", "1"], "is not Katib's text"),
        (["--search-space", "['none']", "--num-layers", "1"], "added by the trainer"),
        (["--search-space", "['max_pooling_3x3']", "--num-layers", "x"], "--num-layers: must"),
        (["--search-space", "['max_pooling_3x3']"], "--num-layers: is required"),
        (["--num-layers", "1"], "--search-space: is required"),
        (
            [
                "--search-space",
                "['max_pooling_3x3']",
                "--num-layers",
                "1",
                "--algorithm-settings",
                "{'num_epochs': '0'}",
            ],
            "num_epochs must be at least 1",
        ),
        (
            [
                "--search-space",
                "['max_pooling_3x3']",
                "--num-layers",
                "1",
                "--algorithm-settings",
                "{'w_lr': 'fast'}",
            ],
            "w_lr must be a number",
        ),
        (["--train-genotype", "Genotype(", "--num-layers", "1"], "--train-genotype: "),
        (["--device", "tpu"], "invalid choice"),
        (["--seed", "-1"], "--seed: must be from 0 to 2**62"),
        (["--train-genotype", "random", "--random-genotype"], "not allowed with argument"),
        (
            ["--search-space", "['max_pooling_3x3']", "--num-layers", "1", "--data", "mnist"],
            "data set 'mnist' is unknown",
        ),
    ],
)
def test_cli_bad_input_is_one_line_exit_2(
    args: list[str], fragment: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as info:
        main(args)
    assert info.value.code == 2
    err = capsys.readouterr().err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    assert fragment in lines[0], lines[0]


def test_cli_without_torch_says_what_to_install() -> None:
    code = (
        "import sys; sys.modules['torch'] = None; from tunery.nas.darts import main; "
        "main(['--search-space', \"['max_pooling_3x3']\", '--num-layers', '1'])"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, cwd=ROOT
    )
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "pip install 'tunery[nas]'" in lines[0], proc.stderr


def test_a_mixed_edge_is_the_weighted_sum_of_its_operations_none_included() -> None:
    from tunery.nas.darts_ops import MixedOp

    torch.manual_seed(1)
    primitives = ["avg_pooling_3x3", "skip_connection", "none"]
    for stride in (1, 2):
        edge = MixedOp(primitives, 3, stride)
        x = torch.randn(2, 3, 7, 7)
        w = torch.softmax(torch.randn(3), dim=0)
        expected = sum(w[i] * op(x) for i, op in enumerate(edge.ops))
        assert torch.allclose(edge(x, w), expected)
        assert edge(x, w).shape == (2, 3, 4 if stride == 2 else 7, 4 if stride == 2 else 7)
