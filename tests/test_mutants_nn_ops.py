"""Tests written against mutants that survived mutmut in tinygen/ops (conv.py first) and
tinygen/nn (the layers added with it, and the part of nn the first run did not reach).

Each test names the behaviour it pins down; each was checked to fail on the mutant it was
written for, planted by hand (``bash scripts/mutation.sh 'tinygen.ops.conv.*'`` and so on list
them). The survivors judged equivalent (no test can tell them apart) are in docs/testing.md.
"""

from __future__ import annotations

import numpy as np
import pytest
from helpers import forward_ops

import tinygen as tg
from tinygen import nn
from tinygen.nn import functional as F


def f64(values) -> tg.Tensor:  # noqa: ANN001
    return tg.tensor(np.asarray(values, dtype=np.float64))


# --- nn.Conv2d, nn.MaxPool2d ---------------------------------------------------------------


@pytest.mark.parametrize(
    "setting, bad", [("in_channels", 0), ("out_channels", 0), ("kernel_size", 0), ("stride", 0)]
)
def test_conv2d_layer_messages_name_the_setting(setting, bad) -> None:  # noqa: ANN001
    settings = {"in_channels": 1, "out_channels": 2, "kernel_size": 3, setting: bad}
    with pytest.raises(ValueError, match=f"^Conv2d: {setting} must be a whole number >= 1, not 0$"):
        nn.Conv2d(**settings)


def test_padding_and_pool_messages_name_the_setting() -> None:
    with pytest.raises(ValueError, match="^Conv2d: padding must be a whole number >= 0, not -1$"):
        nn.Conv2d(1, 2, 3, padding=-1)
    with pytest.raises(TypeError, match="^MaxPool2d: kernel_size must be a whole number >= 1"):
        nn.MaxPool2d(2.0)  # type: ignore[arg-type]


def test_conv2d_layer_draws_within_pytorchs_bound() -> None:
    tg.manual_seed(0)
    conv = nn.Conv2d(3, 64, 3)  # fan_in 27: U(-1/sqrt(27), 1/sqrt(27)), 1,728 weights
    bound = 1 / np.sqrt(27)
    for values in (conv.weight.numpy(), conv.bias.numpy()):
        assert np.abs(values).max() <= bound
    assert np.abs(conv.weight.numpy()).max() > 0.95 * bound  # and fills it
    assert nn.Conv2d(3, 4, 3, bias=False).bias is None


def test_conv2d_layer_passes_every_setting_to_the_op() -> None:
    tg.manual_seed(1)
    x = tg.tensor(np.random.default_rng(0).normal(size=(2, 2, 5, 5)).astype(np.float32))
    for activation, slope in ((None, 0.01), ("leaky_relu", 0.01), ("leaky_relu", 0.2)):
        kwargs = {} if slope == 0.01 else {"slope": slope}  # 0.01: the default
        conv = nn.Conv2d(2, 3, 3, stride=2, padding=1, activation=activation, **kwargs)
        conv.bias = nn.Parameter(np.array([0.5, -0.5, 1.0], np.float32))
        expected = F.conv2d(x, conv.weight, conv.bias, stride=2, padding=1)
        if activation:
            expected = F.leaky_relu(expected, slope)
        np.testing.assert_allclose(conv(x).numpy(), expected.numpy(), rtol=1e-5, atol=1e-6)


def test_conv2d_layer_repr_names_its_settings() -> None:
    assert repr(nn.Conv2d(2, 3, 5)) == "Conv2d(2 -> 3, kernel 5, stride 1, padding 0)"
    assert (
        repr(nn.Conv2d(1, 4, 3, stride=2, padding=1, activation="relu"))
        == "Conv2d(1 -> 4, kernel 3, stride 2, padding 1, activation='relu')"
    )


# --- ops/conv.py: conv2d --------------------------------------------------------------------


