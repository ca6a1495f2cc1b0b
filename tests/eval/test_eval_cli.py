"""``rest-rl eval``: configured by the config engine (--config YAML, dedicated flags, --set), one-line errors."""

from __future__ import annotations

import argparse
import dataclasses
import json

import pytest

from rest_rl.cli import main
from rest_rl.cli.eval import add_config_flags, add_eval_parser, resolve_eval_config
from rest_rl.config import ConfigError
from rest_rl.eval.apibank import ApiBankConfig
from rest_rl.eval.runs import EvalRunConfig, option
from rest_rl.toolcall import render_toolrl


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="rest-rl")
    add_eval_parser(parser.add_subparsers(dest="command"))
    return parser


def _config(*argv: str):
    args = _parser().parse_args(["eval", *argv])
    return resolve_eval_config(args.eval_config_class, args)


def _one_line_error(capsys, *argv: str) -> str:
    try:
        code = main(list(argv))
    except SystemExit as exc:  # an argparse usage error
        code = exc.code
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(err) == 1 and err[0].startswith("rest-rl: error: "), err
    return err[0]


# --------------------------------------------------------------------------------------------
# --config, flags, --set
# --------------------------------------------------------------------------------------------


def test_config_file_then_flags_then_set(tmp_path):
    yaml_file = tmp_path / "eval.yaml"
    yaml_file.write_text("model: from-yaml\nlimit: 3\nbatch_size: 2\nlevels: [1, 2]\nmax_new_tokens: 64\n")
    config = _config("apibank", "--config", str(yaml_file))
    assert isinstance(config, ApiBankConfig)
    assert (config.model, config.limit, config.batch_size, config.levels, config.max_new_tokens) == ("from-yaml", 3, 2, (1, 2), 64)
    # a flag overrides the file; --set overrides both; the rest keeps the file's value or the default
    config = _config("apibank", "--config", str(yaml_file), "--limit", "5", "--levels", "3", "--set", "limit=7", "--set", "dtype=bfloat16")
    assert (config.model, config.limit, config.levels, config.dtype, config.batch_size) == ("from-yaml", 7, (3,), "bfloat16", 2)
    assert config.engine == "hf" and config.chunk_size == 64


def test_bfcl_flags_and_overrides():
    pytest.importorskip("rest_rl.eval.bfcl.run")
    config = _config("bfcl", "--model", "m", "--categories", "simple", "multi_turn_base,live", "--style", "fc")
    assert list(config.categories) == ["simple", "multi_turn_base", "live"] and config.style == "fc"
    assert config.max_new_tokens == 2048  # BFCL's own default
    config = _config("bfcl", "--model", "m", "--set", "categories=[irrelevance]", "--set", "max_new_tokens=16")
    assert list(config.categories) == ["irrelevance"] and config.max_new_tokens == 16


def test_every_existing_flag_keeps_its_spelling_and_meaning():
    config = _config(
        "apibank", "--model", "served", "--engine", "openai", "--base-url", "http://localhost:8000/v1", "--limit", "4",
        "--batch-size", "2", "--max-new-tokens", "32", "--device", "cpu", "--dtype", "float32", "--out-dir", "o",
        "--resume", "r", "--data-dir", "d", "--levels", "1", "3", "--no-progress",
    )  # fmt: skip
    assert dataclasses.asdict(config) | {"download_url": None} == {
        "model": "served", "engine": "openai", "base_url": "http://localhost:8000/v1", "limit": 4, "batch_size": 2,
        "max_new_tokens": 32, "device": "cpu", "dtype": "float32", "out_dir": "o", "resume": "r", "chunk_size": 64,
        "data_dir": "d", "cache_dir": None, "download_url": None, "levels": (1, 3),
        "bootstrap_resamples": 2000, "bootstrap_seed": 0,
    }  # fmt: skip


def test_a_new_config_field_becomes_a_flag_without_argparse_code():
    @dataclasses.dataclass
    class Extended(EvalRunConfig):
        temperature: float = option(0.0, "Sampling temperature.")
        shots: list[int] = option((0,), "Few-shot counts.", "K")
        verbose: bool = option(False, "Say more.")

    parser = argparse.ArgumentParser()
    add_config_flags(parser, Extended)
    text = parser.format_help()
    assert "--temperature TEMPERATURE" in text and "Sampling temperature (default: 0.0)" in text
    assert "--shots K [K ...]" in text and "--verbose, --no-verbose" in text
    args = parser.parse_args(["--model", "m", "--temperature", "0.5", "--shots", "1,2", "4", "--verbose"])
    config = resolve_eval_config(Extended, args)
    assert (config.temperature, config.shots, config.verbose) == (0.5, [1, 2, 4], True)
    with pytest.raises(ConfigError, match="temperature: expected a number, got 'hot'"):
        resolve_eval_config(Extended, parser.parse_args(["--model", "m", "--temperature", "hot"]))


