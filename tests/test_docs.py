"""The documentation keeps up with the code."""

from __future__ import annotations

from pathlib import Path

from shoptrack.config import Settings

ROOT = Path(__file__).resolve().parents[1]


def test_every_setting_is_documented() -> None:
    text = (ROOT / "docs" / "configuration.md").read_text()
    for name, field in Settings.model_fields.items():
        assert f"`{name}`" in text, name
        assert f"`SHOPTRACK_{name.upper()}`" in text, name
        assert field.description, f"{name} has no help text"


def test_readme_shows_the_two_commands() -> None:
    readme = (ROOT / "README.md").read_text()
    assert "make run" in readme and "make test" in readme


def test_state_rules_are_documented() -> None:
    rules = (ROOT / "docs" / "state-rules.md").read_text()
    for phrase in ("update_cart", "add_to_cart", "remove_from_cart", "purchase", "order_update",
                   "cancelled", "visitor_info", "never merged"):
        assert phrase in rules, phrase
