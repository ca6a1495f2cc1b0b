"""The package's layering, checked on the source: which module may import which.

The table below is the contract described in ``docs/architecture.md``. Every ``import`` statement of
``src/rest_rl`` counts: module level and inside functions, ``import x``, ``from x import y``, relative
imports (resolved), and ``importlib.import_module("x")`` / ``__import__("x")`` with a literal name. An
f-string module name cannot be resolved statically and is not seen.

Edges between rest_rl modules: ``import rest_rl.a.b`` is an edge to ``rest_rl.a.b``;
``from rest_rl.a import name`` is an edge to ``rest_rl.a.name`` when that is a module, else to
``rest_rl.a``. A third-party import counts by its top-level package name.

Four kinds of problem are reported, each as ``importer -> imported`` with file and line:
* ``layer``: a rest_rl module imports a layer its row does not allow;
* ``third-party``: a package outside the row's third-party list (the standard library is always allowed),
  or an optional / lazy-only package (``OPTIONAL_PACKAGES``, ``LAZY_ONLY``) imported at module level;
* ``cycle``: a strongly connected component of the module graph (function-level imports included);
* ``unknown``: a module that is in no layer, an import of a rest_rl module that does not exist, or a
  relative import that leaves the package.
"""

from __future__ import annotations

import ast
import re
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

ANY = None  # a row whose third-party column is ANY may import any installed package

# layer: (modules ("x.*" = the package x and everything below it), rest_rl layers it may import,
#         third-party packages it may import). The standard library is allowed everywhere.
LAYERS: dict[str, tuple[tuple[str, ...], frozenset[str], frozenset[str] | None]] = {
    "foundation": (("rest_rl", "rest_rl.errors", "rest_rl.config"), frozenset({"foundation"}), frozenset({"yaml"})),
    "core": (("rest_rl.core.*",), frozenset({"core"}), frozenset({"torch", "numpy"})),
    "toolcall": (("rest_rl.toolcall.*",), frozenset({"foundation", "toolcall"}), frozenset()),
    "rewards": (("rest_rl.rewards.*",), frozenset({"foundation", "toolcall", "rewards"}), frozenset()),
    "data": (
        ("rest_rl.data.*",),
        frozenset({"foundation", "toolcall", "data"}),
        frozenset({"pyarrow", "datasets", "yaml"}),
    ),
    "envs": (("rest_rl.envs.*",), frozenset({"foundation", "toolcall", "rewards", "data", "envs"}), frozenset()),
    "models": (
        ("rest_rl.models.*",),
        frozenset({"foundation", "data", "models"}),
        frozenset({"torch", "transformers", "tokenizers"}),
    ),
    "integrations": (
        ("rest_rl.integrations.*", "rest_rl.train.*"),
        frozenset({"foundation", "core", "toolcall", "rewards", "data", "envs", "models", "integrations"}),
        ANY,
    ),
    "eval": (
        ("rest_rl.eval.*",),
        frozenset({"foundation", "core", "toolcall", "rewards", "data", "envs", "models", "eval"}),
        frozenset({"torch", "transformers", "vllm", "tqdm", "bfcl_eval", "mpmath", "numpy"}),
    ),
    "top": (
        ("rest_rl.cli.*", "rest_rl.demo.*", "rest_rl.testing", "rest_rl.__main__"),
        frozenset(
            {"foundation", "core", "toolcall", "rewards", "data", "envs", "models", "integrations", "eval", "top"}
        ),
        ANY,
    ),
}

# Trainer frameworks: only these layers may import them (the rows above must agree; a test checks it).
FRAMEWORK_LAYERS = {"trl": {"integrations", "top"}, "verl": {"integrations", "top"}}

