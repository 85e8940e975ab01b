"""AppTest of the Compare page: the table, the curves and the ladder, loading, hiding, deleting and
sharing runs, and hostile zips refused."""

from __future__ import annotations

import io
import json
import shutil
import zipfile
from dataclasses import replace

import pytest
from streamlit.testing.v1 import AppTest

from cfcore.analysis.predict import user_ratings
from cfcore.runs.zip import export_run_zip
from cfcore.text import count
from tests.support.app import assert_page, chart_specs, figure_array, open_app, page_app, page_run_names
from tests.support.crafted import crafted_model, crafted_run_zip
from tests.support.paths import REPO
from tests.support.text import shown
from tests.support.workspaces import seed_workspace, workspace_run_names


def test_compare_page_table_curves_ladder_and_downloads(tiny_run, dot_run, synthetic_dataset):
    from cfcore.data.split import split_dataset

    other_split = replace(tiny_run, split=split_dataset(synthetic_dataset, 0.2, seed=99), name="other split")
    at = page_app("compare", tiny_run, dot=dot_run, other=other_split).run()
    assert_page(at, "Compare")
    table = at.dataframe[0].value
    assert table["run"].tolist() == ["tiny", "dot", "other"]
    assert table["best val RMSE"].tolist()[:2] == pytest.approx([tiny_run.result.best_val_rmse,
                                                                 dot_run.result.best_val_rmse])
    curves, ladder = chart_specs(at)
    assert [t["name"] for t in curves["data"]] == ["tiny", "dot", "other"]
    bars = ladder["data"][0]
    # tiny and dot share a split, so both stand on the ladder; the run on another split is left out.
    assert list(figure_array(bars["x"])) == ["global mean", "user + movie biases", "tiny", "dot"]
    from cfcore.analysis.baselines import baseline_ladder

    expected = list(baseline_ladder(tiny_run)["val_rmse"]) + [baseline_ladder(dot_run)["val_rmse"].iloc[-1]]
    assert figure_array(bars["y"]) == pytest.approx(expected)
    assert any("1 run on other data or another split is left out" in c.value for c in at.caption)
    assert {b.key for b in at.get("download_button")} == {"cmp_download_model", "cmp_download_history",
                                                          "cmp_download_run"}


def test_compare_loads_an_uploaded_run_zip_and_rejects_hostile_ones(tiny_run_dir, tmp_path):
    from cfcore.runs.zip import export_run_zip

    at = page_app("compare").run()
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("../../evil.txt", "x")
    for name, data in (("garbage.zip", b"not a zip at all"), ("evil.zip", buffer.getvalue())):
        at.file_uploader(key="cmp_upload").set_value((name, data, "application/zip")).run()
        at.button(key="cmp_load_zip").click().run()
        assert_page(at, "Compare")
        assert at.error and "could not be loaded" in at.error[0].value
        assert not page_run_names(at)

    at.file_uploader(key="cmp_upload").set_value(("tiny.zip", export_run_zip(tiny_run_dir), "application/zip")).run()
    at.button(key="cmp_load_zip").click().run()
    assert_page(at, "Compare")
    assert not at.error
    names = page_run_names(at)
    assert len(names) == 1
    # A demo with no data loaded gets the run's data.
    from cfcore.runs.run import load_run

    assert at.session_state["dataset"].fingerprint == load_run(tiny_run_dir).dataset.fingerprint
    assert at.dataframe[0].value["run"].tolist() == names
    # The same zip again is the same run: nothing is added.
    at.button(key="cmp_load_zip").click().run()
    assert page_run_names(at) == names and any("already in this workspace" in i.value for i in at.info)


def test_compare_loads_from_the_runs_folder_only(tiny_run_dir, tmp_path, monkeypatch):
    root = tmp_path / "runs"
    root.mkdir()
    shutil.copytree(tiny_run_dir, root / "demo")
    shutil.copytree(tiny_run_dir, tmp_path / "outside")
    monkeypatch.setenv("CFCORE_RUNS_DIR", str(root))
    at = page_app("compare").run()
    assert at.selectbox(key="cmp_run_dir").options == ["demo"]
    at.text_input(key="cmp_run_path").input("../outside").run()
    at.button(key="cmp_load_dir").click().run()
    assert_page(at, "Compare")
    assert at.error and "outside the runs folder" in at.error[0].value
    assert not page_run_names(at)

    at.text_input(key="cmp_run_path").input("").run()
    at.selectbox(key="cmp_run_dir").set_value("demo").run()
    at.button(key="cmp_load_dir").click().run()
    assert_page(at, "Compare")
    assert not at.error
    assert len(page_run_names(at)) == 1


def test_a_load_error_on_a_public_server_hides_the_servers_folders(tiny_run_dir, tmp_path, monkeypatch):
    root = tmp_path / "runs"
    root.mkdir()
    shutil.copytree(tiny_run_dir, root / "broken")
    (root / "broken" / "embeddings.npz").write_bytes(b"not an archive")
    monkeypatch.setenv("CFCORE_RUNS_DIR", str(root))
    monkeypatch.setenv("CFCORE_PROFILE", "public")
    at = page_app("compare").run()
    at.selectbox(key="cmp_run_dir").set_value("broken").run()
    at.button(key="cmp_load_dir").click().run()
    assert_page(at, "Compare")
    shown = at.error[0].value.replace("\\", "") if at.error else ""  # Markdown escapes read back as characters
    assert "embeddings.npz: not a zip archive" in shown
    assert str(tmp_path) not in shown and "[folder]" in shown


