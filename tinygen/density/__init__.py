"""Classic density estimators in plain NumPy: Gaussian, Gaussian mixture (EM), kernel KDE.

Each has `fit(x)`, `score_samples(x)`, `score(x)` and `sample(n, seed)`; the math is in the
class docstrings, and docs/lessons/01_density_estimation.py puts the three side by side (on
2-D data and on MNIST). Re-exports only; nothing here uses the autograd engine.
"""

from tinygen.density._math import logmeanexp, logsumexp
from tinygen.density.gaussian import Gaussian
from tinygen.density.gmm import GMM
from tinygen.density.kde import KDE

__all__ = ["GMM", "KDE", "Gaussian", "logmeanexp", "logsumexp"]
