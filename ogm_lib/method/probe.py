"""Linear probes: how much a frozen encoder knows, the measure behind the paper's Figure 1.

The encoder is frozen (eval mode, no gradient); its features on the training split train a single linear
layer (full-batch L-BFGS on standardised features, a convex problem, so the number depends on the encoder
and not on an optimiser schedule); the probe's accuracy on the test split is the encoder's quality.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


@torch.no_grad()
def extract_features(encoder, batches, modality: str) -> tuple[torch.Tensor, torch.Tensor]:
    """Features of `encoder` over `batches` of (audio, visual, labels), modality 'audio' or 'visual'."""
    was_training = encoder.training
    encoder.eval()
    feats, labels = [], []
    for audio, visual, y in batches:
        feats.append(encoder(audio if modality == "audio" else visual).float())
        labels.append(y)
    encoder.train(was_training)
    return torch.cat(feats), torch.cat(labels)


def fit_linear_probe(
    train_x: torch.Tensor,
    train_y: torch.Tensor,
    test_x: torch.Tensor,
    test_y: torch.Tensor,
    num_classes: int,
    weight_decay: float = 1e-3,
    max_iter: int = 100,
    more: dict | None = None,
) -> float | dict:
    """Train a linear classifier on (train_x, train_y); return its accuracy on (test_x, test_y), or, with
    `more` (name -> (x, y) of other held-out sets), {"test": that accuracy, name: accuracy on each}."""
    mean, std = train_x.mean(0), train_x.std(0) + 1e-6
    xtr, xte = (train_x - mean) / std, (test_x - mean) / std
    gen = torch.Generator(device="cpu").manual_seed(0)
    layer = torch.nn.Linear(xtr.shape[1], num_classes).to(xtr.device)
    with torch.no_grad():
        layer.weight.copy_(torch.randn(layer.weight.shape, generator=gen).to(xtr.device) * 0.01)
        layer.bias.zero_()
    opt = torch.optim.LBFGS(layer.parameters(), max_iter=max_iter, line_search_fn="strong_wolfe")

    def closure():
        opt.zero_grad()
        loss = F.cross_entropy(layer(xtr), train_y) + weight_decay * layer.weight.pow(2).sum()
        loss.backward()
        return loss

    with torch.enable_grad():
        opt.step(closure)
    with torch.no_grad():
        acc = float((layer(xte).argmax(1) == test_y).float().mean())
        if more is None:
            return acc
        return {
            "test": acc,
            **{name: float((layer((x - mean) / std).argmax(1) == y).float().mean()) for name, (x, y) in more.items()},
        }


def probe_encoder(encoder, train_batches, test_batches, modality: str, num_classes: int) -> float | dict:
    """Linear-probe test accuracy of a frozen encoder. `test_batches` may be a dict name -> batches
    (with a "test" entry): then one probe, fitted once on the training features, is scored on each, and
    the result is {name: accuracy}."""
    xtr, ytr = extract_features(encoder, train_batches, modality)
    if not isinstance(test_batches, dict):
        xte, yte = extract_features(encoder, test_batches, modality)
        return fit_linear_probe(xtr, ytr, xte, yte, num_classes)
    held = {name: extract_features(encoder, b, modality) for name, b in test_batches.items()}
    (xte, yte) = held.pop("test")
    return fit_linear_probe(xtr, ytr, xte, yte, num_classes, more=held)
