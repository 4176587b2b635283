"""The adapter's model card says what the adapter was trained on, not what the dataset holds."""

from medimind_assets.training.model_card import model_card


def _summary(**dataset) -> dict:
    return {
        "fingerprint": "f" * 64,
        "base_model": {"name": "tiny-phi"},
        "hyperparameters": {"max_length": 384},
        "dataset": {"data_version": "d" * 64, "row_counts": {"train": 900, "validation": 100, "test": 50}, **dataset},
    }


def test_the_card_counts_the_examples_trained_on_when_a_subset_was_used():
    card = model_card(_summary(train_examples=64, validation_examples=16, train_examples_truncated=0))
    assert "64 train / 16 validation examples of its 900 train / 100 validation rows" in card
    assert "every response ends with EOS)" in card


def test_the_card_names_the_cut_responses_that_got_no_eos():
    card = model_card(_summary(train_examples=900, validation_examples=100, train_examples_truncated=7))
    assert "900 train / 100 validation examples;" in card and "examples of its" not in card
    assert "except the 7 cut at max_length=384, which get none" in card


def test_an_older_summary_without_the_counts_still_renders():
    card = model_card(_summary())
    assert "900 train / 100 validation examples;" in card and "every response ends with EOS" in card
