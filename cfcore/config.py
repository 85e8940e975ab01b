"""Training settings: a validated config and the named presets. No TensorFlow import here."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields, replace

from cfcore import constants as C

MODEL_NAMES = ("simple_dot", "dot_with_bias", "simple_embedding", "svdpp")
MODEL_DESCRIPTIONS = {
    "simple_dot": "User and movie embeddings; the rating is their dot product.",
    "dot_with_bias": "Adds a user and a movie bias, dropout, and a sigmoid scaled to the rating range.",
    "simple_embedding": "The simple dot model, on a hand-written embedding layer (a row lookup).",
    "svdpp": "The bias model, plus what a rating's existence says: each user's vector adds the average of a "
             "vector for every movie they rated, and each movie's adds one for every user who rated it. Which "
             "movies you chose to rate tells about your taste before any rating does (SVD++, Koren 2008).",
}

# SVD++'s term for the movies a user rated, as an explanation names it.
IMPLICIT_PART = "what they rated"

# The models with dropout on their user and movie vectors.
DROPOUT_MODELS = ("dot_with_bias", "svdpp")

# One readable name per kind of run (a model or a factors method), used everywhere a learner reads one: the
# pickers, run names ("Dot + biases #2"), tables, legends. Short enough for a select box on a projector (1024 px,
# or 150% zoom); MODEL_DESCRIPTIONS and FACTOR_DESCRIPTIONS say the rest. The keys stay the CLI's and the files'.
KIND_NAMES = {"simple_dot": "Dot", "dot_with_bias": "Dot + biases", "simple_embedding": "Hand-made layer",
              "svdpp": "SVD++", "svd": "SVD", "autorec": "AutoRec", "implicit": "Implicit"}
MODEL_LABELS = {model: KIND_NAMES[model] for model in ("simple_dot", "dot_with_bias", "simple_embedding", "svdpp")}

# Other ways to get movie factors (cfcore.training.factors, the "Beyond the article" page). A run of one of these
# is a run folder like a trained model's; its config names the method in ``model``.
FACTOR_METHODS = ("svd", "autorec", "implicit")
# The link each method's model applies to its logit (cfcore.runs.embeddings.link_output); a run's model must
# declare its method's.
FACTOR_LINKS = {"svd": "identity", "autorec": "sigmoid", "implicit": "logistic"}
FACTOR_LABELS = {method: KIND_NAMES[method] for method in FACTOR_METHODS}
FACTOR_DESCRIPTIONS = {
    "svd": "A truncated SVD of the training ratings once user and movie biases are removed (missing = 0): no "
           "training at all. Movie factors are V times the square root of the singular values.",
    "autorec": "An item-based autoencoder: each movie's ratings by every user go in, a hidden layer squeezes them "
               "to a code, the ratings come back out; the loss counts observed ratings only. The code is the "
               "movie's factors.",
    "implicit": "Embeddings trained on another task: did this user rate this movie at all (yes, or one of a few "
                "sampled movies they did not)? The rating itself is never seen, so it predicts no ratings.",
}
# Every kind of run a run folder can hold.
RUN_KINDS = MODEL_NAMES + FACTOR_METHODS


def predicts_ratings(kind: str) -> bool:
    """Whether a run of this kind predicts ratings (every kind but ``implicit``, which predicts "rated or not")."""
    return kind != "implicit"


class ConfigError(ValueError):
    """A training setting is out of bounds; the message names it and the allowed range."""


# (low, high) inclusive bounds; they keep a public server from being asked for absurd work.
BOUNDS: dict[str, tuple[float, float]] = {
    "embedding_dim": (1, 256),
    "epochs": (1, 100),
    "batch_size": (1, 65536),
    "learning_rate": (1e-5, 1.0),
    "user_dropout": (0.0, 0.95),
    "movie_dropout": (0.0, 0.95),
    "l2": (0.0, 1.0),
    "patience": (0, 100),
    "val_fraction": (0.01, 0.5),
    "seed": (0, 2**31 - 1),
    "steps_per_execution": (1, 4096),
}


@dataclass
class TrainConfig:
    """Everything that determines a training run. Defaults are the article's settings.

    ``patience`` 0 turns early stopping off. ``steps_per_execution`` groups that
    many batches into one compiled call (faster; progress and stop requests are
    handled between groups); 0 picks a value from the epoch size.
    ``lr_schedule`` is "constant" or "cosine" (decay to 0 over all epochs).
    ``own_init`` (``simple_embedding`` only) starts the hand-made layer from its own initialiser, uniform in
    -0.05..0.05 with other random numbers, as the article's did, instead of the simple model's starting weights.
    """

    model: str = "dot_with_bias"
    embedding_dim: int = 64
    epochs: int = 10
    batch_size: int = 32
    learning_rate: float = 0.001
    user_dropout: float = 0.3
    movie_dropout: float = 0.6
    l2: float = 0.0
    global_bias: bool = False
    patience: int = 2
    val_fraction: float = 0.2
    seed: int = C.DEFAULT_SEED
    steps_per_execution: int = 0
    lr_schedule: str = "constant"
    own_init: bool = False

    def validate(self) -> TrainConfig:
        """Raise :class:`ConfigError` for any out-of-bounds value; return self (whole numbers made ints, and no
        dropout recorded for a model without it)."""
        if self.model not in RUN_KINDS:
            raise ConfigError(f"unknown model {self.model!r}; choose one of {', '.join(MODEL_NAMES)} (or a factors "
                              f"method: {', '.join(FACTOR_METHODS)})")
        if self.lr_schedule not in ("constant", "cosine"):
            raise ConfigError(f"lr_schedule must be 'constant' or 'cosine'. Received: {self.lr_schedule!r}")
        for name, (low, high) in BOUNDS.items():
            value = getattr(self, name)
            if name == "steps_per_execution" and value == 0:
                continue
            if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
                raise ConfigError(f"{name} must be a number. Received: {name}={value!r}")
            if isinstance(low, int) and isinstance(high, int) and int(value) != value:
                raise ConfigError(f"{name} must be a whole number. Received: {name}={value}")
            if not low <= value <= high:
                raise ConfigError(f"{name} must be between {low:g} and {high:g}. Received: {name}={value}")
            if isinstance(low, int) and isinstance(high, int):
                # 2.0 epochs (from a JSON file or a float widget) must still work as range() bounds.
                setattr(self, name, int(value))
        if self.own_init and self.model != "simple_embedding":
            raise ConfigError(f"own_init is the hand-made layer's (simple_embedding); {self.model} has no such choice")
        if self.model not in DROPOUT_MODELS:  # a model without dropout records none (a preset may carry some)
            self.user_dropout = self.movie_dropout = 0.0
        return self

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, values: dict) -> TrainConfig:
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in values.items() if k in known})


PRESETS: dict[str, TrainConfig] = {
    # The article: bias model, dim 64, batch 32, Adam 1e-3, 10 epochs, patience 2.
    "article": TrainConfig(),
    # The tuned model below with big batches, a higher learning rate and 4 epochs: about 0.845 val RMSE on
    # ml-latest-small in 1-2 s on two CPU cores (bench/train_speed.py).
    "fast": TrainConfig(
        embedding_dim=32, batch_size=2048, learning_rate=0.02, epochs=4, patience=0, lr_schedule="cosine",
        user_dropout=0.0, movie_dropout=0.0, l2=5e-5, global_bias=True,
    ),
    # SVD++ (the bias model plus the rated sets), L2 on every table, a global offset, no dropout, cosine decay.
    # Chosen on ml-latest-small's seed 7, 8 and 9 splits (mean 0.824), never on 0-2; on seeds 0, 1, 2 it reaches
    # 0.816 val RMSE in about 5 s (bench/train_speed.py --anchors; docs/benchmarks.md, "Training speed and presets").
    "best": TrainConfig(
        model="svdpp", embedding_dim=32, batch_size=2048, learning_rate=0.02, epochs=8, patience=3,
        lr_schedule="cosine", user_dropout=0.0, movie_dropout=0.0, l2=3e-4, global_bias=True,
    ),
}

# Each factors method's settings (the CLI's ``factors`` and the "Beyond the article" page change only the size and
# the seed). Fields a method does not use keep values that say so: no dropout, and one "epoch" for the SVD.
# AutoRec's and the implicit task's values were chosen by hand on ml-latest-small's seed-7 split, a few runs each
# (then, AutoRec reached 0.867 and Toy Story's nearest movies under the implicit task were Forrest Gump, Back to the
# Future and Apollo 13: what the same people watched). Today's figures on the seed-42 split: docs/reproducing.md,
# "Beyond the article, measured".
FACTOR_SETTINGS: dict[str, TrainConfig] = {
    "svd": TrainConfig(model="svd", epochs=1, patience=0, user_dropout=0.0, movie_dropout=0.0),
    "autorec": TrainConfig(model="autorec", epochs=40, batch_size=64, learning_rate=0.001, l2=0.02, patience=3,
                           user_dropout=0.0, movie_dropout=0.0),
    # No validation RMSE to stop on (it predicts no ratings): every epoch runs.
    "implicit": TrainConfig(model="implicit", epochs=10, batch_size=1024, learning_rate=0.003, l2=3e-3, patience=0,
                            user_dropout=0.0, movie_dropout=0.0),
}


def factor_config(method: str, dim: int = 64, seed: int = C.DEFAULT_SEED, **overrides) -> TrainConfig:
    """The settings of one factors method with its size and seed, validated.

    Raises:
        ConfigError: for an unknown method or an out-of-bounds value.
    """
    if method not in FACTOR_SETTINGS:
        raise ConfigError(f"unknown method {method!r}; choose one of {', '.join(FACTOR_METHODS)}")
    return replace(FACTOR_SETTINGS[method], embedding_dim=dim, seed=seed, **overrides).validate()


PRESET_LABELS = {"article": "article", "fast": "fast (seconds)", "best": "best (ours)"}

# The stops the Train page's batch-size and learning-rate sliders offer; every preset's own value is one.
BATCH_SIZE_STOPS: tuple[int, ...] = tuple(sorted(
    {16, 32, 64, 128, 256, 512, 1024, 2048, 4096, 8192} | {p.batch_size for p in PRESETS.values()}
))
LEARNING_RATE_STOPS: tuple[float, ...] = tuple(sorted(
    {0.0001, 0.0003, 0.001, 0.003, 0.01, 0.03, 0.1} | {p.learning_rate for p in PRESETS.values()}
))


def kind_name(model: str) -> str:
    """The readable name of a run's kind (:data:`KIND_NAMES`); an unknown one as it is."""
    return KIND_NAMES.get(model, model)


