"""Katib's ``enas`` suggestion: an LSTM controller trained with REINFORCE picks architectures.

What Katib's ``pkg/suggestion/v1beta1/nas/enas/service.py`` does, per call, is followed:

1. the search space is Katib's ``Operation.py``: every combination of each operation's
   parameter values is one operation (``opt_id`` counted in the spec's order; categorical
   values as written, int values ``min..max`` by ``step``, double values ``min, min+step, ...
   max``);
2. the controller (:mod:`tunery.suggest.enas_controller`) is trained on the finished trials'
   rewards (the objective's value; its negation for ``minimize``): ``controller_train_steps``
   Adam steps of the REINFORCE loss, a log line every ``controller_log_every_steps``;
3. then it samples one architecture per trial asked for (a batch for parallel trials), each
   given as Katib's two assignments, formatted exactly as Katib's service does (JSON, then
   every ``"`` swapped for ``'``)::

       architecture: [[2], [0, 1]]
       nn_config: {'num_layers': 2, 'input_sizes': [32, 32, 3], 'output_sizes': [10],
                   'embedding': {'2': {'opt_id': 2, 'opt_type': 'convolution',
                   'opt_params': {'filter_size': '5', ...}}, ...}}

What differs from Katib, where Katib's controller does not learn what it evaluated: Katib feeds
every training step the *average* objective of all the trials so far and reinforces a freshly
sampled architecture with it; here each finished trial's own architecture is reinforced with its
own reward, so the controller learns which architectures scored well.  A round with new finished
trials trains on all of them (the newest :data:`REPLAY`): per step the loss is the mean over them
of ``-log p(arch) * advantage``, plus ``skip_weight`` times the mean skip penalty, the advantage
being :func:`advantages_of` the rewards (``reward + entropy_weight * entropy``): against the
rewards' moving average (``controller_baseline_decay``), in standard deviations.  The
controller also shares embeddings between operations of the same features
(:func:`operation_features`, :mod:`tunery.suggest.enas_controller`).  The first call samples
from the untrained controller, as Katib's first call does.  A trial with no objective value
(failed, killed, running) is not used.

The state (JSON, in the experiment's algorithm-state blob) is the controller's and Adam's
tensors, the generator, the baseline and the trials already rewarded, so ``tunery resume``
continues the same controller.  For a seed and a history the suggestions are the same.

torch is optional for tunery: this module imports it only when a controller is built, and the
algorithm's validation says ``enas needs PyTorch: pip install 'tunery[nas]'`` without it.
"""

from __future__ import annotations

import importlib.util
import itertools
import json
import logging
import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from tunery.errors import SpecError, TuneryError
from tunery.history import History
from tunery.model import (
    Assignment,
    ExperimentSpec,
    NasConfig,
    NasOperation,
    ParameterType,
)
from tunery.settings import resolve_seed
from tunery.suggest.base import register

if TYPE_CHECKING:
    from tunery.suggest.enas_controller import Controller

__all__ = [
    "EnasSuggester",
    "format_assignment",
    "operations",
    "organize",
    "parse_architecture",
    "validate",
]

log = logging.getLogger(__name__)

#: The controller trains on at most this many of the latest finished trials each round.
REPLAY = 64

#: Katib's Operation: ``{"opt_id": i, "opt_type": ..., "opt_params": {name: value}}``.
Operation = dict[str, Any]


def _torch_available() -> bool:
    try:
        return importlib.util.find_spec("torch") is not None
    except (ImportError, ValueError):  # (a module set to None in sys.modules: blocked)
        return False


def validate(spec: ExperimentSpec) -> None:
    """enas needs a nasConfig (checked by the spec's validation, with the settings), PyTorch,
    and a space of at least one operation."""
    if spec.nas_config is None:
        raise SpecError(
            "spec.nasConfig",
            "is required by algorithm enas, which searches architectures, not spec.parameters",
            "add spec.nasConfig (graphConfig and operations, as in Katib's "
            "examples/v1beta1/nas/enas-cpu.yaml)",
        )
    from tunery.spec.nas import enas_settings

    enas_settings(spec.algorithm.algorithm_settings)
    if not _torch_available():
        raise SpecError(
            "spec.algorithm.algorithmName", "enas needs PyTorch: pip install 'tunery[nas]'"
        )


# --------------------------------------------------------------------------- Katib's formats


def _values(param: Any) -> list[Any]:
    """One operation parameter's values, as Katib's ``SearchSpace`` lists them."""
    fs = param.feasible_space
    if param.parameter_type is ParameterType.CATEGORICAL:
        return list(fs.list)
    if param.parameter_type is ParameterType.DISCRETE:
        # (Katib's ENAS service fails on discrete parameters; tunery gives their numbers.)
        return [int(v) if _is_int(v) else float(v) for v in fs.list]
    if param.parameter_type is ParameterType.INT:
        by = int(fs.step) if fs.step is not None else 1
        return list(range(int(fs.min), int(fs.max) + 1, by))
    low, high, step = float(fs.min), float(fs.max), float(fs.step)
    # numpy.arange(low, high + step, step) as Katib computes it.  Katib's service fails when
    # the last value lies above max (0.1 by 0.1 to 0.3 ends at 0.30000000000000004): such a
    # value within rounding of max is max, any other above max is left out.
    count = max(math.ceil((high + step - low) / step), 0)
    delta = (low + step) - low
    out: list[Any] = []
    for value in (low + i * delta for i in range(count)):
        if value > high and value - high <= 1e-9 * step:
            value = high
        if value <= high:
            out.append(value)
    return out


