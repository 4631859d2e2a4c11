import numpy as np

from components.generation.labels import Labels
from components.generation.measures import diversity, frechet_distance, frechet_intervals, image_rows, label_sets


def test_the_frechet_distance_is_the_matrix_square_root_formula():
    from scipy import linalg

    rng = np.random.default_rng(2)
    a, b = rng.normal(size=(50, 6)), rng.normal(0.3, 1.5, size=(70, 6)) @ rng.normal(size=(6, 6))
    cov_a, cov_b = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    root = np.real(linalg.sqrtm(cov_a @ cov_b))
    expected = ((a.mean(0) - b.mean(0)) ** 2).sum() + np.trace(cov_a + cov_b - 2 * root)
    assert abs(frechet_distance(a, b) - expected) < 1e-6 * max(1.0, expected)  # eigvalsh rounding of the null space
    wide = rng.normal(size=(30, 200))  # fewer samples than features: still defined, still 0 against itself
    assert abs(frechet_distance(wide, wide)) < 1e-4


def test_the_frechet_distance_is_zero_for_one_set_and_grows_with_a_shift():
    rng = np.random.default_rng(0)
    a = rng.normal(size=(400, 8))
    assert abs(frechet_distance(a, a)) < 1e-4
    near, far = a + 0.1, a + 1.0
    assert 0 < frechet_distance(a, near) < frechet_distance(a, far)
    assert abs(frechet_distance(a, far) - 8.0) < 1e-3  # a shift of 1 in 8 dimensions, same covariance


def test_its_intervals_hold_the_estimates_and_the_difference_has_the_sign_of_the_further_set():
    rng = np.random.default_rng(1)
    real = rng.normal(size=(120, 4))
    generated = rng.normal(0.8, 1.0, size=(120, 4))  # shifted: further from the real set
    reference = rng.normal(size=(240, 4))  # drawn like the real set
    d = frechet_intervals(generated, real, reference, np.repeat(np.arange(6), 20), np.repeat(np.arange(12), 20),
                          300, 0.95, 0)
    for cell in d.values():
        assert cell["lo"] <= cell["mean"] <= cell["hi"]
    assert d["generated-training_real"]["lo"] > 0 and d["training_real"]["mean"] < d["generated"]["mean"]


def test_diversity_is_zero_for_copies_and_measured_within_a_label_set():
    features = np.array([[0.0, 0], [0, 0], [3, 4], [0, 0]])
    sets = np.array([0, 0, 1, 1])
    assert np.allclose(diversity(features, sets), [0, 0, 5, 5])
    assert np.isnan(diversity(features[:3], np.array([0, 0, 1]))[2])  # alone in its set


def test_image_rows_score_what_the_reader_read_against_the_labels_asked_for():
    labels = np.stack([Labels(view="ap", prosthesis="none").vector(), Labels(view="oblique", prosthesis="left").vector()])
    predicted = np.array([[0, 0, 0], [1, 0, 0]])  # right on the first; the second's left prosthesis missed
    rows = image_rows("generated", predicted, np.zeros((2, 3)), labels, ["a", "b"], ["p", "q"])
    assert rows["view_correct"].tolist() == [1, 1] and rows["prosthesis_left_correct"].tolist() == [1, 0]
    assert np.allclose(rows["label_accuracy"], [1, 2 / 3])
    assert len(set(label_sets(labels))) == 2
