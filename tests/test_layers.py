"""The import rule of ../shared/DESIGN.md, enforced on every product module with ``ast``.

Each package may import only the project packages its row of the layer table names (imports
inside functions count too); command-line modules are leaves that may import anything and that
nothing below ``flywheel`` imports; and no module uses another module's private (``_x``) names.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
PACKAGES = ("feedback", "warehouse", "pipelines", "curation", "training", "governance", "serving",
            "flywheel", "dags")

# package -> project modules it may import (a package name allows all of that package).
ALLOWED = {
    "feedback": set(),
    "warehouse": {"feedback.contract"},
    "pipelines": {"feedback", "warehouse"},
    "curation": {"feedback", "warehouse"},
    "training": {"warehouse", "curation.dataset_format", "curation.rules", "curation.stats"},
    "governance": {"warehouse", "curation.dataset_format", "training.registry"},
    "serving": {"feedback", "warehouse", "training"},
    "flywheel": set(PACKAGES),
    "dags": {"flywheel"},
}


def product_modules() -> dict[str, Path]:
    modules = {}
    for package in PACKAGES:
        for path in sorted((REPO / package).rglob("*.py")) if (REPO / package).is_dir() else ():
            parts = path.relative_to(REPO).with_suffix("").parts
            name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
            modules[name] = path
    return modules


MODULES = product_modules()


def is_cli(name: str, tree: ast.Module) -> bool:
    """``__main__`` modules, modules that define ``main()`` and modules run as scripts
    (``if __name__ == "__main__"``, such as the one-line shims of moved commands) are
    command-line leaves."""
    if name.endswith("__main__"):
        return True
    for node in tree.body:
        if isinstance(node, ast.FunctionDef) and node.name == "main":
            return True
        if (isinstance(node, ast.If) and isinstance(node.test, ast.Compare)
                and isinstance(node.test.left, ast.Name) and node.test.left.id == "__name__"):
            return True
    return False


def imports_of(name: str, tree: ast.Module) -> list[tuple[str, int]]:
    """(imported project module, line) for every import anywhere in the module."""
    package = name.split(".")[0]
    is_package = MODULES[name].name == "__init__.py"
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out += [(alias.name, node.lineno) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = name.split(".")[: len(name.split(".")) - node.level + (1 if is_package else 0)]
                module = ".".join(base + ([node.module] if node.module else []))
            else:
                module = node.module or ""
            for alias in node.names:
                full = f"{module}.{alias.name}"
                out.append((full if full in MODULES else module, node.lineno))
    return [(m, line) for m, line in out if m.split(".")[0] in PACKAGES and
            m.split(".")[0] != package]


def allowed(package: str, target: str) -> bool:
    return any(target == rule or target.startswith(rule + ".") for rule in ALLOWED[package])


TREES = {name: ast.parse(path.read_text(), filename=str(path)) for name, path in MODULES.items()}
CLI = {name for name, tree in TREES.items() if is_cli(name, tree)}


def test_the_layer_table_covers_every_package():
    assert set(ALLOWED) == set(PACKAGES)
    assert MODULES, "no product modules found"


@pytest.mark.parametrize("name", sorted(MODULES))
def test_imports_follow_the_layer_table(name):
    package = name.split(".")[0]
    problems = []
    for target, line in imports_of(name, TREES[name]):
        target_module = target if target in MODULES else ".".join(target.split(".")[:2])
        if target_module in CLI and package not in ("flywheel", "dags") and name not in CLI:
            problems.append(f"line {line}: imports the command-line module {target_module}")
        elif name not in CLI and not allowed(package, target):
            problems.append(f"line {line}: {package} may not import {target}")
    assert not problems, f"{name}: " + "; ".join(problems)


@pytest.mark.parametrize("name", sorted(MODULES))
def test_no_private_name_is_used_outside_its_module(name):
    tree = TREES[name]
    module_aliases = {}
    problems = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module:
            module = node.module
            for alias in node.names:
                if f"{module}.{alias.name}" in MODULES:
                    module_aliases[alias.asname or alias.name] = f"{module}.{alias.name}"
                elif alias.name.startswith("_") and module.split(".")[0] in PACKAGES:
                    problems.append(f"line {node.lineno}: imports {module}.{alias.name}")
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] in PACKAGES and alias.asname:
                    module_aliases[alias.asname] = alias.name
    for node in ast.walk(tree):
        if (isinstance(node, ast.Attribute) and node.attr.startswith("_")
                and not node.attr.startswith("__") and isinstance(node.value, ast.Name)
                and node.value.id in module_aliases):
            problems.append(f"line {node.lineno}: uses {module_aliases[node.value.id]}.{node.attr}")
    assert not problems, f"{name}: " + "; ".join(problems)


def test_the_checker_catches_a_violation():
    """The rule itself can fail: an upward import and a private name are both reported."""
    source = "from training import registry\nfrom curation.views import _sql_str\n"
    tree = ast.parse(source)
    MODULES_BACKUP = dict(MODULES)
    try:
        MODULES["warehouse.probe"] = REPO / "warehouse" / "probe.py"
        found = imports_of("warehouse.probe", tree)
        assert ("training.registry", 1) in found
        assert not allowed("warehouse", "training.registry")
        assert allowed("training", "curation.stats")
    finally:
        MODULES.clear()
        MODULES.update(MODULES_BACKUP)
