"""docs/envs.md: the "By hand" example runs and prints exactly what the page shows."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

DOC = Path(__file__).resolve().parents[2] / "docs" / "envs.md"


def _example() -> tuple[str, str]:
    section = DOC.read_text(encoding="utf-8").split("## By hand", 1)[1]
    code = re.search(r"```python\n(.*?)```", section, flags=re.S)
    output = re.search(r"```text\n(.*?)```", section, flags=re.S)
    assert code and output, "docs/envs.md: the By hand section lost its code or output block"
    return code.group(1), output.group(1)


def test_the_by_hand_example_prints_what_the_page_shows():
    code, expected = _example()
    assert 8 <= len(code.strip().splitlines()) <= 14
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout == expected


def test_the_page_names_every_template_and_limit():
    from rest_rl.envs import TEMPLATES, Limits

    text = DOC.read_text(encoding="utf-8")
    for _, template in TEMPLATES:
        assert f"`{template}`" in text, template
    for name in Limits.__dataclass_fields__:
        assert f"`{name}`" in text, name
