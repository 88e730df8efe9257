"""oracle.json: the safety margin of the limits (issue 18): its default, its range, its place in the input hash."""
import math

import pytest

from gridoracle.config import ConfigError, parse_config
from gridoracle.validate import GridValidator

NODE = "http://127.0.0.1:26657"


def test_the_margin_defaults_to_the_limit_itself_and_round_trips():
    assert parse_config({"node": NODE}).limits.curtail_to_bp == 10_000
    config = parse_config({"node": NODE, "limits": {"curtail_to_pct": 98.5}})
    assert config.limits.curtail_to_bp == 9_850 and config.limits.curtailment_target().line_loading_bp == 9_850
    assert config.to_json()["limits"]["curtail_to_pct"] == 98.5
    assert parse_config(config.to_json()) == config


def test_the_margin_is_part_of_the_input_hash(model, forecast):
    hashes = {GridValidator(model, forecast, parse_config({"node": NODE, "limits": {"curtail_to_pct": pct}}).limits)
              .input_hash([], [80]) for pct in (100, 98)}
    assert len(hashes) == 2


@pytest.mark.parametrize("value", [0, -5, 0.001, 100.01, 250, "98", True, None, math.nan, [98]])
def test_a_bad_margin_is_refused(value):
    with pytest.raises(ConfigError) as error:
        parse_config({"node": NODE, "limits": {"curtail_to_pct": value}})
    assert str(error.value) == \
        f"limits.curtail_to_pct must be a number from 0.01 to 100 (percent of the loading limits), got {value!r}"
