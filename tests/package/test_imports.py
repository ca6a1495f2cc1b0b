"""The core must stay importable without trainer frameworks, and the package must be installed."""

import subprocess
import sys


def _fresh_python(code: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)


def test_core_imports_no_trainer_framework_or_transformers():
    code = (
        "import sys, rest_rl.core\n"
        "bad = [m for m in ('trl', 'verl', 'vllm', 'transformers', 'tokenizers') if m in sys.modules]\n"
        "print(','.join(bad))\n"
    )
    res = _fresh_python(code)
    assert res.returncode == 0, res.stderr
    assert res.stdout.strip() == "", f"rest_rl.core pulled in: {res.stdout.strip()}"


def test_core_public_names_resolve():
    import rest_rl.core as core

    for name in core.__all__:
        assert getattr(core, name) is not None, name


def test_console_script_help_runs():
    res = subprocess.run([sys.executable, "-m", "rest_rl", "--help"], capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stderr
    assert "demo" in res.stdout and "tag" in res.stdout


def test_cli_reports_missing_file_in_one_line(tmp_path):
    missing = tmp_path / "nope.txt"
    res = subprocess.run(
        [sys.executable, "-m", "rest_rl", "tag", "--file", str(missing)], capture_output=True, text=True, timeout=120
    )
    assert res.returncode == 2
    assert res.stderr.strip() == f"rest-rl: error: no such file: {missing}"
    assert "Traceback" not in res.stderr
