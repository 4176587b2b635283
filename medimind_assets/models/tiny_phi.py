"""Build `tiny-phi`: a few-hundred-thousand-parameter model with the Phi architecture.

Random weights and a byte-level BPE tokenizer trained on the texts given (normally our dataset). It exercises
every Phi code path (q_proj, k_proj, v_proj, dense, fc1, fc2; partial rotary; LayerNorm) in seconds on a CPU,
which is what the tests need. Deterministic: the same texts and seed give the same bytes.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

EOS_TOKEN = "<|endoftext|>"
TINY_PHI_CONFIG = {
    "hidden_size": 64,
    "intermediate_size": 256,
    "num_hidden_layers": 2,
    "num_attention_heads": 4,
    "max_position_embeddings": 1024,
    "partial_rotary_factor": 0.5,
}


def train_tokenizer(texts: Iterable[str], vocab_size: int = 2048):
    """Train a byte-level BPE tokenizer (the kind phi-2 uses) and wrap it for transformers."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tokenizer = Tokenizer(models.BPE())
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=[EOS_TOKEN],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tokenizer.train_from_iterator(texts, trainer=trainer)
    return PreTrainedTokenizerFast(
        tokenizer_object=tokenizer,
        bos_token=EOS_TOKEN,
        eos_token=EOS_TOKEN,
        unk_token=EOS_TOKEN,
        pad_token=EOS_TOKEN,
        model_max_length=TINY_PHI_CONFIG["max_position_embeddings"],
    )


def build_tiny_phi(out_dir: str | Path, texts: Iterable[str], seed: int = 0, vocab_size: int = 2048) -> None:
    """Write a tiny random-weight Phi model and its tokenizer to `out_dir` (safetensors)."""
    import torch
    from transformers import PhiConfig, PhiForCausalLM

    tokenizer = train_tokenizer(texts, vocab_size=vocab_size)
    eos_id = tokenizer.convert_tokens_to_ids(EOS_TOKEN)
    config = PhiConfig(
        vocab_size=len(tokenizer), bos_token_id=eos_id, eos_token_id=eos_id, pad_token_id=eos_id, **TINY_PHI_CONFIG
    )
    torch.manual_seed(seed)
    model = PhiForCausalLM(config)
    model.generation_config.pad_token_id = eos_id
    model.save_pretrained(out_dir, safe_serialization=True)
    tokenizer.save_pretrained(out_dir)
