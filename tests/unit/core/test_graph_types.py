"""Delta entries become GraphUser or RemovedUser; settings build Entra's and Graph's URLs."""

from __future__ import annotations

import pytest

from core.sources.graph_types import GraphSettings, GraphUser, RemovedUser, delta_item


def test_a_removed_entry_becomes_a_removed_user_with_its_reason() -> None:
    item = delta_item({"id": "a", "@removed": {"reason": "deleted"}})
    assert item == RemovedUser("a", "deleted") and item.permanently
    assert not RemovedUser("a", "changed").permanently


def test_a_changed_entry_keeps_its_properties_without_odata_annotations() -> None:
    item = delta_item({"id": "a", "displayName": "Ada", "@odata.type": "#microsoft.graph.user"})
    assert item == GraphUser("a", {"id": "a", "displayName": "Ada"})


def test_enabled_is_account_enabled_as_sent_and_none_when_not_sent() -> None:
    assert GraphUser("a", {"accountEnabled": True}).enabled is True
    assert GraphUser("a", {"accountEnabled": False}).enabled is False
    assert GraphUser("a", {}).enabled is None


def test_an_entry_without_an_id_is_refused() -> None:
    with pytest.raises(ValueError, match="without an id"):
        delta_item({"displayName": "nobody"})


def test_settings_build_the_token_url_scope_and_api_root() -> None:
    settings = GraphSettings(tenant_id="contoso.onmicrosoft.com", client_id="app")
    assert settings.token_url == (
        "https://login.microsoftonline.com/contoso.onmicrosoft.com/oauth2/v2.0/token"
    )
    assert settings.scope == "https://graph.microsoft.com/.default"
    assert settings.api_url == "https://graph.microsoft.com/v1.0"
