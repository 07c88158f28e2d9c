"""The builders of a fit: backbone, network, criterion and skorch net, each a function of the fit plan.

They run under the fit's torch seed (:func:`seeded`), in a fixed order
(backbone, ball, heads), so that one seed gives one set of initial weights.
Nothing here decides a setting: :mod:`sklearn_hier._plan` has.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import torch

from sklearn_hier._batches import clips_per_batch
from sklearn_hier._net import EmbeddingNet
from sklearn_hier.nn import MLP, ConvModel, EmbeddingNetwork, HierarchicalHeads, HierarchicalLoss, PoincareEmbedding
from sklearn_hier.nn.network import output_width

if TYPE_CHECKING:
    from sklearn_hier._plan import FitPlan

__all__ = [
    "build_backbone",
    "build_criterion",
    "build_module",
    "build_net",
    "inspect_backbone",
    "nested",
    "seeded",
]

# Optimizers that have a fused CUDA step (one kernel for all parameters, no host work per tensor).
FUSED_OPTIMIZERS = (torch.optim.Adam, torch.optim.AdamW)


@contextmanager
def seeded(seed: int, device: Any) -> Iterator[None]:
    """Seed torch for the block and give the caller's random state back afterwards."""
    cuda = [torch.device(device)] if torch.device(device).type == "cuda" else []
    with torch.random.fork_rng(devices=cuda):
        torch.manual_seed(seed)
        yield


def nested(params: Mapping[str, Any], prefix: str) -> dict[str, Any]:
    """The nested parameters ``<prefix>__<name>`` of ``params``, keyed by ``<name>``.

    Examples
    --------
    >>> nested({"module__channels": 8, "lr": 0.1}, "module")
    {'channels': 8}
    """
    head = prefix + "__"
    return {key[len(head) :]: value for key, value in params.items() if key.startswith(head)}


def build_backbone(params: Mapping[str, Any], input_shape: tuple[int, ...]) -> torch.nn.Module:
    """The backbone of ``params["module"]`` with its ``module__*`` options (a given instance is copied)."""
    module, options = params["module"], nested(params, "module")
    if not (isinstance(module, str) and module == "auto"):
        if isinstance(module, torch.nn.Module):
            if options:
                raise ValueError("module__* parameters cannot be applied to a module instance; pass its class.")
            return copy.deepcopy(module)
        return module(**options)
    size_name, backbone = ("n_features", MLP) if len(input_shape) == 1 else ("n_mels", ConvModel)
    for name in (size_name, "embedding_dim"):
        if name in options:
            where = "X.shape[1]" if name == size_name else "the embedding_dim parameter"
            raise ValueError(f"module__{name} cannot be set with module='auto': it comes from {where}.")
    return backbone(**{size_name: input_shape[0], "embedding_dim": params["embedding_dim"], **options})


def inspect_backbone(params: Mapping[str, Any], input_shape: tuple[int, ...]) -> tuple[int, bool]:
    """The backbone's output width and whether it has convolutions, from a copy built aside.

    Built under a forked random state, so the fit's own build draws the same
    initial weights as if this one had not happened.
    """
    with torch.random.fork_rng(devices=[]):
        backbone = build_backbone(params, input_shape)
        return output_width(backbone, input_shape), any(p.ndim == 4 for p in backbone.parameters())


def build_module(plan: FitPlan) -> EmbeddingNetwork:
    """Backbone, embedding map (the ball under ``geometry="poincare"``) and heads; the distance bound to the map."""
    backbone = build_backbone(plan.params, plan.input_shape)
    ball = PoincareEmbedding(**nested(plan.params, "geometry")) if plan.geometry == "poincare" else None
    heads = HierarchicalHeads(plan.taxonomy, plan.embedding_dim, n_classes=plan.n_classes)
    distance = plan.distance.bound_to(ball)
    module = EmbeddingNetwork(backbone, heads, plan.embedding_dim, embedding_map=ball, distance=distance)
    if plan.channels_last:
        module.to(memory_format=torch.channels_last)
    return module


def build_criterion(plan: FitPlan, module: EmbeddingNetwork) -> HierarchicalLoss:
    """The spec's terms bound to this fit: its taxonomy, label sets, embedding width and the module's distance."""
    return HierarchicalLoss(
        plan.loss_spec,
        plan.taxonomy,
        distance=module.distance,
        embedding_dim=plan.embedding_dim,
        label_sets=plan.label_sets,
    )


def build_net(plan: FitPlan) -> EmbeddingNet:
    """The skorch net of the plan, not yet initialised."""
    params = plan.params
    module = build_module(plan)
    passed = {
        f"{prefix}__{name}": value
        for prefix in ("optimizer", "callbacks")
        for name, value in nested(params, prefix).items()
    }
    passed.setdefault("optimizer__weight_decay", params["weight_decay"])
    if plan.device.type == "cuda" and params["optimizer"] in FUSED_OPTIMIZERS:
        passed.setdefault("optimizer__fused", True)
    passed["iterator_train__batch_size"] = clips_per_batch(params["triplets"], params["triplets_per_batch"])
    return EmbeddingNet(
        module,
        build_criterion(plan, module),
        taxonomy=plan.taxonomy,
        triplets=params["triplets"],
        triplets_per_batch=params["triplets_per_batch"],
        class_weight=params["class_weight"],
        optimizer=params["optimizer"],
        lr=params["lr"],
        max_epochs=params["max_epochs"],
        batch_size=params["batch_size"],
        train_split=plan.split(),
        callbacks=params["callbacks"],
        verbose=params["verbose"],
        device=str(plan.device),
        precision=plan.precision,
        data_on_device=plan.data_on_device,
        compile_embedding=nested(params, "compile") if plan.compile else None,
        **passed,
    )