def test_compare_hides_deletes_after_asking_and_shares_a_read_only_copy(data_env, tiny_run_dir):
    ws = seed_workspace({"keep": tiny_run_dir, "drop": tiny_run_dir}, active="keep")
    at = open_app(ws, page="pages/compare.py")
    at.selectbox(key="cmp_manage").set_value("drop").run()
    at.toggle(key="cmp_hide_drop").set_value(True).run()
    assert at.dataframe[0].value["run"].tolist() == ["keep"]
    assert any("Hidden from the table and charts" in c.value for c in at.caption)

    at.button(key="cmp_share").click().run()
    [link] = [c.value for c in at.code if "shared_run=" in c.value]
    token = link.split("shared_run=")[1]
    assert ws not in link

    at.button(key="cmp_delete").click().run()
    assert workspace_run_names(ws) == ["keep", "drop"]  # nothing yet: it asks first
    assert any("cannot be undone" in w.value for w in at.warning)
    at.button(key="cmp_delete_yes").click().run()
    assert workspace_run_names(ws) == ["keep"]

    friend = open_app(page="pages/compare.py", shared_run=token)  # another browser, the shared link
    assert friend.session_state["ws_id"] != ws
    assert workspace_run_names(friend.session_state["ws_id"]) == ["Dot + biases #1"]
    assert any("Added" in s.value for s in friend.success)
    friend.run()
    assert workspace_run_names(friend.session_state["ws_id"]) == ["Dot + biases #1"]  # once, not per rerun
    assert workspace_run_names(ws) == ["keep"]  # the sharer's workspace is untouched


def test_the_same_run_folder_loaded_twice_is_one_run(data_env, tiny_run_dir, tmp_path, monkeypatch):
    root = tmp_path / "runs"
    for name in ("a", "b"):
        shutil.copytree(tiny_run_dir, root / name)
    monkeypatch.setenv("CFCORE_RUNS_DIR", str(root))
    at = open_app(page="pages/compare.py")
    at.button(key="cmp_load_all").click().run()
    # Two folders with the very same files: one run.
    assert len(workspace_run_names(at.session_state["ws_id"])) == 1
    at.button(key="cmp_load_all").click().run()
    assert len(workspace_run_names(at.session_state["ws_id"])) == 1


def test_the_compare_page_refuses_the_crafted_zip_and_keeps_working(tiny_run_dir, secret_file):
    at = AppTest.from_file(str(REPO / "pages" / "compare.py"), default_timeout=60).run()
    crafted = crafted_run_zip(tiny_run_dir, crafted_model(tiny_run_dir, secret_file), with_embeddings=False)
    at.file_uploader(key="cmp_upload").set_value(("crafted.zip", crafted, "application/zip")).run()
    at.button(key="cmp_load_zip").click().run()
    assert not at.exception
    assert at.error and "could not be loaded" in at.error[0].value and "older version" in at.error[0].value
    shown = " ".join(str(element.value) for element in (*at.markdown, *at.error, *at.caption, *at.info))
    assert "SECRET" not in shown
    at.file_uploader(key="cmp_upload").set_value(("tiny.zip", export_run_zip(tiny_run_dir), "application/zip")).run()
    at.button(key="cmp_load_zip").click().run()
    assert not at.exception and not at.error


def test_no_raw_keys_and_every_number_says_what_it_is_over(tiny_run, dot_run):
    at = page_app("compare", tiny_run, dot=dot_run).run()
    assert list(at.radio(key="cmp_metric").options) == ["validation RMSE", "training RMSE", "validation loss",
                                                       "training loss"]
    assert not any("val_rmse" in json.dumps(f["layout"]) for f in chart_specs(at))

    movie = int(tiny_run.dataset.movies["movieId"].iloc[0])
    at = page_app("embeddings", tiny_run)
    at.query_params.update({"movie": str(movie), "minr": "0"})
    at.run()
    neighbours = at.dataframe[4].value  # after the four PC rankings; the bias tables follow it
    assert list(neighbours.columns)[:2] == ["title", "similarity"]

    at = page_app("recommend", tiny_run)
    user = int(tiny_run.dataset.index_to_user[0])
    at.query_params["user"] = str(user)
    at.run()
    held_out = int((user_ratings(tiny_run, user)["split"] == "validation").sum())
    assert f"RMSE, {count(held_out, 'held-out rating')}" in [m.label for m in at.metric]


def test_load_all_shows_the_runs_at_once_and_makes_the_article_model_active(data_env, tiny_run_dir,
                                                                             factor_run_dirs, tmp_path, monkeypatch):
    root = tmp_path / "runs"
    shutil.copytree(tiny_run_dir, root / "a_bias")
    shutil.copytree(factor_run_dirs["svd"], root / "z_svd")  # loaded last
    monkeypatch.setenv("CFCORE_RUNS_DIR", str(root))
    at = open_app(page="pages/compare.py")
    at.button(key="cmp_load_all").click().run()
    assert not at.exception
    assert at.session_state["active_run"] == "Dot + biases #1"
    assert not any("No trained runs yet" in i.value for i in at.info)
    assert at.dataframe[0].value["run"].tolist() == ["Dot + biases #1", "SVD #1"]
    [success] = [s.value for s in at.success if "Added" in s.value]
    assert "2 runs" in success and "Dot + biases #1" in shown(success)
