r"""The SGD temperature of the dominant encoder under OGM, OGM-GE and the GE variants.

The noise argument of the paper's Sec. 3.3 compares noise covariances at one step. In the SDE view of SGD
(Jastrzebski et al. 2017) what sets the minima SGD settles in is the noise per unit of the time the
drift runs, the *temperature*. A plain SGD step on a mini-batch of size :math:`b`,

.. math:: \Delta\theta = -\eta\, g_B = -\eta\,\nabla L - \eta\,\xi, \qquad \mathrm{Cov}(\xi) = \Sigma_1/b,

moves the drift by :math:`\eta` (the time step) and adds noise of covariance :math:`\eta^2\Sigma_1/b`: per
unit of time :math:`\eta\,\Sigma_1/b`, a temperature :math:`T = \eta/b` (in units of :math:`\Sigma_1`).

OGM multiplies the dominant encoder's gradient by :math:`k`, drift AND noise; GE adds :math:`s\,h`, with
:math:`\mathrm{Cov}(h) = \Sigma_1/b` uncorrelated with :math:`\xi` (`modulation.sgd_noise`):

.. math:: \Delta\theta = -(k\eta)\,\nabla L - \eta\,(k\,\xi + s\,h)

=================================  ============================================================
time step (effective lr)           :math:`k\eta`
noise covariance per step          :math:`\eta^2 (k^2 + s^2)\,\Sigma_1 / b`
noise per unit of time             :math:`\eta\,\frac{k^2 + s^2}{k}\,\Sigma_1 / b`
temperature over plain SGD's       :math:`(k^2 + s^2)/k`
=================================  ============================================================

so (the dominant encoder; momentum :math:`\mu` divides drift and noise alike by :math:`1 - \mu` and
changes no ratio):

- OGM alone (:math:`s = 0`): :math:`k`. OGM slows the encoder AND cools it.
- OGM-GE with the paper's noise (:math:`s = 1`, `ge_noise="sgd"`): :math:`(1 + k^2)/k`. The paper says GE
  "recovers and even enhances" the noise, which holds per step; per unit of effective learning rate it
  multiplies the temperature by :math:`(1 + k^2)/k`: 33 at :math:`k = 0.03`, 5.2 at :math:`k = 0.2`.
- OGM-GE as the official code (isotropic noise whose trace is :math:`r` times :math:`\mathrm{tr}\,\Sigma_b`,
  :math:`r` measured in notebook 03): in trace, :math:`(k^2 + r)/k`.
- `ge_noise="sgd_k"` (:math:`s = k`): :math:`2k`. Still cooler than SGD when :math:`k < 1/2`.
- `ge_noise="sgd_restore"` (:math:`s = \sqrt{k(1 - k)}`): exactly 1, SGD's own temperature.

The non-dominant encoder (:math:`k = 1`) gets :math:`1 + s^2`: 2 with the paper's noise, :math:`1 + r`
with the official one, 1 with "sgd_restore" (no noise).
"""

from __future__ import annotations

import numpy as np

#: the forms compared: OGM without noise, then each GE noise (config.GE_NOISES)
FORMS = ("ogm", "official", "sgd", "sgd_k", "sgd_restore")
#: what each form's noise scale squared is, in words
FORM_LABELS = {
    "ogm": "OGM alone: k",
    "official": "OGM-GE, official code: (k^2 + r)/k",
    "sgd": "OGM-GE, paper's noise: (1 + k^2)/k",
    "sgd_k": "sgd_k: 2k",
    "sgd_restore": "sgd_restore: 1",
}


def noise_scale_squared(k, form: str, official_ratio: float = 1.0):
    """s^2, the GE noise's covariance in units of the SGD noise Sigma_1 / b, for an OGM coefficient k.
    `official_ratio`: r, the official noise's trace over the SGD noise's (form "official" only)."""
    k = np.asarray(k, dtype=float)
    if np.any((k <= 0) | (k > 1)):
        raise ValueError(f"k = {k} out of range; valid: 0 < k <= 1 (OGM's coefficient, Eq. 10)")
    if official_ratio < 0:
        raise ValueError(f"official_ratio = {official_ratio} out of range; valid: >= 0 (a ratio of traces)")
    squares = {
        "ogm": np.zeros_like(k),
        "official": np.full_like(k, official_ratio),
        "sgd": np.ones_like(k),
        "sgd_k": k**2,
        "sgd_restore": k * (1 - k),
    }
    if form not in squares:
        raise ValueError(f"unknown form {form!r}; valid choices: {', '.join(FORMS)}")
    return squares[form]


def temperature_factor(k, form: str = "sgd", official_ratio: float = 1.0):
    """The dominant encoder's SGD temperature per unit of effective learning rate, over plain SGD's at the
    same lr and batch size: (k^2 + s^2) / k (the module's table). Accepts a number or an array of k."""
    k_arr = np.asarray(k, dtype=float)
    out = (k_arr**2 + noise_scale_squared(k_arr, form, official_ratio)) / k_arr
    return float(out) if np.ndim(k) == 0 else out


def temperature_table(ks=(0.03, 0.05, 0.1, 0.15, 0.2), official_ratio: float = 1.0, forms=FORMS):
    """A DataFrame: one row per k, one column per form (`FORM_LABELS`), the temperature factor."""
    import pandas as pd

    rows = {FORM_LABELS[f]: temperature_factor(np.asarray(ks, dtype=float), f, official_ratio) for f in forms}
    return pd.DataFrame(rows, index=pd.Index(list(ks), name="k"))
