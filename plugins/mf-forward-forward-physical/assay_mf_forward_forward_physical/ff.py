"""The forward-forward local loss, reusable by any layer-local trainer (public).

Forward-forward (Hinton 2022, arXiv:2212.13345) trains each layer on its own: the layer sees a
*positive* sample (an input with its true label embedded) and a *negative* one (the same input
with a wrong label), and learns to give the positive a higher **goodness** than the negative.
Nothing flows back from later layers, so a layer's update needs only its own input and output:
which is why it can train digital layers that sit between black-box physical systems
(Momeni et al., arXiv:2304.11042), and why forward learning of graph networks reuses it.

Two goodness functions:

- ``"sumsq"`` (Hinton): ``G(h) = sum_i h_i^2``;
- ``"cosine"`` (the model-free forward-forward code of Momeni et al., github.com/MomeniAli/PhyLL):
  ``G(h) = cos(|h|, p)``, the cosine between the magnitudes of the layer output and a fixed
  random direction ``p`` of that layer. It is bounded and blind to the output's scale, so an
  unknown gain of the physical system in front of the layer cannot fake a good sample.

Two losses on a (positive, negative) pair of goodness values:

- ``"pairwise"`` (Momeni et al.): ``softplus(-theta * (G_pos - G_neg))``, mean over the batch;
- ``"threshold"`` (Hinton): ``softplus(-(G_pos - theta)) + softplus(G_neg - theta)``.

A label is predicted as the one whose embedded input collects the most goodness over the
layers (:func:`predict_scores` gives the scores).
"""
from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F

from .config import GoodnessKind, LossRule

__all__ = ["GoodnessKind", "LossRule", "embed_label", "ff_loss", "goodness", "predict_scores",
           "random_direction", "wrong_labels"]


def embed_label(x: torch.Tensor, labels: torch.Tensor | None, n_classes: int,
                scale: float = 1.0) -> torch.Tensor:
    """``[x flattened, scale * one_hot(labels)]``: the label appended to the input (zeros when
    ``labels`` is None, the input of a network that does not see the label)."""
    flat = x.flatten(1)
    code = flat.new_zeros(flat.shape[0], n_classes)
    if labels is not None:
        code[torch.arange(flat.shape[0], device=flat.device), labels] = scale
    return torch.cat([flat, code], 1)


def wrong_labels(y: torch.Tensor, n_classes: int, generator: torch.Generator) -> torch.Tensor:
    """For each label, a different one drawn uniformly from the other ``n_classes - 1``: the
    labels of the negative samples."""
    shift = torch.randint(1, n_classes, y.shape, generator=generator).to(y.device)
    return (y + shift) % n_classes


def random_direction(dim: int, generator: torch.Generator | None = None) -> torch.Tensor:
    """A fixed unit vector drawn from N(0, I): the target direction of a cosine goodness."""
    p = torch.randn(dim, generator=generator)
    return p / p.norm()


def goodness(h: torch.Tensor, kind: GoodnessKind = "sumsq",
             direction: torch.Tensor | None = None) -> torch.Tensor:
    """Goodness of each row of a layer output ``h`` (batch, features) -> (batch,)."""
    if kind == "sumsq":
        return h.pow(2).sum(1)
    if kind == "cosine":
        if direction is None:
            raise ValueError("the cosine goodness needs the layer's direction")
        return F.cosine_similarity(h.abs(), direction.expand_as(h), dim=1, eps=1e-6)
    raise ValueError(f"unknown goodness {kind!r}")


def ff_loss(g_pos: torch.Tensor, g_neg: torch.Tensor, theta: float,
            rule: LossRule = "pairwise") -> torch.Tensor:
    """The local loss of one layer from the goodness of its positive and negative samples."""
    if rule == "pairwise":
        return F.softplus(-theta * (g_pos - g_neg)).mean()
    if rule == "threshold":
        return (F.softplus(theta - g_pos) + F.softplus(g_neg - theta)).mean()
    raise ValueError(f"unknown loss rule {rule!r}")


def predict_scores(layer_goodness: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
                   x: torch.Tensor, n_classes: int) -> torch.Tensor:
    """(batch, n_classes) scores: the summed goodness of every layer with each label embedded.

    ``layer_goodness(x, labels)`` returns the summed goodness (batch,) of the inputs ``x`` with
    ``labels`` embedded; it is called once, on the batch repeated for every class."""
    b = x.shape[0]
    labels = torch.arange(n_classes, device=x.device).repeat_interleave(b)
    scores = layer_goodness(x.repeat(n_classes, *([1] * (x.dim() - 1))), labels)
    return scores.view(n_classes, b).t()