def test_help_lists_every_option_with_its_default(capsys):
    for benchmark in ("apibank", "bfcl"):
        with pytest.raises(SystemExit):
            main(["eval", benchmark, "--help"])
        out = capsys.readouterr().out
        cls = _parser().parse_args(["eval", benchmark, "--model", "m"]).eval_config_class
        for f in dataclasses.fields(cls):
            assert "--" + f.name.replace("_", "-") in out, f.name
        for flag in ("--config", "--set", "--no-progress"):
            assert flag in out
        assert "(default: hf)" in out and "(default: 64)" in out and "examples:" in out
    assert "(default: 2048)" in out and "--categories CAT [CAT ...]" in out


# --------------------------------------------------------------------------------------------
# One-line errors
# --------------------------------------------------------------------------------------------


def test_unknown_key_is_one_line_with_a_hint(capsys, tmp_path):
    line = _one_line_error(capsys, "eval", "apibank", "--model", "m", "--set", "max_new_tokes=8")
    assert line == "rest-rl: error: unknown key 'max_new_tokes' (did you mean 'max_new_tokens'?)"
    yaml_file = tmp_path / "eval.yaml"
    yaml_file.write_text("model: m\nbatchsize: 2\n")
    line = _one_line_error(capsys, "eval", "apibank", "--config", str(yaml_file))
    assert "unknown key 'batchsize'" in line and "did you mean 'batch_size'?" in line
    assert not any(p.is_dir() for p in tmp_path.iterdir())  # nothing run


def test_openai_without_base_url_is_one_line(capsys):
    line = _one_line_error(capsys, "eval", "apibank", "--model", "m", "--engine", "openai")
    assert "engine openai needs base_url" in line and "--base-url" in line
    line = _one_line_error(capsys, "eval", "apibank", "--model", "m", "--set", "engine=openai")
    assert "engine openai needs base_url" in line


@pytest.mark.parametrize(
    "argv, message",
    [
        (["apibank"], "no model: pass --model (or set model in the --config file)"),
        (["apibank", "--model", "m", "--limit", "0"], "limit must be >= 1, got 0"),
        (["apibank", "--model", "m", "--batch-size", "many"], "batch_size: expected"),
        (["apibank", "--model", "m", "--engine", "jax"], "engine must be one of hf, vllm, openai; got 'jax'"),
        (["apibank", "--model", "m", "--levels", "1,4"], "levels must be a non-empty subset of 1, 2, 3"),
        (["apibank", "--model", "m", "--set", "levels"], "must look like key=value"),
        (["apibank", "--config", "missing.yaml"], "no such config file: missing.yaml"),
        (["bfcl", "--model", "m", "--style", "xml"], "unknown prompt style 'xml'; choose one of: toolrl, fc"),
        (["bfcl", "--model", "m", "--categories", "exec_simple"], "unknown BFCL category 'exec_simple'"),
    ],
)
def test_bad_settings_are_one_line_errors(capsys, argv, message):
    assert message in _one_line_error(capsys, "eval", *argv)


def test_bfcl_without_bfcl_eval_prints_the_install_command(capsys, monkeypatch, tmp_path):
    from rest_rl.eval.bfcl import official

    monkeypatch.setattr(official, "_installed_version", lambda: None)
    line = _one_line_error(capsys, "eval", "bfcl", "--model", "m", "--out-dir", str(tmp_path))
    assert "bfcl-eval is not installed" in line and official.INSTALL_COMMAND in line
    assert not any(tmp_path.iterdir())


# --------------------------------------------------------------------------------------------
# A run configured by a file
# --------------------------------------------------------------------------------------------


def test_eval_apibank_runs_from_a_config_file(api_bank_dir, api_bank_samples, tmp_path, monkeypatch, capsys):
    from rest_rl.eval.apibank import run as apibank_run

    by_prompt = {(s.system, s.user): s for s in api_bank_samples}
    built = []

    class Oracle:
        def generate(self, requests, **kw):
            return [render_toolrl([by_prompt[(r.messages[0]["content"], r.messages[1]["content"])].gold]) for r in requests]

    def fake_build(config):
        built.append(config)
        return Oracle()

    monkeypatch.setattr(apibank_run, "build_engine", fake_build)
    yaml_file = tmp_path / "eval.yaml"
    yaml_file.write_text(f"model: oracle\ndata_dir: {api_bank_dir}\nlevels: [2]\nlimit: 4\nout_dir: {tmp_path / 'runs'}\n")
    assert main(["eval", "apibank", "--config", str(yaml_file), "--set", "limit=2", "--no-progress"]) == 0
    out = capsys.readouterr().out
    assert "| L2      |       2 |              2 |" in out and "generated 2, reused 0" in out
    assert built and built[0].limit == 2 and built[0].levels == (2,)
    (run_dir,) = (tmp_path / "runs").iterdir()
    assert json.loads((run_dir / "scores.json").read_text())["overall"]["strict_correct"] == 2
