"""The TRL contract, checked against TRL 1.16 itself.

* TRL offers every public method of an environment class (except ``reset`` / ``get_reward``) as a tool and
  builds its JSON schema with ``transformers.utils.get_json_schema``: exactly our tools, every schema valid
  and equal to :func:`rest_rl.envs.tool_schema` (which our own evaluation prompts use).
* The gold conversations render with TRL's own Qwen3 chat template, and TRL's ``parse_response`` reads each
  rendered assistant turn back into the very message :func:`gold_messages` wrote.
* A real ``GRPOTrainer`` with ``environment_factory=ENVIRONMENTS`` (and with ``WorldEnv``) runs its tool loop on
  rows from :func:`to_grpo_row`: a scripted agent stands in for generation (``_generate_single_turn``, the
  pattern of ``tests/integrations/trl/test_multiturn.py``) and writes the gold turns, so every rollout earns reward 1; a
  hostile agent's calls come back as our error strings, never as exceptions inside our tools.
"""

from __future__ import annotations

import inspect
import json
import re
from pathlib import Path
from typing import Any

import pytest

trl = pytest.importorskip("trl")
torch = pytest.importorskip("torch")

from transformers.utils import get_json_schema  # noqa: E402
from trl.chat_template_utils import (  # noqa: E402
    add_response_schema,
    is_chat_template_prefix_preserving,
    parse_response,
    supports_tool_calling,
)

from rest_rl.envs import (  # noqa: E402
    ENVIRONMENTS,
    TEMPLATES,
    Task,
    TaskConfig,
    ToolEnv,
    WorldEnv,
    generate_task,
    gold_messages,
    make_tasks,
    outcome_reward,
    to_grpo_row,
    tool_names,
    tool_schema,
    tool_schemas,
)
from rest_rl.models import TinyModelConfig, build_bpe_tokenizer, build_tiny_model  # noqa: E402

CLASSES = [*ENVIRONMENTS.values(), WorldEnv]
TRL_TEMPLATE = Path(trl.__file__).parent / "chat_templates" / "qwen3_instruct_2507.jinja"


def _trl_tools(cls: type) -> list[str]:
    """The tool names TRL derives from an environment class (its own rule: public functions of the class)."""
    return sorted(
        name
        for name, _ in inspect.getmembers(cls, predicate=inspect.isfunction)
        if name not in ("reset", "get_reward") and not name.startswith("_")
    )


# ------------------------------------------------------------------------------------------------ schemas


@pytest.mark.parametrize("cls", CLASSES, ids=lambda c: c.__name__)
def test_the_public_methods_are_exactly_the_tools(cls):
    assert _trl_tools(cls) == list(tool_names(cls))
    assert not hasattr(cls, "get_reward")  # the reward needs the final answer: outcome_reward, not get_reward
    params = inspect.signature(cls.reset).parameters
    assert [p.kind for p in params.values()] == [inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.VAR_KEYWORD]
    assert cls.__init__ is ToolEnv.__init__  # no-argument constructor


@pytest.mark.parametrize("cls", CLASSES, ids=lambda c: c.__name__)
def test_every_tool_has_a_valid_schema_equal_to_ours(cls):
    env = cls()
    for name in tool_names(cls):
        schema = get_json_schema(getattr(env, name))  # raises on a missing hint or Args entry
        function = schema["function"]
        assert function["name"] == name and function["description"]
        params = function["parameters"]
        assert params["required"] == list(params["properties"])
        for prop in params["properties"].values():
            assert prop["type"] in ("string", "integer") and prop["description"]
        assert schema == tool_schema(getattr(cls, name)) == tool_schema(getattr(env, name))


# ------------------------------------------------------------------------------------------------ chat template


@pytest.fixture(scope="module")
def tokenizer():
    """A small BPE trained on the world's gold conversations, with TRL's own Qwen3 template and parser."""
    tasks = make_tasks(TaskConfig(n_train=200, n_validation=0, n_test=0))["train"]
    texts = [json.dumps(gold_messages(t)) + json.dumps(tool_schemas(t)) for t in tasks]
    tok = build_bpe_tokenizer(texts, vocab_size=600, chat_template=TRL_TEMPLATE.read_text(), eos_token="<|im_end|>")
    return add_response_schema(tok)


def test_trls_template_accepts_the_tokenizer(tokenizer):
    assert supports_tool_calling(tokenizer) and is_chat_template_prefix_preserving(tokenizer)


