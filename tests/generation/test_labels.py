import math

import numpy as np
import pytest

from components.generation.labels import LABELS, LabelError, Labels, view_of


def test_a_label_set_survives_its_vector_and_unknowns_are_nan():
    labels = Labels(view="oblique", prosthesis="left", sex="f", age=71.0, bmi=31.5)
    vector = labels.vector()
    assert vector.dtype == np.float32 and len(vector) == len(LABELS)
    assert Labels.from_vector(vector) == labels
    partial = Labels(prosthesis="right").vector()
    assert [math.isnan(v) for v in partial] == [True, False, False, True, True, True]
    assert Labels.from_vector(partial) == Labels(prosthesis="right")
    assert Labels().caption() == "no labels" and "prosthesis right" in Labels(prosthesis="right").caption()


@pytest.mark.parametrize("kwargs, words", [({"view": "lateral"}, "view 'lateral'"), ({"prosthesis": "yes"}, "prosthesis"),
                                           ({"sex": "x"}, "sex"), ({"age": 130.0}, "age 130.0"), ({"bmi": 5.0}, "bmi")])
def test_a_label_the_model_cannot_take_is_one_clear_line(kwargs, words):
    with pytest.raises(LabelError, match=words) as err:
        Labels(**kwargs)
    assert "\n" not in str(err.value)


def test_the_view_is_oblique_beyond_the_threshold_about_z_either_way():
    assert [view_of(rz, 7) for rz in (0, 7, -7, 8, -12)] == ["ap", "ap", "ap", "oblique", "oblique"]
