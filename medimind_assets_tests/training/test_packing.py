"""Examples flattened into one row (padding-free passes, packing) keep apart, and the check that says so."""

from dataclasses import asdict

import pytest

from medimind_assets.llm.encoding import IGNORE_INDEX
from medimind_assets.llm.template import PromptTemplate
from medimind_assets.training.data import encode_rows
from medimind_assets.training.packing import PackingLeakError, check_flattening, collate, summed_loss

from .conftest import make_rows


@pytest.fixture(scope="module")
def model(tiny_phi):
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(tiny_phi["path"], attn_implementation="sdpa")
    model.config.use_cache = False
    return model.eval()


@pytest.fixture(scope="module")
def features(tiny_tokenizer) -> list[dict]:
    rows = make_rows(n_train=6, n_validation=0, n_test=0, seed=3)
    return [asdict(e) for e in encode_rows(tiny_tokenizer, rows, PromptTemplate(), max_length=256)]


def test_padded_batches_mask_padding_out_of_attention_and_loss(features, tiny_tokenizer):
    batch = collate(features[:3], tiny_tokenizer.pad_token_id, padding_free=False)
    width = max(len(f["input_ids"]) for f in features[:3])
    assert batch["input_ids"].shape == (3, width)
    for row, feature in enumerate(features[:3]):
        n = len(feature["input_ids"])
        assert batch["attention_mask"][row].tolist() == [1] * n + [0] * (width - n)
        assert batch["labels"][row, n:].eq(IGNORE_INDEX).all()
        assert batch["labels"][row, :n].tolist() == feature["labels"]


def test_a_padded_batch_loss_equals_the_sum_of_losses_alone(model, features, tiny_tokenizer):
    pad = tiny_tokenizer.pad_token_id
    assert len({len(f["input_ids"]) for f in features}) > 2, "examples of different lengths: the batch is padded"
    batched, n_tokens = summed_loss(model, collate(features, pad, padding_free=False))
    assert n_tokens == sum(sum(label != IGNORE_INDEX for label in f["labels"][1:]) for f in features)
    alone = sum(summed_loss(model, collate([f], pad, padding_free=False))[0] for f in features)
    assert batched == pytest.approx(alone, rel=1e-5)


def test_a_flattened_batch_loss_equals_the_sum_of_losses_alone(model, features, tiny_tokenizer):
    flat = collate(features, tiny_tokenizer.pad_token_id, padding_free=True)
    assert flat["input_ids"].shape == (1, sum(len(f["input_ids"]) for f in features))
    assert "attention_mask" not in flat
    flattened, alone = check_flattening(model, features, tiny_tokenizer.pad_token_id)
    assert flattened == pytest.approx(alone, rel=1e-5)


def test_the_check_catches_examples_attending_to_each_other(model, features, tiny_tokenizer, monkeypatch):
    # What an attention path without packed-sequence masking does: one causal mask over the whole row.
    import transformers.masking_utils as masking_utils

    monkeypatch.setattr(masking_utils, "find_packed_sequence_indices", lambda position_ids: None)
    with pytest.raises(PackingLeakError, match="not kept apart with attn_implementation='sdpa'"):
        check_flattening(model, features, tiny_tokenizer.pad_token_id)


def test_the_training_loss_definition_matches_evaluations_heldout_loss(model, tiny_tokenizer):
    from medimind_assets.evaluation.likelihood import heldout_loss

    rows = make_rows(n_train=0, n_validation=5, n_test=0, seed=5)
    examples = encode_rows(tiny_tokenizer, rows, PromptTemplate(), max_length=4096)
    ours, count = summed_loss(model, collate([asdict(e) for e in examples], tiny_tokenizer.pad_token_id, False))
    pairs = [(r["instruction"], r["response"]) for r in rows]
    theirs = heldout_loss(model, tiny_tokenizer, pairs, PromptTemplate()).loss
    assert ours / count == pytest.approx(theirs, rel=1e-4)