def settings_summary(config: TrainConfig) -> str:
    """A run's settings in a few words, for telling two runs of one kind apart: the preset it follows
    ("fast preset") or its main settings, then what differs from that (a seed, the article's initialiser)."""
    if config.model in FACTOR_SETTINGS:
        return f"{config.embedding_dim} factors, seed {config.seed}"
    same = {"model": config.model, "seed": config.seed, "own_init": config.own_init,
            "val_fraction": config.val_fraction}
    if config.model not in DROPOUT_MODELS:
        same.update(user_dropout=config.user_dropout, movie_dropout=config.movie_dropout)
    preset_name = next((name for name, recipe in PRESETS.items() if replace(recipe, **same) == config), None)
    if preset_name is not None:
        words = [f"{preset_name} preset"]
        if config.seed != PRESETS[preset_name].seed:
            words.append(f"seed {config.seed}")
    else:
        words = [f"dim {config.embedding_dim}", f"batch {config.batch_size}", f"lr {config.learning_rate:g}",
                 f"{config.epochs} epochs", f"seed {config.seed}"]
    if config.own_init:
        words.append("its own initialiser")
    return ", ".join(words)


def model_parameters(n_users: int, n_movies: int, embedding_dim: int, model: str = "") -> int:
    """Weights of a rating model: an embedding and a bias per user and per movie (an upper bound); ``svdpp``
    has a second embedding of each (its rated sets' vectors)."""
    tables = 2 if model == "svdpp" else 1
    return (int(n_users) + int(n_movies)) * (tables * int(embedding_dim) + 1)


