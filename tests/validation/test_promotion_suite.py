"""The promotion gate's GX suites: what it may act on, and what it records."""

import pytest

from components.validation.gate import ValidationFailed
from components.validation.promotion_suite import validate_metrics, validate_record

GOOD = {"drr.mae": 0.06, "drr.psnr": 21.0, "drr.ssim": 0.66, "radiograph_style.rotation_error_deg": 5.7}
RECORD = {"decision": "promoted", "champion": "5", "challenger": {"version": "5", "metrics": GOOD}, "checks": [
    {"metric": "radiograph_style.rotation_error_deg", "role": "primary", "difference": -0.8, "lo": -1.2, "hi": -0.3,
     "side": "better", "passed": True},
    {"metric": "drr.ssim", "role": "guard", "difference": -0.01, "lo": -0.03, "hi": 0.01, "side": "undecided",
     "passed": True}]}


def test_sound_metrics_and_record_pass():
    validate_metrics(GOOD, "reports/metrics.json")
    validate_record(RECORD, "reports/promotion.json")


@pytest.mark.parametrize("bad, named", [
    ({"drr.ssim": 1.7}, "key=drr.ssim"),
    ({"drr.mae": float("nan")}, "key=drr.mae"),
    ({"radiograph_style.rotation_error_deg": -1.0}, "key=radiograph_style.rotation_error_deg"),
])
def test_metrics_the_gate_must_not_act_on(bad, named):
    with pytest.raises(ValidationFailed, match=named) as failed:
        validate_metrics({**GOOD, **bad}, "reports/metrics.json")
    assert "reports/metrics.json" in str(failed.value)


@pytest.mark.parametrize("change, named", [
    ({"decision": "maybe"}, "decision=maybe"),
    ({"champion": "4"}, "champion=4"),  # promoted, yet the champion is another version
    ({"checks": [{"metric": "radiograph_style.ssim", "role": "primary", "difference": 0.01, "lo": -0.01,
                  "hi": 0.03, "side": "undecided", "passed": True}]},
     "metric=radiograph_style.ssim"),  # an interval that straddles 0 is not "better"
    ({"checks": [{"metric": "drr.ssim", "role": "guard", "difference": -0.05, "lo": -0.08, "hi": -0.02,
                  "side": "worse", "passed": True}]}, "metric=drr.ssim"),  # a significantly worse guard
    ({"checks": [{"metric": "drr.ssim", "role": "guard", "difference": 0.5, "lo": -0.08, "hi": -0.02,
                  "side": "undecided", "passed": True}]}, "metric=drr.ssim"),  # a mean outside its interval
])
def test_records_that_contradict_themselves(change, named):
    with pytest.raises(ValidationFailed, match=named):
        validate_record({**RECORD, **change}, "reports/promotion.json")
