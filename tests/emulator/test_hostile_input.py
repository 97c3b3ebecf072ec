"""Input a client or a spam mailbox may send: refused with a JSON 400 or taken leniently,
never a 500 and never stored in a shape that breaks later answers."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

from halo_emulator import Emulator
from halo_emulator.baseline import baseline_records
from halo_emulator.server import MAX_BODY_BYTES
from halo_emulator.store import Store

from .conftest import HaloApi
from .test_mail import push

HUGE_INTEGER = "9" * 400  # valid JSON, but no double (and so no Halo field) can hold it


def strict_json(response: httpx.Response) -> Any:
    """The body parsed as strict JSON: NaN and Infinity are not JSON."""

    def refuse(name: str) -> Any:
        raise ValueError(f"{name} is not JSON")

    return json.loads(response.content.decode("utf-8"), parse_constant=refuse)


def post_raw(api: HaloApi, path: str, content: bytes | str) -> httpx.Response:
    headers = {"Content-Type": "application/json"}
    return api.request("POST", path, content=content, headers=headers)


def raw_mail(*headers: str, body: str = "Hello") -> str:
    return "\r\n".join((*headers, "", body))


def test_a_number_too_large_for_a_double_is_refused_and_not_stored(api: HaloApi) -> None:
    response = post_raw(api, "Users", '[{"name": "Big", "score": 1e400}]')
    assert response.status_code == 400
    assert "1e400" in strict_json(response)["message"]
    assert strict_json(api.get("Users"))["record_count"] == 0


def test_an_integer_too_large_for_a_double_is_refused(api: HaloApi) -> None:
    response = post_raw(api, "Users", f'[{{"name": "Big", "score": -{HUGE_INTEGER}}}]')
    assert response.status_code == 400
    assert "out of range" in strict_json(response)["message"]


def test_an_integer_beyond_int64_that_a_double_holds_is_kept(api: HaloApi) -> None:
    response = post_raw(api, "Users", '[{"name": "Big", "score": 100000000000000000000}]')
    assert response.status_code == 200
    assert strict_json(response)["score"] == 10**20


def test_order_on_a_field_holding_a_huge_integer_still_sorts(
    tmp_path: Path, make_emulator: Callable[..., Emulator], make_api: Callable[..., HaloApi]
) -> None:
    # Written straight into the database, as an emulator before the range check stored it.
    database = tmp_path / "halo.db"
    store = Store(database)
    store.seed(baseline_records("2024-01-01T00:00:00.000"))
    store.save(
        "users",
        [
            {"id": 1, "name": "Huge", "score": int(HUGE_INTEGER)},
            {"id": 2, "name": "Small", "score": 1.5},
            {"id": 3, "name": "Text", "score": "abc"},
        ],
    )
    store.close()
    api = make_api(make_emulator(db_path=database, rate_limit=None))
    response = api.get("Users", order="score")
    assert response.status_code == 200
    assert [user["name"] for user in strict_json(response)["users"]] == ["Small", "Huge", "Text"]


def test_a_body_nested_a_thousand_levels_is_refused(api: HaloApi) -> None:
    deep = "[" * 1000 + "]" * 1000
    response = post_raw(api, "Users", deep)
    assert response.status_code == 400
    assert "nested" in strict_json(response)["message"]


def test_a_body_nested_deeper_than_halo_reads_is_refused_before_it_is_stored(
    api: HaloApi,
) -> None:
    # Shallow enough for Python's parser, deeper than .NET's default of 64 levels.
    body = '[{"name": "Deep", "notes": ' + "[" * 900 + "]" * 900 + "}]"
    response = post_raw(api, "Users", body)
    assert response.status_code == 400
    assert strict_json(api.get("Users"))["record_count"] == 0


def test_a_body_nested_64_levels_is_accepted(api: HaloApi) -> None:
    notes: Any = "leaf"
    for _ in range(62):
        notes = [notes]
    assert api.post("Users", [{"name": "Nested", "notes": notes}]).status_code == 200


def test_a_lone_surrogate_in_a_body_is_refused(api: HaloApi) -> None:
    response = post_raw(api, "Users", '[{"name": "Broken \\ud800 text"}]')
    assert response.status_code == 400
    assert "surrogate" in strict_json(response)["message"]
    assert strict_json(api.get("Users"))["record_count"] == 0


def test_a_subject_tag_with_twenty_digits_opens_a_new_ticket(api: HaloApi) -> None:
    text = raw_mail("From: ada@example.org", f"Subject: Spam [ID:{'1' * 20}]")
    response = push(api, text)
    assert response.status_code == 200
    assert strict_json(response)["created"] is True


def test_a_truncated_message_id_is_taken_as_it_is(api: HaloApi) -> None:
    text = raw_mail("From: ada@example.org", "Subject: Hello", "Message-ID: <")
    response = push(api, text)
    assert response.status_code == 200
    ticket = strict_json(api.get(f"Tickets/{strict_json(response)['ticket_id']}"))
    assert ticket["summary"] == "Hello"
    assert ticket["mailentryid"] == "<"


def test_a_broken_from_address_still_opens_a_ticket(api: HaloApi) -> None:
    response = push(api, raw_mail("From: a@[", "Subject: Spam"))
    assert response.status_code == 200
    assert strict_json(response)["created"] is True


def test_a_reply_with_a_broken_from_address_still_threads(api: HaloApi) -> None:
    ticket_id = strict_json(push(api, raw_mail("From: ada@example.org", "Subject: VPN")))[
        "ticket_id"
    ]
    reply = push(api, raw_mail("From: Ada <a@[", f"Subject: Re: VPN [ID:{ticket_id}]"))
    assert reply.status_code == 200
    assert strict_json(reply)["ticket_id"] == ticket_id
    assert strict_json(reply)["created"] is False


def test_undecodable_bytes_in_a_base64_mail_are_replaced(api: HaloApi) -> None:
    raw = b"From: ada@example.org\r\nSubject: Caf\xe9 \xff\r\n\r\nbody \xfe"
    response = push(api, base64.b64encode(raw).decode())
    assert response.status_code == 200
    ticket = strict_json(api.get(f"Tickets/{strict_json(response)['ticket_id']}"))
    assert ticket["summary"].startswith("Caf")
    ticket["summary"].encode("utf-8")  # no lone surrogates left in it


def test_a_body_in_an_unknown_charset_is_read_as_utf8(api: HaloApi) -> None:
    text = raw_mail(
        "From: ada@example.org",
        "Subject: Odd charset",
        'Content-Type: text/plain; charset="x-no-such-charset"',
        body="Hallo Welt",
    )
    response = push(api, text)
    assert response.status_code == 200
    ticket = strict_json(api.get(f"Tickets/{strict_json(response)['ticket_id']}"))
    assert ticket["details"] == "Hallo Welt"


def test_a_non_string_email_tag_is_refused_and_mail_keeps_working(api: HaloApi) -> None:
    response = api.post("Control", {"email_start_tag": 5})
    assert response.status_code == 400
    assert "email_start_tag" in strict_json(response)["message"]
    assert strict_json(api.get("Control"))["email_start_tag"] == "[ID:"
    assert push(api, raw_mail("From: ada@example.org", "Subject: Hi")).status_code == 200


def test_agent_me_after_the_api_agent_was_deleted_is_a_json_404(api: HaloApi) -> None:
    assert api.delete("Agent/1").status_code == 200
    response = api.get("Agent/me")
    assert response.status_code == 404
    assert "message" in strict_json(response)


def test_405_answers_name_the_methods_the_route_supports(api: HaloApi) -> None:
    expected = {
        ("PUT", "Users"): "GET, POST",
        ("POST", "Users/1"): "GET, DELETE",
        ("POST", "Agent/me"): "GET",
        ("DELETE", "Agent/me"): "GET",
        ("PUT", "Control"): "GET, POST",
        ("POST", "authinfo"): "GET",
        ("GET", "Mail/Integrator/IMAP"): "POST",
    }
    for (method, path), allow in expected.items():
        response = api.request(method, path)
        assert (method, path, response.status_code) == (method, path, 405)
        assert (method, path, response.headers["Allow"]) == (method, path, allow)
        assert "message" in strict_json(response)


def test_control_has_no_member_route(api: HaloApi) -> None:
    response = api.get("Control/1")
    assert response.status_code == 404
    assert "message" in strict_json(response)


def test_headers_that_break_the_address_parser_are_read_raw(api: HaloApi) -> None:
    # Found by the fuzzer: the email package raises UnboundLocalError on these.
    text = raw_mail("From: < @[ ", "Subject: Spam", "Message-ID: < a@[")
    response = push(api, text)
    assert response.status_code == 200
    ticket = strict_json(api.get(f"Tickets/{strict_json(response)['ticket_id']}"))
    assert ticket["mailentryid"] == "< a@["


def test_a_path_with_a_newline_answers_json(api: HaloApi) -> None:
    # Found by the fuzzer: `.*` in the route patterns stops at a decoded newline, so no
    # route matched and aiohttp's own plain-text 404 went out.
    for path in ("Users/%0A", "%0A", "Users%0Ax"):
        response = api.get(path)
        assert response.status_code == 404
        assert "message" in strict_json(response)
    response = api.http.get("/_emulator/%0A")
    assert response.status_code == 404
    assert "message" in strict_json(response)


def test_a_body_over_the_size_limit_is_a_json_413(api: HaloApi) -> None:
    too_big = b" " * (MAX_BODY_BYTES + 1)
    response = api.request("POST", "Attachment", content=too_big)
    assert response.status_code == 413
    assert "message" in strict_json(response)
