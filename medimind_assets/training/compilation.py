"""`torch_compile`: each decoder layer compiled in place with torch.compile ("regional" compilation).

Eager PyTorch runs a LoRA decoder layer as dozens of small kernels: the tanh GELU alone is seven element-wise
passes over the MLP's activations, and every LoRA branch adds a dropout, two thin matmuls, a scale and an add.
On a GPU those are memory-bound and launch-bound; compiled, they fuse around the large matmuls.

Why per layer, not the whole model: the layers share one code object, so the layer is compiled once and reused
for all of them (compile time is that of one layer); `Module.compile` compiles in place, so parameter names, and
with them checkpoints and the saved adapter, are unchanged; the loss (a hook on the decoder and the chunked head
projection, `training.loss`) stays eager. `dynamic=True`: forward passes vary in rows and width (length-grouped
examples split by a token budget), and one graph with symbolic shapes replaces a recompile per shape.

The numbers are the same up to float rounding, and dropout draws from the compiled graph's own random stream.
"""

from __future__ import annotations

from medimind_assets.errors import MediMindError
from medimind_assets.training.loss import decoder_of, unwrapped_model


class CompileError(MediMindError, RuntimeError):
    """The model cannot be compiled layer by layer, or torch.compile failed; the message says what to do."""


def compile_decoder_layers(model) -> int:
    """Compile each decoder layer of `model` (under its PEFT/DDP wrapping) in place; returns how many."""
    layers = getattr(decoder_of(unwrapped_model(model)), "layers", None)
    if not layers:
        raise CompileError(
            f"torch_compile: {type(unwrapped_model(model)).__name__} has no list of decoder layers to compile; "
            "train with torch_compile=False"
        )
    for layer in layers:
        layer.compile(dynamic=True)
    return len(layers)


def is_compile_failure(exc: BaseException) -> bool:
    """Whether `exc` came from torch.compile (Dynamo tracing or the Inductor backend)."""
    from torch._dynamo.exc import TorchDynamoException

    return isinstance(exc, TorchDynamoException)


def compile_failure_message(exc: BaseException) -> str:
    first_line = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
    return (
        f"torch.compile failed on this model and machine ({type(exc).__name__}: {first_line}); train with "
        "torch_compile=False (the same adapter, computed eagerly). Complete checkpoints are kept and the next run "
        "resumes from them."
    )
