"""Error hierarchy for user-facing failures.

Every error a user can cause (bad model, unsupported op, bad calibration data, missing
toolchain, unknown target) is an ``EdgecError``. The CLI prints its message on one line and
exits with ``exit_status`` (2 for invalid input). Messages name the node or value, what was
expected, and what to do.
"""


class EdgecError(Exception):
    """Base class for errors the CLI reports without a traceback."""

    exit_status = 2


class ModelFormatError(EdgecError):
    """The model file is missing, truncated or not a model of the expected format."""


class UnsupportedOperatorError(EdgecError):
    """One or more operators have no converter; the message lists all of them."""


class UnsupportedAttributeError(EdgecError):
    """An operator attribute has a value edgec cannot compile."""


class CalibrationError(EdgecError):
    """Calibration data is missing, has the wrong shape, or contains invalid values."""


class QuantizationError(EdgecError):
    """A tensor cannot be quantized (for example a scale that underflows)."""


class MemoryPlanError(EdgecError):
    """The memory plan does not fit or cannot be built."""


class TargetError(EdgecError):
    """Unknown target or a target option edgec cannot honor."""


class ToolchainError(EdgecError):
    """A compiler or emulator is missing; the message names the Debian package."""


class BuildError(EdgecError):
    """Building or running the generated C failed."""

    exit_status = 1


class VerificationError(EdgecError):
    """Target output differs from the reference."""

    exit_status = 1
