"""Journey 1, the learner: look at the data, train the bias model and watch it learn, explore the result."""

from __future__ import annotations

import re
import time

import pytest
from playwright.sync_api import expect

from cfcore.config import BATCH_SIZE_STOPS, PRESETS
from tests.support.browser import (
    CURVE_TITLE,
    assert_no_traceback,
    check_embeddings_page,
    dataframe_rows,
    go_to,
    metric_value,
    nudge_slider,
    number_input_value,
    open_page,
    plotly_figure,
    plotly_figures,
    screenshot,
    select_option,
    selectbox_value,
    slider_value,
    wait_for_app,
    watch_training,
    widget,
)

pytestmark = pytest.mark.e2e

# A sixteenth of the fast preset's batch, so the 1 s live panel is caught mid-run even on a server an earlier
# journey has warmed up (TensorFlow loaded, steps traced: 6 epochs at 512 took 1.0 s in all there); 6 epochs,
# so one stalled second (seen once in CI: no update for ~4 s after epoch 1) still leaves later epochs.
EPOCHS = 6
BATCH_SIZE = "128"
USER_ID = 15


def test_learner_trains_the_bias_model_and_explores_it(page, app_url):
    started = time.monotonic()

    # Data: the built-in MovieLens summary.
    open_page(page, app_url)
    expect(page.get_by_role("heading", name="Data", exact=True)).to_be_visible()
    assert [metric_value(page, label) for label in ("Users", "Movies", "Ratings")] == ["610", "9,724", "100,836"]
    assert_no_traceback(page)
    screenshot(page, "journey1-01-data")

    # Train: the bias model with the fast preset, fewer epochs, smaller batches.
    go_to(page, "Train")
    expect(page.get_by_role("heading", name="Train", exact=True)).to_be_visible()
    select_option(page, "Model", "Dot + biases")
    select_option(page, "Preset", "fast (seconds)")
    fast = PRESETS["fast"]
    assert slider_value(page, "Epochs") == str(fast.epochs), "preset not applied"
    assert slider_value(page, "Batch size") == str(fast.batch_size), "preset not applied"
    if fast.epochs != EPOCHS:
        nudge_slider(page, "Epochs", "ArrowLeft" if fast.epochs > EPOCHS else "ArrowRight", abs(fast.epochs - EPOCHS))
    stops = BATCH_SIZE_STOPS
    nudge_slider(page, "Batch size", "ArrowLeft", stops.index(fast.batch_size) - stops.index(int(BATCH_SIZE)))
    assert selectbox_value(page, "Model") == "Dot + biases"
    assert slider_value(page, "Epochs") == str(EPOCHS)
    assert slider_value(page, "Batch size") == BATCH_SIZE
    dim = int(number_input_value(page, "Embedding dimension"))
    expect(widget(page, "stSlider", "User dropout")).to_be_visible()  # only the bias model has dropout
    assert_no_traceback(page)
    screenshot(page, "journey1-02-train-settings")

    train_pressed = time.monotonic()
    page.get_by_test_id("stButton").filter(has_text="Train").get_by_role("button").click()
    # The app scrolls inside its own container: bring the live panel (top right) into view for the screenshots.
    page.get_by_role("heading", name="Train", exact=True).scroll_into_view_if_needed()
    seen = watch_training(page)
    train_seconds = time.monotonic() - train_pressed

    # The live chart gained points while the run was going: two snapshots with different point counts.
    counts = [max(state["points"]) for state in seen if state["points"] is not None]
    assert len(set(counts)) >= 2 and max(counts) > min(counts), f"the live curve never grew: {seen}"
    assert counts == sorted(counts), f"the live curve lost points: {counts}"
    assert any(re.search(rf"epoch \d+ of {EPOCHS} · batch", state["progress"]) for state in seen), seen

    wait_for_app(page)
    final_rmse = float(metric_value(page, "Final val RMSE"))
    assert 0.7 < final_rmse < 1.2, final_rmse
    epochs_run = int(metric_value(page, "Epochs run").split(" of ")[0])
    assert metric_value(page, "Epochs run") == f"{epochs_run} of {EPOCHS}"
    curve = plotly_figure(page, CURVE_TITLE)
    assert [trace["points"] for trace in curve["traces"][:2]] == [epochs_run, epochs_run]
    assert all(":" in trace["name"] for trace in curve["traces"][2:])  # reference lines, named in the legend
    # The sidebar's active model is the new run, labelled with its best validation RMSE.
    active = page.get_by_test_id("stSidebar").get_by_role("combobox", name="Active model").input_value()
    assert active == f"Dot + biases #1 · {metric_value(page, 'Best val RMSE')}", active
    expect(page.get_by_text("This is the active model")).to_be_visible()
    assert_no_traceback(page)
    screenshot(page, "journey1-04-trained")

    # Embeddings: the heatmap, the variance chart and the PC tables, for the run just trained.
    tables = check_embeddings_page(page, dim)
    for heading in ("Lowest on PC1", "Highest on PC1"):
        expect(page.get_by_text(heading, exact=True)).to_be_visible()
    expect(tables.first).to_contain_text("PC1")
    assert_no_traceback(page)
    screenshot(page, "journey1-05-embeddings-vectors")
    page.get_by_text("Lowest on PC1", exact=True).scroll_into_view_if_needed()
    screenshot(page, "journey1-06-embeddings-pc-tables")

    # Recommend: one user's predictions and recommendations.
    go_to(page, "Recommend")
    expect(page.get_by_role("heading", name="Recommend", exact=True)).to_be_visible()
    option = re.compile(rf"^user {USER_ID} \(\d+ ratings\)$")
    widget(page, "stSelectbox", "User").get_by_role("combobox").click()
    page.keyboard.type(f"user {USER_ID} (")
    page.get_by_role("option", name=option).click()
    wait_for_app(page)
    assert selectbox_value(page, "User").startswith(f"user {USER_ID} (")
    n_ratings = int(metric_value(page, "Ratings"))
    assert selectbox_value(page, "User") == f"user {USER_ID} ({n_ratings} ratings)"
    assert 0.0 < float(metric_value(page, "RMSE, all their ratings")) < 2.0
    # The predicted-vs-actual chart: one point per rating, split into train and validation traces.
    scatter = [fig for fig in plotly_figures(page) if "perfect" in {trace["name"] for trace in fig["traces"]}]
    assert len(scatter) == 1, plotly_figures(page)
    plotted = {trace["name"]: trace["points"] for trace in scatter[0]["traces"]}
    assert plotted.get("train", 0) + plotted.get("validation", 0) == n_ratings, (plotted, n_ratings)
    expect(page.get_by_text(f"Top 10 for user {USER_ID}")).to_be_visible()
    # "This user" tab: their ratings with predictions, then the top 10 among movies they have not rated.
    their, top = page.get_by_role("tabpanel").first.get_by_test_id("stDataFrame").all()
    assert dataframe_rows(their) == n_ratings and dataframe_rows(top) == 10
    expect(their).to_contain_text("predicted")
    expect(top).to_contain_text("predicted")
    assert_no_traceback(page)
    screenshot(page, "journey1-07-recommend")

    elapsed = time.monotonic() - started
    print(f"\njourney 1: training {train_seconds:.1f} s, whole journey {elapsed:.1f} s, "
          f"{len(seen)} live snapshots, curve points seen {sorted(set(counts))}")
