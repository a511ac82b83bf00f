"""docs/CONFIGURATION.md is what scripts/write_config_docs.py writes from the settings
model: a variable, default or range changed in function/settings.py fails here until the
page is written again."""

from __future__ import annotations

from function.settings import Settings
from scripts.write_config_docs import PAGE, render


def test_the_configuration_page_matches_the_settings_model() -> None:
    assert PAGE.read_text() == render(), "stale: run .venv/bin/python scripts/write_config_docs.py"


def test_every_variable_is_listed_with_its_default_and_range() -> None:
    page = render()
    for field in Settings.model_fields.values():
        names = getattr(field.validation_alias, "choices", None) or [field.alias]
        (row,) = [line for line in page.splitlines() if line.startswith(f"| `{names[0]}`")]
        if field.default not in (None, ()):
            assert "`" in row.split(" | ")[2], row  # the default column is filled
    row = next(line for line in page.splitlines() if line.startswith("| `CEC_BATCH_SIZE`"))
    assert row.split(" | ")[2:4] == ["`1 000`", "1 ≤ value ≤ 1 000"]
    assert "| `GOOGLE_CLOUD_PROJECT` or `GCP_PROJECT` |" in page
