"""The same training data gives the same model file, even with last-digit noise."""

from __future__ import annotations

import numpy as np

from distillguard.scoring import train_model


def test_last_digit_noise_does_not_change_the_model() -> None:
    rng = np.random.default_rng(3)
    x = rng.normal(size=(600, 6)) * np.array([1.0, 10.0, 1e3, 0.01, 5.0, 1e4])
    y = (x[:, 0] + x[:, 1] / 10 + rng.normal(scale=0.5, size=600) > 0).astype(float)
    # what DuckDB's parallel sums do between two runs over the same store
    noisy = x * (1 + rng.choice([-1.0, 0.0, 1.0], size=x.shape) * 2.2e-16)
    assert not np.array_equal(x, noisy)
    cols = [f"f{i}" for i in range(6)]
    a = train_model(x, y, cols, rounds=40).booster.model_to_string()
    b = train_model(noisy, y, cols, rounds=40).booster.model_to_string()
    assert a == b
