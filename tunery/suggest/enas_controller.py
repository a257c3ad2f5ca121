"""ENAS's LSTM controller in PyTorch (imported only by :mod:`tunery.suggest.enas`, lazily).

The network and its sampling are Katib's ``pkg/suggestion/v1beta1/nas/enas/Controller.py``
(itself the macro search space of Pham et al., 2018), written again for PyTorch:

- per layer, an LSTM step reads the previous decision's embedding (the graph embedding
  ``g_emb`` at the first layer) and its softmax picks the layer's operation; a second LSTM step
  reads the operation's embedding, and an attention over the earlier layers' outputs picks, per
  earlier layer, whether to skip-connect it (two logits ``[-q, q]``);
- logits are divided by ``controller_temperature``, then squashed to
  ``controller_tanh_const * tanh(logits)`` (each left out when the setting is ``"None"``);
- the skip penalty is Katib's KL term ``sum(sigmoid(l) * log(sigmoid(l) / [1 - t, t]))`` for
  the skip target ``t``, averaged over the layers that have skips;
- the entropy of a decision is Katib's ``-log p * p`` of the sampled value, summed;
- parameters start uniform in [-0.01, 0.01]; Adam with ``controller_learning_rate``.

tunery adds shared embeddings of the operations' *features* (their type, each parameter's value,
each parameter's value within the type: :func:`tunery.suggest.enas.operation_features`): an
operation's embedding is Katib's row of ``w_emb`` plus the sum of its features' rows of
``f_emb``, and its softmax weight Katib's column of ``w_soft`` plus the sum of its features'
columns of ``f_soft``.  Katib's controller learns each of the (often 100+) operations on its own
from the few times it was drawn; the features let a reward for ``convolution 5x5, 64 filters,
stride 2`` raise every convolution and every stride-2 operation too.  ``f_emb`` and ``f_soft``
start at zero, so the untrained controller samples exactly as Katib's does.

The architecture is Katib's flat sequence: layer ``l`` contributes its operation, then ``l``
skip bits.  :meth:`Controller.evaluate` computes, for a given architecture, the sum of the
decisions' cross-entropies (``-log p``), the entropy and the skip penalty with gradients (what
REINFORCE trains on); :meth:`Controller.sample` draws architectures from a generator.

The state (:meth:`Controller.state` / :meth:`Controller.restore`) is JSON: every tensor of the
network and of Adam as base64 of its raw float32 bytes, and the generator's state; nothing is
pickled.
"""

from __future__ import annotations

import base64
from typing import Any

import torch
from torch import Tensor, nn

__all__ = ["Controller", "Evaluation"]


class Evaluation:
    """What one architecture costs under the controller (tensors keep their gradients)."""

    def __init__(self, log_prob: Tensor, entropy: Tensor, skip_penalty: Tensor, skips: int):
        #: Sum over decisions of ``-log p`` (Katib's ``sample_log_probs``).
        self.log_prob = log_prob
        #: Sum over decisions of ``-log p * p`` (no gradient).
        self.entropy = entropy
        #: Mean over the layers with skips of the KL skip penalty (0 without skips).
        self.skip_penalty = skip_penalty
        #: How many skip connections the architecture has.
        self.skips = skips


