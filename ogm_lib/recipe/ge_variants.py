"""The runs that compare GE's noises (chapters 03 and 04): GE alone and OGM-GE with each `ge_noise`.

`ge_variant_rows(base, alpha)` takes a row's plain joint-training config (the book's "Concatenation" row of
a regime, any seed) and returns the rows to train, named as a chapter would show them:

=============================  ===================================  =======================================
row                            config changes                       dominant encoder's temperature
=============================  ===================================  =======================================
GE alone (official)            method ge                            1 + r  (k = 1)
GE alone (paper's noise)       method ge, ge_noise sgd              2
OGM                            method ogm, alpha                    k
OGM-GE (official)              method ogm_ge, alpha                 (k^2 + r) / k
OGM-GE (paper's noise)         method ogm_ge, ge_noise sgd          (1 + k^2) / k
OGM-GE (noise x k)             method ogm_ge, ge_noise sgd_k        2k
OGM-GE (SGD temperature)       method ogm_ge, ge_noise sgd_restore  1
=============================  ===================================  =======================================

(temperature per unit of effective learning rate over plain SGD's, `temperature.py`; r: the official
noise's trace over the SGD noise's, about 0.8 on chapter 03's model). The official rows have the keys of
the book's existing runs (`ge_noise` at its default is left out of the key), so only the five others train.
"""

from __future__ import annotations

from ..method.config import RunConfig

#: row name -> RunConfig changes (alpha is added for the OGM rows)
GE_VARIANTS: dict[str, dict] = {
    "GE alone (official)": dict(method="ge"),
    "GE alone (paper's noise)": dict(method="ge", ge_noise="sgd"),
    "OGM": dict(method="ogm"),
    "OGM-GE (official)": dict(method="ogm_ge"),
    "OGM-GE (paper's noise)": dict(method="ogm_ge", ge_noise="sgd"),
    "OGM-GE (noise x k)": dict(method="ogm_ge", ge_noise="sgd_k"),
    "OGM-GE (SGD temperature)": dict(method="ogm_ge", ge_noise="sgd_restore"),
}


def ge_variant_rows(base: RunConfig, alpha: float | None = None, include_base: bool = True) -> dict[str, RunConfig]:
    """The comparison's rows from `base`, a plain (method "normal") joint config; `alpha` for the OGM rows
    (default: base's). With `include_base`, the plain row comes first as "Joint training"."""
    if base.method != "normal" or base.modalities != "av":
        raise ValueError(
            f"base must be a plain joint config (method 'normal', modalities 'av'), not method "
            f"{base.method!r}, modalities {base.modalities!r}"
        )
    alpha = base.alpha if alpha is None else alpha
    rows = {"Joint training": base} if include_base else {}
    for name, changes in GE_VARIANTS.items():
        extra = dict(alpha=alpha) if changes["method"] in ("ogm", "ogm_ge") else {}
        rows[name] = base.replace(**changes, **extra)
    return rows
