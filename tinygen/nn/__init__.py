"""Neural-network building blocks: Module, Parameter, the layers, the loss modules.

The functions are in ``functional``, imported as F.
"""

from tinygen.nn import functional
from tinygen.nn.layers import (
    BatchNorm1d,
    Conv2d,
    Dropout,
    Embedding,
    Flatten,
    LeakyReLU,
    Linear,
    MaxPool2d,
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
    "Conv2d",
    "Dropout",
    "Embedding",
    "Flatten",
    "LeakyReLU",
    "Linear",
    "MaxPool2d",
    "Module",
    "Parameter",
    "ReLU",
    "Sequential",
    "Sigmoid",
    "Tanh",
    "functional",
]
