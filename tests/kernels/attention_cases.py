"""Kernel test cases of the attention transformer kernels: the masked int8 softmax, the
int16 softmax, the int8 gelu (table) and the int16 gelu (I-BERT polynomial).

``PROGRAMS`` lists (program name, C sources in runtime_c/kernels/ref, case builder). Each
program has hand-written edge cases, cases with invalid arguments (status
EDGEC_ERROR_ARGUMENT and an untouched output) and seeded random configurations.
"""

from __future__ import annotations

import copy

import numpy as np

from edgec.lower.params_attention import MAX_MASKED_SOFTMAX_DEPTH
from tests.kernels.attention_graphs import gelu_case, masked_softmax_case
from tests.kernels.bench import KernelCase, untouched_output
from tests.kernels.graphs import random_int8
from tests.kernels.int16_graphs import random_int16

EDGEC_ERROR_ARGUMENT = 1


def _rejected(case: KernelCase, name: str, **changes) -> KernelCase:
    """A copy of ``case`` with the fields ``changes`` (``params_<key>`` for a params field)
    that the kernel must reject without writing its output."""
    bad = copy.deepcopy(case)
    bad.name = name
    bad.symbols = {}
    for key, value in changes.items():
        if key.startswith("params_"):
            bad.fields["params"][key.removeprefix("params_")] = value
        else:
            bad.fields[key] = value
    bad.expected = untouched_output(case.output_size)
    bad.expected_status = EDGEC_ERROR_ARGUMENT
    return bad


def _log_uniform(rng: np.random.Generator, low: float, high: float) -> float:
    return float(np.exp(rng.uniform(np.log(low), np.log(high))))


def _random_mask(rng: np.random.Generator, depth: int) -> np.ndarray | None:
    """No mask, all kept, random, one kept or none kept, with values other than 0 and 1."""
    kind = int(rng.integers(5))
    if kind == 0:
        return None
    if kind == 1:
        return rng.integers(1, 100, size=depth)
    if kind == 2:
        return np.where(rng.random(depth) < 0.6, rng.integers(-5, 6, size=depth), 0)
    mask = np.zeros(depth, dtype=np.int64)
    if kind == 3:
        mask[rng.integers(depth)] = -(2**31)
    return mask


# --- softmax with an int16 input -----------------------------------------------------------


def _narrow_int16(rng: np.random.Generator, shape, bound: int) -> np.ndarray:
    """Random int16 values in [-bound, bound]: real values of a few units at scale 0.01."""
    return rng.integers(-bound, bound + 1, size=shape).astype(np.int16)