def _is_int(text: str) -> bool:
    try:
        int(text)
    except ValueError:
        return False
    return True


def operations(ops: Sequence[NasOperation]) -> list[Operation]:
    """Katib's search space: every combination of each operation's parameter values."""
    out: list[Operation] = []
    for op in ops:
        names = [p.name for p in op.parameters]
        for combo in itertools.product(*(_values(p) for p in op.parameters)):
            out.append(
                {
                    "opt_id": len(out),
                    "opt_type": op.operation_type,
                    "opt_params": dict(zip(names, combo, strict=True)),
                }
            )
    return out


def organize(flat: Sequence[int], num_layers: int) -> list[list[int]]:
    """Katib's architecture: per layer ``[operation, skip bit per earlier layer...]``."""
    organized = []
    record = 0
    for layer in range(num_layers):
        organized.append([int(v) for v in flat[record : record + layer + 1]])
        record += layer + 1
    return organized


def format_assignment(
    organized: Sequence[Sequence[int]], nas: NasConfig, space: Sequence[Operation]
) -> dict[str, str]:
    """Katib's ``architecture`` and ``nn_config`` strings of one architecture (quote swap
    included)."""
    graph = nas.graph_config
    nn_config: dict[str, Any] = {
        "num_layers": graph.num_layers,
        "input_sizes": list(graph.input_sizes),
        "output_sizes": list(graph.output_sizes),
        "embedding": {},
    }
    for layer in organized:
        nn_config["embedding"][layer[0]] = space[layer[0]]
    return {
        "architecture": json.dumps([list(layer) for layer in organized]).replace('"', "'"),
        "nn_config": json.dumps(nn_config).replace('"', "'"),
    }


def parse_architecture(text: str, num_layers: int, num_operations: int) -> list[int] | None:
    """The flat sequence of a trial's ``architecture`` string; None when it is not one."""
    try:
        organized = json.loads(text.replace("'", '"'))
    except (ValueError, AttributeError):
        return None
    if not isinstance(organized, list) or len(organized) != num_layers:
        return None
    flat: list[int] = []
    for layer, entry in enumerate(organized):
        if not isinstance(entry, list) or len(entry) != layer + 1:
            return None
        if not all(isinstance(v, int) and not isinstance(v, bool) for v in entry):
            return None
        if not 0 <= entry[0] < num_operations or any(v not in (0, 1) for v in entry[1:]):
            return None
        flat.extend(entry)
    return flat


# --------------------------------------------------------------------------- the suggester


