"""Generation engines: HF (tiny model and a scripted fake), OpenAI-compatible (local stub server), vLLM (import)."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import torch

from rest_rl.eval.engines import (
    EngineError,
    GenerationRequest,
    HFEngine,
    OpenAIEngine,
    VLLMEngine,
    cut_at_stop,
    make_engine,
)


def user(text: str) -> GenerationRequest:
    return GenerationRequest(messages=[{"role": "user", "content": text}])


PROMPTS = [
    "hi",
    "Please book a table for four at 7pm in Paris tomorrow, window seat if possible.",
    "What's the weather?",
    "Convert 100 USD to EUR and then send the result to support@techhelp.org with subject report.",
    "ok",
]


# --------------------------------------------------------------------------------------------
# HF engine on the tiny model
# --------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def tiny_engine(tiny_model_dir):
    return HFEngine(str(tiny_model_dir), batch_size=2, device="cpu")


def test_hf_engine_batched_equals_one_by_one_and_keeps_input_order(tiny_engine, tiny_model_dir):
    requests = [user(p) for p in PROMPTS]
    batched = tiny_engine.generate(requests, max_new_tokens=6, progress=False)
    single = HFEngine(str(tiny_model_dir), batch_size=1, device="cpu")
    one_by_one = [single.generate([r], max_new_tokens=6, progress=False)[0] for r in requests]
    assert batched == one_by_one
    assert tiny_engine.generate(requests, max_new_tokens=6, progress=False) == batched  # deterministic
    assert tiny_engine.generate(requests[::-1], max_new_tokens=6, progress=False) == batched[::-1]


def test_hf_engine_prompt_text_bypasses_the_chat_template(tiny_engine):
    templated = tiny_engine.tokenizer.apply_chat_template(
        [{"role": "user", "content": "hi"}], add_generation_prompt=True, tokenize=False
    )
    a = tiny_engine.generate([GenerationRequest(prompt_text=templated)], max_new_tokens=5, progress=False)
    b = tiny_engine.generate([user("hi")], max_new_tokens=5, progress=False)
    assert a == b
    raw = tiny_engine.generate([GenerationRequest(prompt_text="hi")], max_new_tokens=5, progress=False)
    assert isinstance(raw[0], str)


def test_hf_engine_stop_strings_cut_the_completion(tiny_engine):
    requests = [GenerationRequest(prompt_text='{"name": "get_weather", "parameters": {"city": "'), user("hi")]
    full = tiny_engine.generate(requests, max_new_tokens=12, progress=False)
    assert full[0], "the tiny model should produce some text for this prompt"
    stop = full[0][1:3] if len(full[0]) >= 3 else full[0]
    cut = tiny_engine.generate(requests, max_new_tokens=12, stop=[stop], progress=False)
    assert cut == [cut_at_stop(t, [stop]) for t in full]
    assert stop not in cut[0]


def test_hf_engine_empty_input_and_progress_bar(tiny_engine, capsys):
    assert tiny_engine.generate([], progress=False) == []
    tiny_engine.generate([user("hi")], max_new_tokens=2, progress=True)
    assert "generate (hf)" in capsys.readouterr().err


def test_hf_engine_bad_model_path_is_one_line(tmp_path):
    with pytest.raises(EngineError) as err:
        HFEngine(str(tmp_path / "missing-model"))
    msg = str(err.value)
    assert msg.startswith(f"cannot load model {str(tmp_path / 'missing-model')!r}") and "\n" not in msg


def test_make_engine_builds_by_name_and_rejects_unknown(tiny_model_dir):
    assert isinstance(make_engine("hf", str(tiny_model_dir), batch_size=3, device="cpu", dtype=None), HFEngine)
    with pytest.raises(EngineError, match="unknown engine 'jax'"):
        make_engine("jax", "m")
    with pytest.raises(EngineError, match="base URL"):
        make_engine("openai", "m")


# --------------------------------------------------------------------------------------------
# HF engine mechanics with a scripted model: left padding, EOS, special tokens, order
# --------------------------------------------------------------------------------------------


class ScriptedModel(torch.nn.Module):
    """Answers each prompt (by its last real token) with fixed continuation ids; records the inputs."""

    def __init__(self, script: dict[int, list[int]], pad: int) -> None:
        super().__init__()
        self.weight = torch.nn.Parameter(torch.zeros(1))
        self.script = script
        self.pad = pad
        self.calls: list[tuple[torch.Tensor, torch.Tensor]] = []
        self.generation_config = type("GC", (), {"eos_token_id": None})()
        self.name_or_path = ""

    def generate(self, input_ids, attention_mask, generation_config, **kw):
        self.calls.append((input_ids.clone(), attention_mask.clone()))
        conts = [self.script[int(row[-1])] for row in input_ids]
        width = max(len(c) for c in conts)
        new = torch.full((len(conts), width), self.pad, dtype=torch.long)
        for i, c in enumerate(conts):
            new[i, : len(c)] = torch.tensor(c)
        return torch.cat([input_ids, new], dim=1)


def test_hf_engine_left_pads_sorts_strips_special_tokens_and_stops_at_eos(bpe_tok_tags):
    tok = bpe_tok_tags
    eos, im_end = tok.eos_token_id, tok.convert_tokens_to_ids("<|im_end|>")
    texts = ["a", "hello world, this is long", "bb"]
    last = [tok(t, add_special_tokens=False)["input_ids"][-1] for t in texts]
    answers = {0: "<tool_call> x", 1: "plain", 2: "<think> y </think>"}
    script = {}
    for i, t in enumerate(texts):
        ids = tok(answers[i], add_special_tokens=False)["input_ids"]
        script[last[i]] = [im_end] + ids + [eos] + tok("after eos", add_special_tokens=False)["input_ids"]
    model = ScriptedModel(script, pad=eos)
    engine = HFEngine(model, tok, batch_size=2)
    out = engine.generate([GenerationRequest(prompt_text=t) for t in texts], max_new_tokens=50, progress=False)
    assert out == [answers[0], answers[1], answers[2]]
    # longest prompt first, left padding with zeros in the attention mask on the left
    first_ids, first_mask = model.calls[0]
    assert first_ids.shape[0] == 2 and int(first_ids[0, -1]) == last[1]
    assert first_mask[1, 0] == 0 and first_mask[1, -1] == 1 and first_mask[0].all()


def test_cut_at_stop_uses_the_earliest_stop_string():
    assert cut_at_stop("abc</tool_call>def<|im_end|>", ["<|im_end|>", "</tool_call>"]) == "abc"
    assert cut_at_stop("abc", ["", "zz"]) == "abc"


# --------------------------------------------------------------------------------------------
# OpenAI-compatible engine against a local stub server
# --------------------------------------------------------------------------------------------


class StubServer:
    """A bounded local OpenAI-compatible server: answers /v1/chat/completions and /v1/completions."""

    def __init__(self, fail_first: int = 0, status: int = 503) -> None:
        self.requests: list[tuple[str, dict, dict]] = []
        self.fail_first = fail_first
        self.status = status
        self.lock = threading.Lock()
        stub = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # keep test output clean
                pass

            def do_POST(self):  # noqa: N802 - http.server naming
                length = int(self.headers.get("Content-Length", 0))
                body = json.loads(self.rfile.read(length))
                with stub.lock:
                    stub.requests.append((self.path, body, dict(self.headers)))
                    failing = stub.fail_first > 0
                    stub.fail_first -= failing
                if failing:
                    self._send(stub.status, {"error": {"message": "overloaded, try again"}})
                elif body.get("model") == "refuse":
                    self._send(400, {"error": {"message": "bad model name"}})
                elif self.path == "/v1/chat/completions":
                    content = "echo: " + body["messages"][-1]["content"]
                    message = {"role": "assistant", "content": content}
                    if body.get("tools"):
                        message["tool_calls"] = [
                            {"type": "function", "function": {"name": "f", "arguments": '{"x": 1}'}}
                        ]
                        message["reasoning_content"] = "thinking"
                    self._send(200, {"choices": [{"index": 0, "message": message}]})
                elif self.path == "/v1/completions":
                    self._send(200, {"choices": [{"index": 0, "text": "completed: " + body["prompt"] + " STOP more"}]})
                else:
                    self._send(404, {"error": "no such route"})

            def _send(self, code, obj):
                data = json.dumps(obj).encode()
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)

    def __enter__(self) -> "StubServer":
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(timeout=5)


def test_openai_chat_engine_keeps_order_and_sends_greedy_requests():
    with StubServer() as server:
        engine = OpenAIEngine(server.url + "/v1/", "served-model", api_key="k-test", concurrency=3, timeout=10)
        texts = [f"question {i}" for i in range(7)]
        out = engine.generate([user(t) for t in texts], max_new_tokens=33, progress=False)
    assert out == [f"echo: {t}" for t in texts]
    path, body, headers = server.requests[0]
    assert path == "/v1/chat/completions"
    assert body["temperature"] == 0.0 and body["max_tokens"] == 33 and body["model"] == "served-model"
    assert headers.get("Authorization") == "Bearer k-test"


def test_openai_chat_engine_renders_tool_calls_and_reasoning_as_text():
    tool = {"name": "f", "description": "d", "parameters": {"type": "object", "properties": {}}}
    with StubServer() as server:
        engine = OpenAIEngine(server.url, "m", timeout=10)
        (text,) = engine.generate([GenerationRequest(messages=[{"role": "user", "content": "q"}], tools=[tool])], progress=False)
    assert server.requests[0][1]["tools"] == [{"type": "function", "function": tool}]
    assert text == '<think>thinking</think>\necho: q\n<tool_call>\n{"name": "f", "arguments": {"x": 1}}\n</tool_call>'


def test_openai_completions_for_prompt_text_and_stop_cut():
    with StubServer() as server:
        engine = OpenAIEngine(server.url, "m", timeout=10)
        out = engine.generate([GenerationRequest(prompt_text="P")], stop=[" STOP"], progress=False)
    assert out == ["completed: P"]
    assert server.requests[0][0] == "/v1/completions" and server.requests[0][1]["stop"] == [" STOP"]


def test_openai_engine_retries_server_errors_with_backoff():
    with StubServer(fail_first=2) as server:
        engine = OpenAIEngine(server.url, "m", timeout=10, max_retries=3, backoff=0.01)
        assert engine.generate([user("x")], progress=False) == ["echo: x"]
    assert len(server.requests) == 3


def test_openai_engine_gives_up_after_retries_with_one_line():
    with StubServer(fail_first=10, status=500) as server:
        engine = OpenAIEngine(server.url, "m", timeout=10, max_retries=1, backoff=0.01)
        with pytest.raises(EngineError) as err:
            engine.generate([user("x")], progress=False)
    assert "after 2 attempts" in str(err.value) and "overloaded" in str(err.value) and "\n" not in str(err.value)


def test_openai_engine_client_error_fails_at_once_with_server_message():
    with StubServer() as server:
        engine = OpenAIEngine(server.url, "refuse", timeout=10, max_retries=3, backoff=0.01)
        with pytest.raises(EngineError, match="HTTP 400: bad model name"):
            engine.generate([user("x")], progress=False)
    assert len(server.requests) == 1


def test_openai_engine_unreachable_server_is_a_clear_error():
    with StubServer() as server:
        url = server.url
    engine = OpenAIEngine(url, "m", timeout=2, max_retries=1, backoff=0.01)  # the port is closed now
    with pytest.raises(EngineError) as err:
        engine.generate([user("x")], progress=False)
    msg = str(err.value)
    assert msg.startswith(f"OpenAI-compatible server at {url}/v1 unreachable") and "\n" not in msg


def test_openai_engine_rejects_a_non_http_url():
    with pytest.raises(EngineError, match="base URL must be http"):
        OpenAIEngine("localhost:8000", "m")


# --------------------------------------------------------------------------------------------
# vLLM engine: import only (no GPU here)
# --------------------------------------------------------------------------------------------


def test_vllm_engine_without_vllm_says_how_to_install():
    try:
        import vllm  # noqa: F401
    except ImportError:
        with pytest.raises(EngineError, match=r"vLLM is not installed.*pip install 'rest-rl\[vllm\]'"):
            VLLMEngine("some/model")
    else:
        pytest.skip("vLLM is installed; the missing-vLLM message cannot be shown")


def test_vllm_engine_imports_when_vllm_is_present():
    vllm = pytest.importorskip("vllm", reason="vLLM is not installed (optional extra rest-rl[vllm]); engine tested up to import")
    assert hasattr(vllm, "LLM") and hasattr(vllm, "SamplingParams")
