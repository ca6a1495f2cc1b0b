"""Generation engines behind one interface.

CONTRACT: :class:`GenerationRequest` and :class:`GenerationEngine` are fixed (the evaluations code
against them). Below them: :class:`HFEngine` (Transformers, batched greedy), :class:`VLLMEngine`
(in-process vLLM), :class:`OpenAIEngine` (an OpenAI-compatible server over HTTP, ``urllib`` only)
and :func:`make_engine`. Set-up and server failures raise :class:`EngineError` with a one-line message.

    from rest_rl.eval.engines import GenerationRequest, make_engine
    engine = make_engine("hf", "path/to/model", batch_size=8)
    texts = engine.generate([GenerationRequest(messages=[{"role": "user", "content": "hi"}])],
                            max_new_tokens=64)
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol, Sequence

from rest_rl.errors import ModelPathError, UserError, one_line
from rest_rl.models.loading import check_model_path
from rest_rl.toolcall.prompts import assistant_message_text


@dataclass
class GenerationRequest:
    """One prompt: chat messages, optionally the tools (JSON schemas) for the chat template (FC style).

    ``prompt_text`` overrides both: the engine sends that exact text (already templated) to the model.
    """

    messages: list[dict[str, Any]] = field(default_factory=list)
    tools: list[dict[str, Any]] | None = None
    prompt_text: str | None = None


class GenerationEngine(Protocol):
    """Greedy, deterministic generation for evaluation."""

    def generate(
        self,
        requests: Sequence[GenerationRequest],
        *,
        max_new_tokens: int = 512,
        stop: Sequence[str] = (),
        progress: bool = True,
    ) -> list[str]:
        """Return one completion text per request, in order (special tokens stripped, stop strings cut)."""
        ...


# ------------------------------------------------------------------------------------------------
# Implementations (below the contract types)
# ------------------------------------------------------------------------------------------------

__all__ = [
    "ENGINE_KINDS",
    "EngineError",
    "GenerationEngine",
    "GenerationRequest",
    "HFEngine",
    "OpenAIEngine",
    "VLLMEngine",
    "cut_at_stop",
    "make_engine",
]

#: The engine kinds :func:`make_engine` understands.
ENGINE_KINDS: tuple[str, ...] = ("hf", "vllm", "openai")


class EngineError(UserError, RuntimeError):
    """A generation engine could not be set up or could not answer (message is one line)."""


def cut_at_stop(text: str, stop: Sequence[str]) -> str:
    """Cut ``text`` at the earliest occurrence of any non-empty stop string (the stop string is dropped)."""
    cut = len(text)
    for s in stop:
        if s:
            at = text.find(s)
            if 0 <= at < cut:
                cut = at
    return text[:cut]


def _render_prompt(tokenizer: Any, request: GenerationRequest, template_kwargs: dict[str, Any] | None = None) -> str:
    """The exact prompt text of ``request``: ``prompt_text`` as given, else the tokenizer's chat template
    (``template_kwargs`` are passed on, e.g. ``{"enable_thinking": False}`` for Qwen3)."""
    if request.prompt_text is not None:
        return request.prompt_text
    if not getattr(tokenizer, "chat_template", None):
        raise EngineError(
            "the tokenizer has no chat template: give GenerationRequest.prompt_text or use a chat model"
        )
    kwargs: dict[str, Any] = {**(template_kwargs or {}), "add_generation_prompt": True, "tokenize": False}
    if request.tools is not None:
        kwargs["tools"] = request.tools
    try:
        text = tokenizer.apply_chat_template(request.messages, **kwargs)
    except Exception as exc:  # noqa: BLE001 - a template failure is reported as one line
        raise EngineError(f"chat template failed: {one_line(exc, 300)}") from exc
    if not isinstance(text, str):  # some tokenizers return a list for a batch of one
        text = text[0] if isinstance(text, list) and text and isinstance(text[0], str) else str(text)
    return text


def _eos_ids(model: Any, tokenizer: Any) -> list[int]:
    """Every end-of-sequence id known to the model's generation config or the tokenizer."""
    ids: list[int] = []
    for value in (getattr(getattr(model, "generation_config", None), "eos_token_id", None), tokenizer.eos_token_id):
        for v in value if isinstance(value, (list, tuple)) else [value]:
            if isinstance(v, int) and v not in ids:
                ids.append(v)
    return ids


