"""AppTest of the Train page: presets and controls, live training and stop, reference lines, diverged,
interrupted and refused trainings."""

from __future__ import annotations

import json

from streamlit.testing.v1 import AppTest

from cfcore.analysis.baselines import diverged
from cfcore.config import PRESETS
from cfcore.workspaces.store import WorkspaceStore
from tests.support.app import assert_page, chart_specs, live_points, open_app, page_app, page_run_names, page_texts
from tests.support.paths import REPO
from tests.support.text import shown
from tests.support.waiting import wait_for
from tests.support.workspaces import dead_pid, seed_workspace


def training_manager():
    from ui.services import training_manager as manager

    return manager()


def figure_traces(at: AppTest) -> dict[str, list]:
    """Trace name -> y values over every plotly chart on the page."""
    traces = {}
    for element in at.get("plotly_chart"):
        for trace in json.loads(element.proto.spec).get("data", []):
            if "name" in trace and isinstance(trace.get("y"), list):
                traces[trace["name"]] = trace["y"]
    return traces


def poll(at: AppTest, predicate, timeout: float = 90.0) -> bool:
    """Run the page again every quarter second until ``predicate`` holds (True) or ``timeout`` seconds pass (False);
    fails on an exception."""

    def ran_and_true() -> bool:
        at.run()
        assert not at.exception, at.exception
        return predicate()

    return wait_for(ran_and_true, timeout, interval=0.25)


def test_train_page_offers_to_load_data_when_none_is_loaded(data_env):
    at = AppTest.from_file(str(REPO / "pages/train.py"), default_timeout=60).run()
    assert not at.exception
    at.button(key="train_load_default").click().run()
    assert not at.exception
    assert at.session_state["dataset"] is not None
    assert at.button(key="train_start").disabled is False


def test_preset_fills_the_controls_and_they_survive_a_page_switch(data_env):
    at = open_app(page="pages/train.py")
    assert at.slider(key="train_epochs").value == 10 and at.select_slider(key="train_batch_size").value == 32
    at.selectbox(key="train_model").set_value("simple_dot").run()
    at.selectbox(key="train_preset").set_value("fast").run()
    fast = PRESETS["fast"]
    assert at.select_slider(key="train_batch_size").value == fast.batch_size
    assert at.select_slider(key="train_learning_rate").value == fast.learning_rate
    assert at.slider(key="train_epochs").value == fast.epochs
    assert at.selectbox(key="train_model").value == "simple_dot"  # a preset is a recipe, not a model
    at.slider(key="train_epochs").set_value(5).run()
    at.switch_page("pages/data.py").run()
    at.switch_page("pages/train.py").run()
    assert at.slider(key="train_epochs").value == 5
    assert at.selectbox(key="train_preset").value == "fast"


