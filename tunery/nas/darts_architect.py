"""The architecture step of DARTS: the gradient of the validation loss in the architecture
parameters, first order or second order (Liu et al., "DARTS", 2019, section 2.3).

- **First order**: ``grad_alpha L_val(w, alpha)``, the weights taken as they are.
- **Second order** (Katib's trial always takes it): the weights after one virtual SGD step on the
  training batch, ``w' = w - xi * (momentum * buffer + grad_w L_train(w, alpha) + decay * w)``
  with ``xi`` the weights' current learning rate, then
  ``grad_alpha L_val(w', alpha) - xi * H grad_w' L_val(w', alpha)``, where the Hessian-vector
  product ``H v = grad_alpha grad_w L_train(w, alpha) . v`` is a central finite difference:
  ``(grad_alpha L_train(w + eps v) - grad_alpha L_train(w - eps v)) / (2 eps)``,
  ``eps = 0.01 / ||v||``.

The virtual step runs on a copy of the network (kept between steps); the network's own weights
(perturbed for the two evaluations of the difference) and batch-norm running statistics are
restored exactly afterwards, and its optimizer's state is only read.
"""

from __future__ import annotations

import copy

import torch

from tunery.nas.darts_model import SearchNetwork


class Architect:
    """Sets ``alpha.grad`` of a :class:`SearchNetwork` for the architecture optimizer."""

    def __init__(
        self,
        model: SearchNetwork,
        *,
        w_momentum: float,
        w_weight_decay: float,
        second_order: bool = True,
        radius: float = 0.01,
    ) -> None:
        self.model = model
        #: The finite difference's step, ``eps * ||v||`` (DARTS's 0.01).
        self.radius = radius
        self.w_momentum = w_momentum
        self.w_weight_decay = w_weight_decay
        self.second_order = second_order
        self._virtual: SearchNetwork | None = None

    def gradient(
        self,
        train: tuple[torch.Tensor, torch.Tensor],
        valid: tuple[torch.Tensor, torch.Tensor],
        xi: float,
        w_optim: torch.optim.Optimizer,
    ) -> list[torch.Tensor]:
        """The architecture gradient (first or second order, as configured).  The network's
        weights and running statistics are as they were afterwards."""
        saved = [b.detach().clone() for b in self.model.buffers()]
        try:
            if not self.second_order or xi == 0.0:
                loss = self.model.loss(*valid)
                return list(torch.autograd.grad(loss, self.model.alphas()))
            virtual = self._virtual_step(train, xi, w_optim)
            loss = virtual.loss(*valid)
            v_alphas, v_weights = virtual.alphas(), virtual.weights()
            grads = torch.autograd.grad(loss, [*v_alphas, *v_weights])
            d_alpha, d_weights = grads[: len(v_alphas)], grads[len(v_alphas) :]
            hessian = self._hessian_vector(d_weights, train)
            return [da - xi * h for da, h in zip(d_alpha, hessian, strict=True)]
        finally:
            with torch.no_grad():
                for b, s in zip(self.model.buffers(), saved, strict=True):
                    b.copy_(s)

    def step(
        self,
        train: tuple[torch.Tensor, torch.Tensor],
        valid: tuple[torch.Tensor, torch.Tensor],
        xi: float,
        w_optim: torch.optim.Optimizer,
    ) -> None:
        """Write :meth:`gradient` into the architecture parameters' ``.grad``."""
        for alpha, g in zip(
            self.model.alphas(), self.gradient(train, valid, xi, w_optim), strict=True
        ):
            alpha.grad = g.detach().clone()

    def _virtual_step(
        self, train: tuple[torch.Tensor, torch.Tensor], xi: float, w_optim: torch.optim.Optimizer
    ) -> SearchNetwork:
        model = self.model
        if self._virtual is None:
            self._virtual = copy.deepcopy(model)
        virtual = self._virtual
        virtual.train(model.training)
        loss = model.loss(*train)
        weights = model.weights()
        grads = torch.autograd.grad(loss, weights)
        with torch.no_grad():
            for w, vw, g in zip(weights, virtual.weights(), grads, strict=True):
                buffer = w_optim.state.get(w, {}).get("momentum_buffer")
                velocity = g + self.w_weight_decay * w
                if buffer is not None:
                    velocity = velocity + self.w_momentum * buffer
                vw.copy_(w - xi * velocity)
            for a, va in zip(model.alphas(), virtual.alphas(), strict=True):
                va.copy_(a)
            for b, vb in zip(model.buffers(), virtual.buffers(), strict=True):
                vb.copy_(b)
        return virtual

    def _hessian_vector(
        self, vector: tuple[torch.Tensor, ...], train: tuple[torch.Tensor, torch.Tensor]
    ) -> list[torch.Tensor]:
        model = self.model
        norm = torch.cat([v.reshape(-1) for v in vector]).norm()
        eps = self.radius / max(float(norm), 1e-12)
        weights = model.weights()
        original = [w.detach().clone() for w in weights]

        def alpha_grad(sign: float) -> tuple[torch.Tensor, ...]:
            with torch.no_grad():
                for w, w0, v in zip(weights, original, vector, strict=True):
                    w.copy_(w0 + sign * eps * v)
            loss = model.loss(*train)
            return torch.autograd.grad(loss, model.alphas())

        try:
            plus, minus = alpha_grad(1.0), alpha_grad(-1.0)
        finally:
            with torch.no_grad():
                for w, w0 in zip(weights, original, strict=True):
                    w.copy_(w0)
        return [(p - m) / (2 * eps) for p, m in zip(plus, minus, strict=True)]