@pytest.mark.parametrize("composition", list(TEMPLATES), ids="/".join)
def test_gold_turns_render_and_parse_back_with_trls_parser(tokenizer, composition):
    task = generate_task(composition, __import__("random").Random(1))
    env = ENVIRONMENTS[task.domain]()
    tools = [getattr(env, name) for name in tool_names(env)]  # what TRL passes to the template
    messages = gold_messages(task)
    text = tokenizer.apply_chat_template(messages, tools=tools, tokenize=False)
    assert all(json.dumps(s["function"]["name"]) in text for s in tool_schemas(task))
    for i, message in enumerate(messages):
        if message["role"] != "assistant":
            continue
        before = tokenizer.apply_chat_template(messages[:i], tools=tools, tokenize=False, add_generation_prompt=True)
        upto = tokenizer.apply_chat_template(messages[: i + 1], tools=tools, tokenize=False)
        assert upto.startswith(before)
        turn = upto[len(before) :].rstrip("\n")
        parsed = parse_response(
            tokenizer,
            tokenizer(turn, add_special_tokens=False)["input_ids"],
            prefix=tokenizer(before, add_special_tokens=False)["input_ids"],
            tools=tools,
        )
        assert parsed.get("tool_calls", []) == message.get("tool_calls", []), turn
        assert parsed["content"] == message["content"]
    for call in (c for turn in task.gold for c in turn):
        assert json.dumps(call["arguments"], ensure_ascii=False) in text


# ------------------------------------------------------------------------------------------------ GRPO tool loop


def _call_text(name: str, arguments: Any) -> str:
    return "<tool_call>\n" + json.dumps({"name": name, "arguments": arguments}) + "\n</tool_call>"


class _Agent:
    """Stands in for ``GRPOTrainer._generate_single_turn``: reads the conversation so far (the prompt, its own
    turns and the tool results TRL inserted) and writes the next turn of the task whose request it finds."""

    def __init__(self, tokenizer: Any, tasks: list[Task], hostile: bool = False) -> None:
        self.tokenizer = tokenizer
        self.tasks = {t.request: t for t in tasks}
        self.hostile = hostile
        self.turns: list[str] = []
        self.responses: dict[str, list[str]] = {}  # request -> the tool results its second turn read

    def __call__(self, prompt_ids, images, multimodal_fields, num_generations, has_tool_images=False):
        return [self.turn(ids) for ids in prompt_ids], None

    def turn(self, ids: list[int]) -> list[int]:
        text = self.tokenizer.decode(ids)
        (task,) = [t for request, t in self.tasks.items() if f"user\n{request}<|im_end|>" in text]
        done = text.count("<|im_start|>assistant") - 1  # the last header opens the turn to write
        if done == 1:
            self.responses[task.request] = re.findall(r"<tool_response>\n(.*?)\n</tool_response>", text, flags=re.S)
        if self.hostile:
            out = "\n".join([
                _call_text("acct", {"owner": 10**30}),  # 100-bit integer
                _call_text("transfer", {"src": "K42", "dst": "B07", "amount": "30", "memo": "x"}),
                _call_text("ls", {"folder": [[[[[[[[["deep"]]]]]]]]]}),
                _call_text("nope", {}),  # TRL itself answers: tool not found
                _call_text("read", "oops"),  # not an object: TRL's ** fails before our tool
            ]) if done == 0 else "Done."  # fmt: skip
        elif done < len(task.gold):
            out = "\n".join(_call_text(c["name"], c["arguments"]) for c in task.gold[done])
        else:
            out = task.answer
        self.turns.append(out)
        return self.tokenizer(out, add_special_tokens=False)["input_ids"] + [self.tokenizer.eos_token_id]


@pytest.fixture(scope="module")
def tasks() -> list[Task]:
    """One test-split task per domain and kind, with distinct requests."""
    pool = make_tasks(TaskConfig(n_train=0, n_validation=0, n_test=120, seed=2))["test"]
    chosen: dict[tuple[str, str], Task] = {}
    for task in pool:
        if (task.domain, task.kind) not in chosen and task.request not in {t.request for t in chosen.values()}:
            chosen[(task.domain, task.kind)] = task
    return list(chosen.values())[:8]


