"""tunery.nas.render: Katib's ENAS architecture/nn_config and DARTS genotype strings, read and
shown.  The strings are Katib's own: its ENAS README's architecture and nn_config, its DARTS
README's genotype, and the genotype as its darts-cnn-cifar10 trial prints it (blanks removed)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from tunery.nas.render import (
    ArchitectureError,
    EnasArchitecture,
    Genotype,
    describe_operation,
    elide,
    parse_enas,
    parse_genotype,
    trial_architecture,
)

#: pkg/suggestion/v1beta1/nas/enas/README.md, "Output of GetSuggestion()".
KATIB_ARCHITECTURE = (
    "[[27], [29, 0], [22, 1, 0], [13, 0, 0, 0], [26, 1, 1, 0, 0], [30, 1, 0, 1, 0, 0], "
    "[11, 0, 1, 1, 0, 1, 1], [9, 1, 0, 0, 1, 0, 0, 0]]"
)


def _conv(op_id: int, size: str, filters: str, stride: str) -> dict[str, object]:
    params = {"filter_size": size, "num_filter": filters, "stride": stride}
    return {"opt_id": op_id, "opt_type": "convolution", "opt_params": params}


#: The README's nn_config of that architecture, built as Katib's service builds it (a dict
#: with integer keys, json.dumps, then double quotes swapped for single ones).
KATIB_EMBEDDING = {
    27: _conv(27, "7", "96", "2"),
    29: _conv(29, "7", "128", "2"),
    22: _conv(22, "7", "48", "1"),
    13: _conv(13, "5", "48", "2"),
    26: _conv(26, "7", "96", "1"),
    30: {
        "opt_id": 30,
        "opt_type": "reduction",
        "opt_params": {"reduction_type": "max_pooling", "pool_size": 2},
    },
    11: _conv(11, "5", "32", "2"),
    9: _conv(9, "3", "128", "2"),
}


def katib_nn_config(embedding: dict[int, object], num_layers: int = 8) -> str:
    config = {
        "num_layers": num_layers,
        "input_sizes": [32, 32, 3],
        "output_sizes": [10],
        "embedding": embedding,
    }
    return json.dumps(config).replace('"', "'")


#: pkg/suggestion/v1beta1/nas/darts/README.md, "Best Genotype representation".
README_GENOTYPE = """Genotype(
  normal=[
      [('max_pooling_3x3',0),('max_pooling_3x3',1)],
      [('max_pooling_3x3',0),('max_pooling_3x3',1)],
      [('max_pooling_3x3',0),('dilated_convolution_3x3',3)],
      [('max_pooling_3x3',0),('max_pooling_3x3',1)]
    ],
    normal_concat=range(2,6),
  reduce=[
      [('dilated_convolution_5x5',1),('separable_convolution_3x3',0)],
      [('max_pooling_3x3',2),('dilated_convolution_5x5',1)],
      [('dilated_convolution_5x5',3),('dilated_convolution_5x5',2)],
      [('dilated_convolution_5x5',3),('dilated_convolution_5x5',4)]
    ],
    reduce_concat=range(2,6)
)"""

#: What Katib's run_trial.py prints: str(genotype) with every blank removed.
PRINTED_GENOTYPE = "".join(README_GENOTYPE.split())


def test_katib_architecture_without_nn_config_names_operation_ids_and_skips() -> None:
    arc = parse_enas(KATIB_ARCHITECTURE)
    assert isinstance(arc, EnasArchitecture) and arc.kind == "enas"
    assert [layer.op_id for layer in arc.layers] == [27, 29, 22, 13, 26, 30, 11, 9]
    # Row i has i skip bits; bit k is layer k (0: the input) (Katib's ModelConstructor).
    assert [layer.skips for layer in arc.layers] == [
        (), (), (0,), (), (0, 1), (0, 2), (1, 2, 4, 5), (0, 3),
    ]  # fmt: skip
    assert arc.lines()[6] == "7: operation 11 ← skip from 1, 2, 4, 5"
    assert arc.input_sizes is None and arc.output_sizes is None


def test_katib_architecture_with_its_nn_config_reads_as_layers() -> None:
    arc = parse_enas(KATIB_ARCHITECTURE, katib_nn_config(KATIB_EMBEDDING))
    assert arc.lines() == [
        "input 32x32x3",
        "1: convolution 7x7, 96 filters, stride 2",
        "2: convolution 7x7, 128 filters, stride 2",
        "3: convolution 7x7, 48 filters ← skip from input",
        "4: convolution 5x5, 48 filters, stride 2",
        "5: convolution 7x7, 96 filters ← skip from input, 1",
        "6: max_pooling 2x2 ← skip from input, 2",
        "7: convolution 5x5, 32 filters, stride 2 ← skip from 1, 2, 4, 5",
        "8: convolution 3x3, 128 filters, stride 2 ← skip from input, 3",
        "output 10",
    ]
    assert arc.summary().startswith("1: convolution 7x7, 96 filters, stride 2; 2: ")
    data = arc.to_json()
    assert data["kind"] == "enas" and data["inputSizes"] == [32, 32, 3]
    assert data["layers"][5] == {
        "layer": 6,
        "opId": 30,
        "opType": "reduction",
        "params": {"reduction_type": "max_pooling", "pool_size": 2},
        "skips": [0, 2],
        "text": "6: max_pooling 2x2 ← skip from input, 2",
    }
    # Double quotes (what a trial gets after RunTrial.py swaps them back) read the same.
    again = parse_enas(KATIB_ARCHITECTURE, katib_nn_config(KATIB_EMBEDDING).replace("'", '"'))
    assert again == arc


def test_every_operation_of_katibs_enas_examples_is_described() -> None:
    assert (
        describe_operation(
            "separable_convolution",
            {"filter_size": "5", "num_filter": "64", "stride": "2", "depth_multiplier": "2"},
        )
        == "separable_convolution 5x5, 64 filters, depth multiplier 2, stride 2"
    )
    assert (
        describe_operation(
            "depthwise_convolution", {"filter_size": "3", "stride": "1", "depth_multiplier": "1"}
        )
        == "depthwise_convolution 3x3, depth multiplier 1"
    )
    assert describe_operation("reduction", {"reduction_type": "avg_pooling", "pool_size": 3}) == (
        "avg_pooling 3x3"
    )
    assert describe_operation("shuffle", {"groups": 4}) == "shuffle groups=4"


@pytest.mark.parametrize(
    ("architecture", "nn_config", "message"),
    [
        ("[[1], [2]]", None, "architecture[1] has 0 skip bits; layer 2 has 1"),
        ("[[1], [2, 3]]", None, "skip bits are 0 or 1"),
        ("[]", None, "non-empty list of layers"),
        ("[[1], 2]", None, "architecture[1] must be a list"),
        ("[['a']]", None, "operation id"),
        ("[[1", None, "architecture is not JSON"),
        ("[[1]]", "{'num_layers': 2}", "num_layers 2, the architecture has 1 layers"),
        ("[[1]]", "[1]", "nn_config must be a JSON object"),
    ],
)
def test_a_malformed_enas_string_says_what_is_wrong(
    architecture: str, nn_config: str | None, message: str
) -> None:
    with pytest.raises(ArchitectureError, match=message.replace("[", r"\[").replace("]", r"\]")):
        parse_enas(architecture, nn_config)


def test_katibs_darts_genotype_reads_as_its_cells_printed_or_pretty() -> None:
    printed = parse_genotype(PRINTED_GENOTYPE)
    assert isinstance(printed, Genotype) and printed.kind == "darts"
    assert printed == parse_genotype(README_GENOTYPE)
    assert printed.normal.concat == (2, 3, 4, 5) and printed.reduce.concat == (2, 3, 4, 5)
    assert printed.normal.nodes[2] == (("max_pooling_3x3", 0), ("dilated_convolution_3x3", 3))
    assert printed.lines() == [
        "normal cell (output: concat of nodes 2, 3, 4, 5)",
        "  node 2 ← max_pooling_3x3 from c[k-2], max_pooling_3x3 from c[k-1]",
        "  node 3 ← max_pooling_3x3 from c[k-2], max_pooling_3x3 from c[k-1]",
        "  node 4 ← max_pooling_3x3 from c[k-2], dilated_convolution_3x3 from node 3",
        "  node 5 ← max_pooling_3x3 from c[k-2], max_pooling_3x3 from c[k-1]",
        "reduce cell (output: concat of nodes 2, 3, 4, 5)",
        "  node 2 ← dilated_convolution_5x5 from c[k-1], separable_convolution_3x3 from c[k-2]",
        "  node 3 ← max_pooling_3x3 from node 2, dilated_convolution_5x5 from c[k-1]",
        "  node 4 ← dilated_convolution_5x5 from node 3, dilated_convolution_5x5 from node 2",
        "  node 5 ← dilated_convolution_5x5 from node 3, dilated_convolution_5x5 from node 4",
    ]
    cells = printed.to_json()["cells"]
    assert cells["reduce"]["nodes"][0] == [
        {"op": "dilated_convolution_5x5", "from": 1},
        {"op": "separable_convolution_3x3", "from": 0},
    ]
    assert cells["normal"]["concat"] == [2, 3, 4, 5]


def test_a_genotype_in_pythons_own_namedtuple_form_reads_too() -> None:
    """str() of the trial's namedtuple before Katib removes the blanks; a list for concat."""
    text = (
        "Genotype(normal=[[('sep_conv_3x3', 0), ('skip_connect', 1)]], normal_concat=[2], "
        "reduce=[[('max_pool_3x3', 0), ('max_pool_3x3', 1)]], reduce_concat=range(2, 3))"
    )
    genotype = parse_genotype(text)
    assert genotype.normal.concat == (2,) and genotype.reduce.concat == (2,)
    assert genotype.summary() == (
        "normal: 2←sep_conv_3x3(0),skip_connect(1) | reduce: 2←max_pool_3x3(0),max_pool_3x3(1)"
    )


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("Genotype(normal=[[('a', 2)]], reduce=[])", "node 2 cannot take node 2"),
        ("Genotype(normal=[[('a', 0, 1)]], reduce=[])", r"an edge is \('operation', from node\)"),
        ("Genotype(reduce=[])", "no normal= cell"),
        ("Genotype(normal=[], reduce=[], extra=1)", "no field 'extra'"),
        ("Genotype(normal=[], reduce=[], normal_concat=range(x))", "range"),
        ("Genotype(normal=__import__('os').system('true'), reduce=[])", "normal: a list"),
        ("Cell(normal=[])", "is not Genotype"),
        ("Genotype(normal=[", "is not Genotype"),
    ],
)
def test_a_malformed_genotype_says_what_is_wrong_and_nothing_runs(text: str, message: str) -> None:
    with pytest.raises(ArchitectureError, match=message):
        parse_genotype(text)


def test_a_trials_architecture_is_found_where_katib_puts_it() -> None:
    enas = trial_architecture(
        {"architecture": KATIB_ARCHITECTURE, "nn_config": katib_nn_config(KATIB_EMBEDDING)}
    )
    assert isinstance(enas, EnasArchitecture) and enas.layers[0].op_type == "convolution"
    darts = trial_architecture({"lr": 0.1}, [None, PRINTED_GENOTYPE])
    assert isinstance(darts, Genotype)
    assert trial_architecture({"lr": 0.1}, ["Genotype(broken"]) is None
    assert trial_architecture({"architecture": "[[1], [2]]"}) is None  # unreadable: no view
    assert trial_architecture({}) is None


def test_elide_keeps_one_line_within_the_width() -> None:
    assert elide("a  b\nc", 10) == "a b c"
    assert elide("x" * 20, 8) == "xxxxxxx…" and len(elide("x" * 20, 8)) == 8


def test_the_module_needs_no_torch() -> None:
    code = (
        "import sys\n"
        "import tunery.nas.render\n"
        "import tunery.cli._nas\n"
        "print('torch' in sys.modules, 'numpy' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "False"]