def test_live_training_shows_progress_and_stop_keeps_the_partial_curve(data_env, monkeypatch, tmp_path):
    from tests.support.data import make_synthetic_frames

    # Data big enough that 50 epochs take minutes in the trainer (the 1,200 synthetic ratings take a second).
    ratings, movies = make_synthetic_frames(n_users=400, n_movies=300, density=0.5)
    bigger = tmp_path / "bigger"
    bigger.mkdir()
    ratings.to_csv(bigger / "ratings.csv", index=False)
    movies.to_csv(bigger / "movies.csv", index=False)
    monkeypatch.setenv("CFCORE_DATA", str(bigger))
    at = open_app(page="pages/train.py")
    at.number_input(key="train_embedding_dim").set_value(4)
    at.slider(key="train_epochs").set_value(50)
    at.select_slider(key="train_batch_size").set_value(16)
    at.slider(key="train_patience").set_value(0)
    at.button(key="train_start").click().run()
    assert not at.exception
    [job] = training_manager().jobs(at.session_state["ws_id"])
    assert at.button(key="train_start").disabled

    assert poll(at, lambda: live_points(at).get("val_rmse", 0) >= 1), "no epoch appeared"
    assert any("epoch" in p.proto.text for p in at.get("progress")), [p.proto for p in at.get("progress")]
    assert live_points(at)["train_rmse"], "the train curve is empty"
    # On the Train page the panel shows the progress; the sidebar points to it instead of lagging behind it.
    assert any(shown(c.value) == "Training Dot + biases #1: its progress is on this page." for c in at.sidebar.caption)

    reloaded = open_app(page="pages/train.py", ws=at.session_state["ws_id"])  # F5: the live panel is back
    assert poll(reloaded, lambda: live_points(reloaded).get("val_rmse")), "the reload lost the training"
    assert reloaded.button(key="train_start").disabled and [b for b in reloaded.button if b.key == "train_stop"]
    other = open_app(page="pages/train.py")  # another browser with no link sees nothing of this run
    assert not training_manager().jobs(other.session_state["ws_id"]) and not other.button(key="train_start").disabled
    assert not [b for b in other.button if b.key == "train_stop"]

    at.switch_page("pages/data.py").run()  # leaving the page does not stop the run
    at.switch_page("pages/train.py").run()
    at.button(key="train_stop").click().run()
    assert poll(at, lambda: at.session_state["active_run"], timeout=30), "the stopped run was not kept"
    at.run()  # the poll may end on a fragment rerun; a full run redraws the sidebar with the new run

    name = at.session_state["active_run"]
    assert not training_manager().jobs(at.session_state["ws_id"])
    run = job.run
    assert run.result.stopped_by_user and 1 <= run.result.epochs_run < 50
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Epochs run"] == f"{run.result.epochs_run} of 50"
    assert len(figure_traces(at)["validation RMSE"]) == run.result.epochs_run
    assert name in at.sidebar.selectbox(key="sidebar_active_run").value


def test_the_live_curve_is_rebuilt_only_when_an_epoch_is_added(data_env, monkeypatch):
    # Every poll redraws the live panel; the curve is built again only when the history grew.
    import threading
    from types import SimpleNamespace

    from cfcore.figures import live_svg

    next_epoch, finish = threading.Event(), threading.Event()

    def two_epochs(dataset, config, *, split, listeners, stop_event, **_):
        history = []
        for epoch, wait in ((1, next_epoch), (2, finish)):
            history.append({"epoch": epoch, "train_rmse": 1.0, "val_rmse": 1.1})
            for listener in listeners:
                listener(SimpleNamespace(stage="epoch", epoch=epoch, epochs=config.epochs, step=1, steps_per_epoch=1,
                                         history=list(history)))
            wait.wait(60)
        raise RuntimeError("ended by the test")

    builds: list[int] = []
    original = live_svg.training_curves_svg
    monkeypatch.setattr(live_svg, "training_curves_svg", lambda history, *a, **k: builds.append(len(history)) or
                        original(history, *a, **k))
    at = open_app(page="pages/train.py")
    monkeypatch.setattr(training_manager(), "_train_fn", two_epochs)
    try:
        at.button(key="train_start").click().run()
        assert poll(at, lambda: live_points(at).get("val_rmse") == 1, timeout=30)
        builds.clear()
        for _ in range(3):
            at.run()
        assert builds == [] and live_points(at)["val_rmse"] == 1
        next_epoch.set()
        assert poll(at, lambda: live_points(at).get("val_rmse") == 2, timeout=30)
        at.run()
        assert builds == [2], builds
    finally:
        next_epoch.set()
        finish.set()


