"""Property tests: whatever a client or a spam mailbox sends, the emulator answers strict
JSON without a 5xx, and a normal request still works afterwards.

One emulator serves the whole module (hypothesis runs each test body many times, which a
function-scoped fixture would not reset between examples anyway), so what one example
stores is what the next one meets: exactly the poisoning these tests look for.

Out of scope: bytes that are not HTTP at all (a control character in a header, a request
line over 8 KiB). aiohttp's HTTP parser answers those with a plain-text 400 before the
application sees a request, as the web server in front of a real Halo would.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from email.message import EmailMessage
from typing import Any
from urllib.parse import quote, quote_from_bytes

import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from halo_emulator import Emulator
from halo_emulator.resources import RESOURCES

from .conftest import SECRET, HaloApi

FUZZ = settings(max_examples=200, deadline=None, database=None, print_blob=True)
"""Bounded for CI (the module takes about 11 s on two cores). No example database: every
run explores afresh, and a failure prints the @reproduce_failure blob that replays it."""

METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS")
ROUTES = (
    *(spec.name for spec in RESOURCES),
    "authinfo",
    "Mail/Integrator/IMAP",
    "Agent/me",
    "nothing",
)
QUERY_NAMES = (
    "order",
    "orderdesc",
    "pageinate",
    "page_size",
    "page_no",
    "count",
    "search",
    "includeinactive",
    "idonly",
    "ticket_id",
    "client_id",
    "site_id",
    "user_id",
    "lookupid",
    "outstandingonly",
    "reason",
)
FIELD_NAMES = (
    "id",
    "name",
    "firstname",
    "surname",
    "emailaddress",
    "inactive",
    "site_id",
    "client_id",
    "user_id",
    "ticket_id",
    "assettype_id",
    "summary",
    "details",
    "outcome",
    "outcome_id",
    "filename",
    "processed",
    "email_start_tag",
    "email_end_tag",
    "tickettype_id",
    "score",
)
ODD_NUMBER_TEXT = (
    "1e400",
    "-1e400",
    "1e-400",
    "NaN",
    "Infinity",
    "-Infinity",
    "-0",
    "0.0",
    "9" * 20,
    "9" * 309,
    "9" * 400,
    "1" * 5000,
)
ODD_STRING_TEXT = ('"\\ud800"', '"x\\udfff"', '"\\udc80\\ud800"', '"\\u0000"', '"\\ufeff"')


def refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def assert_strict_json(response: httpx.Response) -> Any:
    """No 5xx, and the body is JSON a strict parser takes: no NaN, Infinity or lone
    surrogates, and UTF-8. HEAD answers carry no body."""
    request = response.request
    assert response.status_code < 500, (request.method, str(request.url), response.text)
    if request.method == "HEAD":
        return None
    assert response.headers["Content-Type"].startswith("application/json"), response.headers
    body = json.loads(response.content.decode("utf-8"), parse_constant=refuse_constant)
    json.dumps(body, ensure_ascii=False).encode("utf-8")
    return body


# --- strategies ------------------------------------------------------------------------

any_text = st.text(st.one_of(st.characters(), st.characters(categories=["Cs"])), max_size=30)
"""Any code point, lone surrogates included: what a careless client can put in a JSON escape
(st.characters() alone never draws them)."""

number_text = st.one_of(
    st.integers().map(str),
    st.integers(min_value=-(2**70), max_value=2**70).map(str),
    st.floats(allow_nan=False, allow_infinity=False).map(repr),
    st.sampled_from(ODD_NUMBER_TEXT),
)
scalar_text = st.one_of(
    number_text,
    st.sampled_from(("true", "false", "null", "0", "1", "2", '""', '"1"', '"me"')),
    any_text.map(json.dumps),
    st.text(max_size=30).map(lambda text: json.dumps(text, ensure_ascii=False)),
    st.sampled_from(ODD_STRING_TEXT),
)
key_text = st.one_of(st.sampled_from(FIELD_NAMES), any_text).map(json.dumps)


def _object(pairs: list[tuple[str, str]]) -> str:
    return "{" + ",".join(f"{key}: {value}" for key, value in pairs) + "}"


json_text = st.recursive(
    scalar_text,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4).map(lambda items: "[" + ",".join(items) + "]"),
        st.lists(st.tuples(key_text, inner), max_size=5).map(_object),
    ),
    max_leaves=12,
)
"""JSON built as text, so that it can hold what json.dumps would never write."""

deep_text = st.integers(min_value=60, max_value=1500).map(lambda n: "[" * n + "]" * n)
body_text = st.one_of(
    json_text,
    st.lists(st.lists(st.tuples(key_text, scalar_text), max_size=6).map(_object), max_size=3).map(
        lambda items: "[" + ",".join(items) + "]"
    ),
    deep_text.map(lambda deep: '[{"name": "deep", "notes": ' + deep + "}]"),
    deep_text,
    st.text(max_size=40),
    st.just(""),
)
segment = st.one_of(
    st.sampled_from(("1", "2", "0", "-1", "me", "1.0", "1e3", "9" * 20, "")),
    st.integers().map(str),
    any_text.map(lambda text: quote(text.encode("utf-8", "surrogatepass"), safe="")),
    st.binary(max_size=12).map(lambda raw: quote_from_bytes(raw, safe="")),
)


def _cased(text: str, flips: list[bool]) -> str:
    return "".join(
        char.upper() if flip else char.lower() for char, flip in zip(text, flips, strict=False)
    )


route = st.tuples(st.sampled_from(ROUTES), st.lists(st.booleans(), min_size=40, max_size=40)).map(
    lambda pair: _cased(*pair)
)
path = st.tuples(route, st.lists(segment, max_size=2)).map(
    lambda pair: "/".join((pair[0], *pair[1]))
)
query = st.lists(
    st.tuples(
        st.one_of(st.sampled_from(QUERY_NAMES), st.text(max_size=8)),
        st.one_of(scalar_text, st.sampled_from(FIELD_NAMES), st.text(max_size=20)),
    ),
    max_size=5,
).filter(lambda pairs: sum(len(name) + len(value) for name, value in pairs) < 2000)
"""Kept short of aiohttp's 8 KiB request line (see the module docstring)."""