def softmax_s16_s8_cases() -> list[KernelCase]:
    rng = np.random.default_rng(6101)
    ties = random_int16(rng, (3, 12))
    ties[:, 3:7] = 32767
    largest_masked = random_int16(rng, (2, 9))
    largest_masked[:, 4] = 32767
    keep_but_4 = np.ones(9, dtype=np.int64)
    keep_but_4[4] = 0
    half = np.arange(MAX_MASKED_SOFTMAX_DEPTH) % 2

    cases = [
        masked_softmax_case("3 rows of 10, scale 1e-3, no mask", random_int16(rng, (3, 10)),
                            scale=1e-3),
        masked_softmax_case("depth 1, no mask", random_int16(rng, (2, 1)), scale=1e-3),
        masked_softmax_case("depth 1, kept", random_int16(rng, (2, 1)), scale=1e-3, mask=[1]),
        masked_softmax_case("depth 1, all masked", random_int16(rng, (2, 1)), scale=1e-3,
                            mask=[0]),
        masked_softmax_case("mask (1, depth) keeps about 2/3", _narrow_int16(rng, (4, 23), 400),
                            scale=0.01, mask=rng.integers(0, 3, size=23)),
        masked_softmax_case("mask (depth,) keeps one position", _narrow_int16(rng, (3, 16), 400),
                            scale=0.01, mask=np.eye(16, dtype=np.int64)[11],
                            mask_shape="vector"),
        masked_softmax_case("all masked, depth 7: uniform", random_int16(rng, (3, 7)),
                            scale=0.01, mask=np.zeros(7)),
        masked_softmax_case("all masked, depth 512: probability 1/512 rounds to 0",
                            random_int16(rng, (1, 512)), scale=0.01, mask=np.zeros(512)),
        masked_softmax_case("the masked position holds the row maximum", largest_masked,
                            scale=1e-3, mask=keep_but_4),
        masked_softmax_case("mask values -1, 7 and INT32_MIN count as kept",
                            random_int16(rng, (2, 6)), scale=2e-3,
                            mask=[-1, 0, 7, -(2**31), 0, 2**31 - 1]),
        masked_softmax_case("4 ties at 32767", ties, scale=3e-4),
        masked_softmax_case("values -32768 and 32767, scale 0.05: diff -65535 below diff_min",
                            rng.choice([-32768, 32767], size=(3, 20)), scale=0.05),
        masked_softmax_case("scale 1e-4: every difference down to -65535 is used",
                            random_int16(rng, (3, 40)), scale=1e-4),
        masked_softmax_case("scale 0.05, masked: most inputs below diff_min",
                            random_int16(rng, (3, 40)), scale=0.05,
                            mask=rng.integers(0, 2, size=40)),
        masked_softmax_case("scale 1e-8, left shift 0: nearly uniform",
                            random_int16(rng, (2, 9)), scale=1e-8),
        masked_softmax_case("scale 40: multiplier capped, diff_min 0", ties, scale=40.0),
        masked_softmax_case("beta 0.5", _narrow_int16(rng, (2, 15), 2000), scale=2e-3, beta=0.5),
        masked_softmax_case("beta 2 with a mask", _narrow_int16(rng, (2, 15), 2000), scale=2e-3,
                            beta=2.0, mask=rng.integers(0, 2, size=15)),
        masked_softmax_case("beta 0: uniform over the kept positions",
                            random_int16(rng, (2, 15)), scale=2e-3, beta=0.0,
                            mask=rng.integers(0, 2, size=15)),
        masked_softmax_case("3-D input (2,3,7) with a mask", _narrow_int16(rng, (2, 3, 7), 600),
                            scale=5e-3, mask=[1, 1, 0, 1, 0, 1, 1]),
        masked_softmax_case("600 equal inputs: rounding shift of 32",
                            np.full((1, 600), -300, dtype=np.int16), scale=1e-3),
        masked_softmax_case("depth 8191, every other position masked",
                            _narrow_int16(rng, (1, MAX_MASKED_SOFTMAX_DEPTH), 3000), scale=1e-3,
                            mask=half),
        masked_softmax_case("depth 8191 equal inputs: largest sum of exps",
                            np.zeros((1, MAX_MASKED_SOFTMAX_DEPTH), dtype=np.int16),
                            scale=1e-3, mask=np.ones(MAX_MASKED_SOFTMAX_DEPTH)),
    ]
    return cases + _rejected_softmax(cases[4]) + _random_softmax_cases(rng, 20, "int16")


def _rejected_softmax(valid: KernelCase) -> list[KernelCase]:
    return [
        _rejected(valid, "rejects depth 0", depth=0),
        _rejected(valid, "rejects depth 8192", depth=MAX_MASKED_SOFTMAX_DEPTH + 1),
        _rejected(valid, "rejects negative rows", rows=-1),
        _rejected(valid, "rejects a negative input_left_shift", params_input_left_shift=-1),
        _rejected(valid, "rejects a positive diff_min", params_diff_min=1),
    ]