def _progress(total: int, enabled: bool, desc: str) -> Any:
    from tqdm.auto import tqdm

    return tqdm(total=total, disable=not enabled, desc=desc, unit="prompt", dynamic_ncols=True)


class HFEngine:
    """Greedy batched generation with Hugging Face Transformers (CPU or GPU).

    Args:
        model: a local model directory or hub id, or an already loaded ``PreTrainedModel``.
        tokenizer: a tokenizer object, a path/id to load one from, or ``None`` (load it from ``model``,
            which must then be a path/id or carry ``name_or_path``).
        batch_size: prompts per forward batch.
        device: ``"auto"`` (CUDA when available, else CPU), or any torch device string. Ignored for a
            loaded model (it stays where it is).
        dtype: ``"auto"`` (bfloat16 on a CUDA device that supports it, else float32), or a torch dtype
            name such as ``"float16"``. Ignored for a loaded model.
        chat_template_kwargs: extra variables for the chat template (e.g. ``{"enable_thinking": False}``).

    Prompts are rendered with the tokenizer's chat template (``prompt_text`` bypasses it), tokenised
    without extra special tokens, sorted by length (longest first, so padding is small and an
    out-of-memory shows at once) and left-padded per batch; results come back in input order.
    Decoding is greedy (a fresh ``GenerationConfig``: the model's sampling defaults are not used) and
    stops at any EOS id of the model or tokenizer, or at a stop string; the decoded completion has
    special tokens stripped and is cut before the first stop string. Greedy output is deterministic
    for a given batch composition; a different ``batch_size`` can change padding and so, in rare
    near-ties, a token (floating-point sums differ).
    """

    def __init__(
        self,
        model: Any,
        tokenizer: Any = None,
        *,
        batch_size: int = 8,
        device: str = "auto",
        dtype: str = "auto",
        chat_template_kwargs: dict[str, Any] | None = None,
    ) -> None:
        import torch

        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        self.batch_size = batch_size
        self.chat_template_kwargs = dict(chat_template_kwargs or {})
        if isinstance(model, (str, bytes)) or hasattr(model, "__fspath__"):
            model_id = str(model)
            try:
                check_model_path(model_id)
            except ModelPathError as exc:
                raise EngineError(f"cannot load model {model_id!r}: {exc}") from None
            try:
                self.device = torch.device(_resolve_device(device))
            except RuntimeError as exc:
                raise EngineError(f"bad device {device!r}: {one_line(exc, 300)}") from exc
            torch_dtype = _resolve_dtype(dtype, self.device)
            try:
                from transformers import AutoModelForCausalLM

                self.model = AutoModelForCausalLM.from_pretrained(model_id, dtype=torch_dtype)
            except Exception as exc:  # noqa: BLE001 - any load failure is the user's path/id
                raise EngineError(f"cannot load model {model_id!r}: {one_line(exc, 300)}") from exc
            try:
                self.model.to(self.device)
            except (RuntimeError, AssertionError, ValueError) as exc:
                raise EngineError(f"cannot move model {model_id!r} to {self.device}: {one_line(exc, 300)}") from exc
        else:
            self.model = model
            model_id = str(getattr(model, "name_or_path", "") or "")
            try:
                self.device = next(model.parameters()).device
            except (StopIteration, AttributeError):
                self.device = torch.device("cpu")
        self.model.eval()
        if tokenizer is None or isinstance(tokenizer, str) or hasattr(tokenizer, "__fspath__"):
            source = str(tokenizer) if tokenizer is not None else model_id
            if not source:
                raise EngineError("no tokenizer given and the model has no name_or_path to load one from")
            try:
                from transformers import AutoTokenizer

                tokenizer = AutoTokenizer.from_pretrained(source)
            except Exception as exc:  # noqa: BLE001
                raise EngineError(f"cannot load tokenizer {source!r}: {one_line(exc, 300)}") from exc
        self.tokenizer = tokenizer
        eos = _eos_ids(self.model, tokenizer)
        pad = tokenizer.pad_token_id
        self.pad_id: int = pad if isinstance(pad, int) else (eos[0] if eos else 0)
        self.eos_ids = eos
        #: Counts of the last :meth:`generate` call: prompts, prompt_tokens, generated_tokens (up to EOS), seconds.
        self.last_stats: dict[str, float] = {}

    def generate(
        self,
        requests: Sequence[GenerationRequest],
        *,
        max_new_tokens: int = 512,
        stop: Sequence[str] = (),
        progress: bool = True,
    ) -> list[str]:
        """Greedy completions, one per request, in input order (see the class docstring)."""
        import time

        import torch
        from transformers import GenerationConfig

        if not requests:
            return []
        started = time.perf_counter()
        texts = [_render_prompt(self.tokenizer, r, self.chat_template_kwargs) for r in requests]
        encoded: list[list[int]] = [
            list(self.tokenizer(t, add_special_tokens=False)["input_ids"]) for t in texts
        ]
        order = sorted(range(len(encoded)), key=lambda i: -len(encoded[i]))  # stable: ties keep input order
        stop_list = [s for s in stop if s]
        config = GenerationConfig(
            do_sample=False,
            num_beams=1,
            max_new_tokens=max_new_tokens,
            eos_token_id=self.eos_ids or None,
            pad_token_id=self.pad_id,
        )
        results: list[str] = [""] * len(requests)
        generated = 0
        bar = _progress(len(requests), progress, "generate (hf)")
        try:
            for start in range(0, len(order), self.batch_size):
                batch = order[start : start + self.batch_size]
                width = max(len(encoded[i]) for i in batch)
                ids = torch.full((len(batch), width), self.pad_id, dtype=torch.long)
                mask = torch.zeros((len(batch), width), dtype=torch.long)
                for row, i in enumerate(batch):
                    seq = encoded[i]
                    if seq:
                        ids[row, width - len(seq) :] = torch.tensor(seq, dtype=torch.long)
                        mask[row, width - len(seq) :] = 1
                kwargs: dict[str, Any] = {"generation_config": config}
                if stop_list:
                    kwargs["stopping_criteria"] = _stop_criteria(self.tokenizer, stop_list, width)
                with torch.inference_mode():
                    out = self.model.generate(
                        input_ids=ids.to(self.device), attention_mask=mask.to(self.device), **kwargs
                    )
                new = out[:, width:].tolist()
                for row, i in enumerate(batch):
                    tokens = new[row]
                    # Drop everything from the first EOS on (later positions are padding).
                    for k, tok in enumerate(tokens):
                        if tok in self.eos_ids:
                            tokens = tokens[:k]
                            break
                    while tokens and tokens[-1] == self.pad_id:  # padding after a row stopped early
                        tokens = tokens[:-1]
                    generated += len(tokens)
                    text = self.tokenizer.decode(tokens, skip_special_tokens=True)
                    results[i] = cut_at_stop(text, stop_list)
                bar.update(len(batch))
        finally:
            bar.close()
        self.last_stats = {
            "prompts": len(requests),
            "prompt_tokens": sum(len(e) for e in encoded),
            "generated_tokens": generated,
            "seconds": time.perf_counter() - started,
        }
        return results


