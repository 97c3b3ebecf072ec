"""Secrets never reach a log line, whatever logs them."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from core.run.logs import (
    MIN_SECRET_LENGTH,
    RedactingFilter,
    prune,
    redact,
    remember_secrets,
    run_log_file,
)


def test_known_secrets_and_token_shapes_are_masked() -> None:
    text = (
        "token Bearer eyJhbGciOi.abc-123 sent with client_secret=hunter2hunter2&scope=all "
        'and {"password": "pw-value-1"} and the raw value topsecretvalue'
    )
    cleaned = redact(text, ["topsecretvalue"])
    for secret in ("eyJhbGciOi.abc-123", "hunter2hunter2", "pw-value-1", "topsecretvalue"):
        assert secret not in cleaned
    assert "scope=all" in cleaned


def test_run_log_file_holds_the_run_and_masks_secrets(tmp_path: Path) -> None:
    logger = logging.getLogger("halo_integrator.test")
    with run_log_file(tmp_path, "csv", ["my-module-password"]) as path:
        logger.warning("connecting with my-module-password to the source")
        try:
            raise RuntimeError("failed with my-module-password inside")
        except RuntimeError:
            logger.exception("it broke")
    text = path.read_text()
    assert "connecting with ******** to the source" in text
    assert "my-module-password" not in text
    assert "RuntimeError" in text
    logger.warning("after the run")
    assert "after the run" not in path.read_text()


def test_old_run_logs_are_pruned_per_module(tmp_path: Path) -> None:
    for number in range(5):
        (tmp_path / f"csv-2026010{number}-000000-000000.log").write_text("x")
    (tmp_path / "ldap-20260101-000000-000000.log").write_text("x")
    prune(tmp_path, "csv", keep=2)
    assert len(list(tmp_path.glob("csv-*.log"))) == 2
    assert (tmp_path / "ldap-20260101-000000-000000.log").exists()


def test_filter_masks_arguments_too() -> None:
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "value %s", ("s3cr3t-val",), None)
    RedactingFilter(["s3cr3t-val"]).filter(record)
    assert record.getMessage() == "value ********"


def test_every_handler_masks_remembered_secrets_in_tracebacks(tmp_path: Path) -> None:
    """Regression: a first handler must not hand later ones an unmasked traceback."""
    import io

    from core.run.logs import RedactingFormatter, remember_secrets

    remember_secrets(["stacked-secret-value"])
    stream = io.StringIO()
    console = logging.StreamHandler(stream)
    console.setFormatter(RedactingFormatter("%(message)s"))
    plain_filter_handler = logging.StreamHandler(io.StringIO())
    plain_filter_handler.addFilter(RedactingFilter())
    logger = logging.getLogger("halo_integrator.stacked")
    logger.addHandler(console)
    logger.addHandler(plain_filter_handler)
    try:
        with run_log_file(tmp_path, "csv") as path:
            try:
                raise RuntimeError("boom with stacked-secret-value")
            except RuntimeError:
                logger.exception("failed")
    finally:
        logger.removeHandler(console)
        logger.removeHandler(plain_filter_handler)
    for text in (stream.getvalue(), path.read_text(), plain_filter_handler.stream.getvalue()):
        assert "RuntimeError" in text
        assert "stacked-secret-value" not in text


def test_a_log_file_role_installed_twice_writes_each_line_once(tmp_path: Path) -> None:
    import stat

    from core.run.logs import log_to_file

    root = logging.getLogger("halo_integrator")
    before = list(root.handlers)
    path = tmp_path / "settings" / "logs" / "auto.log"
    try:
        assert log_to_file(path, role="test-auto")
        assert log_to_file(path, role="test-auto")
        logging.getLogger("halo_integrator.test").warning("exactly once")
        for handler in root.handlers:
            handler.flush()
        assert path.read_text().count("exactly once") == 1
        assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    finally:
        for handler in set(root.handlers) - set(before):
            root.removeHandler(handler)
            handler.close()


@pytest.mark.parametrize("short", ["x", "ro", "fire", "a" * (MIN_SECRET_LENGTH - 1)])
def test_a_value_too_short_to_mask_is_never_substituted_inside_words(short: str) -> None:
    """Regression: "x" gave "any pro********y or firewall", mangling it and showing the x."""
    text = f"Check any proxy or firewall between here and Halo ({'a' * 12})"
    remember_secrets([short])
    assert redact(text, [short]) == text
    record = logging.LogRecord("x", logging.INFO, __file__, 1, text, None, None)
    RedactingFilter([short]).filter(record)
    assert record.getMessage() == text


def test_a_secret_of_the_minimum_length_is_masked_wherever_it_appears() -> None:
    secret = "Q7w!e9Rt"
    assert len(secret) == MIN_SECRET_LENGTH
    assert redact(f"sent {secret} and x{secret}y", [secret]) == "sent ******** and x********y"


def test_passwords_in_urls_and_connection_strings_are_masked_in_every_log() -> None:
    """A database URL in a non-secret option or a driver's message reaches the run log,
    not only a diagnostics bundle, so the log masks it too."""
    text = redact(
        "reading postgresql+psycopg://reader:Pa55-in-url@db01:5432/hr; "
        "odbc Server=sql01;Uid=halo;Pwd=Pa55-in-odbc;Database=ls; http://host/path:x@y"
    )
    assert "Pa55" not in text
    assert "postgresql+psycopg://reader:********@db01:5432/hr" in text
    assert "Pwd=********;Database=ls" in text
    assert "http://host/path:x@y" in text  # no user info: nothing to mask