def conv_case(dtype=np.float32):  # noqa: ANN001, ANN201
    rng = np.random.default_rng(2)
    x = tg.tensor(rng.normal(size=(2, 2, 5, 4)).astype(dtype))
    weight = tg.tensor(rng.normal(size=(3, 2, 3, 3)).astype(dtype))
    return x, weight


def test_conv2d_defaults_no_bias_in_the_weights_dtype_and_leaky_slope_001() -> None:
    x, weight = conv_case()
    zero = tg.tensor(np.zeros(3, np.float32))
    plain = F.conv2d(x, weight)  # no bias: zeros of the weight's dtype, float32 throughout
    assert plain.dtype == np.float32
    np.testing.assert_array_equal(plain.numpy(), F.conv2d(x, weight, zero).numpy())
    np.testing.assert_allclose(
        F.conv2d(x, weight, activation="leaky_relu").numpy(),
        F.leaky_relu(plain, 0.01).numpy(),
        rtol=1e-6,
    )


def test_conv2d_takes_an_array_as_the_image() -> None:
    x, weight = conv_case()
    np.testing.assert_array_equal(F.conv2d(x.numpy(), weight).numpy(), F.conv2d(x, weight).numpy())


@pytest.mark.parametrize(
    "image, kernel, message",
    [
        ((1, 5), (4, 3), "kernel 4x3 is larger than the padded image 3x7"),  # too tall only
        ((5, 1), (3, 4), "kernel 3x4 is larger than the padded image 7x3"),  # too wide only
    ],
)
def test_a_kernel_past_the_padded_image_is_refused_with_its_sizes(image, kernel, message) -> None:  # noqa: ANN001
    x, weight = tg.zeros(1, 1, *image), tg.zeros(1, 1, *kernel)
    fix = "; use a smaller kernel or more padding$"
    with pytest.raises(ValueError, match=f"^conv2d: {message}{fix}"):
        F.conv2d(x, weight, padding=1)


def test_conv2d_settings_and_dtypes_are_named_in_its_messages() -> None:
    x, weight = conv_case()
    with pytest.raises(ValueError, match="^conv2d: stride must be a whole number >= 1, not 0$"):
        F.conv2d(x, weight, stride=0)
    with pytest.raises(ValueError, match="^conv2d: padding must be a whole number >= 0, not -1$"):
        F.conv2d(x, weight, padding=-1)
    x64, weight64 = conv_case(np.float64)
    with pytest.raises(
        TypeError, match=r"^conv2d: dtype mismatch, float64 \(input\) vs float32 \(weight\)"
    ):
        F.conv2d(x64, weight)
    bias64 = tg.zeros(3, dtype="float64")
    with pytest.raises(
        TypeError, match=r"^conv2d: dtype mismatch, float32 \(input\) vs float64 \(bias\)"
    ):
        F.conv2d(x, weight, bias64)
    assert F.conv2d(x64, weight64, bias64).dtype == np.float64


def test_max_pool2d_names_its_setting() -> None:
    with pytest.raises(
        ValueError, match="^max_pool2d: kernel_size must be a whole number >= 1, not 0$"
    ):
        F.max_pool2d(tg.zeros(1, 1, 4, 4), 0)


# --- nn: the part the first run did not reach ----------------------------------------------


def test_probability_losses_keep_each_element_with_reduction_none() -> None:
    probs, target = f64([[0.2, 0.9], [0.5, 0.5]]), f64([[0.0, 1.0], [1.0, 0.0]])
    for loss, expected in (
        (F.mse_loss(probs, target, reduction="none"), (probs.numpy() - target.numpy()) ** 2),
        (
            F.binary_cross_entropy(probs, target, reduction="none"),
            -np.log([[0.8, 0.9], [0.5, 0.5]]),
        ),
    ):
        assert loss.shape == (2, 2)
        np.testing.assert_allclose(loss.numpy(), expected, rtol=1e-12)