def _stop_criteria(tokenizer: Any, stop: list[str], prompt_width: int) -> Any:
    """Per-row stopping on stop strings, checked on the decoded tail of the new tokens.

    (Transformers' own ``stop_strings`` may stop a row when a stop string only *starts* inside the
    last token, before it was produced; this one stops once the text really contains it.) Special
    tokens are kept while checking, so a stop string such as ``<|im_end|>`` works too.
    """
    import torch
    from transformers import StoppingCriteria, StoppingCriteriaList

    window = 4 * max(len(s) for s in stop) + 4  # tokens: enough for a stop string split into byte pieces

    class _StopOnStrings(StoppingCriteria):
        def __call__(self, input_ids: Any, scores: Any, **kwargs: Any) -> Any:
            tails = input_ids[:, prompt_width:][:, -window:].tolist()
            done = [any(s in tokenizer.decode(row, skip_special_tokens=False) for s in stop) for row in tails]
            return torch.tensor(done, dtype=torch.bool, device=input_ids.device)

    return StoppingCriteriaList([_StopOnStrings()])


def _resolve_device(device: str) -> str:
    import torch

    if device != "auto":
        return device
    return "cuda" if torch.cuda.is_available() else "cpu"


def _resolve_dtype(dtype: str, device: Any) -> Any:
    import torch

    if dtype == "auto":
        if device.type == "cuda" and torch.cuda.is_bf16_supported():
            return torch.bfloat16
        return torch.float32
    value = getattr(torch, str(dtype), None)
    if not isinstance(value, torch.dtype):
        raise EngineError(f"unknown dtype {dtype!r} (use auto, float32, bfloat16 or float16)")
    return value


