"""The shape of the code base: the commands and the card's modules at the top, the library in
one package whose parts import only the parts before them, and no module or function too long
to read. Static checks of the source, no imports run."""

from __future__ import annotations

import ast
from pathlib import Path

from conftest import REPO

COMMANDS = {"data_prep.py", "train_cyclegan.py", "convert.py", "app.py", "evaluate.py",
            "make_results_page.py", "benchmark.py", "resynthesis.py"}
CARD = {"spectro.py", "models.py"}
# The package's parts, each importing only those before it (docs/architecture.md).
PARTS = ("core", "audio", "data", "stages", "model", "conversion", "training", "evaluation",
         "webpage")
PACKAGE = REPO / "spectrogan"
MAX_MODULE_LINES = 600
MAX_FUNCTION_LINES = 80


def _part(module: str) -> str:
    """'spectrogan.audio.vocoder' -> 'audio'; 'spectrogan.webpage' -> 'webpage'."""
    return module.split(".")[1]


def _library_imports(path: Path) -> list[tuple[str, bool]]:
    """(imported spectrogan module or part, whether the import is inside a function)."""
    tree = ast.parse(path.read_text())
    nested = {id(node) for function in ast.walk(tree)
              if isinstance(function, (ast.FunctionDef, ast.AsyncFunctionDef))
              for node in ast.walk(function) if node is not function}
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module \
                and node.module.startswith("spectrogan."):
            found.append((node.module, id(node) in nested))
        elif isinstance(node, ast.Import):
            found += [(alias.name, id(node) in nested) for alias in node.names
                      if alias.name.startswith("spectrogan.")]
    return found


def _python_files() -> list[Path]:
    """Every Python file of the project outside the tests."""
    return [*REPO.glob("*.py"), *(path for folder in (PACKAGE, REPO / "tools", REPO / "benchmarks")
                                  for path in folder.rglob("*.py"))]


def test_the_top_holds_only_the_commands_and_the_card_s_modules():
    top = {path.name for path in REPO.glob("*.py")}
    assert top == COMMANDS | CARD
    assert len(top) <= 12


def test_each_part_of_the_package_imports_only_the_parts_before_it():
    for path in PACKAGE.rglob("*.py"):
        if path.name == "__init__.py":
            continue
        module = ".".join(path.relative_to(REPO).with_suffix("").parts)
        own = PARTS.index(_part(module))
        for imported, _ in _library_imports(path):
            assert PARTS.index(_part(imported)) <= own, f"{module} imports {imported}"


def test_no_library_module_imports_a_command_or_hides_a_library_import_in_a_function():
    commands = {name[:-3] for name in COMMANDS | CARD}
    for path in PACKAGE.rglob("*.py"):
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            names = ([node.module] if isinstance(node, ast.ImportFrom) and node.module
                     else [a.name for a in node.names] if isinstance(node, ast.Import) else [])
            assert not set(n.split(".")[0] for n in names) & commands, path
        # Keras and model_files (built on Keras) load lazily so that --help stays instant;
        # nothing else of the library needs to.
        hidden = [name for name, nested in _library_imports(path) if nested
                  and name not in ("spectrogan.model", "spectrogan.model.model_files")]
        assert not hidden, f"{path}: {hidden}"


def test_no_module_or_function_outside_the_tests_is_too_long_to_read():
    for path in _python_files():
        source = path.read_text()
        assert source.count("\n") <= MAX_MODULE_LINES, path
        for node in ast.walk(ast.parse(source)):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                length = node.end_lineno - node.lineno + 1
                assert length <= MAX_FUNCTION_LINES, f"{path}: {node.name} has {length} lines"
