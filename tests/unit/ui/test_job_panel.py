"""ui.job_panel's progress line: an SVD has no epochs or batches to count."""

from __future__ import annotations

from streamlit.testing.v1 import AppTest


def _progress_text(model: str) -> str:
    def script(model: str):
        from types import SimpleNamespace

        from ui.job_panel import progress_bar

        progress = SimpleNamespace(epoch=1, epochs=1, step=0, steps_per_epoch=1)
        job = SimpleNamespace(joined=False, state="running", progress=progress, elapsed=2.0,
                              config=SimpleNamespace(model=model))
        progress_bar(job, "run")

    at = AppTest.from_function(script, kwargs={"model": model}).run()
    assert not at.exception, at.exception
    return at.get("progress")[0].proto.text


def test_an_svd_says_it_computes_the_factorisation_not_epoch_1_of_1():
    assert _progress_text("svd") == "run: computing the SVD of the ratings · 2 s"
    assert _progress_text("dot_with_bias") == "run: epoch 1 of 1 · batch 0 of 1 · 2 s"
