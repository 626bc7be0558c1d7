"""Quantization configuration: global defaults, per-op-type and per-layer overrides.

Read from a TOML file (``edgec compile --config QUANT.toml``) and/or built from CLI flags.
The settings of one layer are the defaults, then its op type's table, then its own table,
each overriding the one before::

    [defaults]
    observer = "percentile"              # how activation ranges are calibrated
    observer_options = { percentile = 99.99 }
    weight_granularity = "per-channel"   # or "per-tensor", or "per-group" (int4 only)
    weight_bits = 8                      # or 4: int4 weights, packed two per byte
    group_size = 32                      # reduction values per group for "per-group"
    weight_method = "gptq"               # or "rtn" (round to nearest, default) or "awq"
    gptq_damp = 0.01                     # GPTQ damping, a fraction of the mean diagonal of H
    bias_correction = true

    [layers."model/conv2d_1/BiasAdd"]
    activation_bits = 16                 # int16 input and output, int8 weights (16x8)

    [methods]                            # transforms of the whole float graph
    cross_layer_equalization = true
    smoothquant_alpha = 0.5
    weight_budget = 120000               # bytes: choose int4/int8 per layer to fit

    [op_types.fully_connected]
    observer = "mse"

    [layers."conv2d_3"]                  # a node name, as `edgec inspect` lists it
    observer = "minmax"

An observer setting applies to the layer's output activations (graph inputs take the
defaults). ``activation_bits = 16`` is accepted only for the ops in ``INT16_ACTIVATION_OPS``
and with 8-bit weights. The quantizer converts between int8 and int16 where such a layer
meets int8 tensors. Every key and value is checked when the file is read. An unknown key,
a wrong type, a bad value or a layer name that is not in the model is an error naming it.

To add a per-layer setting: add a field to ``LayerSettings`` and its checker to
``_LAYER_KEYS``.
"""

from __future__ import annotations

import difflib
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from edgec.errors import EdgecError, QuantizationError
from edgec.ir import Graph, Node

GRANULARITIES = ("per-channel", "per-tensor", "per-group")
WEIGHT_BITS = (4, 8)
MIN_GROUP_SIZE = 2
# Weight rounding methods: round to nearest, GPTQ or AWQ (edgec.quantize.methods.gptq
# and .awq).
WEIGHT_METHODS = ("rtn", "gptq", "awq")
ACTIVATION_BITS = (8, 16)
# Ops with int16-activation kernels (int16 input and output, int8 weights, int64 bias).
INT16_ACTIVATION_OPS = ("conv2d", "depthwise_conv2d", "fully_connected")


class ConfigError(QuantizationError):
    """A quantization config that cannot be used (exit status 2)."""


@dataclass(frozen=True)
class LayerSettings:
    """The quantization settings of one layer."""

    observer: str = "minmax"
    observer_options: Mapping[str, Any] = field(default_factory=dict)
    weight_granularity: str = "per-channel"
    weight_bits: int = 8
    group_size: int = 32
    activation_bits: int = 8
    bias_correction: bool = False
    weight_method: str = "rtn"
    gptq_damp: float = 0.01


@dataclass
class QuantConfig:
    """Defaults, overrides and whole-graph methods; see the module docstring."""

    defaults: LayerSettings = field(default_factory=LayerSettings)
    op_types: dict[str, dict[str, Any]] = field(default_factory=dict)
    layers: dict[str, dict[str, Any]] = field(default_factory=dict)
    cross_layer_equalization: bool = False
    smoothquant_alpha: float | None = None
    weight_budget: int | None = None  # bytes of weight arrays; picks bits per layer
    source: str = "defaults"  # where the config came from, for messages

    def settings_for(self, node: Node) -> LayerSettings:
        """Return the settings of ``node``: defaults, then its op type's, then its own."""
        settings = self.defaults
        for table in (self.op_types.get(node.op, {}), self.layers.get(node.name, {})):
            settings = override(settings, table)
        _check_weight_settings(f"{self.source}: layer '{node.name}'", settings)
        _check_activation_bits(f"{self.source}: layer '{node.name}' ({node.op})", node.op,
                               settings)
        return settings

    def check_layers(self, graph: Graph) -> None:
        """Raise ConfigError if a [layers] table names a node that ``graph`` does not have."""
        names = [node.name for node in graph.nodes]
        missing = [name for name in self.layers if name not in names]
        if missing:
            close = difflib.get_close_matches(missing[0], names, n=3, cutoff=0.5)
            hint = f"closest: {', '.join(repr(n) for n in close)}; " if close else ""
            raise ConfigError(
                f"{self.source}: [layers] names {', '.join(repr(m) for m in missing)}, which "
                f"the model does not have after import; {hint}`edgec inspect MODEL --layers` "
                "lists the layer names"
            )

    def check_op_types(self, known_ops: set[str]) -> None:
        unknown = [op for op in self.op_types if op not in known_ops]
        if unknown:
            raise ConfigError(
                f"{self.source}: [op_types] names unknown op type(s) {unknown}; known: "
                f"{sorted(known_ops)}"
            )