def test_dropout_drops_half_by_default_and_scales_the_rest() -> None:
    tg.manual_seed(0)
    x = tg.ones(20_000)
    for y in (F.dropout(x).numpy(), nn.Dropout()(x).numpy()):  # train mode, p = 0.5
        assert set(np.unique(y)) == {0.0, 2.0}
        assert abs((y == 0).mean() - 0.5) < 0.02


def test_dropout_accepts_p_in_zero_to_one_excluded() -> None:
    x = tg.ones(5)
    np.testing.assert_array_equal(F.dropout(x, p=0.0).numpy(), np.ones(5))
    np.testing.assert_array_equal(nn.Dropout(0.0)(x).numpy(), np.ones(5))
    for bad in (1.0, 1.5, -0.1):
        with pytest.raises(
            ValueError, match=rf"^dropout probability must be in \[0, 1\), not {bad}$"
        ):
            nn.Dropout(bad)
        with pytest.raises(ValueError, match=r"^dropout probability must be in \[0, 1\)"):
            F.dropout(x, bad)


def test_requires_grad_unfreezes_by_default() -> None:
    model = nn.Linear(2, 3)
    model.requires_grad_(False)
    assert not any(p.requires_grad for p in model.parameters())
    assert model.requires_grad_() is model
    assert all(p.requires_grad for p in model.parameters())


def test_dropout_of_zero_draws_nothing_from_the_generator() -> None:
    tg.manual_seed(5)
    F.dropout(tg.ones(4), p=0.0)  # the identity: the random stream must stay where it was
    after = tg.rand(3).numpy()
    tg.manual_seed(5)
    np.testing.assert_array_equal(after, tg.rand(3).numpy())


def test_one_hot_takes_a_list_of_labels() -> None:
    np.testing.assert_array_equal(F.one_hot([0, 2], 3).numpy(), [[1, 0, 0], [0, 0, 1]])


def test_one_hot_refuses_labels_out_of_range_on_either_side() -> None:
    with pytest.raises(TypeError, match="^one_hot needs integer labels, not float64$"):
        F.one_hot(np.array([0.0, 1.0]), 3)
    for labels, seen in (([0, 3], r"\[0, 3\]"), ([-1, 2], r"\[-1, 2\]")):
        with pytest.raises(ValueError, match=rf"^labels must lie in \[0, 3\), got {seen}$"):
            F.one_hot(labels, 3)


def test_a_loose_load_skips_unknown_keys_and_loads_the_rest() -> None:
    model = nn.Linear(2, 1)
    weight = np.full((1, 2), 0.25, np.float32)
    state = {"extra": np.zeros(3), "weight": weight}  # the unknown key first; no bias
    with pytest.raises(KeyError, match=r"load_state_dict for Linear: missing keys \['bias'\], "):
        model.load_state_dict(state)
    with pytest.raises(KeyError, match=r"unexpected keys \['extra'\]"):
        model.prepare_load(state)  # strict by default, as load_state_dict
    model.load_state_dict(state, strict=False)
    np.testing.assert_array_equal(model.weight.numpy(), weight)


def test_train_by_default_switches_training_back_on_for_the_whole_tree() -> None:
    model = nn.Sequential(nn.Linear(2, 2), nn.Dropout(0.5))
    assert model.eval() is model
    assert [m.training for m in model.modules()] == [False, False, False]  # a bool, as PyTorch's
    model.train()
    assert [m.training for m in model.modules()] == [True, True, True]


def test_a_state_of_strings_is_refused_and_nothing_is_loaded() -> None:
    model = nn.Linear(2, 1)
    before = model.weight.numpy().copy()
    state = {"weight": np.array([["a", "b"]]), "bias": np.zeros(1, np.float32)}
    with pytest.raises(
        ValueError,
        match=r"^load_state_dict: 'weight' holds <U1 values, not numbers; nothing was loaded$",
    ):
        model.load_state_dict(state)
    np.testing.assert_array_equal(model.weight.numpy(), before)