def _random_softmax_cases(rng: np.random.Generator, count: int, dtype: str) -> list[KernelCase]:
    cases = []
    for index in range(count):
        shape = (int(rng.integers(1, 4)), int(rng.integers(1, 70)))
        if dtype == "int16":
            values, scale, zero_point = random_int16(rng, shape), _log_uniform(rng, 1e-5, 1.0), 0
        else:
            values, scale = random_int8(rng, shape), _log_uniform(rng, 1e-3, 10.0)
            zero_point = int(rng.choice([-128, 127, int(rng.integers(-128, 128))]))
        cases.append(masked_softmax_case(
            f"random configuration {index}", values, scale=scale, zero_point=zero_point,
            dtype=dtype, mask=_random_mask(rng, shape[1]),
            mask_shape=str(rng.choice(["row", "vector"])),
            beta=float(rng.choice([0.5, 1.0, 2.0])),
        ))
    return cases


# --- softmax with an int8 input and a mask -------------------------------------------------


def softmax_masked_s8_cases() -> list[KernelCase]:
    rng = np.random.default_rng(6102)
    s8 = {"dtype": "int8"}
    ties = random_int8(rng, (3, 12))
    ties[:, :4] = 100
    largest_masked = random_int8(rng, (2, 9))
    largest_masked[:, 0] = 127
    keep_but_0 = np.ones(9, dtype=np.int64)
    keep_but_0[0] = 0

    cases = [
        masked_softmax_case("3 rows of 10, scale 0.1, mask", random_int8(rng, (3, 10)),
                            scale=0.1, mask=[1, 1, 0, 1, 1, 0, 0, 1, 1, 1], **s8),
        masked_softmax_case("no mask: same as edgec_softmax_s8", random_int8(rng, (3, 10)),
                            scale=0.1, **s8),
        masked_softmax_case("depth 1, kept", random_int8(rng, (2, 1)), scale=0.1, mask=[3],
                            **s8),
        masked_softmax_case("depth 1, all masked", random_int8(rng, (2, 1)), scale=0.1,
                            mask=[0], **s8),
        masked_softmax_case("mask (depth,) keeps one position", random_int8(rng, (3, 16)),
                            scale=0.1, mask=np.eye(16, dtype=np.int64)[0],
                            mask_shape="vector", **s8),
        masked_softmax_case("all masked, depth 32: uniform", random_int8(rng, (4, 32)),
                            scale=0.1, mask=np.zeros(32), **s8),
        masked_softmax_case("the masked position holds the row maximum", largest_masked,
                            scale=0.1, mask=keep_but_0, **s8),
        masked_softmax_case("input zero point -128", random_int8(rng, (2, 15)), scale=0.05,
                            zero_point=-128, mask=rng.integers(0, 2, size=15), **s8),
        masked_softmax_case("input zero point 127, beta 2", random_int8(rng, (2, 15)),
                            scale=0.05, zero_point=127, beta=2.0,
                            mask=rng.integers(0, 2, size=15), **s8),
        masked_softmax_case("scale 1.0: most inputs below diff_min", random_int8(rng, (4, 37)),
                            scale=1.0, mask=rng.integers(0, 2, size=37), **s8),
        masked_softmax_case("scale 100: only the row maximum is used", ties, scale=100.0,
                            mask=np.arange(12) % 3, **s8),
        masked_softmax_case("scale 2e-8: nearly uniform", random_int8(rng, (2, 9)),
                            scale=2e-8, mask=[1, 0, 1, 0, 1, 0, 1, 0, 1], **s8),
        masked_softmax_case("4 ties at 100, one of them masked", ties, scale=0.2,
                            mask=[0] + [1] * 11, **s8),
        masked_softmax_case("values -128 and 127 only", rng.choice([-128, 127], size=(3, 20)),
                            scale=0.3, mask=rng.integers(0, 2, size=20), **s8),
        masked_softmax_case("3-D input (2,3,7)", random_int8(rng, (2, 3, 7)), scale=0.2,
                            mask=[0, 1, 1, 1, 1, 1, 0], **s8),
        masked_softmax_case("600 equal inputs, all kept: rounding shift of 32",
                            np.full((1, 600), 5, dtype=np.int8), scale=0.1,
                            mask=np.ones(600), **s8),
        masked_softmax_case("depth 8191, every third position kept",
                            random_int8(rng, (1, MAX_MASKED_SOFTMAX_DEPTH)), scale=0.05,
                            mask=(np.arange(MAX_MASKED_SOFTMAX_DEPTH) % 3 == 0), **s8),
    ]
    return cases + _rejected_softmax(cases[0]) + _random_softmax_cases(rng, 20, "int8")