HEADER_NAMES = (
    "From",
    "To",
    "Cc",
    "Reply-To",
    "Subject",
    "Message-ID",
    "In-Reply-To",
    "References",
    "Date",
    "MIME-Version",
    "Content-Type",
    "Content-Transfer-Encoding",
    "Content-Disposition",
)
HEADER_FRAGMENTS = (
    "<",
    ">",
    "a@[",
    "Ada <a@[",
    "@",
    '"',
    "(",
    ")",
    ",",
    ";",
    ":",
    "\\",
    "<>",
    "<@>",
    "[ID:1]",
    "[ID:2]",
    "[ID:" + "1" * 20 + "]",
    "[ID:" + "9" * 400 + "]",
    "=?utf-8?b?SGFsbG8=?=",
    "=?utf-8?q?caf=C3=A9?=",
    "=?x-no-such-charset?q?abc?=",
    "=?utf-8?b?***?=",
    "=?",
    "?=",
    "ada@example.org",
    "Ada Lovelace <ada@example.org>",
    "text/plain; charset=utf-8",
    "text/plain; charset=x-unknown",
    "text/html",
    'multipart/mixed; boundary="b"',
    "multipart/alternative; boundary=",
    "base64",
    "quoted-printable",
    "8bit",
    "x-uuencode",
    "attachment; filename*=utf-8''%ff",
    "\r\n ",
    "\r\n\t",
)
header_value = st.lists(
    st.one_of(st.sampled_from(HEADER_FRAGMENTS), st.text(max_size=12)), max_size=5
).map(" ".join)
header = st.tuples(
    st.one_of(st.sampled_from(HEADER_NAMES), st.text(min_size=1, max_size=10)), header_value
).map(lambda pair: f"{pair[0]}: {pair[1]}")
mail_body = st.one_of(
    st.text(max_size=60),
    st.sampled_from(("--b\r\nContent-Type: text/plain\r\n\r\nhi\r\n--b--", "--b", "=ZZ", "===")),
)


@st.composite
def mime_text(draw: st.DrawFn) -> str:
    """RFC 822-ish text: real and broken headers, CRLF or LF, sometimes base64 of raw bytes."""
    newline = draw(st.sampled_from(("\r\n", "\n")))
    headers = draw(st.lists(header, max_size=8))
    text = newline.join([*headers, "", draw(mail_body)])
    if draw(st.booleans()):
        return text
    raw = text.encode("utf-8") + draw(st.binary(max_size=20))
    return base64.b64encode(raw).decode()


header_safe_text = st.text(st.characters(min_codepoint=0x21, max_codepoint=0x7E), min_size=1)
"""Visible ASCII: what an HTTP client can put in a header (see the module docstring)."""

