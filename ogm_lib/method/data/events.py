"""# Audio-visual event localisation on the default data (the paper's Table 5, AVE's task)

AVE (Tian et al. 2018) cuts each 10 s video into ten 1 s segments and labels every segment with the video's
event class where the event is both **heard and seen**, and "background" elsewhere; a model predicts a label per
segment, scored by segment-level accuracy (`segment_accuracy`). With `dataset = "ave"` (prepared,
`data_scripts/prepare_ave.py`) `RunConfig.task = "events"` reads AVE's own segments and labels
(`prepared.PreparedEventDataset`: S = `AVE_SEGMENTS` = 10, one frame and one 1 s audio window per segment,
the labels from the annotation's StartTime and EndTime). Otherwise it builds the same task from an
in-memory dataset of the book (`avdigits`, `synthetic`), whose clips pair a sound and a picture of one digit:

- a **sequence** has `SEGMENTS` segments; each segment's audio is one clip's spectrogram and its visual one
  clip's frame, so the sequence's audio is the clips' spectrograms side by side along time, `(1, F, S * T)`,
  and its visual the S frames, `(3, S, H, W)`;
- each sequence has one **event digit** d and one contiguous event span of 1 to S segments (length uniform,
  then position uniform). In an event segment the spoken and the shown digit are both d (one clip of digit d:
  its own sound and picture); the label is d + 1;
- a **background** segment (label 0) holds d in exactly one modality and another digit e != d in the other
  (half of them heard-not-seen, half seen-not-heard), so neither modality alone tells event from background:
  as in AVE, the event is where the two agree;
- sequences are drawn from each split's own clips (training sequences from training clips, ...), as many
  sequences per split as the split has clips divided by `CLIPS_PER_SEQUENCE`; the test sequences are drawn
  from the data's fixed test seed (`avdigits.TEST_SEED`), the others from the run's seed.

The labels are `(S,)` per sequence and the models' logits `(B, 1 + classes, S)`: `F.cross_entropy` and the
modulator's scores (`modulation.modality_scores`) then work per segment unchanged, and the evaluation
(`metrics.evaluate`) scores segments.
"""

from __future__ import annotations

import hashlib
import json

import torch

from .common import AVSplits, AVTensorDataset
from .lists import AVE_SEGMENTS

#: segments per sequence made from clips (AVE: 10 one-second segments, `AVE_SEGMENTS`; ours: fewer, for the
#: CPU budget)
SEGMENTS = 6
#: a split of n clips gives n // CLIPS_PER_SEQUENCE sequences
CLIPS_PER_SEQUENCE = 2
BACKGROUND = "background"
#: the test sequences' composition seed (avdigits' test seed: the same for every run)
TEST_SEED = 0


def segments_for(dataset: str) -> int:
    """Segments per sequence of `task = "events"` on `dataset`: AVE's 10 seconds, else `SEGMENTS`."""
    return AVE_SEGMENTS if dataset == "ave" else SEGMENTS


def event_sequences(ds: AVTensorDataset, n: int, segments: int, generator: torch.Generator):
    """`n` sequences from the clips of `ds` (see the module docstring): audio `(n, 1, F, S*T)`, visual
    `(n, C, S, H, W)` (each clip's first frame), labels `(n, S)` (0 background, d + 1 event digit d), and
    the clip indices used `(n, S, 2)` (audio clip, visual clip)."""
    labels = ds.labels
    classes = int(labels.max()) + 1
    by_class = [torch.nonzero(labels == c).flatten() for c in range(classes)]
    if any(len(b) == 0 for b in by_class):
        raise ValueError("every class needs at least one clip to build event sequences")

    def pick(cls: torch.Tensor) -> torch.Tensor:
        """One random clip index of each class in `cls`."""
        sizes = torch.tensor([len(b) for b in by_class])[cls]
        j = (torch.rand(cls.shape, generator=generator) * sizes).long()
        return torch.stack([by_class[int(c)][int(i)] for c, i in zip(cls.flatten(), j.flatten())]).view(cls.shape)

    d = torch.randint(classes, (n,), generator=generator)  # event digit per sequence
    length = torch.randint(1, segments + 1, (n,), generator=generator)
    start = (torch.rand(n, generator=generator) * (segments - length + 1)).long()
    pos = torch.arange(segments).view(1, -1)
    event = (pos >= start[:, None]) & (pos < (start + length)[:, None])  # (n, S)
    other = (d[:, None] + torch.randint(1, classes, (n, segments), generator=generator)) % classes  # e != d
    heard = torch.rand(n, segments, generator=generator) < 0.5  # background: d heard, e seen
    audio_cls = torch.where(event | heard, d[:, None], other)
    visual_cls = torch.where(event | ~heard, d[:, None], other)
    a_idx, v_idx = pick(audio_cls), pick(visual_cls)
    v_idx = torch.where(event, a_idx, v_idx)  # an event segment is ONE clip
    seg_labels = torch.where(event, d[:, None] + 1, torch.zeros_like(d[:, None]))
    audio = ds.audio[a_idx.flatten()]  # (n*S, 1, F, T)
    _, c, f, t = audio.shape
    audio = audio.view(n, segments, c, f, t).permute(0, 2, 3, 1, 4).reshape(n, c, f, segments * t)
    frames = ds.visual[v_idx.flatten()][:, :, 0]  # (n*S, C, H, W): first frame
    visual = frames.view(n, segments, *frames.shape[1:]).permute(0, 2, 1, 3, 4).contiguous()
    return audio.contiguous(), visual, seg_labels, torch.stack([a_idx, v_idx], dim=2)


class EventSplits(AVSplits):
    """Splits of event sequences; `split_hash` hashes which clips make up every segment of every split."""

    @property
    def split_hash(self) -> str:
        body = {
            s: hashlib.sha256(getattr(self, s).clip_index.numpy().tobytes()).hexdigest()
            for s in ("train", "val", "test")
        }
        body["base"] = self.base_hash
        return hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()[:16]


def make_events(base: AVSplits, seed: int, segments: int = SEGMENTS) -> EventSplits:
    """Event-localisation splits from a dataset's in-memory splits; `seed` draws the training and validation
    sequences, `TEST_SEED` the test ones."""
    out = {}
    for s in ("train", "val", "test"):
        ds = getattr(base, s)
        if not isinstance(ds, AVTensorDataset):
            raise ValueError(
                "task 'events' builds sequences from an in-memory dataset (avdigits, synthetic); "
                "AVE's own segments are read by prepared.load_prepared_events"
            )
        g = torch.Generator().manual_seed(TEST_SEED if s == "test" else 1000 + int(seed))
        audio, visual, labels, index = event_sequences(ds, max(1, len(ds) // CLIPS_PER_SEQUENCE), segments, g)
        ev = AVTensorDataset(audio, visual, labels, [BACKGROUND] + list(base.class_names))
        ev.clip_index = index
        out[s] = ev
    splits = EventSplits(out["train"], out["val"], out["test"], [BACKGROUND] + list(base.class_names))
    splits.base_hash = base.split_hash
    return splits


def segment_accuracy(logits: torch.Tensor, labels: torch.Tensor) -> float:
    """AVE's metric: the share of segments whose predicted label (background or an event class) is right.
    `logits (N, classes, S)` or predictions `(N, S)`; `labels (N, S)`."""
    pred = logits.argmax(dim=1) if logits.dim() == labels.dim() + 1 else logits
    return float((pred == labels).float().mean())
