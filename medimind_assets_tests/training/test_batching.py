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
    micro_batch_groups,
    packing_collator,
    summed_loss,
)
from medimind_assets.training.examples import encode_rows
from medimind_assets.training.hyperparameters import TrainingHyperparameters
from medimind_assets.training.reporting import SilentReporter
from medimind_assets.training.runtime import Hardware, plan_runtime
from medimind_assets.training.trainer import build_trainer, version_dependent_arguments

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


@pytest.mark.parametrize("micro_batch_tokens", [None, 0])
def test_length_grouped_batches_need_little_padding(model, tmp_path: Path, micro_batch_tokens):
    rng = random.Random(0)
    examples = [
        EncodedExample(input_ids=[5] * n, labels=[5] * n, n_completion=n)
        for n in (rng.randint(8, 400) for _ in range(1024))
    ]
    hp = TrainingHyperparameters(batch_size=4, gradient_accumulation_steps=2, micro_batch_tokens=micro_batch_tokens)
    plan = plan_runtime("none", Hardware(device="cpu"))
    trainer = build_trainer(model, hp, plan, examples, [], 0, tmp_path, SilentReporter())
    batches = [batch for step in trainer.get_train_dataloader() for batch in step["micro_batches"]]
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
    # A token budget (4 x 512 here) makes fewer, larger passes than batch_size examples each.
    assert len(batches) < len(examples) / 4 if micro_batch_tokens is None else len(batches) == len(examples) / 4


def test_micro_batches_hold_every_example_of_the_step_once_within_the_budget():
    rng = random.Random(1)
    lengths = [rng.randint(5, 300) for _ in range(16)] + [700]  # one longer than the budget
    for packed in (False, True):
        groups = micro_batch_groups(lengths, 600, batch_size=4, packed=packed, pad_to_multiple_of=8)
        assert sorted(i for group in groups for i in group) == list(range(len(lengths)))
        for group in groups:
            padded = len(group) * -(-max(lengths[i] for i in group) // 8) * 8
            cost = sum(lengths[i] for i in group) if packed else padded
            assert cost <= 600 or len(group) == 1
    # No budget: the seed's micro-batches, batch_size examples each in the sampler's order.
    assert micro_batch_groups(lengths, None, batch_size=4) == [
        [0, 1, 2, 3],
        [4, 5, 6, 7],
        [8, 9, 10, 11],
        [12, 13, 14, 15],
        [16],
    ]


def _examples_with_ids(n: int, seed: int) -> list[EncodedExample]:
    """Examples of varied lengths whose first token is their index (so a batch names its examples)."""
    rng = random.Random(seed)
    examples = []
    for i in range(n):
        prompt, answer = rng.randint(2, 12), rng.randint(3, 40)
        ids = [i] + [rng.randint(1, 63) for _ in range(prompt + answer - 1)]
        examples.append(EncodedExample(ids, [IGNORE_INDEX] * prompt + ids[prompt:], answer))
    return examples


def _step_members(step: dict) -> set[int]:
    return {int(row[0]) for batch in step["micro_batches"] for row in batch["input_ids"]}


def test_each_optimizer_step_takes_the_examples_the_seeds_accumulated_micro_batches_take(model, tmp_path: Path):
    import torch
    from transformers import Trainer, TrainingArguments

    examples = _examples_with_ids(70, seed=2)  # 70 = 4 steps of 16 and a last one of 6
    hp = TrainingHyperparameters(batch_size=4, gradient_accumulation_steps=4, micro_batch_tokens=64)
    plan = plan_runtime("none", Hardware(device="cpu"))
    ours = build_trainer(model, hp, plan, examples, [], 0, tmp_path / "ours", SilentReporter())
    seed = Trainer(
        model=model,
        args=TrainingArguments(
            output_dir=str(tmp_path / "seed"),
            per_device_train_batch_size=4,
            gradient_accumulation_steps=4,
            use_cpu=True,
            report_to="none",
            remove_unused_columns=False,
            **version_dependent_arguments(False, packing=False),  # length-grouped, by this version's name
        ),
        train_dataset=ours.train_dataset,
        data_collator=PaddingCollator(0),
    )
    torch.manual_seed(7)
    steps = [_step_members(step) for step in ours.get_train_dataloader()]
    torch.manual_seed(7)
    micro = [{int(row[0]) for row in batch["input_ids"]} for batch in seed.get_train_dataloader()]
    seed_steps = [set().union(*micro[i : i + 4]) for i in range(0, len(micro), 4)]
    assert steps == seed_steps
    assert [len(s) for s in steps] == [16, 16, 16, 16, 6]


def test_a_step_has_the_gradient_and_loss_of_the_seeds_accumulated_micro_batches(tiny_phi, tmp_path: Path):
    """The Trainer's accumulation: each micro-batch's summed loss over the scored tokens of the whole step; ours
    splits the step into passes by tokens and takes the loss on labelled positions only: same loss, same gradient."""
    import torch
    from transformers import AutoModelForCausalLM

    from medimind_assets.training.lora import apply_lora

    hp = TrainingHyperparameters(batch_size=4, gradient_accumulation_steps=4, lora_dropout=0.0, micro_batch_tokens=96)
    torch.manual_seed(0)
    base = AutoModelForCausalLM.from_pretrained(tiny_phi["path"], attn_implementation="sdpa")
    model = apply_lora(base, hp, ["q_proj", "k_proj", "v_proj", "dense"])
    for parameter in model.parameters():  # LoRA B starts at zero: give A and B values
        if parameter.requires_grad:
            parameter.data.normal_(0, 0.05)
    examples = _examples_with_ids(16, seed=3)
    plan = plan_runtime("none", Hardware(device="cpu"))
    trainer = build_trainer(model, hp, plan, examples, [], 0, tmp_path, SilentReporter())
    step = next(iter(trainer.get_train_dataloader()))
    assert len(step["micro_batches"]) >= 3, "the budget splits the step into several passes"
    assert _step_members(step) == set(range(16))

    def lora_grads() -> dict[str, torch.Tensor]:
        grads = {n: p.grad.clone() for n, p in model.named_parameters() if p.requires_grad}
        model.zero_grad()
        return grads

    model.zero_grad()
    loss = trainer.training_step(trainer.model, step)
    ours = lora_grads()
    # The seed's step: 4 micro-batches of 4, each model(...).loss normalised by the step's scored tokens.
    micro = [PaddingCollator(0)([e.as_features() for e in examples[i : i + 4]]) for i in range(0, 16, 4)]
    n_items = sum(int((b["labels"][:, 1:] != IGNORE_INDEX).sum()) for b in micro)
    assert n_items == step["num_items"]
    reference = 0.0
    for batch in micro:
        seed_loss = model(**batch, num_items_in_batch=n_items).loss
        seed_loss.backward()
        reference += float(seed_loss)
    theirs = lora_grads()
    assert float(loss) == pytest.approx(reference, rel=1e-5)
    for name in theirs:
        torch.testing.assert_close(ours[name], theirs[name], rtol=1e-4, atol=1e-7)
    assert trainer.state.num_input_tokens_seen == sum(len(e) for e in examples)