class VLLMEngine:
    """Greedy generation with an in-process ``vllm.LLM`` (imported only when this engine is built).

    Prompts are rendered with the model's own chat template by the tokenizer vLLM loads (the same
    rendering as :class:`HFEngine`), tokenised without extra special tokens and passed as token ids,
    so no second BOS is added. Sampling: temperature 0, one sample, special tokens skipped, stop
    strings excluded from the output. ``chat_template_kwargs`` go to the chat template;
    ``llm_kwargs`` go to ``vllm.LLM`` (e.g. ``max_model_len``, ``gpu_memory_utilization``,
    ``tensor_parallel_size``).
    """

    def __init__(
        self,
        model: str,
        tokenizer: str | None = None,
        *,
        dtype: str = "auto",
        seed: int = 0,
        chat_template_kwargs: dict[str, Any] | None = None,
        **llm_kwargs: Any,
    ) -> None:
        try:
            import vllm
        except ImportError as exc:
            raise EngineError(
                f"vLLM is not installed ({one_line(exc, 300)}); install it with: pip install 'rest-rl[vllm]'"
            ) from exc
        self._vllm = vllm
        self.chat_template_kwargs = dict(chat_template_kwargs or {})
        try:
            self.llm = vllm.LLM(model=str(model), tokenizer=tokenizer, dtype=dtype, seed=seed, **llm_kwargs)
        except Exception as exc:  # noqa: BLE001 - a load failure is the user's path/id or GPU
            raise EngineError(f"vLLM cannot load model {str(model)!r}: {one_line(exc, 300)}") from exc
        self.tokenizer = self.llm.get_tokenizer()

    def generate(
        self,
        requests: Sequence[GenerationRequest],
        *,
        max_new_tokens: int = 512,
        stop: Sequence[str] = (),
        progress: bool = True,
    ) -> list[str]:
        """Greedy completions, one per request, in input order."""
        if not requests:
            return []
        stop_list = [s for s in stop if s]
        params = self._vllm.SamplingParams(
            n=1,
            temperature=0.0,
            max_tokens=max_new_tokens,
            stop=stop_list or None,
            skip_special_tokens=True,
        )
        prompts = [
            {"prompt_token_ids": list(self.tokenizer(text, add_special_tokens=False)["input_ids"])}
            for text in (_render_prompt(self.tokenizer, r, self.chat_template_kwargs) for r in requests)
        ]
        outputs = self.llm.generate(prompts, params, use_tqdm=progress)
        return [cut_at_stop(o.outputs[0].text, stop_list) for o in outputs]