def override(settings: LayerSettings, table: Mapping[str, Any]) -> LayerSettings:
    """Apply one table. A table that picks another observer without options resets them:
    the options of the observer it replaces do not carry over."""
    if not table:
        return settings
    table = dict(table)
    if "observer" in table and "observer_options" not in table:
        table["observer_options"] = {}
    return replace(settings, **table)


def _one_of(choices: tuple) -> Callable[[str, Any], Any]:
    def check(where: str, value: Any) -> Any:
        if value not in choices:
            raise ConfigError(f"{where} = {value!r} is not valid; expected one of {list(choices)}")
        return value
    return check


_KIND_NAMES = {bool: "true or false", int: "an integer", float: "a number", str: "a string",
               dict: "a table"}


def _of_type(kind: type) -> Callable[[str, Any], Any]:
    def check(where: str, value: Any) -> Any:
        if not isinstance(value, kind) or (kind is not bool and isinstance(value, bool)):
            raise ConfigError(f"{where} = {value!r} is not valid; expected {_KIND_NAMES[kind]}")
        return value
    return check


def _observer(where: str, value: Any) -> str:
    from edgec.quantize.observers import OBSERVERS

    return _one_of(tuple(sorted(OBSERVERS)))(where, _of_type(str)(where, value))


def _bits(choices: tuple, subject: str) -> Callable[[str, Any], int]:
    def check(where: str, value: Any) -> int:
        value = _of_type(int)(where, value)
        if value not in choices:
            raise ConfigError(
                f"{where} = {value} is not supported: {subject} can be "
                f"{' or '.join(map(str, choices))} bits"
            )
        return value
    return check


def _group_size(where: str, value: Any) -> int:
    value = _of_type(int)(where, value)
    if value < MIN_GROUP_SIZE:
        raise ConfigError(
            f"{where} = {value} is not valid; expected an integer >= {MIN_GROUP_SIZE}"
        )
    return value


