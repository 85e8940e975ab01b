"""The Train page's settings: its controls, what fills them (a preset, a shared link) and the config they give.

Every control's widget key maps to one :class:`~cfcore.config.TrainConfig` field (:data:`FIELDS`); settings
without a control keep the chosen preset's values.
"""

from __future__ import annotations

from dataclasses import replace

import streamlit as st

from cfcore import share
from cfcore.config import (
    BATCH_SIZE_STOPS,
    CONTROL_RANGES,
    DROPOUT_MODELS,
    DROPOUT_STEP,
    LEARNING_RATE_STOPS,
    MODEL_DESCRIPTIONS,
    MODEL_LABELS,
    MODEL_NAMES,
    PRESET_LABELS,
    PRESETS,
    TrainConfig,
    preset_extras,
)

# Widget key -> TrainConfig field. A preset fills all of these (and, made for one model, the model too).
FIELDS = {"train_embedding_dim": "embedding_dim", "train_epochs": "epochs", "train_batch_size": "batch_size",
          "train_learning_rate": "learning_rate", "train_user_dropout": "user_dropout",
          "train_movie_dropout": "movie_dropout", "train_patience": "patience", "train_seed": "seed"}
# Below this batch size an SVD++ epoch is slow (each step costs about the same): said so under the slider.
SVDPP_QUICK_BATCH = 1024


def init() -> None:
    """The controls' first values: the article preset, then (once per session) a shared link's settings."""
    st.session_state.setdefault("train_preset", "article")
    st.session_state.setdefault("train_model", PRESETS["article"].model)
    for widget_key, field_name in FIELDS.items():
        st.session_state.setdefault(widget_key, getattr(PRESETS[st.session_state["train_preset"]], field_name))
    _apply_shared_settings()


def _apply_shared_settings() -> None:
    """Once per session, a shared link's settings (query string) fill the controls."""
    if st.session_state.get("train_shared_applied"):
        return
    st.session_state["train_shared_applied"] = True
    shared = st.session_state.get("share_config") or {}
    if shared.get("model") in MODEL_NAMES:
        st.session_state["train_model"] = shared["model"]
    fitted = share.fit_to_controls(shared)
    for key, name in FIELDS.items():
        if name in fitted:
            st.session_state[key] = fitted[name]
    if notes := st.session_state.get("share_config_notes"):
        st.session_state["train_link_notes"] = notes


# The controls' names in the "changed from the preset" line.
FIELD_WORDS = {"embedding_dim": "dimension", "epochs": "epochs", "batch_size": "batch size",
               "learning_rate": "learning rate", "user_dropout": "user dropout", "movie_dropout": "movie dropout",
               "patience": "patience", "seed": "seed"}


def _apply_preset() -> None:
    chosen = PRESETS[st.session_state["train_preset"]]
    for key, name in FIELDS.items():
        st.session_state[key] = getattr(chosen, name)
    if chosen.model != PRESETS["article"].model and st.session_state["train_model"] != chosen.model:
        # A recipe made for one model (best: SVD++) brings it along, and says so.
        st.session_state["train_model_switched"] = (st.session_state["train_model"], chosen.model)
        st.session_state["train_model"] = chosen.model


def changed_from_preset(model: str) -> list[str]:
    """The controls whose values differ from the chosen preset's, in words ("seed 43 (preset: 42)")."""
    recipe = PRESETS[st.session_state["train_preset"]]
    shown = [name for name in FIELDS.values() if name not in ("user_dropout", "movie_dropout")
             or model in DROPOUT_MODELS]
    values = {name: st.session_state[key] for key, name in FIELDS.items()}
    return [f"{FIELD_WORDS[name]} {values[name]:g} (preset: {getattr(recipe, name):g})" for name in shown
            if values[name] != getattr(recipe, name)]


def chosen_config(model: str) -> TrainConfig:
    """The preset with the controls' values on top (settings without a control keep the preset's)."""
    return replace(PRESETS[st.session_state["train_preset"]], model=model,
                   **{name: st.session_state[key] for key, name in FIELDS.items()})


def controls(busy: bool) -> str:
    """Draw the settings (disabled while ``busy``) with what to know about them; return the chosen model."""
    keep = {"disabled": busy, "persist_state": "session"}
    model = st.selectbox("Model", MODEL_NAMES, key="train_model", format_func=MODEL_LABELS.get, **keep)
    st.caption(MODEL_DESCRIPTIONS[model])
    st.selectbox("Preset", list(PRESETS), key="train_preset", format_func=PRESET_LABELS.get,
                 on_change=_apply_preset, help="Fills the settings below (the model stays yours, but *best* switches "
                 "to SVD++, which it was made for). *article*: the article's settings (batch 32); *fast*: big batches, "
                 "a run in a second or two; *best*: our best, SVD++ with L2 and a global offset.", **keep)
    recipe = PRESETS[st.session_state["train_preset"]]
    if switched := st.session_state.pop("train_model_switched", None):
        st.info(f"The *{PRESET_LABELS[st.session_state['train_preset']]}* preset was made for one model, so it "
                f"switched the model from {MODEL_LABELS[switched[0]]} to **{MODEL_LABELS[switched[1]]}**. Choose "
                "another model above to use these settings with it.", icon=":material/swap_horiz:")
    if extras := preset_extras(recipe):
        st.caption(f"This preset also uses {', '.join(extras)}.")
    if changed := changed_from_preset(model):
        st.caption(f"Changed from the preset: {'; '.join(changed)}.")
    if recipe.model != model and recipe.model != PRESETS["article"].model:
        st.caption(f"The {PRESET_LABELS[st.session_state['train_preset']]} preset was tuned for "
                   f"**{MODEL_LABELS[recipe.model]}**: choose it above for its results.")
    st.number_input("Embedding dimension", *CONTROL_RANGES["embedding_dim"], step=1, key="train_embedding_dim",
                    **keep)
    st.slider("Epochs", *CONTROL_RANGES["epochs"], key="train_epochs", **keep)
    st.select_slider("Batch size", BATCH_SIZE_STOPS, key="train_batch_size", **keep)
    if model == "svdpp" and st.session_state["train_batch_size"] < SVDPP_QUICK_BATCH:
        st.caption(f"SVD++ adds up every rated set at each step, whatever the batch: at batch "
                   f"{st.session_state['train_batch_size']} an epoch of ml-latest-small takes about a minute here, "
                   f"at {SVDPP_QUICK_BATCH:,} half a second (the *best* preset).")
    st.select_slider("Learning rate (Adam)", LEARNING_RATE_STOPS, key="train_learning_rate", **keep)
    if model in DROPOUT_MODELS:
        st.slider("User dropout", *CONTROL_RANGES["user_dropout"], step=DROPOUT_STEP, key="train_user_dropout", **keep)
        st.slider("Movie dropout", *CONTROL_RANGES["movie_dropout"], step=DROPOUT_STEP, key="train_movie_dropout",
                  **keep)
    st.slider("Early-stopping patience", *CONTROL_RANGES["patience"], key="train_patience",
              help="Epochs without a better validation RMSE before stopping; 0 turns early stopping off.", **keep)
    st.number_input("Seed", *CONTROL_RANGES["seed"], step=1, key="train_seed",
                    help="Initial weights and shuffling.", **keep)
    return model