class OpenAIEngine:
    """Greedy generation through an OpenAI-compatible HTTP server (vLLM serve, SGLang, OpenAI, ...).

    Uses only ``urllib`` (no extra dependency).

    Args:
        base_url: the server's API root, e.g. ``http://localhost:8000/v1``; ``/v1`` is appended when
            the URL does not already end with it.
        model: the served model name sent in every request.
        api_key: bearer token; defaults to the ``OPENAI_API_KEY`` environment variable, else none.
        mode: ``"chat"`` (``/chat/completions`` with the messages and tools: the server applies the
            chat template) or ``"completions"`` (``/completions`` with a prompt rendered here by
            ``tokenizer``). A request with ``prompt_text`` always goes to ``/completions``.
        tokenizer: tokenizer object or path/id, needed only for ``mode="completions"``.
        concurrency: requests in flight at once.
        timeout: seconds per HTTP request.
        max_retries: extra attempts after a connection error, a timeout, HTTP 408/409/429 or 5xx.
        backoff: first retry delay in seconds, doubled each attempt (capped at 30 s).
        extra_body: more JSON fields for every request (e.g. ``{"seed": 0}``).

    Requests use temperature 0 and ``top_p`` 1. In chat mode a reply's ``tool_calls`` are appended
    to its text as Qwen/Hermes blocks (``<tool_call>\\n{"name": ..., "arguments": ...}\\n</tool_call>``)
    and a ``reasoning_content`` is put back in front as ``<think>\\n...\\n</think>\\n\\n``, so text
    parsers see what the model produced. Other client errors (HTTP 4xx) fail at once with the
    server's message.
    """

    def __init__(
        self,
        base_url: str,
        model: str,
        api_key: str | None = None,
        *,
        mode: str = "chat",
        tokenizer: Any = None,
        concurrency: int = 4,
        timeout: float = 300.0,
        max_retries: int = 4,
        backoff: float = 1.0,
        extra_body: dict[str, Any] | None = None,
    ) -> None:
        import os
        import urllib.parse

        if mode not in ("chat", "completions"):
            raise ValueError(f"mode must be 'chat' or 'completions', got {mode!r}")
        parsed = urllib.parse.urlparse(str(base_url))
        if parsed.scheme not in ("http", "https") or not parsed.netloc:
            raise EngineError(f"base URL must be http(s)://host[:port][/v1], got {base_url!r}")
        root = str(base_url).rstrip("/")
        self.base_url = root if root.endswith("/v1") else root + "/v1"
        self.model = model
        self.api_key = api_key if api_key is not None else os.environ.get("OPENAI_API_KEY")
        self.mode = mode
        if isinstance(tokenizer, str) or hasattr(tokenizer, "__fspath__"):
            try:
                from transformers import AutoTokenizer

                tokenizer = AutoTokenizer.from_pretrained(str(tokenizer))
            except Exception as exc:  # noqa: BLE001
                raise EngineError(f"cannot load tokenizer {str(tokenizer)!r}: {one_line(exc, 300)}") from exc
        if mode == "completions" and tokenizer is None:
            raise EngineError("mode='completions' needs a tokenizer to render the chat template")
        self.tokenizer = tokenizer
        self.concurrency = max(1, int(concurrency))
        self.timeout = timeout
        self.max_retries = max(0, int(max_retries))
        self.backoff = backoff
        self.extra_body = dict(extra_body or {})

    # -- one request ----------------------------------------------------------------------------

    def _payload(self, request: GenerationRequest, max_new_tokens: int, stop: list[str]) -> tuple[str, dict[str, Any]]:
        body: dict[str, Any] = {"model": self.model, "temperature": 0.0, "top_p": 1.0, "max_tokens": max_new_tokens, "n": 1}
        if stop:
            body["stop"] = stop
        if request.prompt_text is not None or self.mode == "completions":
            body["prompt"] = _render_prompt(self.tokenizer, request)
            endpoint = "/completions"
        else:
            body["messages"] = request.messages
            if request.tools is not None:
                body["tools"] = [_openai_tool(t) for t in request.tools]
            endpoint = "/chat/completions"
        body.update(self.extra_body)
        return endpoint, body

    def _post(self, endpoint: str, body: dict[str, Any], abort: Any = None) -> dict[str, Any]:
        import json
        import urllib.error
        import urllib.request

        url = self.base_url + endpoint
        data = json.dumps(body).encode("utf-8")
        headers = {"Content-Type": "application/json", "Accept": "application/json"}
        if self.api_key:
            headers["Authorization"] = f"Bearer {self.api_key}"
        last = ""
        for attempt in range(self.max_retries + 1):
            if attempt:
                delay = min(30.0, self.backoff * 2 ** (attempt - 1))
                if abort is not None and abort.wait(delay):
                    raise EngineError("cancelled after another request failed")
            req = urllib.request.Request(url, data=data, headers=headers, method="POST")
            try:
                with urllib.request.urlopen(req, timeout=self.timeout) as resp:
                    raw = resp.read()
            except urllib.error.HTTPError as exc:
                detail = _http_error_detail(exc)
                if exc.code in (408, 409, 429) or exc.code >= 500:
                    last = f"HTTP {exc.code}: {detail}"
                    continue
                raise EngineError(f"server at {url} refused the request: HTTP {exc.code}: {detail}") from None
            except (urllib.error.URLError, TimeoutError, ConnectionError, OSError) as exc:
                reason = getattr(exc, "reason", exc)
                last = one_line(reason if isinstance(reason, BaseException) else Exception(str(reason)))
                continue
            try:
                decoded = json.loads(raw.decode("utf-8"))
            except (UnicodeDecodeError, ValueError):
                last = f"reply is not JSON: {raw[:80]!r}"
                continue
            if not isinstance(decoded, dict):
                last = "reply is not a JSON object"
                continue
            return decoded
        raise EngineError(
            f"OpenAI-compatible server at {self.base_url} unreachable or failing after "
            f"{self.max_retries + 1} attempts: {last}"
        )

    def _complete(self, request: GenerationRequest, max_new_tokens: int, stop: list[str], abort: Any = None) -> str:
        if abort is not None and abort.is_set():
            raise EngineError("cancelled after another request failed")
        endpoint, body = self._payload(request, max_new_tokens, stop)
        reply = self._post(endpoint, body, abort)
        choices = reply.get("choices")
        if not isinstance(choices, list) or not choices or not isinstance(choices[0], dict):
            raise EngineError(f"server at {self.base_url}{endpoint} sent a reply without choices")
        choice = choices[0]
        if endpoint == "/completions":
            text = choice.get("text")
            return cut_at_stop(text if isinstance(text, str) else "", stop)
        return cut_at_stop(assistant_message_text(choice.get("message")), stop)

    def generate(
        self,
        requests: Sequence[GenerationRequest],
        *,
        max_new_tokens: int = 512,
        stop: Sequence[str] = (),
        progress: bool = True,
    ) -> list[str]:
        """Greedy completions, one per request, in input order (``concurrency`` requests at a time)."""
        import threading
        from concurrent.futures import FIRST_EXCEPTION, ThreadPoolExecutor, wait

        if not requests:
            return []
        stop_list = [s for s in stop if s]
        results: list[str] = [""] * len(requests)
        bar = _progress(len(requests), progress, "generate (openai)")
        abort = threading.Event()  # set on the first failure: the other workers stop retrying
        pool = ThreadPoolExecutor(max_workers=min(self.concurrency, len(requests)))
        try:
            futures = {pool.submit(self._complete, r, max_new_tokens, stop_list, abort): i for i, r in enumerate(requests)}
            pending = set(futures)
            while pending:
                done, pending = wait(pending, return_when=FIRST_EXCEPTION)
                for fut in done:
                    exc = fut.exception()
                    if exc is not None:
                        abort.set()
                        for other in pending:
                            other.cancel()
                        raise exc
                    results[futures[fut]] = fut.result()
                    bar.update(1)
        finally:
            abort.set()
            pool.shutdown(wait=True, cancel_futures=True)
            bar.close()
        return results