def test_an_interrupted_training_is_listed_with_its_curve_and_can_be_dismissed(data_env):
    ws = seed_workspace()
    space = WorkspaceStore(data_env.parent / "state").open(ws)
    history = [{"epoch": e, "loss": 1.0, "val_loss": 1.1, "train_rmse": 1.0 - e / 10, "val_rmse": 1.1 - e / 20,
                "seconds": 1.0, "complete": True} for e in (1, 2, 3)]
    space.record_job("b" * 32, "Dot + biases #4", {"epochs": 10}, history)
    # As a server that has since stopped left it: another process of this machine, no longer running.
    (space.folder / "jobs" / f"{'b' * 32}.json").write_text(json.dumps(
        {**json.loads((space.folder / "jobs" / f"{'b' * 32}.json").read_text()), "server": "old", "pid": dead_pid()}))
    at = open_app(ws, page="pages/train.py")
    [warning] = [w for w in at.warning if "interrupted" in w.value]
    assert "Dot + biases #4" in shown(warning.value) and "after 3 of 10 epochs" in shown(warning.value)
    curve = [json.loads(c.proto.spec) for c in at.get("plotly_chart")][-1]
    assert any(len(t.get("y", [])) == 3 for t in curve["data"])
    at.button(key=f"train_dismiss_{'b' * 32}").click().run()
    assert not [w for w in at.warning if "interrupted" in w.value] and space.job_records() == []

    space.record_job("c" * 32, "SVD++ #1", {"epochs": 10}, [])  # no epoch done: no "curve so far" over nothing
    (space.folder / "jobs" / f"{'c' * 32}.json").write_text(json.dumps(
        {**json.loads((space.folder / "jobs" / f"{'c' * 32}.json").read_text()), "server": "old", "pid": dead_pid()}))
    at = open_app(ws, page="pages/train.py")
    [warning] = [w for w in at.warning if "interrupted" in w.value]
    assert "before its first epoch ended (of 10): nothing to keep" in warning.value and "curve" not in warning.value


def test_a_full_workspace_refuses_new_trainings_with_a_message(data_env, tiny_run_dir, monkeypatch):
    monkeypatch.setenv("CFCORE_WORKSPACE_MAX_RUNS", "1")  # the server's store reads it when it is made
    ws = seed_workspace({"only": tiny_run_dir})
    at = open_app(ws, page="pages/train.py")
    at.selectbox(key="train_preset").set_value("fast").run()
    at.button(key="train_start").click().run()
    assert any("the most it can keep is 1" in shown(e.value) for e in at.error)


def test_a_diverged_run_is_called_so_and_kept_off_comparisons(wild_run, tiny_run, dot_run):
    # dot_run is two epochs of simple_dot, still falling from far above the global mean: not diverged.
    assert diverged(wild_run) and not diverged(tiny_run) and not diverged(dot_run)
    at = page_app("train", wild_run).run()
    assert_page(at, "Train")
    assert "diverged: lower the learning rate" in page_texts(at, "markdown")
    assert "finished" not in page_texts(at, "markdown").split("diverged")[0][-20:]
    assert any("blew up" in w.value for w in at.warning)

    at = page_app("compare", tiny_run, wild=wild_run).run()
    assert_page(at, "Compare")
    curves = next(f for f in chart_specs(at) if f["layout"].get("xaxis", {}).get("title", {}).get("text") == "epoch")
    assert [trace["name"] for trace in curves["data"]] == ["tiny"]  # the RMSE of 87 does not flatten the rest
    assert "they diverged (lower the learning rate): wild" in page_texts(at, "caption")


