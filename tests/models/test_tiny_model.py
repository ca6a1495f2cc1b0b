"""The tiny model directory behaves like any Hugging Face model directory."""

import torch
from transformers import AutoModelForCausalLM, AutoTokenizer

from rest_rl.models import TinyModelConfig, save_tiny_model


def test_saved_tiny_model_loads_and_generates_until_eos(tmp_path):
    path = save_tiny_model(tmp_path / "tiny", config=TinyModelConfig(hidden_size=32, num_layers=1, num_heads=2, num_kv_heads=1))
    tok = AutoTokenizer.from_pretrained(path)
    model = AutoModelForCausalLM.from_pretrained(path)
    assert model.config.model_type == "qwen3"
    assert model.generation_config.eos_token_id == tok.eos_token_id
    # the tags survive decoding with special tokens skipped (they are added, non-special tokens)
    ids = tok("<think> x </think>", add_special_tokens=False)["input_ids"]
    assert tok.decode(ids, skip_special_tokens=True) == "<think> x </think>"
    enc = tok(["hello"], return_tensors="pt")
    out = model.generate(**enc, max_new_tokens=5, do_sample=False)
    assert out.shape[1] <= enc["input_ids"].shape[1] + 5
    assert torch.isfinite(model(**enc).logits).all()
