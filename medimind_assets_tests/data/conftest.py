"""The dataset built once from the real files, shared by the tests that read it (the build takes seconds)."""

import pytest

from medimind_assets.data.build import build_dataset


@pytest.fixture(scope="session")
def real_build(shared_data):
    return build_dataset(shared_data)
