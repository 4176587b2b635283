"""Peak GPU memory of LoRA training at phi-2's shape, estimated on any machine (no GPU needed).

    python benchmarks/train_memory.py                      # bf16 and 4-bit, forward passes of 4 x 512 tokens
    python benchmarks/train_memory.py --rows 8 --width 1024

Loads phi-2-shaped models of one and of two decoder layers (random weights) exactly as training loads them
(`load_for_training`: bf16, or 4-bit NF4 prepared for k-bit training), applies the seed's LoRA, and runs one
training-mode forward pass of the labelled-position loss on a `rows x width` micro-batch. Autograd's saved tensors
(`torch.autograd.graph.saved_tensors_hooks`, parameters excluded, each storage counted once) are what a layer keeps
for the backward pass; the two-layer minus the one-layer model gives a layer's weights and activations, scaled to
phi-2's 32 layers. The estimated peak is reached as the backward pass starts: every weight, every layer's saved
activations, the loss's chunk of fp32 logits, and the LoRA parameters with their gradients and AdamW state.

It runs on the CPU in bf16, with the CPU's attention kernels: on a GPU the saved tensors are the same in kind
(SDPA keeps its output and log-sum-exp, not the attention matrix), and the CUDA context and allocator slack
(about 0.5-1 GiB) come on top. `benchmarks/gpu_train.py` measures the real peak where a GPU is available.
"""

from __future__ import annotations

import argparse
import gc
import shutil
import sys
import tempfile
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(PROJECT_ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

PHI2_LAYERS = 32
GiB = 2**30


def saved_activation_bytes(model, batch: dict) -> int:
    """Bytes of the distinct non-parameter tensors autograd saves in one forward pass of the labelled loss."""
    import torch

    from medimind_assets.training.loss import labelled_loss_sum

    parameters = {p.untyped_storage().data_ptr() for p in model.parameters()}
    storages: dict[int, int] = {}

    def pack(tensor):
        storage = tensor.untyped_storage()
        if storage.data_ptr() not in parameters and storage.nbytes():
            storages[storage.data_ptr()] = storage.nbytes()
        return tensor

    # bf16 autocast, as the Trainer runs each pass (bf16=True) on a GPU.
    with torch.autograd.graph.saved_tensors_hooks(pack, lambda tensor: tensor), torch.autocast("cpu", torch.bfloat16):
        loss = labelled_loss_sum(model, batch)
    del loss
    return sum(storages.values())


def measure(model_dir: Path, quantization: str, batch: dict) -> dict[str, int]:
    """Weights (parameters and quantization state) and saved activations of the model in `model_dir`."""
    from gpu_train import TARGETS
    from peft import get_peft_model

    from medimind_assets.llm.loading import load_for_training
    from medimind_assets.training.hyperparameters import TrainingHyperparameters
    from medimind_assets.training.lora import lora_config
    from medimind_assets.training.runtime import RuntimePlan

    plan = RuntimePlan("cpu", "bfloat16", quantization, "benchmark", "benchmark")
    # The seed's LoRA as the trainer applies it (trl wraps the model with this config).
    model = get_peft_model(load_for_training(model_dir, plan, "sdpa"), lora_config(TrainingHyperparameters(), TARGETS))
    model.train()
    weights = sum(t.untyped_storage().nbytes() for t in {id(t): t for t in model.state_dict().values()}.values())
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    result = {"weights": weights, "activations": saved_activation_bytes(model, batch), "trainable": trainable}
    del model
    gc.collect()
    return result


def make_batch(rows: int, width: int, vocab: int) -> dict:
    import torch

    from medimind_assets.training.loss import with_loss_positions

    generator = torch.Generator().manual_seed(0)
    input_ids = torch.randint(0, vocab, (rows, width), generator=generator)
    labels = input_ids.clone()
    labels[:, : width // 5] = -100  # the prompt, masked as training masks it
    return with_loss_positions({"input_ids": input_ids, "labels": labels, "attention_mask": torch.ones_like(input_ids)})


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=4, help="examples per forward pass (the seed's batch_size)")
    parser.add_argument("--width", type=int, default=512, help="tokens per example (the seed's max_length)")
    parser.add_argument("--quantization", default="none,4bit", help="comma-separated: none, 4bit")
    args = parser.parse_args(argv)

    import torch
    from gpu_train import model_config, save_random_model

    from medimind_assets.training.loss import CHUNK_ELEMENTS

    workdir = Path(tempfile.mkdtemp(prefix="medimind-memory-"))
    try:
        dirs = {}
        for layers in (1, 2):
            config = model_config(tiny=False)
            config.num_hidden_layers = layers
            dirs[layers] = workdir / f"layers-{layers}"
            save_random_model(config, dirs[layers], "cpu", torch.bfloat16)
        batch = make_batch(args.rows, args.width, config.vocab_size)
        tokens = args.rows * args.width
        print(f"phi-2 shape, {PHI2_LAYERS} layers; one forward pass of {args.rows} x {args.width} = {tokens:,} tokens")
        for quantization in args.quantization.split(","):
            one, two = (measure(dirs[layers], quantization, batch) for layers in (1, 2))
            per_layer = {key: two[key] - one[key] for key in one}
            total = {key: one[key] + (PHI2_LAYERS - 1) * per_layer[key] for key in one}
            loss_chunk = 2 * CHUNK_ELEMENTS * 4  # fp32 logits and log-probabilities of one chunk
            lora_state = total["trainable"] * 4 * 4  # fp32 parameter, gradient and two AdamW moments
            peak = total["weights"] + total["activations"] + loss_chunk + lora_state
            print(
                f"{'bf16' if quantization == 'none' else quantization:>5}: weights {total['weights'] / GiB:5.2f} GiB, "
                f"activations {total['activations'] / GiB:5.2f} GiB ({per_layer['activations'] / tokens / 1024:.1f} "
                f"KiB per token and layer), loss chunk {loss_chunk / GiB:.2f} GiB, LoRA state "
                f"{lora_state / GiB:.2f} GiB: estimated peak {peak / GiB:5.2f} GiB"
            )
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
