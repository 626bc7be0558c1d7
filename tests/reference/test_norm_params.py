"""Tests of the integer parameters and kernel calls of layer_norm and l2_normalize.

They check the values that edgec.lower.params_norm and edgec.lower.calls_norm derive, and
the nodes that they reject.
"""

from __future__ import annotations

import numpy as np
import pytest

from edgec.errors import QuantizationError, UnsupportedAttributeError
from edgec.ir import Quant, Tensor
from edgec.lower.calls import LoweringContext, lower_node
from edgec.lower.params import kernel_params
from tests.kernels.norm_graphs import l2_normalize_graph, layer_norm_graph, random_rows


def _layer_norm(values=None, **kwargs):
    values = np.zeros((2, 4), dtype=np.int8) if values is None else values
    options = {"input_quant": (0.5, 0), "gamma": 1.0, "beta": 0.0, "output_quant": (0.01, 0)}
    options.update(kwargs)
    return layer_norm_graph(values, **options)[0]


def _params(graph):
    return kernel_params(graph.nodes[0], graph)


# --- layer_norm values ---------------------------------------------------------------------


def test_layer_norm_epsilon_term_in_kernel_units():
    # E = N**2 * epsilon / s_in**2 = 16 * 0.25 / 0.25 = 16 = 2**30 * 2**-26.
    params = _params(_layer_norm(epsilon=0.25))

    assert params["epsilon_mantissa"] == 2**30
    assert params["epsilon_exponent"] == -26


def test_layer_norm_tiny_epsilon_dropped():
    for epsilon in (0.0, 1e-300):
        params = _params(_layer_norm(epsilon=epsilon))

        assert params["epsilon_mantissa"] == 0
        assert params["epsilon_exponent"] == 0


def test_layer_norm_offsets_in_q16():
    graph = _layer_norm(beta=[0.5, -0.25, 0.0, 1e12], output_quant=(0.25, -3))

    offsets = _params(graph).offsets

    assert offsets.tolist() == [(2 - 3) * 65536, (-1 - 3) * 65536, -3 * 65536, 2**56]


def test_layer_norm_multipliers_scale_gamma_to_q16():
    gamma = np.array([1.0, -2.0, 0.0, 2e-9])
    params = _params(_layer_norm(gamma=gamma, output_quant=(0.5, 0)))

    real = params.multipliers * 2.0 ** (8 - params.shifts.astype(np.float64))

    assert np.allclose(real[:3], gamma[:3] / 0.5, rtol=2**-30, atol=0)
    assert params.shifts[3] == 62
    assert real[3] == pytest.approx(4e-9, rel=2**-20)
    assert params.shifts.min() >= 15


def test_layer_norm_output_range_by_type():
    int8 = _params(_layer_norm(output_quant=(0.01, -5)))
    int16 = _params(_layer_norm(output_quant=(1e-4, 0), output_dtype="int16"))

    assert (int8.output_min, int8.output_max) == (-128, 127)
    assert (int16.output_min, int16.output_max) == (-32768, 32767)


def test_layer_norm_int16_smaller_right_shifts():
    # An output scale 256 times smaller makes gamma / s_out 256 times larger. The multiplier
    # stays the same, the right shift is 8 smaller and the offsets are 256 times larger.
    gamma, beta = [1.0, -2.0, 0.3, 3.0], [0.5, -0.25, 0.0, 0.125]
    int8 = _params(_layer_norm(gamma=gamma, beta=beta, output_quant=(2.0**-7, 0)))
    int16 = _params(_layer_norm(gamma=gamma, beta=beta, output_quant=(2.0**-15, 0),
                                output_dtype="int16"))

    assert int16.multipliers.tolist() == int8.multipliers.tolist()
    assert (int8.shifts - int16.shifts).tolist() == [8, 8, 8, 8]
    assert np.array_equal(int16.offsets, int8.offsets * 256)


