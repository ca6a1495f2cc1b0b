"""The shared run settings (EvalRunConfig), the one engine builder and opening a run (fresh, resume, mismatch)."""

from __future__ import annotations

import dataclasses
import json
import re
from pathlib import Path

import pytest

from rest_rl.config import ConfigError, build_dataclass
from rest_rl.eval.apibank import ApiBankConfig
from rest_rl.eval.engines import OpenAIEngine
from rest_rl.eval.runs import (
    CONFIG_FILE,
    EvalRunConfig,
    RunError,
    build_engine,
    chunked,
    generate_checked,
    log_invocation,
    open_run,
    open_run_dir,
    start_or_resume,
    write_json,
)

SHARED = ("model", "engine", "base_url", "limit", "batch_size", "max_new_tokens", "device", "dtype", "out_dir", "resume", "chunk_size", "bootstrap_resamples", "bootstrap_seed")


def _bfcl_config_class():
    from rest_rl.eval.bfcl.run import BfclConfig

    return BfclConfig


# --------------------------------------------------------------------------------------------
# EvalRunConfig: one declaration of the shared fields, validated when built
# --------------------------------------------------------------------------------------------


def test_benchmark_configs_share_the_run_fields_and_add_their_own():
    BfclConfig = _bfcl_config_class()
    base = [f.name for f in dataclasses.fields(EvalRunConfig)]
    assert tuple(base) == SHARED
    apibank = [f.name for f in dataclasses.fields(ApiBankConfig)]
    bfcl = [f.name for f in dataclasses.fields(BfclConfig)]
    assert apibank[: len(SHARED)] == base and set(apibank) - set(base) == {"data_dir", "cache_dir", "download_url", "levels"}
    assert bfcl[: len(SHARED)] == base and set(bfcl) - set(base) == {"categories", "style"}
    # a subclass may change a default by redeclaring the field
    assert ApiBankConfig(model="m").max_new_tokens == 1024 and BfclConfig(model="m").max_new_tokens == 2048
    assert all(f.metadata.get("help") for f in dataclasses.fields(BfclConfig)), "every field documents itself"


@pytest.mark.parametrize(
    "change, message",
    [
        ({"engine": "jax"}, "engine must be one of hf, vllm, openai; got 'jax'"),
        ({"engine": "openai"}, "engine openai needs base_url"),
        ({"limit": 0}, "limit must be >= 1, got 0"),
        ({"batch_size": 0}, "batch_size must be >= 1, got 0"),
        ({"max_new_tokens": -5}, "max_new_tokens must be >= 1, got -5"),
        ({"chunk_size": 0}, "chunk_size must be >= 1, got 0"),
        ({"model": " "}, "model must be"),
    ],
)
@pytest.mark.parametrize("cls_name", ["EvalRunConfig", "ApiBankConfig", "BfclConfig"])
def test_shared_validation_raises_value_error_for_every_benchmark(cls_name, change, message):
    cls = {"EvalRunConfig": EvalRunConfig, "ApiBankConfig": ApiBankConfig, "BfclConfig": _bfcl_config_class()}[cls_name]
    with pytest.raises(ValueError, match=re.escape(message)):
        cls(**{"model": "m", **change})
    # the config engine turns it into a one-line ConfigError
    with pytest.raises(ConfigError) as err:
        build_dataclass(cls, {"model": "m", **change})
    assert message in str(err.value) and "\n" not in str(err.value)


def test_valid_settings_pass_and_openai_with_base_url_is_fine():
    config = EvalRunConfig(model="served", engine="openai", base_url="http://localhost:8000/v1", limit=1, batch_size=1)
    assert config.limit == 1 and config.engine == "openai"
    assert EvalRunConfig(model="m", limit=None).limit is None


def test_benchmark_settings_are_checked_too():
    BfclConfig = _bfcl_config_class()
    with pytest.raises(ValueError, match="levels must be a non-empty subset of 1, 2, 3; got \\[4\\]"):
        ApiBankConfig(model="m", levels=(4,))
    with pytest.raises(ValueError, match="non-empty subset"):
        ApiBankConfig(model="m", levels=())
    assert ApiBankConfig(model="m", levels=[3, 1, 3]).levels == (1, 3)
    with pytest.raises(ValueError, match="unknown prompt style 'xml'"):
        BfclConfig(model="m", style="xml")
    with pytest.raises(ValueError, match="unknown BFCL category 'exec_simple'"):
        BfclConfig(model="m", categories=["simple", "exec_simple"])


def test_identity_has_the_shared_part_and_each_benchmarks_own(tmp_path):
    BfclConfig = _bfcl_config_class()
    model_dir = tmp_path / "model"
    model_dir.mkdir()
    shared = {"engine": "hf", "base_url": None, "dtype": "auto", "max_new_tokens": 1024, "data_sha256": {"a": "1", "b": "2"}}
    ident = EvalRunConfig(model=str(model_dir)).identity({"b": "2", "a": "1"})
    assert ident == {"model": str(model_dir.resolve()), **shared}
    assert list(ident["data_sha256"]) == ["a", "b"]  # sorted: the same data gives the same identity
    apibank = ApiBankConfig(model=str(model_dir)).identity({"a": "1", "b": "2"})
    assert apibank == {**ident, "benchmark": "api-bank", "protocol": "apibank-toolrl-2"}
    bfcl = BfclConfig(model=str(model_dir), style="fc", max_new_tokens=1024).identity({"a": "1", "b": "2"})
    assert {k: bfcl[k] for k in ("benchmark", "style", "bfcl_eval")} == {"benchmark": "bfcl-v3", "style": "fc", "bfcl_eval": "2025.7.17"}
    assert {k: bfcl[k] for k in ident} == ident
    # a served model is named as given, and only the openai engine records its server
    served = EvalRunConfig(model=str(model_dir), engine="openai", base_url="http://h:1/v1").identity({})
    assert served["model"] == str(model_dir) and served["base_url"] == "http://h:1/v1"


