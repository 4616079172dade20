"""The house's boundaries: every module is in docs/architecture.md's map, and imports go one way.

The import graph is read from the source (ast), counting imports inside functions too: a late import
hides a circle from Python, not from this test."""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("fmnist_lib", "lab_ui", "bench", "tools")


def _modules() -> dict[str, Path]:
    """Dotted module name -> file, for every module of the project's packages ("pkg" for pkg/__init__.py)."""
    found = {}
    for pkg in PACKAGES:
        for path in sorted((ROOT / pkg).rglob("*.py")):
            parts = list(path.relative_to(ROOT).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts = parts[:-1]
            found[".".join(parts)] = path
    return found


def _imports(name: str, path: Path, modules: dict[str, Path]) -> set[str]:
    """The project modules `name` imports, anywhere in its file."""
    is_pkg = path.name == "__init__.py"
    here = name if is_pkg else name.rpartition(".")[0]
    out = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = here.split(".")
                base = base[: len(base) - (node.level - 1)] if node.level > 1 else base
                mod = ".".join(base + ([node.module] if node.module else []))
            else:
                mod = node.module or ""
            # `from pkg import sub` imports the submodule sub; `from pkg import Name` the package.
            targets = [f"{mod}.{a.name}" if f"{mod}.{a.name}" in modules else mod for a in node.names]
        else:
            continue
        for t in targets:
            while t and t not in modules:  # `import fmnist_lib.data.x` -> the deepest project module
                t = t.rpartition(".")[0]
            if t and t != name:
                out.add(t)
    return out


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """One cycle per strongly connected component of more than one module (Tarjan's algorithm)."""
    index, low, stack, on, comps = {}, {}, [], set(), []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in sorted(graph[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                comps.append(sorted(comp))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return comps


def test_no_import_circle_in_the_project():
    modules = _modules()
    graph = {name: _imports(name, path, modules) for name, path in modules.items()}
    assert _cycles(graph) == []


def test_the_circle_finder_finds_a_late_import_circle(tmp_path):
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert _cycles(graph) == [["a", "b", "c"]]


def test_fmnist_lib_never_imports_streamlit():
    for path in (ROOT / "fmnist_lib").rglob("*.py"):
        tree = ast.parse(path.read_text())
        names = [a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names]
        names += [n.module or "" for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)]
        assert not [m for m in names if m.split(".")[0] == "streamlit"], path


def test_every_module_is_in_the_architecture_map():
    doc = (ROOT / "docs" / "architecture.md").read_text()
    listed = set(re.findall(r"^\| `([\w/]+\.py)` \|", doc, flags=re.M))
    missing = []
    for pkg in ("fmnist_lib", "lab_ui"):
        for path in sorted((ROOT / pkg).rglob("*.py")):
            rel = path.relative_to(ROOT / pkg).as_posix()
            if path.name in ("__init__.py", "__main__.py"):
                continue
            if rel not in listed:
                missing.append(f"{pkg}/{rel}")
    assert missing == [], f"not in docs/architecture.md's module tables: {missing}"


def test_only_the_screenshot_tool_writes_docs_screenshots():
    # The README's screenshots are curated: a benchmark or a test that wrote there would overwrite them.
    writers = []
    for pkg in ("fmnist_lib", "lab_ui", "app_pages", "bench", "tools", "tests"):
        for path in (ROOT / pkg).rglob("*.py"):
            if re.search(r"""["']docs["']\s*/\s*["']screenshots["']|["']docs/screenshots""", path.read_text()):
                writers.append(path.relative_to(ROOT).as_posix())
    assert sorted(writers) == ["tools/screenshots.py"]


def _page_package(module: str) -> str | None:
    """lab_ui's page sub-package a module belongs to (lab_ui.train_page.live -> "train_page"), else None."""
    parts = module.split(".")
    if parts[0] == "lab_ui" and len(parts) > 1 and (ROOT / "lab_ui" / parts[1]).is_dir():
        return parts[1]
    return None


def test_lab_ui_by_page_imports_go_from_a_page_to_the_shared_parts_never_back():
    """lab_ui's top serves every page and never imports a page package; a page package imports the top and
    itself, never another page's; app_pages/<page>.py imports its own lab_ui/<page>_page and the top."""
    modules = _modules()
    wrong = []
    for name, path in modules.items():
        if name.startswith("lab_ui"):
            wrong += [
                f"{name} -> {t}"
                for t in _imports(name, path, modules)
                if _page_package(t) not in (None, _page_package(name))
            ]
    for path in sorted((ROOT / "app_pages").glob("*.py")):
        name = f"app_pages.{path.stem}"
        wrong += [
            f"{name} -> {t}"
            for t in _imports(name, path, modules)
            if _page_package(t) not in (None, f"{path.stem}_page")
        ]
    assert wrong == []


def test_the_page_rule_catches_a_shared_module_that_imports_a_page_package():
    assert _page_package("lab_ui.upload_page.uploads") == "upload_page"
    assert _page_package("lab_ui.persist") is None and _page_package("fmnist_lib.run") is None


def test_a_per_server_value_is_kept_one_way():
    """resources.Shared, never st.cache_resource (lab_ui/resources.py says why)."""
    users = []
    for folder in ("lab_ui", "app_pages"):
        for path in sorted((ROOT / folder).rglob("*.py")):
            if re.search(r"@\s*st\.cache_resource|\bcache_resource\(", path.read_text()):  # used, not named
                users.append(path.relative_to(ROOT).as_posix())
    assert users == []


def _streamlit_imports(path: Path) -> list[str]:
    tree = ast.parse(path.read_text())
    names = [a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names]
    names += [n.module or "" for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and not n.level]
    return [m for m in names if m.split(".")[0] == "streamlit"]


STREAMLIT_PUBLIC = {"streamlit", "streamlit.testing.v1", "streamlit.components.v1"}
STREAMLIT_SEAM = "tests/support/streamlit_internals.py"


def test_streamlit_internals_are_imported_in_the_one_seam_only():
    """Streamlit's public modules anywhere; an internal one (streamlit.web..., streamlit.runtime...) only in the
    seam, whose own test fails loudly on an upgrade (tests/test_streamlit_internals.py)."""
    files = [ROOT / "streamlit_app.py"]
    for folder in ("fmnist_lib", "lab_ui", "app_pages", "bench", "tools", "tests", "deploy"):
        files += sorted((ROOT / folder).rglob("*.py"))
    internal = {
        path.relative_to(ROOT).as_posix(): sorted(set(_streamlit_imports(path)) - STREAMLIT_PUBLIC) for path in files
    }
    assert {p: m for p, m in internal.items() if m and p != STREAMLIT_SEAM} == {}
    assert internal[STREAMLIT_SEAM] == ["streamlit.web.server.app_discovery"]
