"""``rest-rl tag``: any bytes in, one line per token out, never a traceback."""

from __future__ import annotations

import subprocess
import sys


def test_tag_accepts_invalid_utf8_from_a_file(tmp_path, capsys):
    from rest_rl.cli import main

    path = tmp_path / "bad.txt"
    path.write_bytes(b'<tool_call>\n{"name": "f\xff\xfe", "parameters": {}}\n</tool_call>\x80')
    assert main(["tag", "--file", str(path), "--summary"]) == 0
    out = capsys.readouterr().out
    assert "TOOL_NAME" in out and "tokens:" in out


def test_tag_accepts_invalid_utf8_on_stdin():
    proc = subprocess.run(
        [sys.executable, "-m", "rest_rl", "tag", "--summary"],
        input=b"<think> a \xc3\x28 b </think>\xff",
        capture_output=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr.decode(errors="replace")[-2000:]
    assert b"THINK" in proc.stdout and b"Traceback" not in proc.stderr
