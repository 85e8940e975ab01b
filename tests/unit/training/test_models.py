"""cfcore.training.models: shapes, the per-row dot product, the hand-made layer, the SVD++ model's rated sets,
serialization, bad sizes."""

from __future__ import annotations

import keras
import numpy as np
import pytest

from cfcore.runs.embeddings import implicit_sets
from cfcore.training.build import build_model, load_model
from cfcore.training.models import DotWithBias, GatherEmbedding, SimpleDot, SimpleEmbedding
from tests.support.runs import make_run

N_USERS, N_MOVIES, DIM = 7, 11, 4
PAIRS = np.array([[0, 0], [1, 3], [6, 10], [2, 5], [6, 0], [3, 3]], dtype=np.int32)


def weights(model, layer: str) -> np.ndarray:
    return keras.ops.convert_to_numpy(model.get_layer(layer).embeddings)


def predict(model, pairs=PAIRS) -> np.ndarray:
    return keras.ops.convert_to_numpy(model(pairs, training=False))


@pytest.mark.parametrize("name", ["simple_dot", "simple_embedding"])
def test_prediction_is_a_per_row_dot_product(name):
    model = build_model(name, N_USERS, N_MOVIES, DIM, seed=3)
    # Spread the weights out so that a sum over the whole batch could not pass by accident.
    rng = np.random.default_rng(0)
    model.get_layer("user_embedding").embeddings.assign(rng.normal(size=(N_USERS, DIM)))
    model.get_layer("movie_embedding").embeddings.assign(rng.normal(size=(N_MOVIES, DIM)))
    out = predict(model)
    assert out.shape == (len(PAIRS), 1)
    assert len(np.unique(out.round(5))) == len(PAIRS)
    user, movie = weights(model, "user_embedding"), weights(model, "movie_embedding")
    expected = np.sum(user[PAIRS[:, 0]] * movie[PAIRS[:, 1]], axis=1)
    np.testing.assert_allclose(out[:, 0], expected, rtol=1e-5, atol=1e-6)


