"""The statistics of the human evaluation against values computed by hand."""
import math

import pytest

from mmrefmutual.apps.human_eval import (cohen_kappa, mcnemar_exact, paired_bootstrap,
                                         wilson_interval)


def test_wilson_interval():
    # 8/10: centre (0.8 + z^2/20) / (1 + z^2/10), half-width z / (1 + z^2/10) * sqrt(...)
    lo, hi = wilson_interval(8, 10)
    assert lo == pytest.approx(0.4902, abs=1e-4) and hi == pytest.approx(0.9433, abs=1e-4)
    lo, hi = wilson_interval(0, 5)  # never below 0, not degenerate at p = 0
    assert lo == 0.0 and hi == pytest.approx(0.4345, abs=1e-4)
    lo, hi = wilson_interval(5, 5)
    assert hi == 1.0 and lo == pytest.approx(0.5655, abs=1e-4)
    assert all(math.isnan(v) for v in wilson_interval(0, 0))


def test_cohen_kappa():
    a = [1, 1, 1, 0, 0, 1, 0, 1, 1, 1]
    b = [1, 1, 0, 0, 1, 1, 0, 1, 1, 1]
    # p_o = 0.8, p_e = 0.7 * 0.7 + 0.3 * 0.3 = 0.58
    assert cohen_kappa(a, b) == pytest.approx((0.8 - 0.58) / 0.42)
    assert cohen_kappa([1, 0, 1, 0], [1, 0, 1, 0]) == pytest.approx(1.0)
    assert cohen_kappa([1, 0], [0, 1]) == pytest.approx(-1.0)
    assert cohen_kappa([1, 1, 1], [1, 1, 1]) is None  # chance agreement 1: undefined
    assert cohen_kappa([], []) is None


def test_mcnemar_exact():
    assert mcnemar_exact(1, 6) == pytest.approx(2 * (1 + 7) / 2**7)  # 0.125
    assert mcnemar_exact(0, 5) == pytest.approx(2 / 2**5)
    assert mcnemar_exact(6, 1) == mcnemar_exact(1, 6)
    assert mcnemar_exact(3, 3) == 1.0 and mcnemar_exact(0, 0) == 1.0


def test_paired_bootstrap():
    a = [True] * 6 + [False] * 4
    lo, hi = paired_bootstrap(a, a)
    assert lo == hi == 0.0
    lo, hi = paired_bootstrap([True] * 10, [False] * 10)
    assert lo == hi == 1.0
    b = [False] * 2 + a[2:]
    lo, hi = paired_bootstrap(a, b, seed=0)
    assert 0.0 <= lo <= 0.2 <= hi <= 0.5
    assert (lo, hi) == paired_bootstrap(a, b, seed=0)  # seeded
