"""The trainer backends implement the one Protocol the training manager uses."""

from __future__ import annotations

import pytest

from cfcore.trainer.backend import TrainerBackend
from cfcore.trainer.local import LocalTrainer
from cfcore.trainer.ray import RayTrainer


@pytest.mark.parametrize("backend", [LocalTrainer, RayTrainer])
def test_each_backend_implements_the_protocol(backend):
    assert issubclass(backend, TrainerBackend)


def test_something_without_run_is_not_a_backend():
    class Half:
        def warm(self) -> None: ...

        def shutdown(self) -> None: ...

    assert not issubclass(Half, TrainerBackend)