# --- gelu ----------------------------------------------------------------------------------


def gelu_s8_cases() -> list[KernelCase]:
    rng = np.random.default_rng(6103)
    every_input = np.arange(-128, 128, dtype=np.int8)
    cases = [
        gelu_case("every input, scale 0.05, zero points 0 -> 0", every_input,
                  input_quant=(0.05, 0), output_quant=(0.05, 0)),
        gelu_case("every input, input zero point -128, output zero point -128", every_input,
                  input_quant=(0.04, -128), output_quant=(0.02, -128)),
        gelu_case("every input, input zero point 127, output zero point 127", every_input,
                  input_quant=(0.03, 127), output_quant=(0.01, 127)),
        gelu_case("every input, BERT-like ranges (-10, 10) -> (-0.2, 10)", every_input,
                  input_quant=(20 / 255, -1), output_quant=(10.2 / 255, -108)),
        gelu_case("tiny output scale: both sides clamp", every_input,
                  input_quant=(0.1, 0), output_quant=(1e-4, 0)),
        gelu_case("huge output scale: every output is the zero point", every_input,
                  input_quant=(0.1, 3), output_quant=(1e3, 9)),
        gelu_case("tiny input scale: gelu(x) near x / 2", every_input,
                  input_quant=(1e-6, 0), output_quant=(1e-6, 0)),
        gelu_case("size 1", np.array([77], dtype=np.int8),
                  input_quant=(0.05, 0), output_quant=(0.05, 0)),
        gelu_case("odd size 37", random_int8(rng, (37,)),
                  input_quant=(0.07, 10), output_quant=(0.03, -50)),
        gelu_case("4-D input (1,3,5,7)", random_int8(rng, (1, 3, 5, 7)),
                  input_quant=(0.05, -20), output_quant=(0.04, -120)),
        gelu_case("2-D rows of 384", random_int8(rng, (4, 384)),
                  input_quant=(0.06, 5), output_quant=(0.03, -100)),
        gelu_case("in place, every input", every_input,
                  input_quant=(0.05, 0), output_quant=(0.05, 0), in_place=True),
        gelu_case("in place, odd size 101", random_int8(rng, (101,)),
                  input_quant=(0.02, -7), output_quant=(0.01, -90), in_place=True),
        gelu_case("same scale and zero point on both sides", random_int8(rng, (50,)),
                  input_quant=(0.1, -30), output_quant=(0.1, -30)),
        gelu_case("input -128 and 127 only", rng.choice(np.array([-128, 127], np.int8), 40),
                  input_quant=(0.08, 0), output_quant=(0.05, -128)),
    ]
    valid = cases[8]
    null_table = _rejected(valid, "rejects a NULL table", has_table=False)
    del null_table.arrays["table"]
    cases += [_rejected(valid, "rejects negative size", size=-1), null_table]
    for index in range(15):
        cases.append(gelu_case(
            f"random configuration {index}", random_int8(rng, (int(rng.integers(1, 80)),)),
            input_quant=(_log_uniform(rng, 1e-3, 1.0), int(rng.integers(-128, 128))),
            output_quant=(_log_uniform(rng, 1e-3, 1.0), int(rng.integers(-128, 128))),
        ))
    return cases


