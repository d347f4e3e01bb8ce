"""The layout's promises, checked on the source: small modules and functions in the gateway,
no import cycles, every folder a package, each feature used only through its front door (its
``__init__``), and the libraries that must not depend on the web layer do not."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
PACKAGES = ("server", "intrinsics", "evaluation", "tiny_granite", "devstack", "batch")
MAX_MODULE_LINES = 400
MAX_FUNCTION_LINES = 60


def modules(package: str) -> dict[str, Path]:
    """Dotted module name -> file, for every module of ``package``."""
    out = {}
    for path in sorted((REPO / package).rglob("*.py")):
        parts = list(path.relative_to(REPO).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        out[".".join(parts)] = path
    return out


def code_folders(package: str) -> list[Path]:
    """Every folder of ``package`` (itself included) that holds Python modules."""
    root = REPO / package
    return sorted({p.parent for p in root.rglob("*.py") if "__pycache__" not in p.parts})


def features() -> list[str]:
    """The gateway's feature packages: ``server.<folder>``."""
    return [f"server.{p.name}" for p in code_folders("server") if p.parent == REPO / "server"]


def top_level_imports(name: str, path: Path) -> set[str]:
    """The project modules ``name`` imports when it is imported (not inside functions)."""
    tree = ast.parse(path.read_text())
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in tree.body:
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            found.add(base)
            found |= {f"{base}.{alias.name}" for alias in node.names}
    return {m for m in found if m.split(".")[0] in PACKAGES}


def import_graph() -> dict[str, set[str]]:
    """Module -> the project modules it imports at import time (its own parent packages are
    imported before it in any case, so they do not count)."""
    every = {name: path for package in PACKAGES for name, path in modules(package).items()}
    graph = {}
    for name, path in every.items():
        ancestors = {".".join(name.split(".")[:i]) for i in range(1, name.count(".") + 2)}
        graph[name] = top_level_imports(name, path) & every.keys() - ancestors
    return graph


@pytest.mark.parametrize("name, path", sorted(modules("server").items()))
def test_gateway_modules_and_functions_are_small(name, path):
    source = path.read_text()
    assert len(source.splitlines()) <= MAX_MODULE_LINES, f"{name} has more than {MAX_MODULE_LINES} lines"
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            length = node.end_lineno - node.lineno + 1
            assert length <= MAX_FUNCTION_LINES, f"{name}.{node.name} is {length} lines long"


def public_definitions(tree: ast.Module):
    """Public classes and functions at module level, and the public methods of those classes."""
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) and not node.name.startswith("_"):
            yield node.name, node
            if isinstance(node, ast.ClassDef):
                for item in node.body:
                    if isinstance(item, (ast.FunctionDef, ast.AsyncFunctionDef)) and not item.name.startswith("_"):
                        yield f"{node.name}.{item.name}", item


@pytest.mark.parametrize("name, path", sorted(modules("server").items()))
def test_every_gateway_module_and_public_definition_has_a_docstring(name, path):
    tree = ast.parse(path.read_text())
    assert ast.get_docstring(tree), f"{name} has no module docstring"
    missing = [what for what, node in public_definitions(tree) if not ast.get_docstring(node)]
    assert not missing, f"{name}: no docstring on {', '.join(missing)}"


def test_no_module_imports_itself_back_through_others():
    graph = import_graph()
    visiting, done = [], set()

    def visit(node: str) -> None:
        if node in visiting:
            pytest.fail("import cycle: " + " -> ".join([*visiting[visiting.index(node) :], node]))
        if node in done:
            return
        visiting.append(node)
        for dep in sorted(graph[node]):
            visit(dep)
        visiting.pop()
        done.add(node)

    for node in sorted(graph):
        visit(node)


@pytest.mark.parametrize(
    "package, forbidden",
    [
        ("intrinsics", {"server", "fastapi", "starlette", "vllm", "httpx"}),
        ("evaluation", {"server", "fastapi", "vllm"}),
        ("batch", {"server", "fastapi", "vllm"}),  # a client of the gateway's HTTP API, like evaluation
        ("tiny_granite", {"server", "fastapi", "vllm"}),
        ("server", {"devstack", "vllm"}),  # the dev stack is built on the gateway, not under it
    ],
)
def test_libraries_do_not_import_the_web_layer(package, forbidden):
    for name, path in modules(package).items():
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                roots = {alias.name.split(".")[0] for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and not node.level:
                roots = {(node.module or "").split(".")[0]}
            else:
                continue
            assert not roots & forbidden, f"{name} imports {roots & forbidden}"


def test_the_architecture_code_map_names_every_folder_of_the_gateway():
    page = (REPO / "docs" / "contributing" / "architecture.md").read_text()
    section = page.split("## Code map", 1)[1].split("\n## ", 1)[0]
    folders = {p.relative_to(REPO).as_posix() + "/" for p in code_folders("server")[1:]}
    for folder in sorted(folders | {f"{p}/" for p in PACKAGES}):
        assert f"`{folder}`" in section, f"docs/contributing/architecture.md's code map does not mention {folder}"


@pytest.mark.parametrize("package", PACKAGES)
def test_every_folder_of_code_is_a_package(package):
    loose = [p.relative_to(REPO).as_posix() for p in code_folders(package) if not (p / "__init__.py").is_file()]
    assert not loose, f"folders of modules without an __init__.py (invisible to the checks): {loose}"


def exported(feature: str) -> set[str]:
    """The names in a feature's ``__init__.__all__``."""
    tree = ast.parse((REPO / feature.replace(".", "/") / "__init__.py").read_text())
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(getattr(t, "id", "") == "__all__" for t in node.targets):
            return set(ast.literal_eval(node.value))
    return set()


def reaches_in(name: str, path: Path, feature: str) -> set[str]:
    """What ``name`` imports of ``feature`` other than the names its ``__init__`` exports."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.startswith(feature + ".")}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            if base.startswith(feature + "."):
                found.add(base)
            elif base == feature:
                found |= {f"{base}.{a.name}" for a in node.names if a.name not in exported(feature)}
            elif feature.startswith(base + ".") and feature.rpartition(".")[2] in {a.name for a in node.names}:
                continue  # ``from server import certainty``: the front door itself
    return found


def test_each_feature_is_used_only_through_its_front_door():
    """Outside ``server.<feature>``, code imports only the names a feature's ``__init__`` exports."""
    for feature in features():
        for package in PACKAGES:
            for name, path in modules(package).items():
                if name == feature or name.startswith(feature + "."):
                    continue
                reached = reaches_in(name, path, feature)
                assert not reached, f"{name} reaches past the front door of {feature}: {sorted(reached)}"