# Packages that must be imported inside a function, never at module level, so that importing a module
# does not need them: optional extras (not in pyproject's dependencies; bfcl-eval is installed apart) in
# every layer, and the data layer's readers, so `import rest_rl.data` stays light.
OPTIONAL_PACKAGES = frozenset({"vllm", "bfcl_eval", "peft", "wandb", "matplotlib", "tensorboard"})
LAZY_ONLY = {"data": frozenset({"pyarrow", "datasets", "yaml"})}

SRC_PACKAGE = Path(__file__).resolve().parents[2] / "src" / "rest_rl"


# ----------------------------------------------------------------------------------------------------- scanning


@dataclass(frozen=True)
class Import:
    target: str  # a rest_rl module name, or a third-party / stdlib top-level package name
    line: int
    lazy: bool = False  # inside a function body: runs when called, not when the module is imported


@dataclass
class Module:
    name: str
    path: Path
    is_package: bool
    imports: list[Import]


def _module_name(path: Path, root: Path) -> tuple[str, bool]:
    parts = list(path.relative_to(root.parent).with_suffix("").parts)
    is_package = parts[-1] == "__init__"
    return ".".join(parts[:-1] if is_package else parts), is_package


def _literal_dynamic_import(node: ast.Call) -> str | None:
    """``importlib.import_module("x")``, ``import_module("x")`` or ``__import__("x")`` with a literal name."""
    func = node.func
    name = func.attr if isinstance(func, ast.Attribute) else func.id if isinstance(func, ast.Name) else None
    if name not in {"import_module", "__import__"} or not node.args:
        return None
    arg = node.args[0]
    if isinstance(arg, ast.Constant) and isinstance(arg.value, str) and not arg.value.startswith("."):
        return arg.value
    return None


def _function_level_nodes(tree: ast.AST) -> set[int]:
    """ids of the nodes that sit inside a function or lambda body (run on call, not on import)."""
    inside: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
            inside.update(id(child) for child in ast.walk(node) if child is not node)
    return inside