def test_cross_entropy_takes_a_list_of_labels_and_names_a_wrong_rank() -> None:
    logits = f64([[2.0, 0.0], [0.0, 1.0]])
    expected = F.cross_entropy(logits, np.array([0, 1]))
    np.testing.assert_array_equal(F.cross_entropy(logits, [0, 1]).numpy(), expected.numpy())
    with pytest.raises(
        ValueError, match=r"^cross_entropy takes \(N, C\) logits, not shape \(2,\)$"
    ):
        F.cross_entropy(f64([1.0, 2.0]), [0])


def test_a_top_level_modules_buffers_have_bare_names() -> None:
    norm = nn.BatchNorm1d(3)
    assert [name for name, _ in norm.named_buffers()] == ["running_mean", "running_var"]
    assert [name for name, _ in nn.Sequential(norm).named_buffers()] == [
        "0.running_mean",
        "0.running_var",
    ]


def test_cross_entropy_refuses_float_or_misshapen_labels_and_labels_out_of_range() -> None:
    logits = f64(np.zeros((2, 3)))  # N = 2 rows, C = 3 classes
    for labels, got in (
        (np.array([0.0, 1.0]), r"\(2,\) of float64"),
        (np.array([0]), r"\(1,\) of int64"),
    ):
        with pytest.raises(
            ValueError, match=rf"^cross_entropy: labels must be 2 integers, got shape {got}$"
        ):
            F.cross_entropy(logits, labels)
    for labels, seen in (([0, 3], r"\[0, 3\]"), ([-1, 2], r"\[-1, 2\]")):
        with pytest.raises(ValueError, match=rf"^labels must lie in \[0, 3\), got {seen}$"):
            F.cross_entropy(logits, labels)


def test_a_linear_and_activation_ending_a_sequential_run_as_one_op() -> None:
    model = nn.Sequential(nn.Linear(4, 3), nn.ReLU())
    # the pair is the last two modules: fused still
    assert forward_ops(model, tg.ones(2, 4)) == ["Linear"]


def test_a_fused_pair_after_the_first_module_is_applied_once() -> None:
    tg.manual_seed(2)
    model = nn.Sequential(nn.Tanh(), nn.Linear(3, 4), nn.Tanh(), nn.Linear(4, 2)).double()
    x = tg.tensor(np.random.default_rng(0).normal(size=(5, 3)))
    one_by_one = x
    for module in model:  # no fusion: each module on its own
        one_by_one = module(one_by_one)
    np.testing.assert_allclose(model(x).numpy(), one_by_one.numpy(), rtol=1e-12)


def test_a_linear_layer_passes_its_leaky_slope() -> None:
    tg.manual_seed(3)
    layer = nn.Linear(3, 4, activation="leaky_relu", slope=0.3).double()
    x = tg.tensor(np.random.default_rng(1).normal(size=(6, 3)))
    expected = F.leaky_relu(F.linear(x, layer.weight, layer.bias), 0.3)
    np.testing.assert_allclose(layer(x).numpy(), expected.numpy(), rtol=1e-12)


def test_sequential_append_names_what_it_refuses() -> None:
    with pytest.raises(TypeError, match="^Sequential takes Modules, not int$"):
        nn.Sequential().append(3)  # type: ignore[arg-type]


def test_a_leaky_relu_of_slope_zero_is_fused_too() -> None:
    model = nn.Sequential(nn.Linear(4, 3), nn.LeakyReLU(0.0), nn.Linear(3, 1))
    # slope >= 0: the sign rule holds at 0
    assert forward_ops(model, tg.ones(2, 4)) == ["Linear", "Linear"]


def test_a_parameter_shared_by_two_layers_is_listed_once() -> None:
    first, second = nn.Linear(3, 3), nn.Linear(3, 3)
    second.weight = first.weight  # tied weights
    model = nn.Sequential(first, second)
    assert [name for name, _ in model.named_parameters()] == ["0.weight", "0.bias", "1.bias"]
    assert model.num_parameters() == 9 + 3 + 3


