from __future__ import annotations

from core.settings.json_locations import parse_with_lines


def test_json_locations_records_key_and_element_lines() -> None:
    text = '{\n"a": 1,\n"b": [\n  true,\n  {"c": "x\\"y"}\n],\n"d": {}\n}'
    located = parse_with_lines(text)
    assert located.value["b"][1]["c"] == 'x"y'
    assert located.lines == {
        "": 1, "a": 2, "b": 3, "b[0]": 4, "b[1]": 5, "b[1].c": 5, "d": 7,
    }  # fmt: skip


def test_json_locations_handles_scalars_and_empty_containers() -> None:
    assert parse_with_lines(" 42 ").lines == {"": 1}
    assert parse_with_lines("\n[]").lines == {"": 2}
    assert parse_with_lines('{"k": [ ], "e": { }}').lines == {"": 1, "k": 1, "e": 1}
