"""The loss on labelled positions only equals the model's own loss, per example, and has its gradient."""

from dataclasses import asdict

import pytest
import torch

from medimind_assets.llm.encoding import IGNORE_INDEX
from medimind_assets.llm.template import PromptTemplate
from medimind_assets.training import loss as loss_module
from medimind_assets.training.data import encode_rows
from medimind_assets.training.hyperparameters import TrainingHyperparameters
from medimind_assets.training.lora import lora_config
from medimind_assets.training.loss import (
    LabelledLossMismatch,
    check_labelled_loss,
    labelled_loss_sum,
    linear_cross_entropy_sum,
    loss_positions,
    with_loss_positions,
)
from medimind_assets.training.packing import collate, summed_loss

from .conftest import make_rows


@pytest.fixture(scope="module")
def lora_model(tiny_phi):
    from transformers import AutoModelForCausalLM

    torch.manual_seed(0)
    base = AutoModelForCausalLM.from_pretrained(tiny_phi["path"], attn_implementation="sdpa")
    base.config.use_cache = False
    from peft import get_peft_model

    config = lora_config(TrainingHyperparameters(lora_dropout=0.0), ["q_proj", "k_proj", "v_proj", "dense"])
    model = get_peft_model(base, config)
    for parameter in model.parameters():
        if parameter.requires_grad:  # LoRA B starts at zero: give the adapter an effect
            parameter.data.normal_(0, 0.05)
    return model.eval()


@pytest.fixture(scope="module", params=["response", "all"])
def examples(request, tiny_tokenizer):
    rows = make_rows(n_train=6, n_validation=0, n_test=0, seed=11)
    encoded = encode_rows(tiny_tokenizer, rows, PromptTemplate(), max_length=256, loss_on=request.param)
    return [asdict(e) for e in encoded]


def PaddingCollator(pad: int):  # noqa: N802 - trl's padded batches, as SFTTrainer makes them
    return lambda features: collate(features, pad, padding_free=False)


def packing_collator():
    return lambda features: collate(features, 0, padding_free=True)


def _labelled(model, batch) -> float:
    with torch.no_grad():
        return float(labelled_loss_sum(model, with_loss_positions(batch)))


def test_scored_positions_are_those_whose_next_label_counts():
    labels = torch.tensor([[IGNORE_INDEX, IGNORE_INDEX, 7, 8], [IGNORE_INDEX, 5, IGNORE_INDEX, IGNORE_INDEX]])
    index, targets = loss_positions(labels)
    assert index.tolist() == [1, 2, 4] and targets.tolist() == [7, 8, 5]  # row 1 starts at flat index 4


def test_labelled_loss_equals_the_full_logits_loss_of_each_example(lora_model, examples, tiny_tokenizer):
    pad = tiny_tokenizer.pad_token_id
    for example in examples:
        batch = PaddingCollator(pad)([example])
        assert _labelled(lora_model, batch) == pytest.approx(summed_loss(lora_model, batch)[0], rel=1e-5)
    padded = PaddingCollator(pad)(examples)
    assert len({len(e["input_ids"]) for e in examples}) > 2, "examples of different lengths: the batch really is padded"
    assert _labelled(lora_model, padded) == pytest.approx(summed_loss(lora_model, padded)[0], rel=1e-5)
    packed = packing_collator()(examples)
    assert _labelled(lora_model, packed) == pytest.approx(summed_loss(lora_model, packed)[0], rel=1e-5)


def test_labelled_loss_has_the_gradient_of_the_models_own_loss(lora_model, examples, tiny_tokenizer):
    batch = PaddingCollator(tiny_tokenizer.pad_token_id)(examples)
    trained = [p for p in lora_model.parameters() if p.requires_grad]

    def gradients(loss: torch.Tensor) -> list[torch.Tensor]:
        return list(torch.autograd.grad(loss, trained))

    n_items = int((batch["labels"][:, 1:] != IGNORE_INDEX).sum())
    theirs = gradients(lora_model(**batch, num_items_in_batch=n_items).loss)
    ours = gradients(labelled_loss_sum(lora_model, with_loss_positions(batch)) / n_items)
    for a, b in zip(ours, theirs, strict=True):
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-7)


def test_chunks_give_the_same_loss_and_gradient_as_one_pass(monkeypatch):
    torch.manual_seed(1)
    hidden = torch.randn(23, 16, requires_grad=True)
    weight, bias = torch.randn(40, 16), torch.randn(40)
    targets = torch.randint(0, 40, (23,))
    exact = hidden.detach().double().requires_grad_()  # the reference, in float64
    reference = torch.nn.functional.cross_entropy(exact @ weight.double().T + bias.double(), targets, reduction="sum")
    (expected,) = torch.autograd.grad(2.5 * reference, exact)
    for chunk_elements in (40 * 5, 40 * 23, 1):  # 5 rows per chunk (the last one short), all in one, one per row
        monkeypatch.setattr(loss_module, "CHUNK_ELEMENTS", chunk_elements)
        total = linear_cross_entropy_sum(hidden, weight, bias, targets)
        (gradient,) = torch.autograd.grad(2.5 * total, hidden)
        # float32 against a float64 reference: within what float32's rounding allows on any CPU's kernels (AVX2,
        # AVX-512 or none, any thread count sum in another order), far below what a wrong chunk would be off by.
        torch.testing.assert_close(total.double(), reference, rtol=1e-5, atol=0)
        torch.testing.assert_close(gradient.double(), expected, rtol=1e-4, atol=1e-5)


def test_a_trainable_head_is_refused():
    weight = torch.randn(8, 4, requires_grad=True)
    with pytest.raises(ValueError, match="frozen output head"):
        linear_cross_entropy_sum(torch.randn(3, 4), weight, None, torch.tensor([0, 1, 2]))


def test_the_check_passes_for_phi_and_catches_logits_that_are_not_the_head_of_the_decoder(
    lora_model, examples, tiny_tokenizer
):
    pad = tiny_tokenizer.pad_token_id
    labelled, full = check_labelled_loss(lora_model, examples[:3], pad)
    assert labelled == pytest.approx(full, rel=1e-5)
    # A model that rescales its logits after the head (as soft-capping models do): our loss would not be its loss.
    head = lora_model.get_base_model().get_output_embeddings()
    handle = head.register_forward_hook(lambda module, args, output: output * 0.5)
    try:
        with pytest.raises(LabelledLossMismatch, match="differs from the model's full-logits loss"):
            check_labelled_loss(lora_model, examples[:3], pad)
    finally:
        handle.remove()
