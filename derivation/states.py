"""Model states: parameters, gradients and optimizer states, per rank, from the same switches.

Every parameter tensor is declared here like an activation: a name, a symbolic shape in paper
letters, the axis tensor parallelism splits (``None``: every tensor-parallel rank keeps a
replica), and where it comes from. One layer has its attention (a fused QKV projection or three,
and the output projection), its MLP (two linears, or three for a gated MLP), its two norms (weight
and bias for LayerNorm, weight for RMSNorm) and, with ``bias`` on, the linears' biases. The model
adds the word embedding (v·h, split over t by vocabulary), a learned s×h position table
(``position_embedding``: s rows, a config's n_positions, or none), the final norm and, with
``tie_embeddings`` off, an output projection of its own.

Per rank:

- parameters are split by tensor parallelism along each declaration's own axis (column-parallel
  weights and biases along their output, row-parallel weights along their input; norm weights and
  row-parallel biases stay whole), and by the pipeline schedule into the rank's layers (L/p, or
  2L/p for DualPipe); the embedding is the first rank's, the output layer's the rank that holds it.
  With tied embeddings and the output layer on another rank, that rank keeps a copy of the word
  embedding for the output projection (Megatron-LM's shared embedding on the last stage);
- gradients and optimizer states follow the parameters;
- ZeRO (Rajbhandari et al. 2020, Table 1) shards them over d data-parallel ranks: stage 1 the
  optimizer states, stage 2 also the gradients, stage 3 also the parameters (FSDP FULL_SHARD).
  With Ψ parameters, K bytes of optimizer state per parameter and 2-byte parameters and
  gradients, the model states are (4 + K)Ψ, 4Ψ + KΨ/d, 2Ψ + (2 + K)Ψ/d and (4 + K)Ψ/d. A sharded
  count that d does not divide is padded up to whole elements per rank, as DeepSpeed pads its
  partitions.

Bytes per parameter: the parameters in the activation dtype (``param_dtype = "dtype"``) or fp32;
gradients in the parameters' dtype or fp32 (``grad_dtype``; Megatron-LM accumulates in fp32, 18
bytes per parameter with Adam, and its distributed optimizer is ZeRO-1 with fp32 gradients:
6 + 12/d); ``optimizer = "adam"`` keeps an fp32 master copy (unless the parameters are fp32), m and
v in fp32 (K = 12, or 8), ``torch_adamw`` keeps m and v in the parameters' dtype and a float32 step
per parameter tensor, as ``torch.optim.AdamW`` allocates them.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, Callable, Mapping

import sympy

from .errors import DerivationError
from .layer import ACTIVATION, substitutions
from .model import holds_embedding, holds_output
from .schedules import parameter_layers
from .switches import dispatch
from .symbols import SYMBOLS, F, L, a, d, f, g, v as vocabulary
from .tensors import read_shape, shape_text
from .transforms import divide_axis
from .values import read_values

if TYPE_CHECKING:
    from .variant import Variant

ZERO_PAPER = "Rajbhandari et al. 2020 (ZeRO), Table 1"


@dataclass(frozen=True)
class Parameter:
    """One parameter tensor: its shape in paper letters and the axis tensor parallelism splits."""

    name: str
    shape: tuple[sympy.Expr, ...]
    split: sympy.Symbol | None
    source: str
    copies: sympy.Expr = field(default=sympy.Integer(1))  # layers (or copies) of it on the rank

    @classmethod
    def of(cls, name: str, dims: str, split: sympy.Symbol | None, source: str) -> Parameter:
        return cls(name, read_shape(dims), split, source)

    @property
    def block(self) -> str:
        return self.name.split("/", 1)[0]

    @property
    def elements(self) -> sympy.Expr:
        """Elements on the rank: the product of the axes, times the copies."""
        return sympy.Mul(*self.shape) * self.copies

    @property
    def shape_text(self) -> str:
        return shape_text(self.shape)

    def with_shape(self, dims: tuple[sympy.Expr, ...]) -> Parameter:
        return replace(self, shape=tuple(dims))


# Which linears have a bias: every one, none, or only the Q, K and V projections.
HAS_BIAS = dispatch("bias", {
    "layers": lambda name: not name.startswith("output/"),
    "layers_and_output": lambda name: True,
    "none": lambda name: False,
    "qkv": lambda name: name in ("attention/qkv", "attention/q", "attention/k", "attention/v"),
})


def _linear(name: str, inputs: str, outputs: str, split: sympy.Symbol, column: bool, v: Variant,
            source: str) -> list[Parameter]:
    """A linear's weight (inputs × outputs) and, if it has one, its bias: split along its output
    when column-parallel (the bias too), along its input when row-parallel (the bias stays
    whole)."""
    out = [Parameter.of(f"{name}_weight", f"{inputs} {outputs}", split, source)]
    if HAS_BIAS[v.bias](name):
        out.append(Parameter.of(f"{name}_bias", outputs, split if column else None, f"{source}; its bias"))
    return out


MEGATRON = "Megatron-LM ParallelAttention / ParallelMLP"
QKV_PARAMETERS: Mapping[str, Callable[[Variant], list[Parameter]]] = dispatch("qkv", {
    "fused": lambda v: _linear("attention/qkv", "h", "(a+2g)h/a", a, True, v, f"{MEGATRON}: one QKV projection"),
    "separate": lambda v: (_linear("attention/q", "h", "a h/a", a, True, v, "separate Q projection")
                           + _linear("attention/k", "h", "g h/a", g, True, v, "separate K projection")
                           + _linear("attention/v", "h", "g h/a", g, True, v, "separate V projection")),
})


def _two_linears(v: Variant) -> list[Parameter]:
    return (_linear("mlp/fc1", "h", "f", f, True, v, f"{MEGATRON}: h → f")
            + _linear("mlp/fc2", "f", "h", f, False, v, f"{MEGATRON}: f → h"))


def _gated(v: Variant) -> list[Parameter]:
    return (_linear("mlp/gate", "h", "f", f, True, v, "gate projection")
            + _linear("mlp/up", "h", "f", f, True, v, "up projection")
            + _linear("mlp/down", "f", "h", f, False, v, "down projection"))


def _gated_fused(v: Variant) -> list[Parameter]:
    return (_linear("mlp/gate_up", "h", "2f", f, True, v, "Megatron-LM fused gate and up projection")
            + _linear("mlp/down", "f", "h", f, False, v, "down projection"))


def _experts(v: Variant) -> list[Parameter]:
    """A router (h → E) and E SwiGLU experts of width f (transformers' fused gate_up and down
    projections, no biases), and a shared expert of width F with its 1-wide gate, if any."""
    source = "transformers MoE block (MixtralSparseMoeBlock, Qwen2MoeSparseMoeBlock)"
    out = [Parameter.of("mlp/router_weight", "h E", None, f"{source}: the router"),
           Parameter.of("mlp/experts_gate_up_weight", "E h 2f", f, f"{source}: every expert's gate and up projections"),
           Parameter.of("mlp/experts_down_weight", "E f h", f, f"{source}: every expert's down projection")]
    return out + SHARED_EXPERT_PARAMETERS[v.shared_expert](v)


SHARED_EXPERT_PARAMETERS = dispatch("shared_expert", {
    "none": lambda v: [],
    "gated_swiglu": lambda v: [Parameter.of("mlp/shared_gate_up_weight", "h 2F", F, "the shared expert's gate and up projections"),
                               Parameter.of("mlp/shared_down_weight", "F h", F, "the shared expert's down projection"),
                               Parameter.of("mlp/shared_expert_gate_weight", "h", None, "the shared expert's 1-wide gate")],
})

MLP_PARAMETERS = dispatch("mlp", {"gelu": _two_linears, "gelu_new": _two_linears, "relu": _two_linears,
                                  "swiglu": _gated, "swiglu_fused": _gated_fused, "geglu": _gated,
                                  "moe_swiglu": _experts})

# A norm's parameters: LayerNorm has a weight and a bias, RMSNorm a weight.
NORM_PARAMETERS = dispatch("norm", {"layernorm": ("weight", "bias"), "rmsnorm": ("weight",)})


def _norm(name: str, v: Variant) -> list[Parameter]:
    return [Parameter.of(f"{name}_{kind}", "h", None, f"{v.norm}: one h-vector each, on every rank")
            for kind in NORM_PARAMETERS[v.norm]]


# The norms of one layer: two, or one shared by attention and the MLP (a parallel block).
SECOND_NORM = dispatch("block", {"sequential": True, "parallel": False, "parallel_residual": True})


# Per-head Q and K norms have one head-size weight each, on every rank.
QK_NORM_PARAMETERS = dispatch("qk_norm", {
    "none": lambda v: [],
    "per_head": lambda v: [Parameter.of(f"attention/{x}_norm_weight", "h/a", None, "a per-head RMSNorm weight")
                           for x in "qk"],
})


def layer_parameters(v: Variant) -> list[Parameter]:
    """One transformer layer's parameter tensors, in forward order (before f and g resolve)."""
    second = _norm("norm/ln2", v) if SECOND_NORM[v.block] else []
    return (_norm("norm/ln1", v) + QKV_PARAMETERS[v.qkv](v) + QK_NORM_PARAMETERS[v.qk_norm](v)
            + _linear("attention/proj", "a h/a", "h", a, False, v, f"{MEGATRON}: the output projection")
            + second + MLP_PARAMETERS[v.mlp](v))


