"""What serving refuses to load."""

import pytest

from medimind_assets.llm.template import PromptTemplate


def test_damaged_weights_whose_logits_are_not_finite_are_refused_merged_or_not(tmp_path):
    import torch

    from medimind_assets.serving.ask import Target
    from medimind_assets.serving.holder import refuse_non_finite

    target = Target("adapter x", tmp_path / "base", tmp_path / "adapter", PromptTemplate())
    refuse_non_finite(torch.zeros(3, 5), target)
    with pytest.raises(ValueError, match="non-finite logits.*not served"):
        refuse_non_finite(torch.tensor([[0.0, float("nan")]]), target)