def test_bias_model_is_sigmoid_of_dot_plus_biases():
    model = build_model("dot_with_bias", N_USERS, N_MOVIES, DIM, seed=3, min_rating=1.0, max_rating=5.0)
    out = predict(model)
    assert out.shape == (len(PAIRS), 1)
    u, m = PAIRS[:, 0], PAIRS[:, 1]
    logit = (np.sum(weights(model, "user_embedding")[u] * weights(model, "movie_embedding")[m], axis=1)
             + weights(model, "user_bias")[u, 0] + weights(model, "movie_bias")[m, 0])
    np.testing.assert_allclose(keras.ops.convert_to_numpy(model.logit(PAIRS))[:, 0], logit, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(out[:, 0], 1.0 + 4.0 / (1.0 + np.exp(-logit)), rtol=1e-5)


def test_bias_model_output_stays_in_the_rating_range():
    model = build_model("dot_with_bias", N_USERS, N_MOVIES, DIM, seed=1, min_rating=0.5, max_rating=5.0,
                        global_bias=True)
    rng = np.random.default_rng(1)
    for layer in ("user_embedding", "movie_embedding", "user_bias", "movie_bias"):
        variable = model.get_layer(layer).embeddings
        variable.assign(rng.normal(scale=20.0, size=variable.shape))
    everything = np.array([[u, m] for u in range(N_USERS) for m in range(N_MOVIES)], dtype=np.int32)
    out = predict(model, everything)
    assert out.min() >= 0.5 and out.max() <= 5.0
    assert out.min() < 1.0 and out.max() > 4.5  # large weights do reach both ends


def test_gather_embedding_equals_one_hot_times_weights():
    layer = GatherEmbedding(9, 5, embeddings_initializer=keras.initializers.RandomNormal(seed=2))
    indices = np.array([0, 8, 3, 3, 5], dtype=np.int32)
    out = keras.ops.convert_to_numpy(layer(indices))
    table = keras.ops.convert_to_numpy(layer.embeddings)
    one_hot = np.eye(9, dtype=np.float32)[indices]
    assert out.shape == (5, 5)
    np.testing.assert_allclose(out, one_hot @ table, rtol=1e-6)
    assert layer.compute_output_shape((None,)) == (None, 5)


def test_gather_embedding_is_hand_made():
    assert not issubclass(GatherEmbedding, keras.layers.Embedding)
    model = build_model("simple_embedding", N_USERS, N_MOVIES, DIM)
    assert isinstance(model, SimpleEmbedding)
    for name in ("user_embedding", "movie_embedding"):
        layer = model.get_layer(name)
        assert type(layer) is GatherEmbedding and not isinstance(layer, keras.layers.Embedding)
    assert isinstance(build_model("simple_dot", 2, 2, 2).get_layer("user_embedding"), keras.layers.Embedding)


def test_simple_models_use_the_article_initialisation():
    model = build_model("simple_dot", 200, 300, 16, seed=5)
    for name in ("user_embedding", "movie_embedding"):
        values = weights(model, name)
        assert values.min() >= 0.0 and values.max() <= 0.05 and values.std() > 0.01


def test_same_seed_gives_same_weights_and_simple_models_agree():
    a = build_model("simple_dot", N_USERS, N_MOVIES, DIM, seed=9)
    b = build_model("simple_embedding", N_USERS, N_MOVIES, DIM, seed=9)
    np.testing.assert_array_equal(weights(a, "user_embedding"), weights(b, "user_embedding"))
    np.testing.assert_allclose(predict(a), predict(b), rtol=1e-6)
    c = build_model("simple_dot", N_USERS, N_MOVIES, DIM, seed=10)
    assert not np.array_equal(weights(a, "user_embedding"), weights(c, "user_embedding"))


@pytest.mark.parametrize(
    "name, kwargs",
    [
        ("simple_dot", {}),
        ("simple_embedding", {}),
        ("dot_with_bias", {}),
        ("dot_with_bias", {"global_bias": True, "l2": 1e-4, "min_rating": 1.0, "max_rating": 10.0}),
    ],
)
def test_keras_file_round_trip_in_safe_mode(tmp_path, name, kwargs):
    model = build_model(name, N_USERS, N_MOVIES, DIM, seed=4, **kwargs)
    if kwargs.get("global_bias"):
        model.global_offset.assign([0.7])  # a non-initial value that must survive the trip
    path = tmp_path / f"{name}.keras"
    model.save(path)
    loaded = load_model(path)
    assert type(loaded) is type(model) and loaded.get_config() == model.get_config()
    np.testing.assert_array_equal(predict(loaded), predict(model))
    assert [w.shape for w in loaded.get_weights()] == [w.shape for w in model.get_weights()]
    if kwargs.get("global_bias"):
        offset = float(keras.ops.convert_to_numpy(loaded.global_offset)[0])
        assert loaded.use_global_bias and offset == pytest.approx(0.7)
        assert (loaded.min_rating, loaded.max_rating, loaded.l2) == (1.0, 10.0, 1e-4)
    # Safe mode is really on: it refuses a lambda.
    lam = keras.Sequential([keras.Input((1,)), keras.layers.Lambda(lambda x: x + 1)])
    lam.save(tmp_path / "lambda.keras")
    with pytest.raises(ValueError, match="(?i)unsafe|safe_mode"):
        load_model(tmp_path / "lambda.keras")


def test_dropout_only_in_training():
    model = build_model("dot_with_bias", N_USERS, N_MOVIES, DIM, seed=2, user_dropout=0.5, movie_dropout=0.5)
    np.testing.assert_array_equal(predict(model), predict(model))
    trained = [keras.ops.convert_to_numpy(model(PAIRS, training=True)) for _ in range(3)]
    assert not all(np.array_equal(trained[0], t) for t in trained[1:])


@pytest.mark.parametrize(
    "call, quoted",
    [
        (lambda: build_model("simple_dot", 0, 5, 4), "n_users=0"),
        (lambda: build_model("simple_embedding", 5, -2, 4), "n_movies=-2"),
        (lambda: build_model("dot_with_bias", 5, 5, 0), "embedding_dim=0"),
        (lambda: GatherEmbedding(0, 3), "input_dim=0"),
        (lambda: GatherEmbedding(3, -1), "output_dim=-1"),
        (lambda: DotWithBias(5, 5, 4, min_rating=5.0, max_rating=5.0), "max_rating=5.0"),
        (lambda: DotWithBias(5, 5, 4, user_dropout=1.0), "user_dropout=1.0"),
        (lambda: SimpleDot(5, 5, 2.5), "embedding_dim=2.5"),
        (lambda: build_model("matrix_magic", 5, 5, 4), "'matrix_magic'"),
    ],
)
def test_bad_sizes_raise_value_error_quoting_the_value(call, quoted):
    with pytest.raises(ValueError) as info:
        call()
    assert quoted in str(info.value)


def test_the_hand_made_layer_starts_like_simple_dot_unless_it_uses_its_own_initialiser():
    """Identical curves come from identical starts; own_init gives the article's other start."""
    from cfcore.training.build import build_model

    dot = build_model("simple_dot", 30, 20, 8, seed=3)
    same = build_model("simple_embedding", 30, 20, 8, seed=3)
    own = build_model("simple_embedding", 30, 20, 8, seed=3, own_init=True)
    for a, b in zip(dot.get_weights(), same.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)
    mine = np.concatenate([w.ravel() for w in own.get_weights()])
    assert mine.min() < 0 <= np.concatenate([w.ravel() for w in dot.get_weights()]).min()
    assert -0.05 <= mine.min() and mine.max() <= 0.05
    assert own.get_config()["own_init"] is True
    again = type(own).from_config(own.get_config())
    assert again.own_init is True


@pytest.mark.parametrize("name", ["simple_dot", "dot_with_bias", "simple_embedding"])
def test_embeddings_of_returns_the_set_weights(name):
    from cfcore.training.build import embeddings_of

    rng = np.random.default_rng(0)
    movie = rng.normal(size=(5, 3))
    user = rng.normal(size=(6, 3))
    run = make_run(name, movie, user=user, user_bias=np.arange(6) * 0.1, movie_bias=-np.arange(5) * 0.2)
    emb = embeddings_of(run.model)
    np.testing.assert_allclose(emb.movie, movie, atol=1e-6)
    np.testing.assert_allclose(emb.user, user, atol=1e-6)
    if name == "dot_with_bias":
        np.testing.assert_allclose(emb.user_bias, np.arange(6) * 0.1, atol=1e-6)
        np.testing.assert_allclose(emb.movie_bias, -np.arange(5) * 0.2, atol=1e-6)
        assert (emb.min_rating, emb.max_rating) == (0.5, 5.0)
        assert emb.global_offset == 0.0
    else:
        assert emb.user_bias is None and emb.movie_bias is None and emb.min_rating is None


def test_embeddings_of_reads_the_global_offset():
    from cfcore.training.build import embeddings_of

    run = make_run("dot_with_bias", np.ones((4, 2)), global_offset=0.75)
    assert embeddings_of(run.model).global_offset == pytest.approx(0.75)


def test_implicit_sets_are_the_rated_movies_and_the_raters():
    pairs = np.array([[0, 2], [1, 0], [0, 1], [2, 2]])
    user_splits, user_movies, movie_splits, movie_users = implicit_sets(pairs, 3, 4)
    assert user_splits.tolist() == [0, 2, 3, 4] and user_movies.tolist() == [1, 2, 0, 2]
    assert movie_splits.tolist() == [0, 1, 2, 4, 4] and movie_users.tolist() == [1, 0, 0, 2]


def test_with_empty_sets_it_is_the_bias_model():
    x = np.array([[0, 1], [3, 6], [2, 2], [4, 0]])
    bias = build_model("dot_with_bias", 5, 7, 4, seed=3, global_bias=True)
    empty = build_model("svdpp", 5, 7, 4, seed=3, global_bias=True)
    assert np.array_equal(bias(x).numpy(), empty(x).numpy())
    # And its rated-set tables get no gradient from the data: nothing to add up.
    import tensorflow as tf

    with tf.GradientTape() as tape:
        loss = tf.reduce_mean(tf.square(empty(x, training=True) - 3.0))
    grads = tape.gradient(loss, [empty.rated_embedding.embeddings.value, empty.rater_embedding.embeddings.value])
    assert all(g is None or float(tf.reduce_sum(tf.abs(tf.convert_to_tensor(g)))) == 0.0 for g in grads)
    # With sets, the same weights predict something else.
    filled = build_model("svdpp", 5, 7, 4, seed=3, global_bias=True, train_pairs=np.array([[0, 1], [0, 2], [3, 6]]))
    assert not np.allclose(bias(x).numpy(), filled(x).numpy())


def test_no_validation_rating_reaches_the_rated_sets(svdpp_run):
    split, model = svdpp_run.split, svdpp_run.model
    n_users, n_movies = svdpp_run.dataset.n_users, svdpp_run.dataset.n_movies
    expected = implicit_sets(split.x_train, n_users, n_movies)
    held = [np.asarray(v.numpy()) for v in (model.user_splits, model.user_movies, model.movie_splits,
                                             model.movie_users)]
    for mine, theirs in zip(held, expected, strict=True):
        assert np.array_equal(mine, theirs)
    splits, members = held[0], held[1]
    in_sets = {(u, int(m)) for u in range(n_users) for m in members[splits[u]:splits[u + 1]]}
    assert not in_sets & {(int(u), int(m)) for u, m in split.x_val}
    assert len(in_sets) == split.n_train
