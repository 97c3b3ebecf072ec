"""What an admin reads: a message and the advice, as sentences."""

from __future__ import annotations

from core.errors import ConfigError, IntegratorError


def test_error_text_joins_message_and_advice_readably() -> None:
    assert str(IntegratorError("it broke", hint="Try again.")) == "it broke. Try again."
    assert str(IntegratorError("It broke.", hint="Try again.")) == "It broke. Try again."
    assert str(IntegratorError("It broke.")) == "It broke."
    listed = ConfigError("problems:\n  line 3: x", path="/a.json", hint="Fix it.")
    assert str(listed).endswith("line 3: x\nFix it.")