def _raw_imports(module: Module, source: str) -> list[tuple[str, list[str], int, bool]]:
    """(absolute base module, names imported from it ([] for ``import x``), line, inside a function)."""
    tree = ast.parse(source, filename=str(module.path))
    lazy = _function_level_nodes(tree)
    out: list[tuple[str, list[str], int, bool]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out.extend((alias.name, [], node.lineno, id(node) in lazy) for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            names = [alias.name for alias in node.names if alias.name != "*"]
            if node.level == 0:
                out.append((node.module or "", names, node.lineno, id(node) in lazy))
                continue
            package = module.name.split(".") if module.is_package else module.name.split(".")[:-1]
            keep = len(package) - (node.level - 1)
            if keep <= 0:
                escaped = "." * node.level + (node.module or ", ".join(names))
                out.append((escaped, names, node.lineno, id(node) in lazy))  # leaves the package: unknown
                continue
            base = ".".join(package[:keep] + ([node.module] if node.module else []))
            out.append((base, names, node.lineno, id(node) in lazy))
        elif isinstance(node, ast.Call) and (target := _literal_dynamic_import(node)):
            out.append((target, [], node.lineno, id(node) in lazy))
    return out


def scan(root: Path) -> dict[str, Module]:
    """Every module under the package directory ``root`` with its resolved imports."""
    modules: dict[str, Module] = {}
    sources: dict[str, str] = {}
    for path in sorted(root.rglob("*.py")):
        name, is_package = _module_name(path, root)
        modules[name] = Module(name, path, is_package, [])
        sources[name] = path.read_text(encoding="utf-8")
    top = root.name
    for name, module in modules.items():
        for base, names, line, lazy in _raw_imports(module, sources[name]):
            if base.startswith("."):
                module.imports.append(Import(base, line, lazy))  # reported as unknown
            elif base == top or base.startswith(top + "."):
                targets = [f"{base}.{n}" if f"{base}.{n}" in modules else base for n in names] or [base]
                module.imports.extend(Import(t, line, lazy) for t in dict.fromkeys(targets))
            else:
                module.imports.append(Import(base.split(".")[0], line, lazy))
    return modules


# ----------------------------------------------------------------------------------------------------- checking


def layer_of(module: str) -> str | None:
    for layer, (patterns, _, _) in LAYERS.items():
        for pattern in patterns:
            if pattern.endswith(".*"):
                package = pattern[:-2]
                if module == package or module.startswith(package + "."):
                    return layer
            elif module == pattern:
                return layer
    return None


def _is_stdlib(package: str) -> bool:
    return package in sys.stdlib_module_names


def _strongly_connected(graph: dict[str, set[str]]) -> list[list[str]]:
    """Tarjan's algorithm, iterative; returns components with more than one module or a self-import."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components: list[list[str]] = []
    counter = 0
    for start in sorted(graph):
        if start in index:
            continue
        work = [(start, iter(sorted(graph[start])))]
        index[start] = low[start] = counter
        counter += 1
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph.get(child, ())))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1 or node in graph.get(node, ()):
                    components.append(sorted(component))
    return components


@dataclass(frozen=True)
class Violation:
    kind: str  # layer | third-party | cycle | unknown
    message: str


def check(modules: dict[str, Module]) -> list[Violation]:
    found: list[Violation] = []
    top = next(iter(modules)).split(".")[0] if modules else "rest_rl"
    graph: dict[str, set[str]] = {name: set() for name in modules}
    for name, module in sorted(modules.items()):
        where = f"{module.path.name}" if module.path.name != "__init__.py" else f"{module.path.parent.name}/__init__.py"
        layer = layer_of(name)
        if layer is None:
            found.append(Violation("unknown", f"{name} is in no layer of the table (add it to LAYERS)"))
            continue
        _, allowed_layers, allowed_packages = LAYERS[layer]
        for imp in module.imports:
            at = f"[{where}:{imp.line}]"
            if imp.target.startswith("."):
                found.append(Violation("unknown", f"{name} -> {imp.target}: relative import leaves the package {at}"))
            elif imp.target == top or imp.target.startswith(top + "."):
                if imp.target not in modules:
                    found.append(Violation("unknown", f"{name} -> {imp.target}: no such module {at}"))
                    continue
                graph[name].add(imp.target)
                target_layer = layer_of(imp.target)
                if target_layer is not None and target_layer not in allowed_layers:
                    found.append(
                        Violation(
                            "layer",
                            f"{name} ({layer}) -> {imp.target} ({target_layer}): {layer} may import only "
                            f"{', '.join(sorted(allowed_layers))} {at}",
                        )
                    )
            elif not _is_stdlib(imp.target) and allowed_packages is not ANY and imp.target not in allowed_packages:
                allowed = ", ".join(sorted(allowed_packages)) or "no third-party package"
                found.append(
                    Violation("third-party", f"{name} ({layer}) -> {imp.target}: {layer} may import {allowed} {at}")
                )
            elif not imp.lazy and (imp.target in OPTIONAL_PACKAGES or imp.target in LAZY_ONLY.get(layer, ())):
                why = "an optional package" if imp.target in OPTIONAL_PACKAGES else f"kept lazy in {layer}"
                found.append(
                    Violation(
                        "third-party",
                        f"{name} ({layer}) -> {imp.target}: {why}, import it inside a function, "
                        f"not at module level {at}",
                    )
                )
    for component in _strongly_connected(graph):
        found.append(Violation("cycle", f"import cycle among {len(component)} module(s): {', '.join(component)}"))
    return found


def _report(violations: list[Violation]) -> str:
    return "\n".join(f"  {v.message}" for v in violations)


# ------------------------------------------------------------------------------------------------ the real tree


@pytest.fixture(scope="module")
def real_violations() -> list[Violation]:
    modules = scan(SRC_PACKAGE)
    assert len(modules) > 30, f"scanned only {len(modules)} modules under {SRC_PACKAGE}"
    return check(modules)


@pytest.mark.parametrize("kind", ["unknown", "layer", "third-party", "cycle"])
def test_source_tree_respects_the_layers(real_violations, kind):
    bad = [v for v in real_violations if v.kind == kind]
    assert not bad, f"{len(bad)} {kind} violation(s) (see docs/architecture.md):\n{_report(bad)}"


def test_every_layer_has_modules():
    layers = {layer_of(name) for name in scan(SRC_PACKAGE)}
    assert layers == set(LAYERS), f"layers without modules: {set(LAYERS) - layers}"


# ------------------------------------------------------------------------------------------- the table itself


def test_table_is_a_layering():
    """If layer A may import B and B may import A, then A is B: the table has no two-way pair."""
    for a, (_, allowed_a, _) in LAYERS.items():
        assert a in allowed_a, f"{a} should be allowed to import itself"
        for b in allowed_a - {a}:
            assert a not in LAYERS[b][1], f"{a} and {b} may import each other"


def test_table_confines_frameworks_and_keeps_core_pure():
    for layer, (_, allowed_layers, packages) in LAYERS.items():
        for framework, owners in FRAMEWORK_LAYERS.items():
            if layer not in owners:
                assert packages is not ANY and framework not in packages, f"{layer} would be allowed {framework}"
        if layer != "top":
            assert "top" not in allowed_layers, f"{layer} may not import the top layer"
    assert LAYERS["core"][1] == {"core"} and LAYERS["core"][2] == {"torch", "numpy"}
    assert LAYERS["toolcall"][2] == frozenset()


def test_optional_packages_are_not_required_dependencies():
    import tomllib

    pyproject = tomllib.loads((SRC_PACKAGE.parents[1] / "pyproject.toml").read_text(encoding="utf-8"))
    names = (re.match(r"[A-Za-z0-9_.-]+", dep) for dep in pyproject["project"]["dependencies"])
    required = {m.group(0).lower().replace("-", "_") for m in names if m}
    assert {"torch", "trl"} <= required, required
    assert not OPTIONAL_PACKAGES & required, f"listed as optional but required: {OPTIONAL_PACKAGES & required}"


# ------------------------------------------------------------------------------- the checker can fail: fakes


def _tree(tmp_path: Path, files: dict[str, str]) -> dict[str, Module]:
    """A fake ``rest_rl`` package from {relative path: source}; package ``__init__.py`` files are added."""
    root = tmp_path / "rest_rl"
    for rel, source in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(source, encoding="utf-8")
    for directory in [root, *[p for p in root.rglob("*") if p.is_dir()]]:
        init = directory / "__init__.py"
        if not init.exists():
            init.write_text("", encoding="utf-8")
    return scan(root)


def _messages(violations: list[Violation], kind: str) -> list[str]:
    return [v.message for v in violations if v.kind == kind]


def test_clean_fake_tree_has_no_violations(tmp_path):
    modules = _tree(
        tmp_path,
        {
            "core/w.py": "import torch\nfrom . import r\n",
            "core/r.py": "import re\nimport numpy as np\n",
            "toolcall/types.py": "import json\nfrom rest_rl.errors import E\n",
            "errors.py": "class E(Exception): ...\n",
            "integrations/trl/grpo.py": (
                "import trl\nfrom rest_rl.core import w\nfrom rest_rl.toolcall.types import X\n"
            ),
            "cli/main.py": "def f():\n    from rest_rl.integrations.trl import grpo\n",
        },
    )
    assert check(modules) == []
    assert {i.target for i in modules["rest_rl.integrations.trl.grpo"].imports} == {
        "trl",
        "rest_rl.core.w",
        "rest_rl.toolcall.types",
    }


def test_core_importing_toolcall_is_reported(tmp_path):
    modules = _tree(
        tmp_path, {"core/x.py": "import torch\nfrom rest_rl.toolcall import types\n", "toolcall/types.py": ""}
    )
    assert _messages(check(modules), "layer") == [
        "rest_rl.core.x (core) -> rest_rl.toolcall.types (toolcall): core may import only core [x.py:2]"
    ]


def test_core_importing_foundation_is_reported(tmp_path):
    modules = _tree(tmp_path, {"core/x.py": "from rest_rl.errors import E\n", "errors.py": ""})
    (message,) = _messages(check(modules), "layer")
    assert message.startswith("rest_rl.core.x (core) -> rest_rl.errors (foundation): core may import only core")


def test_eval_importing_integrations_inside_a_function_is_reported(tmp_path):
    modules = _tree(
        tmp_path,
        {"eval/x.py": "def run():\n    import rest_rl.integrations.trl\n", "integrations/trl/__init__.py": ""},
    )
    (message,) = _messages(check(modules), "layer")
    assert message.startswith("rest_rl.eval.x (eval) -> rest_rl.integrations.trl (integrations)")
    assert message.endswith("[x.py:2]")


def test_relative_import_is_resolved_before_the_check(tmp_path):
    modules = _tree(tmp_path, {"core/x.py": "from ..rewards import toolrl\n", "rewards/toolrl.py": ""})
    assert modules["rest_rl.core.x"].imports == [Import("rest_rl.rewards.toolrl", 1)]
    assert len(_messages(check(modules), "layer")) == 1


def test_from_import_of_a_name_points_at_the_package(tmp_path):
    modules = _tree(tmp_path, {"data/x.py": "from rest_rl.core import Region\n", "core/regions.py": ""})
    assert modules["rest_rl.data.x"].imports == [Import("rest_rl.core", 1)]
    (message,) = _messages(check(modules), "layer")
    assert "rest_rl.data.x (data) -> rest_rl.core (core)" in message


def test_top_layer_may_not_be_imported_from_below(tmp_path):
    modules = _tree(tmp_path, {"models/x.py": "import rest_rl.cli.common\n", "cli/common.py": ""})
    assert "-> rest_rl.cli.common (top)" in _messages(check(modules), "layer")[0]


def test_third_party_outside_its_layers_is_reported(tmp_path):
    modules = _tree(
        tmp_path,
        {
            "eval/x.py": "import tqdm\ndef f():\n    from trl import GRPOTrainer\n",
            "toolcall/y.py": "import json, numpy\n",
            "core/z.py": "import importlib\nimportlib.import_module('transformers')\n",
            "integrations/verl/a.py": "import verl\n",
        },
    )
    assert sorted(_messages(check(modules), "third-party")) == [
        "rest_rl.core.z (core) -> transformers: core may import numpy, torch [z.py:2]",
        "rest_rl.eval.x (eval) -> trl: eval may import bfcl_eval, mpmath, numpy, torch, tqdm, transformers, vllm [x.py:3]",
        "rest_rl.toolcall.y (toolcall) -> numpy: toolcall may import no third-party package [y.py:1]",
    ]


def test_two_module_cycle_through_a_function_level_import_is_reported(tmp_path):
    modules = _tree(
        tmp_path,
        {
            "data/a.py": "from rest_rl.data.b import g\n",
            "data/b.py": "def g():\n    from rest_rl.data import a\n    return a\n",
            "data/c.py": "from rest_rl.data import a\n",
        },
    )
    assert _messages(check(modules), "cycle") == ["import cycle among 2 module(s): rest_rl.data.a, rest_rl.data.b"]


def test_package_init_and_its_submodule_form_a_cycle(tmp_path):
    modules = _tree(
        tmp_path,
        {
            "rewards/__init__.py": "from rest_rl.rewards.toolrl import r\n",
            "rewards/toolrl.py": "from rest_rl.rewards import x\n",
        },
    )
    assert _messages(check(modules), "cycle") == [
        "import cycle among 2 module(s): rest_rl.rewards, rest_rl.rewards.toolrl"
    ]


def test_unplaced_module_missing_module_and_escaping_import_are_reported(tmp_path):
    modules = _tree(
        tmp_path,
        {"newthing/x.py": "", "toolcall/y.py": "import rest_rl.toolcall.gone\nfrom ... import z\n"},
    )
    messages = _messages(check(modules), "unknown")
    assert "rest_rl.newthing is in no layer of the table (add it to LAYERS)" in messages
    assert "rest_rl.toolcall.y -> rest_rl.toolcall.gone: no such module [y.py:1]" in messages
    assert any(m.startswith("rest_rl.toolcall.y -> ...z: relative import leaves the package") for m in messages)


def test_a_module_importing_itself_is_a_cycle(tmp_path):
    modules = _tree(tmp_path, {"data/a.py": "def f():\n    import rest_rl.data.a\n"})
    assert _messages(check(modules), "cycle") == ["import cycle among 1 module(s): rest_rl.data.a"]


def test_optional_and_lazy_packages_must_be_imported_inside_functions(tmp_path):
    modules = _tree(
        tmp_path,
        {
            "eval/engines.py": "import vllm\ndef build():\n    import vllm\n",
            "data/io.py": "import datasets\nclass R:\n    def read(self):\n        import pyarrow.parquet as pq\n",
            "demo/report.py": "from matplotlib import pyplot\nplot = lambda: __import__('matplotlib')\n",
            "integrations/trl/x.py": "import trl\nimport torch\n",
        },
    )
    assert [(i.target, i.lazy) for i in modules["rest_rl.data.io"].imports] == [("datasets", False), ("pyarrow", True)]
    assert sorted(_messages(check(modules), "third-party")) == [
        "rest_rl.data.io (data) -> datasets: kept lazy in data, import it inside a function, not at module level "
        "[io.py:1]",
        "rest_rl.demo.report (top) -> matplotlib: an optional package, import it inside a function, not at module "
        "level [report.py:1]",
        "rest_rl.eval.engines (eval) -> vllm: an optional package, import it inside a function, not at module level "
        "[engines.py:1]",
    ]


# ------------------------------------------------------------------------------------ verl's own sub-package

# verl (and the packages only its stack brings: TransferQueue, Hydra/OmegaConf, tensordict) are imported
# only inside rest_rl.integrations.verl, which has its own virtualenv (docs/verl.md); nothing else may
# need them, at module level or lazily.
VERL_ONLY = frozenset({"verl", "transfer_queue", "hydra", "omegaconf", "tensordict"})
VERL_HOME = "rest_rl.integrations.verl"


def verl_violations(modules: dict[str, Module]) -> list[str]:
    out = []
    for name, module in sorted(modules.items()):
        if name == VERL_HOME or name.startswith(VERL_HOME + "."):
            continue
        out.extend(
            f"{name} -> {imp.target} [{module.path.name}:{imp.line}]" for imp in module.imports if imp.target in VERL_ONLY
        )
    return out


def test_verl_is_imported_only_in_its_integration():
    modules = scan(SRC_PACKAGE)
    assert VERL_HOME in modules, "rest_rl.integrations.verl is missing"
    assert any(imp.target == "verl" for m in modules.values() for imp in m.imports), "nothing imports verl at all"
    assert verl_violations(modules) == []


def test_verl_outside_its_integration_is_reported(tmp_path):
    modules = _tree(
        tmp_path,
        {
            "integrations/verl/batch.py": "from verl import DataProto\nimport tensordict\n",
            "integrations/trl/grpo.py": "def f():\n    import verl\n",
            "cli/main.py": "from omegaconf import OmegaConf\n",
        },
    )
    assert verl_violations(modules) == [
        "rest_rl.cli.main -> omegaconf [main.py:1]",
        "rest_rl.integrations.trl.grpo -> verl [grpo.py:2]",
    ]
