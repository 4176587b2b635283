"""Library notices a user cannot act on, silenced where they arise and nowhere else.

Each helper mutes one message (a logger's level, or a warnings filter matching one message) around the one call
that triggers it and restores the previous state afterwards; every other warning stays visible. No torch,
transformers or bitsandbytes at import time.
"""

from __future__ import annotations

import logging
import sys
import warnings
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from types import ModuleType

# bitsandbytes' CPU backend logs at import, on CPUs with AVX512-BF16, that it could not fetch an optional 4-bit
# kernel from the Hugging Face hub (the `kernels` package), then uses its own: nothing to do for the user.
BITSANDBYTES_CPU_LOGGER = "bitsandbytes.backends.cpu.ops"
BITSANDBYTES_MATMUL_LOGGER = "bitsandbytes.autograd._functions"
# peft (0.21) uses transformers' (5.x) deprecated checkpointing names when it wraps a model
# (`is_gradient_checkpointing`) and when it prepares a quantized one (`gradient_checkpointing_enable`).
PEFT_CHECKPOINTING_ALIAS = r"`(is_gradient_checkpointing|gradient_checkpointing_enable)` is deprecated"
# trl (1.16) configures checkpointing by transformers' old names (`gradient_checkpointing`, with a default of its own).
TRL_CHECKPOINTING_ALIAS = r"`gradient_checkpointing(_kwargs)?` is deprecated"


@contextmanager
def ignoring_warning(message: str, category: type[Warning]) -> Iterator[None]:
    """Warnings of `category` whose text starts with the regex `message` are not shown inside the block."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=message, category=category)
        yield


class _Once(logging.Filter):
    """Lets a message through the first time only."""

    def __init__(self) -> None:
        super().__init__()
        self.seen: set[str] = set()

    def filter(self, record: logging.LogRecord) -> bool:
        first = record.msg not in self.seen
        self.seen.add(record.msg)
        return first


def import_bitsandbytes() -> ModuleType:
    """`import bitsandbytes` (ImportError as the import) without its CPU backend's notice about `kernels`; its 8-bit
    matmul's notice that float32 inputs are cast to float16, logged on every forward pass on a CPU, shown once."""
    logger = logging.getLogger(BITSANDBYTES_CPU_LOGGER)
    previous = logger.level
    logger.setLevel(logging.ERROR)
    try:
        import bitsandbytes
    finally:
        logger.setLevel(previous)
    matmul = logging.getLogger(BITSANDBYTES_MATMUL_LOGGER)
    if not any(isinstance(f, _Once) for f in matmul.filters):
        matmul.addFilter(_Once())
    return bitsandbytes


def before_peft() -> None:
    """Import bitsandbytes quietly, when installed, before peft or transformers' Trainer import it themselves
    (their import would print the notice `import_bitsandbytes` mutes). Idempotent and cheap once done."""
    if "bitsandbytes" in sys.modules:
        return
    # peft and the Trainer work without it; quantization reports its absence where it is asked for.
    with suppress(ImportError):
        import_bitsandbytes()


@contextmanager
def peft_wrapping() -> Iterator[None]:
    """Around peft's `get_peft_model`, `PeftModel.from_pretrained` and `prepare_model_for_kbit_training`:
    bitsandbytes imported quietly first, and the FutureWarnings about transformers' renamed checkpointing names,
    which peft uses, not shown."""
    before_peft()
    with ignoring_warning(PEFT_CHECKPOINTING_ALIAS, FutureWarning):
        yield


@contextmanager
def no_progress_bars() -> Iterator[None]:
    """transformers', huggingface_hub's and datasets' progress bars off inside the block: loading a local model takes a
    second and its "Loading weights" bar is noise in a run's log. Restored afterwards."""
    from datasets.utils import logging as datasets_logging
    from transformers.utils import logging as hf_logging

    was_enabled = [module.is_progress_bar_enabled() for module in (hf_logging, datasets_logging)]
    for module in (hf_logging, datasets_logging):
        module.disable_progress_bar()
    try:
        yield
    finally:
        for module, enabled in zip((hf_logging, datasets_logging), was_enabled, strict=True):
            if enabled:
                module.enable_progress_bar()


@contextmanager
def gguf_progress_bar_only_on_a_terminal() -> Iterator[None]:
    """transformers' GGUF dequantisation shows its own tqdm bar (the slow part of a conversion): useful on a
    terminal, and one line of carriage returns thousands of characters long in a run's log. Off when stderr is
    not a terminal."""
    if sys.stderr.isatty():
        yield
        return
    from functools import partial
    from unittest import mock

    import transformers.modeling_gguf_pytorch_utils as gguf_utils

    with mock.patch.object(gguf_utils, "tqdm", partial(gguf_utils.tqdm, disable=True)):
        yield