def gelu_s16_s8_cases() -> list[KernelCase]:
    rng = np.random.default_rng(6104)
    s16 = {"dtype": "int16"}
    every_input = np.arange(-32768, 32768, dtype=np.int16)
    # The clip point |x| / sqrt(2) = 1.769 is at |q| = 4170.0 for scale 6e-4.
    around_clip = np.arange(4160, 4181, dtype=np.int16)
    cases = [
        gelu_case("every input, scale 6e-4 -> BERT-like output (-0.2, 10)", every_input,
                  input_quant=(6e-4, 0), output_quant=(10.2 / 255, -123), **s16),
        gelu_case("every input, scale 1e-4, output zero point -128", every_input,
                  input_quant=(1e-4, 0), output_quant=(0.0125, -128), **s16),
        gelu_case("every input, scale 2e-3, output zero point 0", every_input,
                  input_quant=(2e-3, 0), output_quant=(0.25, 0), **s16),
        gelu_case("around the clip point, both signs",
                  np.concatenate([around_clip, -around_clip]),
                  input_quant=(6e-4, 0), output_quant=(0.04, -124), **s16),
        gelu_case("inputs -32768, -1, 0, 1 and 32767",
                  np.array([-32768, -1, 0, 1, 32767], dtype=np.int16),
                  input_quant=(1e-3, 0), output_quant=(0.1, -100), **s16),
        gelu_case("size 1", np.array([1234], dtype=np.int16),
                  input_quant=(6e-4, 0), output_quant=(0.04, -124), **s16),
        gelu_case("odd size 37", random_int16(rng, (37,)),
                  input_quant=(6e-4, 0), output_quant=(0.04, -124), **s16),
        gelu_case("4-D input (1,3,5,7)", random_int16(rng, (1, 3, 5, 7)),
                  input_quant=(3e-4, 0), output_quant=(0.02, -120), **s16),
        gelu_case("rows of 1536, MiniLM's intermediate size", random_int16(rng, (2, 1536)),
                  input_quant=(6e-4, 0), output_quant=(0.04, -124), **s16),
        gelu_case("tiny output scale: both sides clamp", random_int16(rng, (60,)),
                  input_quant=(1e-3, 0), output_quant=(1e-3, 0), **s16),
        gelu_case("output zero point 127: positive outputs clamp", random_int16(rng, (60,)),
                  input_quant=(1e-3, 0), output_quant=(0.05, 127), **s16),
        gelu_case("input scale 2.5, near the largest allowed", random_int16(rng, (60,)),
                  input_quant=(2.5, 0), output_quant=(400.0, -128), **s16),
        gelu_case("input scale 1e-9: right shift above 31", random_int16(rng, (60,)),
                  input_quant=(1e-9, 0), output_quant=(1e-7, 0), **s16),
        gelu_case("input and output scales 2**-16 apart", random_int16(rng, (60,)),
                  input_quant=(1.0, 0), output_quant=(float(np.float32(2**-16 * 1.01)), 0),
                  **s16),
        gelu_case("small inputs near 0, scale 1e-5", rng.integers(-300, 301, 80),
                  input_quant=(1e-5, 0), output_quant=(2e-5, 0), **s16),
    ]
    valid = cases[6]
    cases += [
        _rejected(valid, "rejects negative size", size=-1),
        _rejected(valid, "rejects input_right_shift 0", params_input_right_shift=0),
        _rejected(valid, "rejects input_right_shift 63", params_input_right_shift=63),
        _rejected(valid, "rejects a left output shift", params_output_shift=1),
        _rejected(valid, "rejects a negative input_multiplier", params_input_multiplier=-1),
    ]
    for index in range(15):
        cases.append(gelu_case(
            f"random configuration {index}", random_int16(rng, (int(rng.integers(1, 80)),)),
            input_quant=(_log_uniform(rng, 1e-5, 1e-2), 0),
            output_quant=(_log_uniform(rng, 1e-3, 1.0), int(rng.integers(-128, 128))), **s16,
        ))
    return cases


PROGRAMS: list = [
    ("softmax_s16_s8", ("softmax_s16_s8.c",), softmax_s16_s8_cases),
    ("softmax_masked_s8", ("softmax_masked_s8.c",), softmax_masked_s8_cases),
    ("gelu_s8", ("gelu_s8.c",), gelu_s8_cases),
    ("gelu_s16_s8", ("gelu_s16_s8.c",), gelu_s16_s8_cases),
]
