"""Footprint estimates and the board fit check of ``edgec compile``.

Sits between code generation and writing files. ``edgec.report`` uses the estimate functions
for its totals, and ``edgec.pipeline.generate`` calls ``check_fit`` on the finished report
before it creates any folder, so a model that does not fit its board leaves nothing behind.

- flash = weight arrays + kernel parameter structs + code estimate
- RAM = arena + the int8 input and output buffers of ``model_invoke`` + stack estimate

Weights, parameters, arena and I/O are exact sizes of the generated C. Code and stack are
estimates from the tables below, measured once on the reference kernels. ``edgec bench DIR``
measures the real figures from the linked ELF and a run under QEMU.

Limits come from the target's ``[board]`` table, and ``--flash`` / ``--ram`` override them. A
limit that is not set is not checked, so a target without a board is checked only against
the options given.

NOTE: the tables are Cortex-M4 (Thumb-2) sizes. A target file scales them by
``[compiler] code_size_factor`` (1.4 for Armv6-M on cortex-m0plus). The 64-bit host and
cortex-a53 builds have larger code and set no factor, so their code estimate is low; only
their pointer sizes are taken into account.

Adding a kernel: compile it as described above ``KERNEL_CODE_BYTES``, and add a row to that
table and to ``CALL_SITE_BYTES``. tests/test_fit.py checks that every kernel in
runtime_c/kernels/ref has a row and that no row is below the measured size.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

from edgec.errors import MemoryPlanError, TargetError
from edgec.targets import Target

# Bytes of .text of runtime_c/kernels/ref/<name>.o, by C function. Measured with
# arm-none-eabi-size on objects built by arm-none-eabi-gcc 12.2.1 with the cortex-m4 flags
# (-O2 -std=c99 -mcpu=cortex-m4 -mthumb -mfloat-abi=soft -ffunction-sections
# -fdata-sections), then rounded up to the next multiple of 64 above the measurement. No
# kernel has .data, .bss or .rodata. The C library's memmove and memcpy are not counted, as
# `edgec bench` does not count the C library either.
KERNEL_CODE_BYTES = {
    "edgec_add_s8": 1408,  # measured 1392
    "edgec_avg_pool2d_s8": 640,  # 584
    "edgec_clip_s8": 128,  # 84
    "edgec_concat_s8": 192,  # 140
    "edgec_conv2d_s8": 1088,  # 1052
    "edgec_conv2d_s8_s4": 1280,  # 1224
    "edgec_conv2d_s16": 1024,  # 960
    "edgec_depthwise_conv2d_s8": 1088,  # 1032
    "edgec_depthwise_conv2d_s8_s4": 1216,  # 1176
    "edgec_depthwise_conv2d_s16": 1024,  # 996
    "edgec_fully_connected_s8": 704,  # 640
    "edgec_fully_connected_s8_s4": 832,  # 788
    "edgec_fully_connected_s16": 512,  # 480
    "edgec_max_pool2d_s8": 512,  # 464
    "edgec_mean_s8": 832,  # 796
    "edgec_mul_s8": 704,  # 652
    "edgec_pad_s8": 384,  # 336
    "edgec_requantize_s8": 576,  # 516
    "edgec_requantize_s8_s16": 512,  # 448
    "edgec_requantize_s16_s8": 576,  # 524
    "edgec_softmax_s8": 1536,  # 1532
    "edgec_transpose_s8": 320,  # 284
    # Transformer kernels (libgcc's 64-bit division, called by layer_norm, not counted).
    "edgec_add_s16": 960,  # 916
    "edgec_batch_matmul_s8": 960,  # 920
    "edgec_batch_matmul_s8_s16": 768,  # 748
    "edgec_gather_s8": 128,  # 104
    "edgec_gelu_s8": 64,  # 40
    "edgec_gelu_s16_s8": 768,  # 756
    "edgec_l2_normalize_s8": 960,  # 932
    "edgec_layer_norm_s8": 1152,  # 1136
    "edgec_layer_norm_s16": 1216,  # 1176
    "edgec_layer_norm_s8_s16": 1152,  # 1136
    "edgec_layer_norm_s16_s16": 1216,  # 1164
    "edgec_masked_mean_s8": 960,  # 896
    "edgec_softmax_masked_s8": 1664,  # 1648
    "edgec_softmax_s16_s8": 1664,  # 1656
    "edgec_fully_connected_s8_s16": 768,  # 712
    "edgec_fully_connected_s8_s4_s16": 960,  # 956
}
# The same for the optimized variants (edgec.lower.variants): runtime_c/kernels/dsp/<name>.o
# with the cortex-m4 flags and runtime_c/kernels/mve/<name>.o with the cortex-m55 flags
# (-mcpu=cortex-m55 -mfloat-abi=hard), .text + .data + .bss, rounded up the same way.
KERNEL_CODE_BYTES.update({
    "edgec_add_s8_dsp": 3840,  # measured 3784
    "edgec_avg_pool2d_s8_dsp": 1536,  # 1492
    "edgec_conv2d_s8_1x1_dsp": 3200,  # 3136
    "edgec_conv2d_s8_dsp": 4352,  # 4292
    "edgec_depthwise_conv2d_s8_3x3_dsp": 8512,  # 8508
    "edgec_depthwise_conv2d_s8_dsp": 2048,  # 1972
    "edgec_fully_connected_s8_dsp": 1728,  # 1696
    "edgec_max_pool2d_s8_dsp": 896,  # 840
    "edgec_add_s8_mve": 4032,  # 3984
    "edgec_avg_pool2d_s8_mve": 1344,  # 1280
    "edgec_conv2d_s8_1x1_mve": 8384,  # 8368
    "edgec_conv2d_s8_mve": 10560,  # 10536
    "edgec_depthwise_conv2d_s8_3x3_mve": 8128,  # 8076
    "edgec_depthwise_conv2d_s8_mve": 6080,  # 6028
    "edgec_fully_connected_s8_mve": 4992,  # 4988
    "edgec_max_pool2d_s8_mve": 640,  # 604
})
# kernels/ref/io_float.c (measured 208 bytes), linked by a model with float I/O. Its
# soft-float helpers come from libgcc and are not counted, like the C library.
IO_FLOAT_CODE_BYTES = 256
# model_io.c: base + per input or output port. Measured 84 to 144 bytes of code for one
# input and one output on the four MLPerf Tiny models.
IO_HELPER_BASE_BYTES = 64
IO_HELPER_PORT_BYTES = 48

# Bytes that one call adds to model_invoke, by C function: arguments loaded into registers
# and onto the stack, their literal-pool entries, the call and the status check. They were
# measured on the cortex-m4 build of model.c, deleting the calls one at a time, for the four
# MLPerf Tiny int8 models and the two generated graphs of tests/e2e/test_onnx_ops.py. Each
# figure is the largest growth seen, plus 8, rounded up to a multiple of 16.
# edgec_requantize_s8 and edgec_clip_s8 were not in those models and get the figure of a
# 5-argument call. The *_s8_s4 rows were measured the same way on keyword_spotting and
# image_classification quantized with int4 weights, per channel and per group.
CALL_SITE_BYTES = {
    "edgec_add_s8": 64,  # largest measured 44
    "edgec_avg_pool2d_s8": 48,  # 36
    "edgec_clip_s8": 48,  # not measured
    "edgec_concat_s8": 48,  # 32
    "edgec_conv2d_s8": 80,  # 72
    "edgec_conv2d_s8_s4": 96,  # 80
    "edgec_conv2d_s16": 80,  # not measured, the arguments of edgec_conv2d_s8
    "edgec_depthwise_conv2d_s8": 80,  # 72
    "edgec_depthwise_conv2d_s8_s4": 96,  # 80
    "edgec_depthwise_conv2d_s16": 80,  # not measured, as edgec_conv2d_s16
    "edgec_fully_connected_s8": 80,  # 68
    "edgec_fully_connected_s8_s4": 80,  # 64
    "edgec_fully_connected_s16": 80,  # not measured, the arguments of the s8 kernel
    "edgec_max_pool2d_s8": 48,  # 28
    "edgec_mean_s8": 48,  # 32
    "edgec_mul_s8": 48,  # 36
    "edgec_pad_s8": 48,  # 36
    "edgec_requantize_s8": 48,  # not measured
    "edgec_requantize_s8_s16": 48,  # not measured
    "edgec_requantize_s16_s8": 48,  # not measured
    "edgec_softmax_s8": 48,  # 28
    "edgec_transpose_s8": 32,  # 24
    # Transformer kernels, not measured in a model. The batch_matmul, gather and masked_mean
    # rows are a caller minus an empty function. The others take the figure of a call with
    # as many arguments.
    "edgec_add_s16": 80,  # 72
    "edgec_batch_matmul_s8": 64,  # 44
    "edgec_batch_matmul_s8_s16": 64,  # 44
    "edgec_gather_s8": 64,  # 44
    "edgec_gelu_s8": 48,  # not measured
    "edgec_gelu_s16_s8": 48,  # not measured
    "edgec_l2_normalize_s8": 48,  # not measured
    "edgec_layer_norm_s8": 48,  # not measured
    "edgec_layer_norm_s16": 48,  # not measured
    "edgec_layer_norm_s8_s16": 48,  # not measured
    "edgec_layer_norm_s16_s16": 48,  # not measured
    "edgec_masked_mean_s8": 64,  # 52
    "edgec_softmax_masked_s8": 64,  # not measured
    "edgec_softmax_s16_s8": 64,  # not measured
    "edgec_fully_connected_s8_s16": 96,  # 88
    "edgec_fully_connected_s8_s4_s16": 112,  # 96
    "memmove": 64,  # 44
    # Kernel variants: not measured one by one; the figure of their reference kernel's
    # call plus 16 bytes for the scratch argument (weighted ops).
    "edgec_add_s8_dsp": 64,
    "edgec_avg_pool2d_s8_dsp": 48,
    "edgec_conv2d_s8_1x1_dsp": 96,
    "edgec_conv2d_s8_dsp": 96,
    "edgec_depthwise_conv2d_s8_3x3_dsp": 96,
    "edgec_depthwise_conv2d_s8_dsp": 96,
    "edgec_fully_connected_s8_dsp": 96,
    "edgec_max_pool2d_s8_dsp": 48,
    "edgec_add_s8_mve": 64,
    "edgec_avg_pool2d_s8_mve": 48,
    "edgec_conv2d_s8_1x1_mve": 96,
    "edgec_conv2d_s8_mve": 96,
    "edgec_depthwise_conv2d_s8_3x3_mve": 96,
    "edgec_depthwise_conv2d_s8_mve": 96,
    "edgec_fully_connected_s8_mve": 96,
    "edgec_max_pool2d_s8_mve": 48,
    "": 0,  # a reshape the planner turned into a view emits no code
}
# A function missing from the tables gets the largest figures.
DEFAULT_KERNEL_CODE_BYTES = 1536
DEFAULT_CALL_SITE_BYTES = 96
# Prologue, epilogue and return of model_invoke (4 bytes for an empty body, and at most
# about 20 more to save and restore registers).
INVOKE_FIXED_BYTES = 32

# Stack of one inference: model_invoke and the deepest kernel below it. Measured with
# -fstack-usage (same compiler and flags), model_invoke frames are 48 to 56 bytes on the four
# MLPerf Tiny models and kernel frames at most 144 bytes (edgec_mean_s8). edgec_softmax_s8
# takes 72 + 24 for its helper. An interrupt pushes 32 bytes on exception entry (no FPU
# state with -mfloat-abi=soft), so the sum is 56 + 144 + 32 = 232 bytes. 512 leaves room
# for the caller's frame (model_invoke_io: 24 bytes) and for a small interrupt handler.
# `edgec bench` measured 128 to 164 bytes for the same four models. The 16x8 kernels have
# larger frames, up to 248 bytes (edgec_conv2d_s16): 56 + 248 + 32 = 336 bytes still fit.
STACK_BASE_BYTES = 512
# The largest kernel frame STACK_BASE_BYTES allows for (edgec_mean_s8).
BASE_KERNEL_FRAME_BYTES = 144
# Kernels with larger frames: their frame plus that of their deepest helper, from
# -fstack-usage (DSP variants with the cortex-m4 flags, Helium ones with the cortex-m55
# flags), rounded up to a multiple of 16. A model that calls one adds the difference to
# BASE_KERNEL_FRAME_BYTES. Under the cortex-m55 hard-float ABI an interrupt can push 104
# bytes instead of 32; the 280 bytes of room in STACK_BASE_BYTES cover that.
KERNEL_STACK_BYTES = {
    "edgec_batch_matmul_s8": 192,  # 192
    "edgec_batch_matmul_s8_s16": 224,  # 216
    "edgec_masked_mean_s8": 160,  # 160
    "edgec_add_s8_mve": 192,  # 184
    "edgec_conv2d_s8_1x1_dsp": 224,  # 152 + 72
    "edgec_conv2d_s8_1x1_mve": 288,  # 280
    "edgec_conv2d_s8_dsp": 352,  # 248 + 104
    "edgec_conv2d_s8_mve": 544,  # 408 + 136
    "edgec_conv2d_s16": 256,  # 248
    "edgec_depthwise_conv2d_s8_3x3_dsp": 256,  # 248
    "edgec_depthwise_conv2d_s8_3x3_mve": 464,  # 368 + 88
    "edgec_depthwise_conv2d_s8_dsp": 160,  # 152
    "edgec_depthwise_conv2d_s8_mve": 432,  # 360 + 64
    "edgec_fully_connected_s8_dsp": 208,  # 152 + 48
    "edgec_fully_connected_s8_mve": 224,  # 216
}

# Sizes of the C types a kernel parameter struct field can have.
INT32_BYTES = 4
POINTER_BYTES = {"cortex-m": 4}
DEFAULT_POINTER_BYTES = 8  # host and cortex-a targets are 64-bit

WEIGHT_ALIGNMENT = 4  # every weight array is __attribute__((aligned(4)))

_SIZE_SUFFIXES = {"": 1, "K": 1024, "KB": 1024, "M": 1024 * 1024, "MB": 1024 * 1024}
_SIZE_PATTERN = re.compile(r"(\d+)\s*([KM]B?)?", re.IGNORECASE)

# How many tensors or layers a fit error names.
LISTED_ITEMS = 3
NAME_LIMIT = 48


def parse_byte_size(text: str, option: str) -> int:
    """Parse a byte count such as ``262144``, ``256K``, ``256KB``, ``1M`` or ``1MB``.

    1 K = 1024 bytes, and suffixes are case-insensitive. Raises TargetError naming ``option``
    and the value when ``text`` is not a positive byte count.
    """
    match = _SIZE_PATTERN.fullmatch(text.strip())
    if match is None or int(match.group(1)) == 0:
        raise TargetError(
            f"{option} '{text}' is not a valid byte count: give a positive integer with an "
            f"optional K, KB, M or MB suffix (1 K = 1024 bytes), for example {option} 256K"
        )
    return int(match.group(1)) * _SIZE_SUFFIXES[(match.group(2) or "").upper()]


@dataclass(frozen=True)
class BoardLimits:
    """Flash and RAM limits to check a model against. A limit of None is not checked."""

    name: str  # the board's name, or "target <name>" when only options set the limits
    flash_bytes: int | None
    ram_bytes: int | None
    flash_from_option: bool = False
    ram_from_option: bool = False


def board_limits(
    target: Target, flash_bytes: int | None = None, ram_bytes: int | None = None
) -> BoardLimits | None:
    """Return the target's board limits with ``flash_bytes`` / ``ram_bytes`` overriding them.

    Returns None when neither the board nor the options set a limit.
    """
    flash = flash_bytes if flash_bytes is not None else target.flash_bytes
    ram = ram_bytes if ram_bytes is not None else target.ram_bytes
    if flash is None and ram is None:
        return None
    return BoardLimits(
        name=target.board or f"target {target.name}",
        flash_bytes=flash,
        ram_bytes=ram,
        flash_from_option=flash_bytes is not None,
        ram_from_option=ram_bytes is not None,
    )


def pointer_bytes(target: Target) -> int:
    return POINTER_BYTES.get(target.kind, DEFAULT_POINTER_BYTES)


def struct_bytes(fields: list[tuple[str, str]], pointer_size: int) -> int:
    """Return the size of a kernel parameter struct, computed from its C initialisers.

    A field is an int32_t (an integer literal), an int32_t array (a ``{...}`` list) or a
    pointer (a symbol name). Fields are laid out with natural alignment, as C compilers do.
    """
    offset = 0
    alignment = INT32_BYTES
    for _, value in fields:
        if value.startswith("{"):
            size = align = INT32_BYTES
            size *= value.count(",") + 1
        elif re.fullmatch(r"-?\d+", value):
            size = align = INT32_BYTES
        else:
            size = align = pointer_size
        alignment = max(alignment, align)
        offset = math.ceil(offset / align) * align + size
    return math.ceil(offset / alignment) * alignment


def param_bytes(code, target: Target) -> int:
    """Return the bytes of the parameter structs in <prefix>.c plus weight array padding.

    The structs are ``static const``, so they sit in flash next to the weights. Each weight
    array starts on a 4-byte boundary, which adds up to 3 padding bytes after an int8 array.
    """
    size = pointer_bytes(target)
    structs = sum(struct_bytes(s.fields, size) for call in code.calls for s in call.structs)
    padding = sum(-_array_bytes(array) % WEIGHT_ALIGNMENT for array in code.arrays)
    return structs + padding


def weight_bytes(code) -> int:
    """Return the bytes of the constant arrays in <prefix>_weights.c (each constant once)."""
    return sum(_array_bytes(array) for array in code.arrays)


_CTYPE_BYTES = {
    "int8_t": 1, "uint8_t": 1, "int16_t": 2, "int32_t": 4, "int64_t": 8, "float": 4,
}


def _array_bytes(array) -> int:
    return int(array.values.size) * _CTYPE_BYTES[array.ctype]


def constant_bytes(tensor) -> int:
    """Return the flash bytes of a constant tensor as the generated C stores it.

    An int4 tensor takes its packed rows, ceil(K / 2) bytes per output channel
    (``Quant.axis``), plus one byte per group multiplier. Other tensors take ``nbytes``.
    """
    if tensor.dtype != "int4":
        return tensor.nbytes
    channels = tensor.shape[tensor.quant.axis]
    reduction = tensor.size // channels if channels else 0
    multipliers = 0 if not tensor.quant.per_group else tensor.quant.group_multipliers.size
    return channels * ((reduction + 1) // 2) + multipliers


def code_estimate(code, target: Target | None = None) -> dict:
    """Estimate the code bytes of one model from the tables above and return the parts.

    Keys: ``kernels`` (function -> bytes, each kernel once), ``call_sites``, ``invoke``,
    ``io_helpers`` and ``total``. Kernel and call-site sizes are scaled by the target's
    ``code_size_factor`` (Armv6-M code is larger than the Cortex-M4 code of the tables).
    """
    factor = target.code_size_factor if target is not None else 1.0
    kernels = {
        call.function: math.ceil(
            factor * KERNEL_CODE_BYTES.get(call.function, DEFAULT_KERNEL_CODE_BYTES)
        )
        for call in code.calls
        if call.function.startswith("edgec_")
    }
    if code.has_float_io:
        kernels["edgec_io_float"] = math.ceil(factor * IO_FLOAT_CODE_BYTES)
    call_sites = math.ceil(factor * sum(
        CALL_SITE_BYTES.get(call.function, DEFAULT_CALL_SITE_BYTES) for call in code.calls
    ))
    ports = len(code.boundary.inputs) + len(code.boundary.outputs)
    io_helpers = IO_HELPER_BASE_BYTES + IO_HELPER_PORT_BYTES * ports
    parts = {
        "kernels": dict(sorted(kernels.items())),
        "call_sites": call_sites,
        "invoke": INVOKE_FIXED_BYTES,
        "io_helpers": io_helpers,
    }
    parts["total"] = sum(kernels.values()) + call_sites + INVOKE_FIXED_BYTES + io_helpers
    return parts


def stack_estimate(code, target: Target) -> dict:
    """Estimate the stack bytes of one inference and return the parts: ``STACK_BASE_BYTES``,
    plus the frame of the largest kernel beyond BASE_KERNEL_FRAME_BYTES.

    Keys: ``base``, ``local_arrays`` and ``total``. Pointer arrays that model_invoke declares
    on its stack (the inputs of a concat) are added in full, as if none shared a slot.
    """
    size = pointer_bytes(target)
    local_arrays = sum(len(local.fields) * size for call in code.calls for local in call.locals)
    frames = [KERNEL_STACK_BYTES.get(call.function, 0) for call in code.calls]
    larger_frame = max([0, *frames]) - BASE_KERNEL_FRAME_BYTES
    base = STACK_BASE_BYTES + max(larger_frame, 0)
    return {
        "base": base,
        "local_arrays": local_arrays,
        "total": base + local_arrays,
    }


def check_fit(report: dict, limits: BoardLimits | None) -> None:
    """Raise MemoryPlanError when the report's flash or RAM estimate exceeds ``limits``.

    The first line of the message names the board, the bytes needed and what they are made
    of, the limit, the largest contributors, and what to do. When both limits are exceeded,
    a second line covers the flash.
    """
    if limits is None:
        return
    totals = report["totals"]
    problems = []
    if limits.ram_bytes is not None and totals["ram_bytes_estimate"] > limits.ram_bytes:
        problems.append(_ram_problem(report, limits))
    if limits.flash_bytes is not None and totals["flash_bytes_estimate"] > limits.flash_bytes:
        problems.append(_flash_problem(report, limits))
    if problems:
        overridden = limits.ram_from_option or limits.flash_from_option
        where = "the limits" if overridden or not limits.name else limits.name
        problems[0] = f"model does not fit {where}: {problems[0]}"
        raise MemoryPlanError("\n".join(problems))


def _ram_problem(report: dict, limits: BoardLimits) -> str:
    totals = report["totals"]
    tensors = sorted(report["tensors"], key=lambda t: (-t["bytes"], t["name"]))
    listed = ", ".join(_tensor_text(t) for t in tensors[:LISTED_ITEMS])
    source = " (set by --ram)" if limits.ram_from_option else ""
    return (
        f"RAM {totals['ram_bytes_estimate']:,} bytes needed (arena {totals['arena_bytes']:,} "
        f"+ I/O {totals['io_bytes']:,} + stack estimate {totals['stack_bytes_estimate']:,}), "
        f"limit {limits.ram_bytes:,}{source}; largest tensors: {listed or 'none in the arena'}; "
        "reduce the input size or the layer widths, or pass --ram BYTES for a part with "
        "more RAM"
    )


def _flash_problem(report: dict, limits: BoardLimits) -> str:
    totals = report["totals"]
    layers = sorted(
        (layer for layer in report["layers"] if layer["weight_bytes"]),
        key=lambda layer: -layer["weight_bytes"],
    )
    listed = ", ".join(
        f"'{_short(layer['name'])}' {layer['weight_bytes']:,} bytes"
        for layer in layers[:LISTED_ITEMS]
    )
    source = " (set by --flash)" if limits.flash_from_option else ""
    return (
        f"flash {totals['flash_bytes_estimate']:,} bytes needed (weights "
        f"{totals['weight_bytes']:,} + parameters {totals['param_bytes']:,} + code estimate "
        f"{totals['code_bytes_estimate']:,}), limit {limits.flash_bytes:,}{source}; largest "
        f"layers by weight bytes: {listed or 'none'}; reduce the layer widths or the number "
        "of layers, or pass --flash BYTES for a part with more flash"
    )


def _tensor_text(tensor: dict) -> str:
    """Name a planned tensor, its bytes, and the layer that writes it unless the names match."""
    text = f"'{_short(tensor['name'])}' {tensor['bytes']:,} bytes"
    if tensor["first_layer_name"] != tensor["name"]:
        text += f" at layer '{_short(tensor['first_layer_name'])}'"
    return text


def _short(name: str) -> str:
    return name if len(name) <= NAME_LIMIT else name[: NAME_LIMIT - 3] + "..."