def _trainer(tokenizer: Any, rows: list[dict[str, Any]], factory: Any, tmp_path: Path, agent: _Agent) -> Any:
    from datasets import Dataset
    from trl import GRPOConfig, GRPOTrainer

    model = build_tiny_model(
        tokenizer, TinyModelConfig(hidden_size=32, num_layers=1, num_heads=2, num_kv_heads=1, max_positions=4096)
    )
    config = GRPOConfig(
        output_dir=str(tmp_path), use_cpu=True, bf16=False, report_to=[], save_strategy="no", max_steps=1,
        per_device_train_batch_size=4, num_generations=2, max_completion_length=1024, seed=0, disable_tqdm=True,
        max_tool_calling_iterations=5,
    )  # fmt: skip
    trainer = GRPOTrainer(
        model=model, args=config, train_dataset=Dataset.from_list(rows), processing_class=tokenizer,
        reward_funcs=[outcome_reward], environment_factory=factory,
    )  # fmt: skip
    trainer._generate_single_turn = agent
    return trainer


def _generate(trainer: Any, rows: list[dict[str, Any]]) -> dict[str, Any]:
    torch.manual_seed(0)
    return trainer._generate_and_score_completions([dict(row) for row in rows for _ in range(2)])


@pytest.mark.parametrize("factory", [ENVIRONMENTS, WorldEnv], ids=["per-domain", "world"])
def test_grpo_tool_loop_runs_the_gold_trajectories_to_reward_one(tokenizer, tasks, factory, tmp_path):
    rows = [to_grpo_row(t) for t in tasks]
    agent = _Agent(tokenizer, tasks)
    trainer = _trainer(tokenizer, rows, factory, tmp_path, agent)
    inputs = _generate(trainer, rows)
    envs = trainer.environments
    assert len(envs) == 2 * len(tasks)
    for env, task in zip(envs, [t for t in tasks for _ in range(2)]):
        assert isinstance(env, ENVIRONMENTS[task.domain] if isinstance(factory, dict) else WorldEnv)
        assert env.episode.task == task
        assert env.episode.calls == len(task.gold_calls) and env.episode.invalid_calls == 0
        assert env.episode.outcome(task.answer).success
    assert outcome_reward([[{"role": "assistant", "content": t.answer}] for t in tasks for _ in range(2)], envs) == [
        1.0
    ] * len(envs)
    metrics = trainer._metrics["train"]
    assert metrics["rewards/outcome_reward/mean"][-1] == pytest.approx(1.0)
    assert metrics["tools/failure_frequency"][-1] == 0.0
    with_calls = [i for i, t in enumerate(t for t in tasks for _ in range(2)) if t.gold]
    assert ((inputs["tool_mask"] == 0) & (inputs["completion_mask"] == 1)).any(dim=1)[with_calls].all()


def test_grpo_tool_loop_with_hostile_calls_gets_error_strings(tokenizer, tasks, tmp_path):
    rows = [to_grpo_row(t) for t in tasks]
    agent = _Agent(tokenizer, tasks, hostile=True)
    trainer = _trainer(tokenizer, rows, ENVIRONMENTS, tmp_path, agent)
    _generate(trainer, rows)
    metrics = trainer._metrics["train"]
    assert metrics["rewards/outcome_reward/mean"][-1] == 0.0
    # TRL counts as failures only what raised: a tool its environment lacks, and arguments that are not an
    # object (``**"oops"`` fails before our code runs); our tools turned every other bad call into a result
    own_tools = [{"acct", "transfer", "ls"} & set(env.episode.task.tools) for env in trainer.environments]
    raised = sum(5 - len(own) for own in own_tools)
    assert metrics["tools/call_frequency"][-1] == 5.0
    assert metrics["tools/failure_frequency"][-1] == pytest.approx(raised / (5 * len(own_tools)))
    for env, own in zip(trainer.environments, own_tools):
        episode = env.episode
        assert episode.state == episode.task.state and episode.crashes == 0
        assert sorted(r.name for r in episode.history) == sorted(own) and all(r.error for r in episode.history)
        for record in episode.history:
            message = json.loads(record.result)["error"]
            expected = r"integer too large in owner|unexpected argument 'memo'|nesting too deep in folder"
            assert re.search(expected, message)
    # what the model reads back: five results per rollout, ours as JSON, TRL's own as a dict's repr
    assert len(agent.responses) == len(tasks)
    for env, own in zip(trainer.environments, own_tools):
        responses = agent.responses[env.episode.task.request]
        assert len(responses) == 5
        ours = [r for r in responses if r.startswith('{"error": ')]
        assert len(ours) == len(own) and all(json.loads(r)["error"] for r in ours)
        assert sum(r.startswith("{'error': ") for r in responses) == 5 - len(own)