def test_reference_lines_name_the_baselines_and_the_article_only_on_its_data(tiny_run, movielens_path):
    at = page_app("train", tiny_run).run()
    assert_page(at, "Train")
    curve = next(f for f in chart_specs(at) if "RMSE per epoch" in str(f["layout"].get("title", {}).get("text")))
    names = [trace["name"] for trace in curve["data"]]
    assert names[:2] == ["train RMSE", "validation RMSE"]
    assert any(n.startswith("global mean: ") for n in names) and any(n.startswith("biases only: ") for n in names)
    assert not any("article" in n for n in names)  # synthetic data: the article's numbers do not apply
    labels = [a["text"] for a in curve["layout"]["annotations"]]  # each line labelled at its end, on a backing
    assert sorted(label.rsplit(" ", 1)[0] for label in labels) == ["biases only", "global mean"]
    assert all(a.get("bgcolor") for a in curve["layout"]["annotations"])
    assert all(m.delta is None or "article" not in str(m.delta) for m in at.metric)

    from cfcore.data.dataset import is_article_dataset
    from cfcore.data.sources import load_dataset

    assert is_article_dataset(load_dataset(movielens_path)) and not is_article_dataset(tiny_run.dataset)
    from cfcore.figures.training import training_curves

    lines = {"article, simple_dot": 1.08, "article, dot_with_bias": 0.88, "article, simple_embedding": 1.13,
             "global mean": 1.046, "biases only": 0.865}
    drawn = [trace.name for trace in training_curves([], 10, lines).data[2:]]
    assert drawn == ["article, simple_embedding: 1.130", "article, simple_dot: 1.080", "global mean: 1.046",
                     "article, dot_with_bias: 0.880", "biases only: 0.865"]


def test_pressing_train_scrolls_the_live_panel_into_view(data_env):
    at = open_app(page="pages/train.py")
    at.selectbox(key="train_preset").set_value("fast").run()
    at.button(key="train_start").click().run()
    scripts = [h.proto.body for h in at.get("html") if "scrollIntoView" in h.proto.body]
    assert scripts == ["<script>document.querySelector('.st-key-train_panel')?.scrollIntoView({block: 'start'});"
                       "</script>"]
    at.run()
    assert not any("scrollIntoView" in h.proto.body for h in at.get("html"))  # once, not on every rerun


def test_the_train_page_offers_it(data_env):
    from tests.support.app import open_app

    at = open_app(page="pages/train.py")
    at.selectbox(key="train_model").set_value("svdpp").run()
    assert any("SVD++" in c.value for c in at.caption)
    assert at.slider(key="train_user_dropout") is not None
    assert any("at batch 32 an epoch" in c.value for c in at.caption)  # the article's batch: slow for SVD++
    at.selectbox(key="train_model").set_value("simple_dot").run()
    at.selectbox(key="train_preset").set_value("best").run()
    assert at.selectbox(key="train_model").value == "svdpp"  # the recipe brings the model it was made for
    assert any("switched the model from Dot to **SVD++" in i.value for i in at.info)  # and says so
    at.run()
    assert not any("switched the model" in i.value for i in at.info)  # once
    assert not any("was tuned for" in c.value or "an epoch" in c.value for c in at.caption)
    at.selectbox(key="train_model").set_value("simple_dot").run()
    assert any("was tuned for **SVD++" in c.value for c in at.caption)


def test_training_the_same_thing_twice_names_the_run_and_another_seed_says_it_left_the_preset(data_env):
    at = open_app(page="pages/train.py")
    at.selectbox(key="train_preset").set_value("fast").run()
    assert not any("Changed from the preset" in c.value for c in at.caption)
    at.button(key="train_start").click().run()
    assert poll(at, lambda: page_run_names(at) == ["Dot + biases #1"] and not training_manager().jobs(
        at.session_state["ws_id"])), "the first training did not finish"
    at.run()
    at.button(key="train_start").click().run()  # the very same settings again
    assert not at.exception
    assert page_run_names(at) == ["Dot + biases #1"]  # no duplicate
    [said] = [i.value for i in at.info if "You trained exactly this" in i.value]
    assert "Dot + biases #1" in shown(said) and not any("Someone" in i.value for i in at.info)
    at.button(key="train_again_other_seed").click().run()
    assert at.number_input(key="train_seed").value == PRESETS["fast"].seed + 1
    assert poll(at, lambda: len(page_run_names(at)) == 2), "another seed did not train"
    assert any(c.value == f"Changed from the preset: seed {PRESETS['fast'].seed + 1} (preset: {PRESETS['fast'].seed})."
               for c in at.caption)