# --------------------------------------------------------------------------------------------
# The one engine builder
# --------------------------------------------------------------------------------------------


def test_build_engine_builds_what_the_config_asks_for(tiny_model_dir):
    from rest_rl.eval.engines import HFEngine

    engine = build_engine(EvalRunConfig(model="served", engine="openai", base_url="http://localhost:9/v1", batch_size=3))
    assert isinstance(engine, OpenAIEngine) and engine.concurrency == 3 and engine.model == "served"
    hf = build_engine(ApiBankConfig(model=str(tiny_model_dir), device="cpu", batch_size=2))
    assert isinstance(hf, HFEngine)


def test_generate_checked_and_chunked():
    class Short:
        def generate(self, requests, **kw):
            return ["x"] * (len(requests) - 1)

    class Odd:
        def generate(self, requests, **kw):
            return [None, "ok"]

    with pytest.raises(RunError, match="engine returned 1 completions for 2 prompts"):
        generate_checked(Short(), ["a", "b"], 4)
    assert generate_checked(Odd(), ["a", "b"], 4) == ["", "ok"]
    assert [list(c) for c in chunked(list(range(5)), 2)] == [[0, 1], [2, 3], [4]]


# --------------------------------------------------------------------------------------------
# open_run: fresh, resume, mismatch
# --------------------------------------------------------------------------------------------

IDENTITY = {"benchmark": "x", "model": "m", "max_new_tokens": 8}


def test_open_run_fresh_makes_a_new_directory_each_time(tmp_path):
    config = EvalRunConfig(model="m", out_dir=str(tmp_path / "runs"))
    run_dir, record = open_run(config, "bench-m", IDENTITY, data_dir="d")
    assert run_dir.is_dir() and run_dir.parent == tmp_path / "runs" and run_dir.name.startswith("bench-m-")
    assert record == {"identity": IDENTITY, "data_dir": "d", "invocations": []}
    assert not (run_dir / CONFIG_FILE).exists()  # nothing written until the run logs its invocation
    again, _ = open_run(config, "bench-m", IDENTITY)
    assert again != run_dir  # never reused or merged


def test_open_run_resume_returns_the_saved_record_and_logs_invocations(tmp_path):
    config = EvalRunConfig(model="m", out_dir=str(tmp_path), limit=2)
    run_dir, record = open_run(config, "bench", IDENTITY, extra=1)
    log_invocation(run_dir, record, config, generated=2)
    resumed_config = dataclasses.replace(config, resume=str(run_dir))
    same_dir, saved = open_run(resumed_config, "bench", dict(IDENTITY), extra=2)
    assert same_dir == run_dir and saved["extra"] == 1  # the saved record, not a new one
    assert saved["invocations"][0]["generated"] == 2 and saved["invocations"][0]["limit"] == 2
    log_invocation(same_dir, saved, resumed_config, generated=0)
    written = json.loads((run_dir / CONFIG_FILE).read_text())
    assert [i["generated"] for i in written["invocations"]] == [2, 0]
    assert len(list(tmp_path.iterdir())) == 1  # resuming made no new directory


def test_open_run_refuses_a_mismatch_or_a_bad_target(tmp_path):
    config = EvalRunConfig(model="m", out_dir=str(tmp_path))
    run_dir, record = open_run(config, "bench", IDENTITY)
    write_json(run_dir / CONFIG_FILE, record)
    resume = dataclasses.replace(config, resume=str(run_dir))
    with pytest.raises(RunError, match=r"configuration differs \(max_new_tokens: run has 8, now 9\)"):
        open_run(resume, "bench", {**IDENTITY, "max_new_tokens": 9})
    with pytest.raises(RunError, match="no such run directory"):
        open_run(dataclasses.replace(config, resume=str(tmp_path / "nope")), "bench", IDENTITY)
    write_json(run_dir / CONFIG_FILE, {"invocations": []})
    with pytest.raises(RunError, match="not an evaluation run config \\(no 'identity'\\)"):
        open_run(resume, "bench", IDENTITY)
    (run_dir / CONFIG_FILE).unlink()
    with pytest.raises(RunError, match="config.json: no such file"):
        open_run(resume, "bench", IDENTITY)


def test_the_two_halves_serve_a_benchmark_that_needs_the_directory_first(tmp_path):
    config = EvalRunConfig(model="m", out_dir=str(tmp_path))
    run_dir = open_run_dir(config, "late")
    identity = {**IDENTITY, "root": str(run_dir)}  # known only once the directory exists
    record = start_or_resume(run_dir, identity, resume=False, root=str(run_dir))
    write_json(run_dir / CONFIG_FILE, record)
    assert start_or_resume(run_dir, identity, resume=True) == record
    assert isinstance(run_dir, Path) and open_run_dir(dataclasses.replace(config, resume=str(run_dir)), "late") == run_dir


def test_append_jsonl_survives_a_lone_surrogate(tmp_path):
    from rest_rl.eval.runs import append_jsonl, read_predictions

    path = tmp_path / "p.jsonl"
    append_jsonl(path, [{"id": "a", "output": "bad \ud800 text"}, {"id": "b", "output": "café"}])
    back = read_predictions(path)
    assert back["a"]["output"] == "bad \ud800 text" and back["b"]["output"] == "café"
    assert "café" in path.read_text(encoding="utf-8")  # ordinary text stays readable