mail_envelope = st.fixed_dictionaries(
    {"mimeMessage": st.one_of(mime_text(), st.just(""))},
    optional={
        "haloMailboxId": st.one_of(st.just(1), st.integers(), st.text(max_size=5)),
        "incomingEmailId": st.one_of(st.text(max_size=10), st.integers(), st.none()),
    },
).map(lambda envelope: {"haloMailboxId": 1, **envelope})


# --- fixtures ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def shared_emulator() -> Iterator[Emulator]:
    with Emulator(rate_limit=None, client_secret=SECRET) as emulator:
        yield emulator


@pytest.fixture(scope="module")
def shared_api(shared_emulator: Emulator) -> Iterator[HaloApi]:
    api = HaloApi(shared_emulator)
    api.authenticate()
    yield api
    api.close()


def assert_still_serving(api: HaloApi) -> None:
    """Every list serves strict JSON, and a plain email still opens a readable ticket."""
    for spec in RESOURCES:
        params = {"ticket_id": 1} if spec.list_requires else {}
        response = api.get(spec.name, **params)
        assert response.status_code == 200, (spec.name, response.text)
        assert_strict_json(response)
    mailboxes = assert_strict_json(api.get("Mailbox"))
    if not mailboxes:
        mailboxes = [assert_strict_json(api.post("Mailbox", [{"name": "Fuzz Mailbox"}]))]
    message = EmailMessage()
    message["From"] = "ada@example.org"
    message["Subject"] = "Still working"
    message.set_content("Plain mail")
    pushed = api.post(
        "Mail/Integrator/IMAP",
        {"haloMailboxId": mailboxes[0]["id"], "mimeMessage": message.as_string()},
    )
    assert pushed.status_code == 200, pushed.text
    ticket = api.get(f"Tickets/{assert_strict_json(pushed)['ticket_id']}")
    assert assert_strict_json(ticket)["summary"] == "Still working"


# --- properties --------------------------------------------------------------------------


@FUZZ
@given(method=st.sampled_from(METHODS), path=path, query=query, body=body_text)
def test_any_request_to_the_api_answers_strict_json(
    shared_api: HaloApi, method: str, path: str, query: list[tuple[str, str]], body: str
) -> None:
    content = body.encode("utf-8", "surrogatepass") if method in ("POST", "PUT", "PATCH") else None
    headers = {"Content-Type": "application/json"}
    response = shared_api.request(method, path, params=query, content=content, headers=headers)
    assert_strict_json(response)
    assert_strict_json(shared_api.request("GET", path.split("/")[0], params=query))


@FUZZ
@given(route=route, body=body_text)
def test_any_json_posted_to_a_resource_leaves_it_serving(
    shared_api: HaloApi, route: str, body: str
) -> None:
    content = body.encode("utf-8", "surrogatepass")
    headers = {"Content-Type": "application/json"}
    assert_strict_json(shared_api.request("POST", route, content=content, headers=headers))
    for order in ("id", "name", "score", "site_id"):
        assert_strict_json(shared_api.get(route.split("/")[0], order=order, orderdesc="true"))
    assert_still_serving(shared_api)


@FUZZ
@given(envelope=mail_envelope)
def test_any_mail_is_threaded_or_refused_with_json(
    shared_api: HaloApi, envelope: dict[str, Any]
) -> None:
    response = shared_api.post("Mail/Integrator/IMAP", envelope)
    body = assert_strict_json(response)
    if response.status_code == 200:
        ticket = shared_api.get(f"Tickets/{body['ticket_id']}")
        assert ticket.status_code == 200
        assert_strict_json(ticket)
    assert_still_serving(shared_api)


@FUZZ
@given(
    path=st.sampled_from(("/auth/token", "/token", "/Auth/Token", "/api/authinfo")),
    form=st.dictionaries(
        st.sampled_from(("grant_type", "client_id", "client_secret", "scope", "tenant")),
        st.text(max_size=20),
    ),
    authorization=st.one_of(
        st.none(),
        header_safe_text.map(lambda text: "Basic " + text),
        st.binary(min_size=1, max_size=20).map(
            lambda raw: "Basic " + base64.b64encode(raw).decode()
        ),
    ),
)
def test_any_token_request_answers_strict_json(
    shared_api: HaloApi, path: str, form: dict[str, str], authorization: str | None
) -> None:
    headers = {"Authorization": authorization} if authorization else {}
    assert_strict_json(shared_api.http.post(path, data=form, headers=headers))


def test_after_all_that_a_normal_client_is_still_served(
    shared_emulator: Emulator, shared_api: HaloApi
) -> None:
    assert_still_serving(shared_api)
    statuses = shared_emulator.stats()["by_status"]
    assert not [status for status in statuses if status.startswith("5")], statuses