def embedding_parameters(v: Variant) -> list[Parameter]:
    """The word embedding (split by vocabulary over t) and a learned position table, if any, of
    ``position_embedding`` rows (s, the training length, or a config's n_positions)."""
    out = [Parameter.of("embedding/word", "v h", vocabulary, "the word embedding, split by vocabulary over t")]
    if v.position_embedding is not None:
        out.append(Parameter("embedding/position", (v.position_embedding, SYMBOLS["h"].symbol), None,
                             "a learned position table, on every rank"))
    return out


def output_parameters(v: Variant, with_embedding: bool) -> list[Parameter]:
    """The final norm and, unless tied to an embedding on the same rank, the output projection
    (and its bias, with ``bias = "layers_and_output"``)."""
    out = _norm("output/final_norm", v)
    if not v.tie_embeddings:
        out.append(Parameter.of("output/projection", "v h", vocabulary, "an untied output projection"))
    elif not with_embedding:
        out.append(Parameter.of("output/projection", "v h", vocabulary,
                                "tied: a copy of the word embedding on the output rank (Megatron-LM's "
                                "shared embedding), its gradient all-reduced with the first rank's"))
    if HAS_BIAS[v.bias]("output/projection"):
        out.append(Parameter.of("output/projection_bias", "v", vocabulary, "the output projection's bias"))
    return out