class EnasSuggester:
    """Katib's enas (see the module docstring)."""

    def __init__(self, spec: ExperimentSpec, seed: int | None = None) -> None:
        from tunery.spec.nas import enas_settings

        assert spec.nas_config is not None  # validate() refused it otherwise
        self.nas = spec.nas_config
        self.num_layers = int(self.nas.graph_config.num_layers or 0)
        self.space = operations(self.nas.operations)
        self.settings = enas_settings(spec.algorithm.algorithm_settings)
        self.seed = resolve_seed(spec, seed)
        self.baseline = 0.0
        self.rewarded: list[str] = []
        self.steps = 0
        self._controller: Controller | None = None
        self._optimizer: Any = None

    # ----------------------------------------------------------------- the controller

    def _build(self) -> Controller:
        if self._controller is None:
            import torch

            from tunery.suggest.enas_controller import Controller

            s = self.settings
            self._controller = Controller(
                self.num_layers,
                len(self.space),
                hidden_size=int(s["controller_hidden_size"] or 64),
                temperature=_optional(s["controller_temperature"]),
                tanh_const=_optional(s["controller_tanh_const"]),
                skip_target=float(s["controller_skip_target"] or 0.4),
                seed=self.seed % (1 << 63),
                features=operation_features(self.space),
            )
            self._optimizer = torch.optim.Adam(
                self._controller.parameters(), lr=float(s["controller_learning_rate"] or 5e-5)
            )
        return self._controller

    def _results(self, history: History) -> list[tuple[str, list[int], float]]:
        """Every finished trial with an architecture and an objective: (name, arc, reward)."""
        found = []
        for entry in history.observed:
            if entry.loss is None:
                continue
            arc = parse_architecture(
                str(entry.trial.parameters.get("architecture", "")),
                self.num_layers,
                len(self.space),
            )
            if arc is not None:  # (reward: the objective, negated for minimize)
                found.append((entry.trial.name, arc, -entry.loss))
        return found[-REPLAY:]

    def _train(self, results: list[tuple[str, list[int], float]]) -> None:
        """``controller_train_steps`` Adam steps of REINFORCE over ``results`` (the replay)."""
        import torch

        controller = self._build()
        s = self.settings
        entropy_weight = _optional(s["controller_entropy_weight"])
        skip_weight = _optional(s["controller_skip_weight"])
        decay = float(s["controller_baseline_decay"] or 0.999)
        log_every = int(s["controller_log_every_steps"] or 10)
        arcs = [arc for _, arc, _ in results]
        rewards = [reward for _, _, reward in results]
        if entropy_weight is not None:
            with torch.no_grad():
                entropies = controller.evaluate_many(arcs).entropy.tolist()
            rewards = [r + entropy_weight * e for r, e in zip(rewards, entropies, strict=True)]
        advantages, self.baseline = advantages_of(rewards, decay)
        weights = torch.tensor(advantages, dtype=torch.float32)
        pairs = self.num_layers * (self.num_layers - 1) / 2
        for step in range(1, int(s["controller_train_steps"] or 50) + 1):
            ev = controller.evaluate_many(arcs)
            loss = (ev.log_prob * weights).mean()
            if skip_weight is not None:
                loss = loss + skip_weight * ev.skip_penalty.mean()
            self._optimizer.zero_grad()
            loss.backward()
            self._optimizer.step()
            self.steps += 1
            if step % log_every == 0:
                entropy = float(ev.entropy.mean())
                skip_rate = ev.skips / len(arcs) / pairs if pairs else 0.0
                log.info(
                    "enas controller step %d: loss=%.4f entropy=%.6g baseline=%.4f "
                    "skip rate=%.4f (%d trials)",
                    self.steps,
                    loss.item(),
                    entropy,
                    self.baseline,
                    skip_rate,
                    len(results),
                )

    # ----------------------------------------------------------------- the protocol

    def suggest(self, history: History, count: int) -> list[Assignment]:
        controller = self._build()
        results = self._results(history)
        done = set(self.rewarded)
        new = [name for name, _, _ in results if name not in done]
        if new:
            self._train(results)
            self.rewarded.extend(new)
        out = []
        for _ in range(max(count, 0)):
            organized = organize(controller.sample(), self.num_layers)
            out.append(Assignment(format_assignment(organized, self.nas, self.space)))
        return out

    def dump_state(self) -> dict[str, Any] | None:
        controller = self._build()
        return {
            "controller": controller.state(self._optimizer),
            "baseline": self.baseline,
            "rewarded": list(self.rewarded),
            "steps": self.steps,
        }

    def load_state(self, state: dict[str, Any]) -> None:
        controller = self._build()
        try:
            controller.restore(state["controller"], self._optimizer)
            self.baseline = float(state["baseline"])
            self.rewarded = [str(name) for name in state["rewarded"]]
            self.steps = int(state.get("steps", 0))
        except (KeyError, TypeError, ValueError, RuntimeError) as exc:
            raise TuneryError(
                f"the stored enas controller does not fit this experiment's nasConfig and "
                f"settings ({type(exc).__name__}: {str(exc).splitlines()[0][:120]})",
                "run the search as a new experiment (tunery run FILE --name NEW)",
            ) from None


def advantages_of(rewards: Sequence[float], decay: float) -> tuple[list[float], float]:
    """Each reward's advantage over the baseline, in standard deviations, and the baseline.

    The baseline is the rewards' exponentially weighted mean in trial order (the newest weighs
    1, the one before ``decay``, then ``decay ** 2`` ...; Katib's moving average, started at the
    first reward instead of 0); the advantages are divided by the rewards' standard deviation,
    so a search whose accuracies differ by 0.01 learns as one whose differ by 0.3.  A single
    reward, or equal ones, give advantages of 0.
    """
    n = len(rewards)
    if n == 0:
        return [], 0.0
    weights = [decay ** (n - 1 - i) for i in range(n)]
    baseline = sum(w * r for w, r in zip(weights, rewards, strict=True)) / sum(weights)
    mean = sum(rewards) / n
    spread = math.sqrt(sum((r - mean) ** 2 for r in rewards) / n)
    if spread <= 1e-12:
        return [0.0] * n, baseline
    return [(r - baseline) / spread for r in rewards], baseline


def operation_features(space: Sequence[Operation]) -> list[list[int]]:
    """Per operation of the space, the indices of its features: its type, each parameter's value
    (shared across types, e.g. ``stride=2``) and each parameter's value within its type."""
    index: dict[str, int] = {}
    out = []
    for op in space:
        kind = str(op["opt_type"])
        names = [f"type={kind}"]
        for key, value in sorted(op["opt_params"].items()):
            names += [f"{key}={value}", f"{kind}.{key}={value}"]
        out.append([index.setdefault(name, len(index)) for name in names])
    return out


def _optional(value: int | float | None) -> float | None:
    return None if value is None else float(value)


register("enas", EnasSuggester, validate)
