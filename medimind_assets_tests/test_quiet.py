"""Library notices a user cannot act on are muted around the calls that raise them; other warnings still show."""

from __future__ import annotations

import subprocess
import sys
import warnings

import pytest

from medimind_assets.llm.loading import attach_adapter, load_for_inference
from medimind_assets.quiet import PEFT_CHECKPOINTING_ALIAS, ignoring_warning

ALIAS = "`is_gradient_checkpointing` is deprecated and will be removed"


def warn(message: str) -> None:
    warnings.warn(message, FutureWarning, stacklevel=2)


def test_only_the_named_warning_is_ignored_and_only_inside_the_block():
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with ignoring_warning(PEFT_CHECKPOINTING_ALIAS, FutureWarning):
            warn(ALIAS)
            warn("another deprecation")
        warn(ALIAS)
    assert [str(w.message) for w in caught] == [
        "another deprecation",
        ALIAS,
    ]


def test_bitsandbytes_import_notice_is_muted_and_its_logger_restored():
    pytest.importorskip("bitsandbytes")
    code = (
        "import logging; from medimind_assets.quiet import before_peft, BITSANDBYTES_CPU_LOGGER; "
        "before_peft(); import peft; "
        "logging.getLogger(BITSANDBYTES_CPU_LOGGER).warning('a later bitsandbytes warning')"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert "kernels" not in done.stderr
    assert "a later bitsandbytes warning" in done.stderr


def test_the_8bit_matmul_cast_notice_is_shown_once_not_on_every_forward_pass():
    pytest.importorskip("bitsandbytes")
    code = (
        "import logging; from medimind_assets.quiet import before_peft, BITSANDBYTES_MATMUL_LOGGER as name; "
        "before_peft(); log = logging.getLogger(name); "
        "[log.warning('MatMul8bitLt: inputs will be cast from %s to float16', 'torch.float32') for _ in range(5)]; "
        "log.warning('another notice')"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stderr.count("MatMul8bitLt: inputs will be cast") == 1 and "another notice" in done.stderr


def test_loading_an_adapter_shows_no_library_notice(world, recwarn):
    model = attach_adapter(load_for_inference(world.base_dir, "cpu"), world.trained_adapter)
    assert model.active_adapter == "default"
    assert not [w for w in recwarn if "is_gradient_checkpointing" in str(w.message)]