def _resolved(parameters: list[Parameter], v: Variant) -> list[Parameter]:
    mapping = substitutions(v)
    return [replace(p, shape=tuple(dim.xreplace(mapping) for dim in p.shape),
                    copies=sympy.sympify(p.copies).xreplace(mapping)) for p in parameters]


def model_parameters(v: Variant) -> list[Parameter]:
    """Every parameter tensor of the whole model, unsplit: L layers, the embedding, the output."""
    layers = [replace(p, copies=L) for p in layer_parameters(v)]
    return _resolved(layers + embedding_parameters(v) + output_parameters(v, with_embedding=True), v)


def parameter_count(v: Variant) -> sympy.Expr:
    """The model's parameters, symbolically (``num_parameters()`` of the whole model)."""
    return sympy.expand(sympy.Add(*[p.elements for p in model_parameters(v)]))


def rank_parameters(v: Variant) -> list[Parameter]:
    """The parameter tensors of one rank: its layers' (split by t), its embedding and output."""
    out = [replace(p, copies=parameter_layers(v)) for p in layer_parameters(v)]
    embedding = holds_embedding(v)
    if embedding:
        out += embedding_parameters(v)
    if holds_output(v):
        out += output_parameters(v, with_embedding=embedding)
    t = v.tensor_parallel
    if t != 1:
        out = [divide_axis(p, p.split, t) if p.split is not None else p for p in out]
    return _resolved(out, v)


# --- bytes per parameter -------------------------------------------------------------------------

PARAMETER_BYTES = dispatch("param_dtype", {
    "dtype": lambda v: ACTIVATION[v.dtype].bytes,
    "fp32": lambda v: sympy.Integer(4),
})

GRADIENT_BYTES = dispatch("grad_dtype", {
    "param": lambda parameter_bytes: parameter_bytes,
    "fp32": lambda parameter_bytes: sympy.Integer(4),
})


@dataclass(frozen=True)
class Optimizer:
    """Bytes of state per parameter, and per parameter tensor."""

    title: str
    per_parameter: Callable[[sympy.Expr], sympy.Expr]  # from the parameters' bytes
    per_tensor: int  # bytes per parameter tensor (torch's step counter)
    source: str