def _damp(where: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 < value <= 1:
        raise ConfigError(f"{where} = {value!r} is not valid; expected a number in (0, 1]")
    return float(value)


def _check_weight_settings(where: str, settings: LayerSettings) -> None:
    """Raise ConfigError when per-group scales are asked for weights that are not int4."""
    if settings.weight_granularity == "per-group" and settings.weight_bits != 4:
        raise ConfigError(
            f"{where}: weight_granularity = \"per-group\" needs weight_bits = 4, got "
            f"{settings.weight_bits}; set weight_bits = 4 or use \"per-channel\""
        )
    if settings.activation_bits == 16 and settings.weight_bits != 8:
        raise ConfigError(
            f"{where}: activation_bits = 16 needs weight_bits = 8, got {settings.weight_bits}; "
            "int16 activations run with int8 weights only, so set weight_bits = 8 for this "
            "layer"
        )


def _check_activation_bits(where: str, op: str, settings: LayerSettings) -> None:
    """Raise ConfigError when a layer of an op without int16 kernels requests 16 bits."""
    if settings.activation_bits == 16 and op not in INT16_ACTIVATION_OPS:
        raise ConfigError(
            f"{where}: activation_bits = 16 is supported only for "
            f"{', '.join(INT16_ACTIVATION_OPS)}; set it in the [layers] or [op_types] tables "
            "of those ops and keep 8 for this one"
        )


_LAYER_KEYS: dict[str, Callable[[str, Any], Any]] = {
    "observer": _observer,
    "observer_options": _of_type(dict),
    "weight_granularity": _one_of(GRANULARITIES),
    "weight_bits": _bits(WEIGHT_BITS, "weights"),
    "group_size": _group_size,
    "activation_bits": _bits(ACTIVATION_BITS, "activations"),
    "bias_correction": _of_type(bool),
    "weight_method": _one_of(WEIGHT_METHODS),
    "gptq_damp": _damp,
}
assert set(_LAYER_KEYS) == {f.name for f in fields(LayerSettings)}


def _alpha(where: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= 1:
        raise ConfigError(f"{where} = {value!r} is not valid; expected a number in [0, 1]")
    return float(value)


def _positive_int(where: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise ConfigError(f"{where} = {value!r} is not valid; expected a positive integer")
    return value


_METHOD_KEYS: dict[str, Callable[[str, Any], Any]] = {
    "cross_layer_equalization": _of_type(bool),
    "smoothquant_alpha": _alpha,
    "weight_budget": _positive_int,
}


def _check_table(where: str, table: Any, keys: dict) -> dict[str, Any]:
    if not isinstance(table, dict):
        raise ConfigError(f"{where} must be a table, got {table!r}")
    unknown = [key for key in table if key not in keys]
    if unknown:
        raise ConfigError(
            f"unknown key {where}.{unknown[0]}; valid keys in {where}: {sorted(keys)}"
        )
    return {key: keys[key](f"{where}.{key}", value) for key, value in table.items()}


def parse_config(document: Mapping[str, Any], source: str = "config") -> QuantConfig:
    """Check a parsed TOML document and return its ``QuantConfig``."""
    sections = {"defaults", "methods", "op_types", "layers"}
    unknown = [key for key in document if key not in sections]
    if unknown:
        raise ConfigError(
            f"{source}: unknown section [{unknown[0]}]; valid sections: {sorted(sections)}"
        )
    defaults = _check_table(f"{source}: [defaults]", document.get("defaults", {}), _LAYER_KEYS)
    methods = _check_table(f"{source}: [methods]", document.get("methods", {}), _METHOD_KEYS)
    config = QuantConfig(defaults=LayerSettings(**defaults), source=source, **methods)
    for section, target in (("op_types", config.op_types), ("layers", config.layers)):
        tables = document.get(section, {})
        if not isinstance(tables, dict):
            raise ConfigError(f"{source}: [{section}] must be a table of tables")
        for name, table in tables.items():
            target[name] = _check_table(f"{source}: [{section}.{name}]", table, _LAYER_KEYS)
    _check_observer_options(config)
    return config


def _check_observer_options(config: QuantConfig) -> None:
    """Build each configured observer once, so that bad options fail at load time."""
    from edgec.quantize.observers import make_observer

    tables = [("[defaults]", {})] + [
        (f"[{section}.{name}]", table)
        for section, entries in (("op_types", config.op_types), ("layers", config.layers))
        for name, table in entries.items()
    ]
    for where, table in tables:
        settings = override(config.defaults, table)
        _check_weight_settings(f"{config.source}: {where}", settings)
        try:
            make_observer(settings.observer, dict(settings.observer_options))
        except EdgecError as error:
            raise ConfigError(f"{config.source}: {where}: {error}") from error


def load_config(path: str | Path) -> QuantConfig:
    """Read and check a quantization config TOML file."""
    path = Path(path)
    try:
        document = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as error:
        raise ConfigError(f"quantization config {path} not found") from error
    except (OSError, UnicodeDecodeError) as error:
        raise ConfigError(f"cannot read quantization config {path}: {error}") from error
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(f"quantization config {path} is not valid TOML: {error}") from error
    return parse_config(document, source=str(path))


def with_overrides(config: QuantConfig, **defaults: Any) -> QuantConfig:
    """Return ``config`` with CLI flags applied: ``defaults`` keys are LayerSettings fields
    (None means not given), plus ``cross_layer_equalization`` and ``smoothquant_alpha``."""
    flags = {key: value for key, value in defaults.items() if value is not None}
    checkers = {**_LAYER_KEYS, **_METHOD_KEYS}
    checked = {key: checkers[key](_FLAGS.get(key, key), value) for key, value in flags.items()}
    methods = {key: checked.pop(key) for key in list(checked) if key in _METHOD_KEYS}
    result = replace(config, defaults=override(config.defaults, checked), **methods)
    try:
        _check_weight_settings("the command line", result.defaults)
        _check_observer_options(result)
    except ConfigError as error:
        raise ConfigError(f"{error} (with the flags given: {_flags_text(flags)})") from error
    return result


# The CLI flag of each setting, for messages about values given on the command line.
_FLAGS = {
    "observer": "--observer", "observer_options": "--percentile",
    "weight_granularity": "--weight-granularity", "weight_bits": "--weight-bits",
    "group_size": "--group-size", "bias_correction": "--bias-correction",
    "weight_method": "--weight-method", "cross_layer_equalization": "--cle",
    "smoothquant_alpha": "--smoothquant", "weight_budget": "--weight-budget",
}


def _flags_text(flags: dict[str, Any]) -> str:
    parts = []
    for key, value in flags.items():
        flag = _FLAGS.get(key, key)
        if isinstance(value, bool):
            parts.append(flag)
        elif isinstance(value, dict):
            parts += [f"--{name} {option}" for name, option in value.items()]
        else:
            parts.append(f"{flag} {value}")
    return " ".join(parts)
