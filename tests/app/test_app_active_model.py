"""The active model across the pages: a factor run on every page, and a model next to data it was not
trained on."""

from __future__ import annotations

import pytest

from tests.support.app import open_app, page_texts
from tests.support.data import make_synthetic_frames
from tests.support.workspaces import seed_workspace


@pytest.mark.parametrize("page", ["pages/embeddings.py", "pages/recommend.py", "pages/compare.py",
                                  "pages/train.py", "pages/under_the_hood.py"])
@pytest.mark.parametrize("method", ["svd", "autorec", "implicit"])
def test_every_page_takes_a_factor_run_as_the_active_model(data_env, tiny_run_dir, factor_run_dirs, page, method):
    at = open_app(ws=seed_workspace({f"{method} #1": factor_run_dirs[method], "tiny": tiny_run_dir},
                                    active=f"{method} #1"), page=page)
    assert at.sidebar.selectbox(key="sidebar_active_run").value == f"{method} #1"
    if page == "pages/recommend.py" and method == "implicit":
        assert any("predicts only that" in i.value or "rated at all" in i.value for i in at.info)


def test_a_new_dataset_under_an_old_model_is_pointed_out(data_env, tiny_run_dir):
    ws = seed_workspace({"tiny": tiny_run_dir})
    at = open_app(ws, page="pages/embeddings.py")
    assert "was trained on" not in page_texts(at, "warning")
    ratings, movies = make_synthetic_frames(n_users=30, n_movies=20, seed=5)
    at.switch_page("pages/data.py").run()
    at.radio(key="data_source").set_value("upload").run()
    at.file_uploader(key="data_upload_ratings").set_value(("ratings.csv", ratings.to_csv(index=False).encode(),
                                                           "text/csv"))
    at.file_uploader(key="data_upload_movies").set_value(("movies.csv", movies.to_csv(index=False).encode(),
                                                          "text/csv"))
    at.run()
    for page in ("pages/embeddings.py", "pages/recommend.py"):
        at.switch_page(page).run()
        assert not at.exception
        assert ("was trained on" in page_texts(at, "warning")
                and "not on the data now loaded" in page_texts(at, "warning"))


def test_the_picker_says_what_the_active_run_is_and_is_labelled_on_the_page_in_presenter_mode(data_env, tiny_run_dir):
    from cfcore.config import settings_summary
    from cfcore.runs.run import load_run

    ws = seed_workspace({"tiny": tiny_run_dir})
    at = open_app(ws, page="pages/train.py")
    run = load_run(tiny_run_dir)
    summary = (f"Dot + biases, {settings_summary(run.config)}; validation RMSE {run.result.best_val_rmse:.3f}.")
    assert summary in [c.value for c in at.sidebar.caption]
    at = open_app(ws, page="pages/train.py", present="1")
    picker = at.main.selectbox(key="present_active_run")
    assert picker.label == "Active model" and picker.proto.label_visibility.value == 0  # shown (VISIBLE)