def _adam_state(parameter_bytes: sympy.Expr) -> sympy.Expr:
    master = 0 if parameter_bytes == 4 else 4
    return sympy.Integer(master + 4 + 4)


OPTIMIZER = dispatch("optimizer", {
    "adam": Optimizer("Adam, fp32 master copy, m and v", _adam_state, 0,
                      f"{ZERO_PAPER}: K = 12 for mixed-precision Adam; Megatron-LM's optimizer"),
    "torch_adamw": Optimizer("torch.optim.AdamW", lambda parameter_bytes: 2 * parameter_bytes, 4,
                             "torch.optim.AdamW: exp_avg and exp_avg_sq like the parameter, a float32 step"),
})


@dataclass(frozen=True)
class Sharding:
    """Which states ZeRO divides by d."""

    parameters: bool
    gradients: bool
    optimizer: bool


ZERO = dispatch("zero", {
    "0": Sharding(False, False, False),
    "1": Sharding(False, False, True),
    "2": Sharding(False, True, True),
    "3": Sharding(True, True, True),
})


@dataclass(frozen=True)
class ModelStates:
    """The model states of one rank, symbolically: elements and bytes per term."""

    variant: Variant
    parameters: sympy.Expr  # parameter elements on the rank, before ZeRO
    tensors: sympy.Expr | None  # parameter tensors on the rank (None when the count was given)
    parameter_bytes: sympy.Expr  # bytes per element
    gradient_bytes: sympy.Expr
    optimizer_bytes: sympy.Expr
    sharding: Sharding
    training: bool = True  # inference keeps the parameters only

    def terms(self) -> dict[str, sympy.Expr]:
        """Bytes per term, symbolically (ZeRO's sharded terms divided by d)."""
        out = {"parameters": self._sharded(self.parameter_bytes, self.sharding.parameters)}
        if self.training:
            out["gradients"] = self._sharded(self.gradient_bytes, self.sharding.gradients)
            out["optimizer"] = self._sharded(self.optimizer_bytes, self.sharding.optimizer)
            steps = OPTIMIZER[self.variant.optimizer].per_tensor
            if steps and self.tensors is not None:
                out["optimizer_steps"] = steps * self.tensors
        return out

    def _sharded(self, per_element: sympy.Expr, sharded: bool) -> sympy.Expr:
        return self.parameters * per_element / d if sharded else self.parameters * per_element

    @property
    def total(self) -> sympy.Expr:
        return sympy.expand(sympy.Add(*self.terms().values()))

    def evaluate(self, **values: Any) -> dict[str, int]:
        """Exact bytes per term; a sharded term is ⌈elements/d⌉ × bytes (partitions padded)."""
        numbers = {symbol: sympy.sympify(n) for symbol, n in read_values(values).items()}
        elements = sympy.sympify(self.parameters).xreplace(numbers)
        if not elements.is_Integer:
            raise DerivationError(_missing(elements, "the rank's parameters"))
        out = {}
        for name, sharded, per_element in self._parts():
            per = sympy.sympify(per_element).xreplace(numbers)
            count = elements
            if sharded:
                ranks = sympy.sympify(d.xreplace(numbers))
                if not ranks.is_Integer:
                    raise DerivationError("ZeRO shards over d data-parallel ranks: give d, e.g. --set d=64")
                count = -(-elements // ranks)
            amount = count * per
            if not amount.is_Integer:
                raise DerivationError(_missing(amount, name))
            out[name] = int(amount)
        if self.training and "optimizer_steps" in self.terms():
            steps = sympy.sympify(self.terms()["optimizer_steps"]).xreplace(numbers)
            if not steps.is_Integer:
                raise DerivationError(_missing(steps, "the optimizer's step counters"))
            out["optimizer_steps"] = int(steps)
        return out

    def _parts(self):
        yield "parameters", self.sharding.parameters, self.parameter_bytes
        if self.training:
            yield "gradients", self.sharding.gradients, self.gradient_bytes
            yield "optimizer", self.sharding.optimizer, self.optimizer_bytes


def _missing(value: sympy.Expr, what: str) -> str:
    names = ", ".join(sorted(map(str, value.free_symbols)))
    if names:
        return f"{what} need {names}: give them with --set (or --model)"
    return f"{what} come to {value}, not a whole number: choose sizes that split evenly"


def model_states(v: Variant, params: int | None = None) -> ModelStates:
    """The model states of the rank ``v`` describes; ``params`` (Ψ, the whole model's count)
    replaces the derived count, spread evenly over the tensor- and pipeline-parallel ranks."""
    parameter_bytes = PARAMETER_BYTES[v.param_dtype](v)
    if params is not None:
        if isinstance(params, bool) or not isinstance(params, int) or params <= 0:
            raise DerivationError(f"params must be a positive whole number of parameters, got {params!r}")
        count = sympy.Integer(params) * parameter_layers(v) / L / v.tensor_parallel
        tensors = None
    else:
        on_rank = rank_parameters(v)
        count = sympy.expand(sympy.Add(*[p.elements for p in on_rank]))
        tensors = sympy.expand(sympy.Add(*[sympy.sympify(p.copies) for p in on_rank]))
    return ModelStates(
        variant=v, parameters=count, tensors=tensors, parameter_bytes=parameter_bytes,
        gradient_bytes=GRADIENT_BYTES[v.grad_dtype](parameter_bytes),
        optimizer_bytes=OPTIMIZER[v.optimizer].per_parameter(parameter_bytes),
        sharding=ZERO[v.zero], training=v.scope != "inference")


# --- Hugging Face configs ------------------------------------------------------------------------

@dataclass(frozen=True)
class HFParameters:
    """What a Hugging Face architecture has around its decoder layers' activations: its biases
    (fixed by its code, or read from config fields), its position table, and whether it ties its
    output projection by default (the config class's ``tie_word_embeddings`` default)."""

    bias: str | Callable[[Mapping[str, Any]], str]
    positions: str | None  # the config field that sizes a learned position table, or None
    tied: bool = False


def _llama_bias(document: Mapping[str, Any]) -> str:
    attention, mlp = bool(document.get("attention_bias", False)), bool(document.get("mlp_bias", False))
    if attention != mlp:
        raise DerivationError(f"config fields attention_bias = {attention} and mlp_bias = {mlp}: biases on "
                              "the attention only or the MLP only are not a bias choice the parameter "
                              "count has (layers, layers_and_output, none, qkv)")
    return "layers" if attention else "none"


HF_PARAMETERS: dict[str, HFParameters] = {
    "llama": HFParameters(_llama_bias, None),  # LlamaAttention/LlamaMLP: bias=config.attention_bias/mlp_bias
    "mistral": HFParameters("none", None),
    "qwen2": HFParameters("qkv", None),  # Qwen2Attention: q, k and v projections with bias=True
    "gpt2": HFParameters("layers", "n_positions", tied=True),  # Conv1D layers with biases, wpe
    "gpt_neox": HFParameters("layers", None),  # biased linears, rotary, an untied embed_out
    "phi": HFParameters("layers_and_output", None),  # PhiForCausalLM's lm_head has a bias
    "gemma": HFParameters(_llama_bias, None, tied=True),
    "qwen3": HFParameters(_llama_bias, None),  # Qwen3Attention: attention_bias, and q/k norm weights
    "mixtral": HFParameters("none", None),
    "qwen2_moe": HFParameters("qkv", None),  # Qwen2MoeAttention: q, k and v projections with bias=True  # GemmaConfig ties the embeddings by default
}
"""By ``model_type``: the whole-model switches a config's architecture fixes."""


def hf_parameter_switches(document: Mapping[str, Any]) -> dict[str, Any]:
    """The whole-model switches of a Hugging Face config: biases, position parameters, and
    ``tie_word_embeddings`` (False unless the config says so, as these architectures default)."""
    model_type = document.get("model_type")
    if model_type not in HF_PARAMETERS:
        raise DerivationError(f"config field model_type = {model_type!r}: its parameters are not described "
                              f"yet; known: {', '.join(HF_PARAMETERS)}")
    entry = HF_PARAMETERS[model_type]
    tied = document.get("tie_word_embeddings", entry.tied)
    if not isinstance(tied, bool):
        raise DerivationError(f"config field tie_word_embeddings = {tied!r}: expected true or false")
    positions = "none"
    if entry.positions is not None:
        positions = document.get(entry.positions, 1024)
        if isinstance(positions, bool) or not isinstance(positions, int) or positions < 1:
            raise DerivationError(f"config field {entry.positions} = {positions!r}: expected a positive whole number")
    bias = entry.bias(document) if callable(entry.bias) else entry.bias
    return {"bias": bias, "position_embedding": positions, "tie_embeddings": tied}
