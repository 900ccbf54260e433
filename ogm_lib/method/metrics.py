"""Evaluation: fused, audio and visual accuracy and macro mAP over a whole split.

Accuracy is micro (over samples), as in the official code; for event localisation (`task = "events"`,
labels per segment) every metric is over segments, so the accuracy is AVE's segment-level accuracy. mAP, which the
paper reports but the official
code does not compute, is the macro average over classes of one-vs-rest average precision of the softmax
scores (scikit-learn's `average_precision_score`).
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from sklearn.metrics import average_precision_score


def macro_map(probs: np.ndarray, labels: np.ndarray, num_classes: int) -> float:
    onehot = np.eye(num_classes)[labels]
    present = onehot.sum(0) > 0  # AP is undefined for a class absent from the split
    return float(average_precision_score(onehot[:, present], probs[:, present], average="macro"))


@torch.no_grad()
def evaluate(model, batches, num_classes: int, extra_losses=None, keep: dict | None = None) -> dict[str, float]:
    """Metrics of `model` over `batches` (an iterable of (audio, visual, labels) on the model's device).

    `keep`: a dict that receives the fused softmax scores (`keep["probs"]`, n x C numpy) and the labels
    (`keep["labels"]`), for per-clip analyses (the results' `predictions`).

    `extra_losses`: `(out, labels) -> {name: loss summed over the batch}`, for losses a method adds
    (`Strategy.eval_losses`: gradient blending's auxiliary heads); each is logged as `loss_<name>`, the
    mean over the split.

    Keys: acc, map, loss (fused); acc_audio, map_audio, acc_visual, map_visual (per-modality logits); and
    `loss_<name>` for each extra loss.
    """
    was_training = model.training
    model.eval()
    logits = {"": [], "_audio": [], "_visual": []}
    extra: dict[str, torch.Tensor | float] = {}
    all_labels = []
    for audio, visual, labels in batches:
        out = model(audio, visual)
        logits[""].append(out.logits)
        if out.logits_a is not None:
            logits["_audio"].append(out.logits_a)
        if out.logits_v is not None:
            logits["_visual"].append(out.logits_v)
        if extra_losses is not None:
            for name, value in extra_losses(out, labels).items():
                extra[name] = extra.get(name, 0.0) + value
        all_labels.append(labels)
    model.train(was_training)
    labels = torch.cat(all_labels)
    n = len(labels)
    if labels.dim() == 2:  # event localisation: (N, S) segment labels, (N, classes, S) logits; score segments
        logits = {k: [z.transpose(1, 2).reshape(-1, z.shape[1]) for z in v] for k, v in logits.items()}
        labels = labels.reshape(-1)
    metrics: dict[str, float] = {}
    for suffix, chunks in logits.items():
        if not chunks:
            continue
        z = torch.cat(chunks).float()
        if not bool(torch.isfinite(z).all()):  # finite weights can still overflow the logits
            raise FloatingPointError(
                f"non-finite {(suffix[1:] or 'fused')} logits in evaluation (the model's "
                "outputs overflowed); lower the learning rate"
            )
        metrics["acc" + suffix] = float((z.argmax(1) == labels).float().mean())
        probs = torch.softmax(z, 1).cpu().numpy()
        metrics["map" + suffix] = macro_map(probs, labels.cpu().numpy(), num_classes)
        if keep is not None and suffix == "":
            keep["probs"], keep["labels"] = probs, labels.cpu().numpy()
        metrics["loss" + suffix] = float(F.cross_entropy(z, labels))
    for name, total in extra.items():
        metrics[f"loss_{name}"] = float(total) / n
    return metrics