def check_work(config: TrainConfig, n_users: int, n_movies: int) -> TrainConfig:
    """The bounds every training request passes, whatever asked for it (a page, a link, a loaded run, the CLI).

    Raises:
        ConfigError: for an out-of-bounds setting, or a model with more than ``MAX_MODEL_PARAMETERS`` weights.
    """
    config.validate()
    if config.model == "svd" and config.embedding_dim >= min(n_users, n_movies):
        raise ConfigError(f"an SVD of rank {config.embedding_dim} needs more users and movies than that; this data "
                          f"has {n_users:,} users and {n_movies:,} movies: choose a size below "
                          f"{min(n_users, n_movies)}")
    weights = model_parameters(n_users, n_movies, config.embedding_dim, config.model)
    if weights > C.MAX_MODEL_PARAMETERS:
        raise ConfigError(
            f"a model of size {config.embedding_dim} for {n_users:,} users and {n_movies:,} movies has {weights:,} "
            f"weights, over the limit of {C.MAX_MODEL_PARAMETERS:,}; choose a smaller embedding size"
        )
    return config


def preset(name: str, **overrides) -> TrainConfig:
    """A named preset with explicit overrides applied, validated."""
    if name not in PRESETS:
        raise ConfigError(f"unknown preset {name!r}; choose one of {', '.join(PRESETS)}")
    return replace(PRESETS[name], **overrides).validate()


# The Train page's controls, narrower than BOUNDS; batch size and learning rate use the stops above.
CONTROL_RANGES: dict[str, tuple[float, float]] = {
    "embedding_dim": (1, 256), "epochs": (1, 50), "user_dropout": (0.0, 0.9), "movie_dropout": (0.0, 0.9),
    "patience": (0, 10), "seed": (0, 2**31 - 1),
}
DROPOUT_STEP = 0.05


def preset_extras(config: TrainConfig) -> list[str]:
    """The settings of ``config`` that have no control on the Train page, in words."""
    extras = []
    if config.l2:
        extras.append(f"L2 penalty {config.l2:g}")
    if config.global_bias:
        extras.append("a global offset")
    if config.lr_schedule == "cosine":
        extras.append("cosine learning-rate decay")
    return extras
