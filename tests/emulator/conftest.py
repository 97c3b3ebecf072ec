"""Fixtures: real emulators on loopback sockets and httpx clients holding a token."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from halo_emulator import Emulator

SECRET = "test-secret"


class HaloApi:
    """A small httpx wrapper: fetches a token, then talks to /api with it."""

    def __init__(self, emulator: Emulator) -> None:
        self.emulator = emulator
        self.http = httpx.Client(base_url=emulator.base_url, timeout=10)
        self.token = ""

    def authenticate(self) -> str:
        response = self.http.post("/auth/token", data=token_form(self.emulator))
        response.raise_for_status()
        self.token = response.json()["access_token"]
        return self.token

    def request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        headers = {"Authorization": f"Bearer {self.token}", **kwargs.pop("headers", {})}
        return self.http.request(method, "/api/" + path.lstrip("/"), headers=headers, **kwargs)

    def get(self, path: str, **params: Any) -> httpx.Response:
        return self.request("GET", path, params=params)

    def post(self, path: str, body: Any) -> httpx.Response:
        return self.request("POST", path, json=body)

    def delete(self, path: str) -> httpx.Response:
        return self.request("DELETE", path)

    def admin(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        return self.http.request(method, "/_emulator/" + path.lstrip("/"), **kwargs)

    def close(self) -> None:
        self.http.close()


def token_form(emulator: Emulator, **overrides: str) -> dict[str, str]:
    form = {
        "grant_type": "client_credentials",
        "client_id": emulator.client_id,
        "client_secret": emulator.client_secret,
        "scope": "all",
    }
    form.update(overrides)
    return form


@pytest.fixture
def make_emulator() -> Iterator[Callable[..., Emulator]]:
    """Start emulators with any constructor arguments; all are stopped at teardown."""
    started: list[Emulator] = []

    def start(**kwargs: Any) -> Emulator:
        kwargs.setdefault("client_secret", SECRET)
        emulator = Emulator(**kwargs).start()
        started.append(emulator)
        return emulator

    yield start
    for emulator in started:
        emulator.stop()


@pytest.fixture
def emulator(make_emulator: Callable[..., Emulator]) -> Emulator:
    """A fresh emulator with a temporary database and no rate limit."""
    return make_emulator(rate_limit=None)


@pytest.fixture
def make_api() -> Iterator[Callable[[Emulator], HaloApi]]:
    """Build authenticated HaloApi clients; all are closed at teardown."""
    clients: list[HaloApi] = []

    def build(emulator: Emulator) -> HaloApi:
        api = HaloApi(emulator)
        clients.append(api)
        api.authenticate()
        return api

    yield build
    for api in clients:
        api.close()


@pytest.fixture
def api(emulator: Emulator, make_api: Callable[[Emulator], HaloApi]) -> HaloApi:
    """An authenticated client of the default emulator."""
    return make_api(emulator)
