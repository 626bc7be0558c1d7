"""TFLite Micro + CMSIS-NN figures for the MLPerf Tiny int8 models.

They are the instructions per inference under qemu-system-arm -icount shift=0
(arm-none-eabi-gcc 12.2.1 -O2, TFLite Micro 90b983c2, CMSIS-NN 4ab83cc3, SysTick read
around Invoke()), and the flash of the model array plus the TFLite Micro and CMSIS-NN code
on cortex-m4.

The cortex-m4 counts exclude the float QUANTIZE/DEQUANTIZE operators at the model boundary;
the cortex-m55 counts are whole Invoke() calls and include them (a few percent).
These are measurements of another project, the yardstick of bench/kernel_speed.py and of
tests/e2e/test_kernel_speed.py; edgec computes none of them.
"""

from __future__ import annotations

MODELS = ("keyword_spotting", "visual_wake_words", "image_classification", "anomaly_detection")

# Instructions per inference, TFLite Micro with CMSIS-NN's DSP kernels (cortex-m4) and
# Helium kernels (cortex-m55).
TFLM_CMSIS_NN_INSTRUCTIONS = {
    "cortex-m4": {
        "keyword_spotting": 7_700_960,
        "visual_wake_words": 24_074_320,
        "image_classification": 29_873_120,
        "anomaly_detection": 583_840,
    },
    "cortex-m55": {
        "keyword_spotting": 1_825_093,
        "visual_wake_words": 6_945_750,
        "image_classification": 4_913_625,
        "anomaly_detection": 166_843,
    },
}

# Instructions per inference, TFLite Micro with its reference kernels, cortex-m4.
TFLM_REFERENCE_INSTRUCTIONS = {
    "keyword_spotting": 43_247_640,
    "visual_wake_words": 100_368_040,
    "image_classification": 107_414_840,
    "anomaly_detection": 1_951_760,
}

# Arena used by TFLite Micro with CMSIS-NN (its scratch buffers included), bytes.
TFLM_CMSIS_NN_ARENA_BYTES = {
    "cortex-m4": {
        "keyword_spotting": 22_944,
        "visual_wake_words": 165_344,
        "image_classification": 54_996,
        "anomaly_detection": 5_616,
    },
    "cortex-m55": {
        "keyword_spotting": 27_472,
        "visual_wake_words": 165_408,
        "image_classification": 55_028,
        "anomaly_detection": 12_304,
    },
}

# Flash on cortex-m4: the model array plus TFLite Micro and CMSIS-NN code, bytes.
TFLM_FLASH_BYTES = {
    "keyword_spotting": 135_657,
    "visual_wake_words": 416_073,
    "image_classification": 173_625,
    "anomaly_detection": 324_833,
}

# edgec's goal: at most this fraction of TFLite Micro + CMSIS-NN's instructions (and flash).
TARGET_RATIO = 0.7
