"""The promotion gate's GX suites: what it may act on, and what it records."""

import pytest

from components.validation.gate import ValidationFailed
from components.validation.promotion_suite import validate_metrics, validate_record

GOOD = {"drr.mae": 0.06, "drr.psnr": 21.0, "drr.ssim": 0.66, "radiograph_style.angle_error_deg": 5.7}
RECORD = {"decision": "promoted", "champion": "5", "challenger": {"version": "5", "metrics": GOOD}, "checks": [
    {"metric": "radiograph_style.ssim", "role": "primary", "gain": 0.01, "needed": 0.0, "passed": True},
    {"metric": "drr.mae", "role": "guard", "gain": -0.001, "needed": -0.005, "passed": True}]}


def test_sound_metrics_and_record_pass():
    validate_metrics(GOOD, "reports/metrics.json")
    validate_record(RECORD, "reports/promotion.json")


@pytest.mark.parametrize("bad, named", [
    ({"drr.ssim": 1.7}, "key=drr.ssim"),
    ({"drr.mae": float("nan")}, "key=drr.mae"),
    ({"radiograph_style.angle_error_deg": -1.0}, "key=radiograph_style.angle_error_deg"),
])
def test_metrics_the_gate_must_not_act_on(bad, named):
    with pytest.raises(ValidationFailed, match=named) as failed:
        validate_metrics({**GOOD, **bad}, "reports/metrics.json")
    assert "reports/metrics.json" in str(failed.value)


@pytest.mark.parametrize("change, named", [
    ({"decision": "maybe"}, "decision=maybe"),
    ({"champion": "4"}, "champion=4"),  # promoted, yet the champion is another version
    ({"checks": [{"metric": "radiograph_style.ssim", "role": "primary", "gain": 0.0, "needed": 0.0,
                  "passed": True}]}, "metric=radiograph_style.ssim"),  # equal is not better
])
def test_records_that_contradict_themselves(change, named):
    with pytest.raises(ValidationFailed, match=named):
        validate_record({**RECORD, **change}, "reports/promotion.json")
