import random
from pathlib import Path

import pytest

from medimind_assets.evaluation.likelihood import heldout_loss
from medimind_assets.llm.encoding import IGNORE_INDEX, EncodedExample
from medimind_assets.llm.template import PromptTemplate
from medimind_assets.training.batching import (
    PackingLeakError,
    PaddingCollator,
    check_packing_isolation,
    mean_loss,
    packing_collator,
    summed_loss,
)
from medimind_assets.training.examples import encode_rows
from medimind_assets.training.hyperparameters import TrainingHyperparameters
from medimind_assets.training.reporting import SilentReporter
from medimind_assets.training.runtime import Hardware, plan_runtime
from medimind_assets.training.trainer import build_trainer

from .conftest import make_rows


@pytest.fixture(scope="module")
def model(tiny_phi):
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(tiny_phi["path"], attn_implementation="sdpa")
    model.config.use_cache = False
    return model.eval()


@pytest.fixture(scope="module")
def examples(tiny_tokenizer) -> list[EncodedExample]:
    rows = make_rows(n_train=6, n_validation=0, n_test=0, seed=3)
    return encode_rows(tiny_tokenizer, rows, PromptTemplate(), max_length=256).examples


def _alone(model, examples, pad_id) -> float:
    return sum(summed_loss(model, PaddingCollator(pad_id)([e.as_features()]))[0] for e in examples)


def test_padding_collator_masks_padding_out_of_attention_and_loss(examples, tiny_tokenizer):
    batch = PaddingCollator(tiny_tokenizer.pad_token_id)([e.as_features() for e in examples[:3]])
    width = max(len(e) for e in examples[:3])
    assert batch["input_ids"].shape == (3, width)
    for row, example in enumerate(examples[:3]):
        n = len(example)
        assert batch["attention_mask"][row].tolist() == [1] * n + [0] * (width - n)
        assert batch["labels"][row, n:].eq(IGNORE_INDEX).all()
        assert batch["labels"][row, :n].tolist() == example.labels


def test_padded_batch_loss_equals_the_sum_of_losses_alone(model, examples, tiny_tokenizer):
    pad_id = tiny_tokenizer.pad_token_id
    lengths = {len(e) for e in examples}
    assert len(lengths) > 2, "examples of different lengths, so the batch really is padded"
    batched, n_tokens = summed_loss(model, PaddingCollator(pad_id)([e.as_features() for e in examples]))
    assert n_tokens == sum(sum(label != IGNORE_INDEX for label in e.labels[1:]) for e in examples)
    assert batched == pytest.approx(_alone(model, examples, pad_id), rel=1e-5)


def test_extra_padding_never_changes_the_loss(model, examples, tiny_tokenizer):
    features = [e.as_features() for e in examples[:2]]
    tight = summed_loss(model, PaddingCollator(tiny_tokenizer.pad_token_id)(features))
    padded = summed_loss(model, PaddingCollator(tiny_tokenizer.pad_token_id, pad_to_multiple_of=128)(features))
    assert padded[1] == tight[1]
    assert padded[0] == pytest.approx(tight[0], rel=1e-5)


def test_packed_batch_loss_equals_the_sum_of_losses_alone(model, examples, tiny_tokenizer):
    packed_batch = packing_collator()([e.as_features() for e in examples])
    assert packed_batch["input_ids"].shape == (1, sum(len(e) for e in examples))
    assert "attention_mask" not in packed_batch
    packed, alone = check_packing_isolation(model, examples, tiny_tokenizer.pad_token_id)
    assert packed == pytest.approx(alone, rel=1e-5)


def test_packing_check_catches_examples_attending_to_each_other(model, examples, tiny_tokenizer, monkeypatch):
    # What an attention path without packed-sequence masking does: one causal mask over the whole row.
    import transformers.masking_utils as masking_utils

    monkeypatch.setattr(masking_utils, "find_packed_sequence_indices", lambda position_ids: None)
    with pytest.raises(PackingLeakError, match="packing is not exact with attn_implementation='sdpa'"):
        check_packing_isolation(model, examples, tiny_tokenizer.pad_token_id)


def test_training_loss_definition_matches_evaluation_heldout_loss(model, tiny_tokenizer):
    rows = make_rows(n_train=0, n_validation=5, n_test=0, seed=5)
    examples = encode_rows(tiny_tokenizer, rows, PromptTemplate(), max_length=4096).examples
    ours = mean_loss(model, examples, batch_size=2, pad_token_id=tiny_tokenizer.pad_token_id)
    pairs = [(r["instruction"], r["response"]) for r in rows]
    theirs = heldout_loss(model, tiny_tokenizer, pairs, PromptTemplate()).loss
    assert ours == pytest.approx(theirs, rel=1e-4)


def test_length_grouped_batches_need_little_padding(model, tmp_path: Path):
    rng = random.Random(0)
    examples = [
        EncodedExample(input_ids=[5] * n, labels=[5] * n, n_completion=n)
        for n in (rng.randint(8, 400) for _ in range(256))
    ]
    hp = TrainingHyperparameters(batch_size=4, gradient_accumulation_steps=2)
    plan = plan_runtime("none", 1, Hardware(device="cpu"))
    trainer = build_trainer(model, hp, plan, examples, [], 0, tmp_path, SilentReporter())
    batches = list(trainer.get_train_dataloader())
    assert sum(int(b["attention_mask"].sum()) for b in batches) == sum(len(e) for e in examples)
    grouped_waste = sum(int((b["attention_mask"] == 0).sum()) for b in batches)
    shuffled = examples[:]
    rng.shuffle(shuffled)
    random_waste = sum(
        max(map(len, chunk)) * len(chunk) - sum(map(len, chunk))
        for chunk in (shuffled[i : i + 4] for i in range(0, len(shuffled), 4))
    )
    real = sum(len(e) for e in examples)
    assert grouped_waste < 0.05 * real < random_waste / 4
