"""LDAP result codes as errors that say what happened and what to do."""

from __future__ import annotations

import pytest

from core.sources.ldap_errors import (
    DirectoryBaseNotFoundError,
    DirectoryCredentialsError,
    DirectoryError,
    DirectorySearchCappedError,
    bind_failure,
    search_failure,
)

ADDRESS = "dc1:636"
BASE = "OU=Staff,DC=bars,DC=example"


def page_result(code: int, description: str, message: str = "") -> dict[str, object]:
    return {"result": code, "description": description, "message": message}


@pytest.mark.parametrize(
    ("code", "name", "advice"),
    [
        (4, "sizeLimitExceeded", "page_size"),
        (11, "adminLimitExceeded", "MaxPageSize"),
        (3, "timeLimitExceeded", "time limit"),
    ],
)
def test_every_capping_result_is_a_capped_search(code: int, name: str, advice: str) -> None:
    error = search_failure(BASE, "(a=b)", ADDRESS, page_result(code, name), 1000, 500)
    assert isinstance(error, DirectorySearchCappedError) and error.result_code == code
    assert f"after 1000 entries ({name})" in str(error) and advice in str(error)


def test_other_search_results() -> None:
    missing = search_failure(BASE, "(a=b)", ADDRESS, page_result(32, "noSuchObject"), 0, 500)
    referral = search_failure("DC=x", "(a=b)", ADDRESS, page_result(10, "referral"), 0, 500)
    denied = search_failure(
        BASE, "(a=b)", ADDRESS, page_result(50, "insufficientAccessRights"), 0, 9
    )
    other = search_failure(BASE, "(a=b)", ADDRESS, page_result(80, "other", "busy"), 0, 9)
    assert isinstance(missing, DirectoryBaseNotFoundError) and BASE in str(missing)
    assert isinstance(referral, DirectoryBaseNotFoundError) and "refers elsewhere" in str(referral)
    assert "read access" in str(denied)
    assert type(other) is DirectoryError and "other (busy)" in str(other)


@pytest.mark.parametrize(
    ("data", "reason"),
    [("52e", "wrong password"), ("533", "account disabled"), ("775", "account locked out")],
)
def test_ad_says_why_a_bind_failed(data: str, reason: str) -> None:
    message = (
        "80090308: LdapErr: DSID-0C09042A, comment: AcceptSecurityContext error, "
        f"data {data}, v4563"
    )
    error = bind_failure("CN=svc,DC=bars", ADDRESS, page_result(49, "invalidCredentials", message))
    assert isinstance(error, DirectoryCredentialsError)
    assert str(error).startswith(
        f"invalid credentials for bind DN 'CN=svc,DC=bars' on {ADDRESS} ({reason})."
    )


def test_a_server_that_wants_encryption_says_so() -> None:
    error = bind_failure("CN=svc", ADDRESS, page_result(8, "strongerAuthRequired"))
    assert "encrypted" in str(error) and "start_tls" in str(error)
