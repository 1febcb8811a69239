"""Module layering: no import cycles inside the package (counting imports at module level)."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "uas_pipeline"


def _module_name(path: Path) -> str:
    rel = path.relative_to(PACKAGE.parent).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _top_level_imports(path: Path, name: str) -> set[str]:
    """Package modules imported at module level (lazy imports inside functions are allowed to
    point back: they break no import-time cycle)."""
    is_package = path.name == "__init__.py"
    base = name.split(".") if is_package else name.split(".")[:-1]
    found = set()
    for node in ast.parse(path.read_text()).body:
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.startswith("uas_pipeline")}
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                target = ".".join(base[: len(base) - node.level + 1] + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            if target.startswith("uas_pipeline"):
                found.add(target)
                found |= {f"{target}.{a.name}" for a in node.names}
    return found


def test_no_import_cycles() -> None:
    modules = {_module_name(p): p for p in PACKAGE.rglob("*.py")}
    graph = {name: {m for m in _top_level_imports(path, name) if m in modules and m != name}
             for name, path in modules.items()}
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                cycle = stack[stack.index(nxt):] + [nxt]
                raise AssertionError("import cycle: " + " -> ".join(cycle))
            if nxt not in state:
                visit(nxt)
        stack.pop()
        state[node] = 2

    for name in sorted(graph):
        if name not in state:
            visit(name)


def test_leaf_modules_import_nothing_from_the_package() -> None:
    for leaf in ("resources", "clips"):
        assert _top_level_imports(PACKAGE / f"{leaf}.py", f"uas_pipeline.{leaf}") == set(), leaf


def test_stage_modules_do_not_import_model_libraries_at_import_time() -> None:
    import subprocess
    import sys

    code = ("import sys; import uas_pipeline.stages.registry as r\n"
            "for s in r.stage_names():\n    r.all_backend_classes(s)\n"
            "heavy = [m for m in ('torch', 'ctranslate2', 'faster_whisper', 'silero_vad', 'librosa', 'transformers')"
            " if m in sys.modules]\nprint(heavy)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_readme_ownership_table_is_generated_from_the_code() -> None:
    import importlib.util

    path = PACKAGE.parent / "scripts" / "update_readme_tables.py"
    spec = importlib.util.spec_from_file_location("update_readme_tables", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    text = (PACKAGE.parent / "README.md").read_text()
    assert "<!-- ownership-table:start -->" in text
    assert module.updated(text) == text, "README tables are stale: run `make readme`"
