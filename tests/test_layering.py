"""The core stays pure: importing and using ``index`` loads no Telegram code and no asyncio of its own."""

from __future__ import annotations

import ast
import subprocess
import sys

from .conftest import ROOT


def test_index_does_not_load_telegram():
    code = "import sys, index; index.answer(index.build('seeds'), 'air base'); print('telegram' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_index_sources_import_no_telegram_asyncio_or_environment():
    for path in (ROOT / "index").rglob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.Import | ast.ImportFrom):
                names = [a.name for a in node.names] if isinstance(node, ast.Import) else [node.module or ""]
                assert not any(n.split(".")[0] in {"telegram", "asyncio", "bot"} for n in names), path
            if isinstance(node, ast.Attribute) and node.attr in {"environ", "getenv"}:
                raise AssertionError(f"{path.name} reads the environment")


def test_our_modules_are_imported_at_the_top_of_a_module_not_inside_functions():
    # A function-level import of our own code hides a dependency (and an import circle) from a reader. The
    # command line is the exception: it imports the bot's modules per command so that `newsbot ask` starts fast.
    found = []
    for folder in ("index", "bot"):
        for path in sorted((ROOT / folder).rglob("*.py")):
            if path == ROOT / "bot" / "cli.py":
                continue
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                    continue
                for inner in ast.walk(node):
                    if (isinstance(inner, ast.ImportFrom) and (
                        inner.level or (inner.module or "").split(".")[0] in {"index", "bot"}
                    )) or (isinstance(inner, ast.Import) and any(a.name.split(".")[0] in {"index", "bot"}
                                                               for a in inner.names)):
                        found.append(f"{path.relative_to(ROOT)}:{inner.lineno}")
    assert not found, found


def test_every_module_has_a_docstring():
    for folder in ("index", "bot"):
        for path in (ROOT / folder).rglob("*.py"):
            assert ast.get_docstring(ast.parse(path.read_text(encoding="utf-8"))), path


def test_public_functions_and_methods_have_docstrings():
    missing = []
    for folder in ("index", "bot"):
        for path in sorted((ROOT / folder).rglob("*.py")):
            tree = ast.parse(path.read_text(encoding="utf-8"))
            for node in tree.body:
                scopes = [(node, "")]
                if isinstance(node, ast.ClassDef) and not node.name.startswith("_"):
                    scopes = [(child, f"{node.name}.") for child in node.body]
                for child, prefix in scopes:
                    is_function = isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef)
                    if is_function and not child.name.startswith("_") and not ast.get_docstring(child):
                        missing.append(f"{path.relative_to(ROOT)}: {prefix}{child.name}")
    assert not missing, "\n".join(missing)


def test_no_module_imports_another_modules_private_names():
    # A name another module needs is public there (with a docstring), not borrowed as `_name`.
    borrowed = []
    for folder in ("index", "bot"):
        for path in sorted((ROOT / folder).glob("*.py")):
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if not isinstance(node, ast.ImportFrom):
                    continue
                own = node.level > 0 or (node.module or "").split(".")[0] in {"index", "bot"}
                names = [a.name for a in node.names if a.name.startswith("_") and not a.name.startswith("__")]
                if own and names:
                    borrowed.append(f"{path.relative_to(ROOT)}: {', '.join(names)} from {node.module}")
    assert not borrowed, "\n".join(borrowed)


def test_one_rule_says_who_is_an_admin():
    # bot.admin.is_admin is the one place that tells an admin from anyone else (there were three).
    deciding = []
    for path in sorted((ROOT / "bot").glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Compare) and any(
                isinstance(c, ast.Attribute) and c.attr == "admin_user_ids" for c in node.comparators
            ):
                deciding.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    assert [place.split(":")[0] for place in deciding] == ["bot/admin.py"], deciding