class Controller(nn.Module):
    """The LSTM controller (see the module docstring)."""

    def __init__(
        self,
        num_layers: int,
        num_operations: int,
        *,
        hidden_size: int,
        temperature: float | None,
        tanh_const: float | None,
        skip_target: float,
        seed: int,
        features: list[list[int]] | None = None,
    ) -> None:
        super().__init__()
        self.num_layers = num_layers
        self.num_operations = num_operations
        self.temperature = temperature
        self.tanh_const = tanh_const
        h = self.hidden_size = hidden_size
        self.generator = torch.Generator().manual_seed(seed)
        # (Katib's variables, in this order: the generator draws them one after the other.)
        self.w_lstm = self._weight(2 * h, 4 * h)
        self.g_emb = self._weight(1, h)
        self.w_emb = self._weight(num_operations, h)
        self.w_soft = self._weight(h, num_operations)
        self.attn_w_1 = self._weight(h, h)
        self.attn_w_2 = self._weight(h, h)
        self.attn_v = self._weight(h, 1)
        self.skip_targets = torch.tensor([1.0 - skip_target, skip_target], dtype=torch.float32)
        # tunery's shared feature embeddings (zero: the untrained controller is Katib's).
        count = 1 + max((f for row in features or [] for f in row), default=-1)
        table = torch.zeros(num_operations, count)
        for op, row in enumerate(features or []):
            table[op, row] = 1.0
        self.features = table
        self.f_emb = nn.Parameter(torch.zeros(count, h))
        self.f_soft = nn.Parameter(torch.zeros(h, count))

    def _weight(self, *shape: int) -> nn.Parameter:
        init = torch.rand(shape, generator=self.generator, dtype=torch.float32)
        return nn.Parameter(init * 0.02 - 0.01)

    # ----------------------------------------------------------------- the network

    def _embeddings(self) -> Tensor:
        """Each operation's input embedding: Katib's own row plus its features' rows."""
        return self.w_emb + self.features @ self.f_emb

    def _softmax_weights(self) -> Tensor:
        """Each operation's softmax column: Katib's own plus its features' columns."""
        return self.w_soft + self.f_soft @ self.features.T

    def _lstm(self, x: Tensor, c: Tensor, h: Tensor) -> tuple[Tensor, Tensor]:
        ifog = torch.cat([x, h], dim=1) @ self.w_lstm
        i, f, o, g = ifog.chunk(4, dim=1)
        c = torch.sigmoid(i) * torch.tanh(g) + torch.sigmoid(f) * c
        return c, torch.sigmoid(o) * torch.tanh(c)

    def _squash(self, logits: Tensor) -> Tensor:
        if self.temperature is not None:
            logits = logits / self.temperature
        if self.tanh_const is not None:
            logits = self.tanh_const * torch.tanh(logits)
        return logits

    def _walk(self, arc: list[int] | None) -> tuple[list[int], Evaluation]:
        """Sample an architecture (``arc`` None) or follow ``arc``, in Katib's order."""
        c = torch.zeros(1, self.hidden_size)
        h = torch.zeros(1, self.hidden_size)
        inputs: Tensor = self.g_emb
        out: list[int] = []
        log_probs: list[Tensor] = []
        entropies: list[Tensor] = []
        penalties: list[Tensor] = []
        all_h: list[Tensor] = []
        all_h_w: list[Tensor] = []
        position = 0
        soft, embeddings = self._softmax_weights(), self._embeddings()
        for layer in range(self.num_layers):
            c, h = self._lstm(inputs, c, h)
            logits = self._squash(h @ soft)  # (1, operations)
            if arc is None:
                probs = torch.softmax(logits.detach(), dim=1)
                op = int(torch.multinomial(probs, 1, generator=self.generator).item())
            else:
                op = arc[position]
            position += 1
            out.append(op)
            ce = torch.nn.functional.cross_entropy(logits, torch.tensor([op]), reduction="sum")
            log_probs.append(ce)
            entropies.append((ce * torch.exp(-ce)).detach())
            inputs = embeddings[op : op + 1]
            c, h = self._lstm(inputs, c, h)
            if layer > 0:
                query = torch.tanh(h @ self.attn_w_2 + torch.cat(all_h_w, dim=0)) @ self.attn_v
                logits = self._squash(torch.cat([-query, query], dim=1))  # (layer, 2)
                if arc is None:
                    probs = torch.softmax(logits.detach(), dim=1)
                    bits = torch.multinomial(probs, 1, generator=self.generator).view(-1)
                    skips = [int(b) for b in bits.tolist()]
                else:
                    skips = arc[position : position + layer]
                position += layer
                out.extend(skips)
                target = torch.tensor(skips)
                ce = torch.nn.functional.cross_entropy(logits, target, reduction="none")
                log_probs.append(ce.sum())
                entropies.append((ce * torch.exp(-ce)).sum().detach())
                skip_prob = torch.sigmoid(logits)
                penalties.append((skip_prob * torch.log(skip_prob / self.skip_targets)).sum())
                chosen = target.to(torch.float32).view(1, layer)
                inputs = (chosen @ torch.cat(all_h, dim=0)) / (1.0 + chosen.sum())
            else:
                inputs = self.g_emb
            all_h.append(h)
            all_h_w.append(h @ self.attn_w_1)
        penalty = torch.stack(penalties).mean() if penalties else torch.zeros(())
        skips_total = sum(out[i] for i in _skip_positions(self.num_layers))
        evaluation = Evaluation(
            torch.stack(log_probs).sum(), torch.stack(entropies).sum(), penalty, skips_total
        )
        return out, evaluation

    def sample(self) -> list[int]:
        """One architecture drawn from the controller (Katib's flat sequence)."""
        with torch.no_grad():
            arc, _ = self._walk(None)
        return arc

    def evaluate(self, arc: list[int]) -> Evaluation:
        """The controller's cross-entropy, entropy and skip penalty of ``arc``."""
        if len(arc) != self.num_layers * (self.num_layers + 1) // 2:
            raise ValueError(f"an architecture of {self.num_layers} layers, not {arc}")
        return self._walk(arc)[1]

    def evaluate_many(self, arcs: list[list[int]]) -> Evaluation:
        """:meth:`evaluate` of several architectures at once, each field a tensor with one
        value per architecture (``skips`` their total): the same values, computed as one batch
        (what training on a replay of many trials needs)."""
        size = self.num_layers * (self.num_layers + 1) // 2
        if not arcs or any(len(arc) != size for arc in arcs):
            raise ValueError(f"architectures of {self.num_layers} layers, not {arcs[:1]}")
        n = len(arcs)
        table = torch.tensor(arcs, dtype=torch.long)  # (n, size)
        c = torch.zeros(n, self.hidden_size)
        h = torch.zeros(n, self.hidden_size)
        inputs = self.g_emb.expand(n, -1)
        soft, embeddings = self._softmax_weights(), self._embeddings()
        log_prob = torch.zeros(n)
        entropy = torch.zeros(n)
        penalties: list[Tensor] = []
        all_h: list[Tensor] = []
        all_h_w: list[Tensor] = []
        position = 0
        for layer in range(self.num_layers):
            c, h = self._lstm(inputs, c, h)
            logits = self._squash(h @ soft)  # (n, operations)
            ops = table[:, position]
            position += 1
            ce = torch.nn.functional.cross_entropy(logits, ops, reduction="none")
            log_prob = log_prob + ce
            entropy = entropy + (ce * torch.exp(-ce)).detach()
            inputs = embeddings[ops]
            c, h = self._lstm(inputs, c, h)
            if layer > 0:
                stacked_w = torch.stack(all_h_w, dim=1)  # (n, layer, hidden)
                query = torch.tanh(h.unsqueeze(1) @ self.attn_w_2 + stacked_w) @ self.attn_v
                logits = self._squash(torch.cat([-query, query], dim=2))  # (n, layer, 2)
                bits = table[:, position : position + layer]
                position += layer
                ce = torch.nn.functional.cross_entropy(
                    logits.reshape(n * layer, 2), bits.reshape(-1), reduction="none"
                ).view(n, layer)
                log_prob = log_prob + ce.sum(dim=1)
                entropy = entropy + (ce * torch.exp(-ce)).sum(dim=1).detach()
                skip_prob = torch.sigmoid(logits)
                penalties.append(
                    (skip_prob * torch.log(skip_prob / self.skip_targets)).sum(dim=(1, 2))
                )
                chosen = bits.to(torch.float32).unsqueeze(1)  # (n, 1, layer)
                stacked = torch.stack(all_h, dim=1)  # (n, layer, hidden)
                inputs = (chosen @ stacked).squeeze(1) / (1.0 + chosen.sum(dim=2))
            else:
                inputs = self.g_emb.expand(n, -1)
            all_h.append(h)
            all_h_w.append(h @ self.attn_w_1)
        penalty = torch.stack(penalties, dim=1).mean(dim=1) if penalties else torch.zeros(n)
        skips = sum(int(table[:, i].sum()) for i in _skip_positions(self.num_layers))
        return Evaluation(log_prob, entropy, penalty, skips)

    def probabilities(self) -> Tensor:
        """The first layer's operation probabilities (for tests and logs)."""
        with torch.no_grad():
            zeros = torch.zeros(1, self.hidden_size)
            _, h = self._lstm(self.g_emb, zeros, zeros)
            return torch.softmax(self._squash(h @ self._softmax_weights()), dim=1).view(-1)

    # ----------------------------------------------------------------- state

    def state(self, optimizer: torch.optim.Optimizer) -> dict[str, Any]:
        """The network, Adam's moments and the generator, as JSON values."""
        params = dict(self.named_parameters())
        adam: dict[str, Any] = {}
        for name, param in params.items():
            slot = optimizer.state.get(param)
            if slot:
                adam[name] = {key: _encode(value) for key, value in slot.items()}
        return {
            "parameters": {name: _encode(p.detach()) for name, p in params.items()},
            "adam": adam,
            "generator": base64.b64encode(self.generator.get_state().numpy().tobytes()).decode(
                "ascii"
            ),
        }

    def restore(self, state: dict[str, Any], optimizer: torch.optim.Optimizer) -> None:
        """Load what :meth:`state` returned (same settings and search space)."""
        params = dict(self.named_parameters())
        with torch.no_grad():
            for name, value in state["parameters"].items():
                params[name].copy_(_decode(value))
        optimizer.state.clear()
        for name, slot in state.get("adam", {}).items():
            optimizer.state[params[name]] = {key: _decode(value) for key, value in slot.items()}
        raw = base64.b64decode(state["generator"])
        self.generator.set_state(torch.frombuffer(bytearray(raw), dtype=torch.uint8))


def _skip_positions(num_layers: int) -> list[int]:
    """Indices of the skip bits in Katib's flat architecture sequence."""
    positions: list[int] = []
    start = 0
    for layer in range(num_layers):
        positions.extend(range(start + 1, start + 1 + layer))
        start += layer + 1
    return positions


def _encode(tensor: Tensor) -> dict[str, Any]:
    t = tensor.detach().to(torch.float32).contiguous()
    return {
        "shape": list(t.shape),
        "data": base64.b64encode(t.numpy().tobytes()).decode("ascii"),
    }


def _decode(value: dict[str, Any]) -> Tensor:
    raw = bytearray(base64.b64decode(value["data"]))
    flat = torch.frombuffer(raw, dtype=torch.float32) if raw else torch.zeros(0)
    return flat.clone().view(value["shape"])