def test_linear_layer_defaults_and_messages() -> None:
    tg.manual_seed(4)
    layer = nn.Linear(3, 2, activation="leaky_relu").double()  # slope 0.01 by default
    x = tg.tensor(np.random.default_rng(2).normal(size=(8, 3)))
    expected = F.leaky_relu(F.linear(x, layer.weight, layer.bias), 0.01)
    np.testing.assert_allclose(layer(x).numpy(), expected.numpy(), rtol=1e-12)
    assert nn.Linear(3, 2, bias=False).bias is None
    for setting in ("in_features", "out_features"):
        sizes = {"in_features": 3, "out_features": 2, setting: 0}
        with pytest.raises(
            ValueError, match=f"^Linear: {setting} must be a whole number >= 1, not 0$"
        ):
            nn.Linear(**sizes)


def test_calling_a_module_passes_keyword_arguments_to_forward() -> None:
    class Scale(nn.Module):
        def forward(self, x: tg.Tensor, factor: float = 1.0) -> tg.Tensor:
            return x * factor

    np.testing.assert_array_equal(Scale()(f64([1.0, 2.0]), factor=3.0).numpy(), [3.0, 6.0])


def test_functional_linear_defaults_and_messages() -> None:
    rng = np.random.default_rng(3)
    x, weight, bias = (f64(rng.normal(size=shape)) for shape in ((4, 3), (2, 3), (2,)))
    np.testing.assert_allclose(
        F.linear(x, weight, bias, activation="leaky_relu").numpy(),
        F.leaky_relu(F.linear(x, weight, bias), 0.01).numpy(),  # slope 0.01 by default
        rtol=1e-12,
    )
    with pytest.raises(ValueError, match=r"^activation must be one of \(.*\), not 'gelu'$"):
        F.linear(x, weight, bias, activation="gelu")
    needs = (
        r"^linear: input has 3 features \(shape \(2, 4, 3\)\) but the weight expects 5 "
        r"\(weight shape \(2, 5\)\)$"
    )
    with pytest.raises(ValueError, match=needs):
        F.linear(f64(np.zeros((2, 4, 3))), f64(np.zeros((2, 5))))


def test_functional_linear_keeps_the_leading_axes_of_a_3d_input() -> None:
    rng = np.random.default_rng(4)
    x, weight = f64(rng.normal(size=(2, 4, 3))), f64(rng.normal(size=(5, 3)))
    y = F.linear(x, weight)
    assert y.shape == (2, 4, 5)
    np.testing.assert_allclose(y.numpy(), x.numpy() @ weight.numpy().T, rtol=1e-12)


# --- ops: the part the first run did not reach ---------------------------------------------


def test_bce_with_logits_of_a_single_number() -> None:
    z = tg.tensor(np.float32(0.5), requires_grad=True)  # 0-d: one row of one on the kernel path
    loss = F.binary_cross_entropy_with_logits(z, 1.0)
    assert loss.shape == ()
    np.testing.assert_allclose(loss.item(), np.log1p(np.exp(-0.5)), rtol=1e-6)
    loss.backward()
    np.testing.assert_allclose(z.grad.item(), 1 / (1 + np.exp(-0.5)) - 1, rtol=1e-6)


def test_matmul_takes_an_array_on_the_right_and_names_its_operands() -> None:
    from tinygen.ops.reduce import matmul

    a, b = np.arange(6.0).reshape(2, 3), np.arange(3.0).reshape(3, 1)
    np.testing.assert_array_equal(matmul(f64(a), b).numpy(), a @ b)
    np.testing.assert_array_equal(matmul(a, f64(b)).numpy(), a @ b)
    with pytest.raises(
        TypeError, match=r"^MatMul: dtype mismatch, float32 \(left\) vs float64 \(right\)"
    ):
        matmul(tg.tensor(a.astype(np.float32)), f64(b))
