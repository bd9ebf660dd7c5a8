"""Label-or-id vocabularies: any case, ids as numbers or strings, nearest labels on a miss."""

from __future__ import annotations

import pytest

from casebridge.tools.vocab import Vocabulary

LEVELS = Vocabulary("defendant level", {6146: "State", 6147: "City", 6148: "County", 6152: "School District"})


@pytest.mark.parametrize(
    "value", ["school district", "School District", "SCHOOL-DISTRICT", 6152, "6152", " school  district "]
)
def test_label_or_id_in_any_case(value: object) -> None:
    assert LEVELS.resolve(value) == 6152


def test_unknown_value_names_nearest_labels() -> None:
    with pytest.raises(ValueError, match="nearest valid labels: 'County'"):
        LEVELS.resolve("countee")


@pytest.mark.parametrize("value", [True, None, 1.5, ["City"], {"a": 1}])
def test_wrong_types_are_refused(value: object) -> None:
    with pytest.raises(ValueError, match="expected a defendant level"):
        LEVELS.resolve(value)


def test_unknown_id_is_refused() -> None:
    with pytest.raises(ValueError):
        LEVELS.resolve(9999)