def _exact_output_steps(z: int, multiplier: int, shift: int, offset: int) -> list[int]:
    """Compute the magnitudes of step 5 of layer_norm_rows for one element in exact integers.

    Returns |z * multiplier| plus its rounding term, |Q16 sum|, and |Q16 sum| plus its
    rounding term.
    """
    product = z * multiplier
    fixed = (product + ((1 << shift) >> 1)) // (1 << shift) + offset
    return [abs(product) + (1 << shift) // 2, abs(fixed), abs(fixed) + (1 << 15)]


def test_layer_norm_int16_steps_fit_int64():
    # gamma / s_out just below 2**24 and beta far beyond the int16 range give the largest
    # multipliers, the smallest right shifts and the offsets at 2**56 that params produce.
    gamma = np.array([1.0, -1.0, 0.999, -0.999])
    graph = _layer_norm(np.zeros((1, 4), dtype=np.int16), dtype="int16", input_quant=(1e-3, 0),
                        gamma=gamma, beta=[1e12, -1e12, -1e12, 1e12],
                        output_quant=(5.97e-8, 0), output_dtype="int16")
    params = _params(graph)
    # |z| <= sqrt(N - 1) * 2**24 (+1 for rounding) with N = 8192, the largest depth.
    largest_z = int(np.sqrt(8191) * 2**24) + 1

    assert params.shifts.min() <= 15
    assert np.abs(params.offsets).max() == 2**56
    for multiplier, shift, offset in zip(params.multipliers, params.shifts, params.offsets):
        for z in (largest_z, -largest_z):
            steps = _exact_output_steps(z, int(multiplier), int(shift), int(offset))
            assert max(steps) < 2**63
            # Beyond 2**55 the int16 output saturates, however the offset is clamped.
            assert steps[1] > 2**55


def test_layer_norm_int16_input_has_offset_zero():
    values = random_rows(np.random.default_rng(1), (2, 4), "int16")

    params = _params(_layer_norm(values, dtype="int16", input_quant=(1e-3, 0)))

    assert params["input_offset"] == 0
    assert params["depth"] == 4


# --- layer_norm rejections -----------------------------------------------------------------


def test_layer_norm_rejects_int16_zero_point():
    graph = _layer_norm(dtype="int16")
    graph.tensors["input"].quant = Quant(np.array([1e-3], np.float32), np.array([5]))

    with pytest.raises(QuantizationError, match="zero point 5"):
        _params(graph)


def test_layer_norm_rejects_int32_input():
    graph = _layer_norm()
    graph.tensors["input"] = Tensor("input", (2, 4), "int32", quant=graph.tensors["input"].quant)

    with pytest.raises(UnsupportedAttributeError, match="int8 or int16 input"):
        _params(graph)


def test_layer_norm_rejects_int32_output():
    graph = _layer_norm()
    graph.tensors["output"] = Tensor("output", (2, 4), "int32",
                                     quant=graph.tensors["output"].quant)

    with pytest.raises(UnsupportedAttributeError, match="writes int8 or int16"):
        _params(graph)


def test_layer_norm_rejects_int16_output_zero_point():
    graph = _layer_norm(output_quant=(1e-4, 3), output_dtype="int16")

    with pytest.raises(QuantizationError, match="output 'output' has zero point 3") as raised:
        _params(graph)

    assert "node 'layer_norm' (layer_norm)" in str(raised.value)
    assert "\n" not in str(raised.value)


def test_layer_norm_rejects_int16_gamma_ratio():
    graph = _layer_norm(gamma=[1.0, 0.5, 0.5, 0.5], output_quant=(2.0**-24, 0),
                        output_dtype="int16")

    with pytest.raises(QuantizationError, match=r"gamma\[0\] / output_scale is 1.68e\+07"):
        _params(graph)


def test_layer_norm_rejects_per_channel_input():
    graph = _layer_norm()
    graph.tensors["input"].quant = Quant(np.full(4, 0.1, np.float32), np.zeros(4), axis=1)

    with pytest.raises(QuantizationError, match="4 scales"):
        _params(graph)


def test_layer_norm_rejects_depth_8193():
    with pytest.raises(UnsupportedAttributeError, match="1 to 8192"):
        _params(_layer_norm(np.zeros((1, 8193), dtype=np.int8)))


def test_layer_norm_rejects_integer_gamma():
    graph = _layer_norm()
    graph.tensors["gamma"] = Tensor("gamma", (4,), "int8", np.ones(4),
                                    Quant(np.array([0.1], np.float32), np.array([0])))

    with pytest.raises(UnsupportedAttributeError, match="float32 constants"):
        _params(graph)


def test_layer_norm_rejects_gamma_of_wrong_length():
    graph = _layer_norm()
    graph.tensors["beta"] = Tensor("beta", (2,), "float32", np.zeros(2))

    with pytest.raises(UnsupportedAttributeError, match=r"expected \(4,\)"):
        _params(graph)


def test_layer_norm_rejects_gamma_ratio_2_pow_24():
    with pytest.raises(QuantizationError, match="output scale is too small"):
        _params(_layer_norm(gamma=1.0, output_quant=(2.0**-24, 0)))


def test_layer_norm_rejects_epsilon_term_2_pow_60():
    with pytest.raises(QuantizationError, match="input scale too small"):
        _params(_layer_norm(input_quant=(1e-12, 0), epsilon=1e-5))


@pytest.mark.parametrize("epsilon", [-1e-5, float("nan")])
def test_layer_norm_rejects_invalid_epsilon(epsilon):
    with pytest.raises(UnsupportedAttributeError, match="epsilon"):
        _params(_layer_norm(epsilon=epsilon))


# --- l2_normalize --------------------------------------------------------------------------


def _l2(values=None, input_quant=(0.1, 3), epsilon=1e-12):
    values = np.zeros((2, 5), dtype=np.int8) if values is None else values
    return l2_normalize_graph(values, input_quant=input_quant, epsilon=epsilon)[0]


def test_l2_normalize_params_contain_input_offset():
    assert _params(_l2())["input_offset"] == -3


def test_l2_normalize_accepts_epsilon_equal_to_input_scale():
    assert _params(_l2(epsilon=0.1))["input_offset"] == -3


def test_l2_normalize_rejects_epsilon_above_input_scale():
    with pytest.raises(UnsupportedAttributeError, match="above the input scale"):
        _params(_l2(epsilon=0.2))


@pytest.mark.parametrize("scale, zero_point", [(1 / 256, 0), (1 / 128, 1)])
def test_l2_normalize_rejects_other_output_quantization(scale, zero_point):
    graph = _l2()
    graph.tensors["output"].quant = Quant(np.array([scale], np.float32), np.array([zero_point]))

    with pytest.raises(UnsupportedAttributeError, match="scale 1/128 and zero point 0"):
        _params(graph)


def test_l2_normalize_rejects_depth_33026():
    with pytest.raises(UnsupportedAttributeError, match="1 to 33025"):
        _params(_l2(np.zeros((1, 33026), dtype=np.int8)))


def test_l2_normalize_rejects_int16_input():
    graph = _l2()
    graph.tensors["input"] = Tensor("input", (2, 5), "int16", quant=graph.tensors["input"].quant)

    with pytest.raises(UnsupportedAttributeError, match="takes int8"):
        _params(graph)


# --- kernel calls --------------------------------------------------------------------------


def _lower(graph):
    buffers = {"input": "(in + 0)", "output": "(arena + 64)"}
    ctx = LoweringContext(graph, "m", buffers)
    return lower_node(graph.nodes[0], graph, ctx), ctx


def test_layer_norm_call_for_int8_input():
    call, ctx = _lower(_layer_norm(np.zeros((3, 2, 4), dtype=np.int8)))

    assert call.function == "edgec_layer_norm_s8"
    assert call.source == "kernels/ref/layer_norm_s8.c"
    assert call.args[2:] == ["6", "(in + 0)", "(arena + 64)"]
    assert sorted(array.ctype for array in ctx.arrays.values()) == ["int32_t", "int32_t",
                                                                     "int64_t"]


def test_layer_norm_call_for_int16_input():
    values = np.zeros((2, 4), dtype=np.int16)

    call, _ = _lower(_layer_norm(values, dtype="int16", input_quant=(1e-3, 0)))

    assert call.function == "edgec_layer_norm_s16"
    assert call.structs[0].ctype == "edgec_layer_norm_params"


@pytest.mark.parametrize("dtype, function", [("int8", "edgec_layer_norm_s8_s16"),
                                             ("int16", "edgec_layer_norm_s16_s16")])
def test_layer_norm_call_for_int16_output(dtype, function):
    values = np.zeros((3, 4), dtype=np.int8 if dtype == "int8" else np.int16)

    call, ctx = _lower(_layer_norm(values, dtype=dtype, input_quant=(1e-3, 0),
                                   output_quant=(1e-4, 0), output_dtype="int16"))

    assert call.function == function
    assert call.source == f"kernels/ref/{function.removeprefix('edgec_')}.c"
    source = "(in + 0)" if dtype == "int8" else "(const int16_t *)(const void *)(in + 0)"
    assert call.args[2:] == ["3", source, "(int16_t *)(void *)(arena + 64)"]
    assert [struct.ctype for struct in call.structs] == ["edgec_layer_norm_params",
                                                          "edgec_layer_norm_channels"]
    assert sorted(array.ctype for array in ctx.arrays.values()) == ["int32_t", "int32_t",
                                                                     "int64_t"]


def test_l2_normalize_call_arguments():
    call, _ = _lower(_l2(np.zeros((2, 3, 5), dtype=np.int8)))

    assert call.function == "edgec_l2_normalize_s8"
    assert call.args == ["-3", "6", "5", "(in + 0)", "(arena + 64)"]