def _http_error_detail(exc: Any) -> str:
    """The server's error message from an HTTPError body (JSON ``error.message`` when present)."""
    import json

    try:
        raw = exc.read(2000)
    except Exception:  # noqa: BLE001 - the body is optional
        raw = b""
    text = raw.decode("utf-8", errors="replace").strip()
    try:
        obj = json.loads(text)
        err = obj.get("error") if isinstance(obj, dict) else None
        if isinstance(err, dict) and isinstance(err.get("message"), str):
            text = err["message"]
        elif isinstance(err, str):
            text = err
    except ValueError:
        pass
    text = " ".join(text.split()) or str(getattr(exc, "reason", "")) or "no detail"
    return text if len(text) <= 300 else text[:300] + "..."


def _openai_tool(tool: dict[str, Any]) -> dict[str, Any]:
    """A tool in the OpenAI ``{"type": "function", "function": {...}}`` wrapping."""
    if isinstance(tool, dict) and tool.get("type") == "function" and isinstance(tool.get("function"), dict):
        return tool
    return {"type": "function", "function": tool}


def make_engine(kind: str, model: Any, **kw: Any) -> GenerationEngine:
    """Build an engine by name: ``"hf"`` (:class:`HFEngine`), ``"vllm"`` (:class:`VLLMEngine`) or
    ``"openai"`` (:class:`OpenAIEngine`, needs ``base_url=``; ``model`` is the served model name).

    Keyword arguments go to the engine's constructor; ``None`` values are dropped so callers can pass
    optional CLI values straight through.
    """
    kw = {k: v for k, v in kw.items() if v is not None}
    if kind == "hf":
        return HFEngine(model, **kw)
    if kind == "vllm":
        return VLLMEngine(model, **kw)
    if kind == "openai":
        base_url = kw.pop("base_url", None)
        if not base_url:
            raise EngineError("the openai engine needs a base URL (--base-url http://host:port/v1)")
        return OpenAIEngine(base_url, model, **kw)
    raise EngineError(f"unknown engine {kind!r}; choose one of: {', '.join(ENGINE_KINDS)}")
