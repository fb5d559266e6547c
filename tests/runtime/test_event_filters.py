"""Lambda's event filter patterns, as the local stream pollers apply them."""

import pytest

from payctl.runtime.event_filters import UnsupportedFilter, matches, parse_filters, select

SETTLED = {"eventName": "MODIFY", "dynamodb": {"NewImage": {"status": {"S": "SETTLED"}}}}
RECEIVED = {"eventName": "INSERT", "dynamodb": {"NewImage": {"status": {"S": "RECEIVED"}}}}


def test_values_match_any_of_a_list_and_nest_all_the_way_down():
    pattern = {"dynamodb": {"NewImage": {"status": {"S": ["SETTLED", "DECLINED"]}}}}

    assert select([pattern], [SETTLED, RECEIVED]) == [SETTLED]


def test_exists_prefix_and_anything_but():
    assert matches({"dynamodb": {"NewImage": {"status": {"S": [{"exists": True}]}}}}, RECEIVED)
    assert not matches({"dynamodb": {"NewImage": {"action": {"S": [{"exists": True}]}}}}, RECEIVED)
    assert matches({"dynamodb": {"NewImage": {"action": [{"exists": False}]}}}, RECEIVED)
    assert matches({"dynamodb": {"NewImage": {"status": {"S": [{"prefix": "SETT"}]}}}}, SETTLED)
    assert select([{"eventName": [{"anything-but": ["INSERT"]}]}], [SETTLED, RECEIVED]) == [SETTLED]


def test_any_filter_of_several_lets_a_record_through_and_none_lets_all_through():
    assert select([{"eventName": ["INSERT"]}, {"eventName": ["MODIFY"]}], [SETTLED, RECEIVED]) == [
        SETTLED,
        RECEIVED,
    ]
    assert select([], [SETTLED]) == [SETTLED]


def test_criteria_patterns_are_json_text_as_in_the_template():
    criteria = {"Filters": [{"Pattern": '{"eventName": ["INSERT"]}'}]}

    assert parse_filters(criteria) == ({"eventName": ["INSERT"]},)
    assert parse_filters(None) == ()


def test_an_operator_it_does_not_evaluate_fails_loudly():
    with pytest.raises(UnsupportedFilter):
        matches({"eventName": [{"numeric": [">", 0]}]}, SETTLED)
