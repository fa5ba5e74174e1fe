"""Neural-network building blocks: Module, Parameter, the layers, the loss modules.

The functions are in ``functional``, imported as F.
"""

from tinygen.nn import functional
from tinygen.nn.layers import (
    BatchNorm1d,
    Dropout,
    Embedding,
    LeakyReLU,
    Linear,
    ReLU,
    Sequential,
    Sigmoid,
    Tanh,
)
from tinygen.nn.losses import BCELoss, BCEWithLogitsLoss, CrossEntropyLoss, MSELoss
from tinygen.nn.module import Module, Parameter

__all__ = [
    "BCELoss",
    "BCEWithLogitsLoss",
    "CrossEntropyLoss",
    "MSELoss",
    "BatchNorm1d",
    "Dropout",
    "Embedding",
    "LeakyReLU",
    "Linear",
    "Module",
    "Parameter",
    "ReLU",
    "Sequential",
    "Sigmoid",
    "Tanh",
    "functional",
]
