"""Public functions document their parameters and returns (numpydoc style, as pymc-marketing does).

For every module of the package (DOCUMENTED): every public function, and every public method and property of
a public class, defined in the module (a name not starting with `_`) has a docstring; a function
with parameters (other than self/cls) has a numpydoc "Parameters" section naming each of them
and nothing else; a function that returns something (a return annotation other than None, or,
without one, a `return <value>` in its body) has a "Returns" or "Yields" section. Properties are
documented as attributes (a docstring, no sections), as numpydoc does. Typer command callbacks
of run/cli.py need a docstring only: it is the command's --help text, which typer prints
verbatim, so it carries no numpydoc sections. A dataclass with fields only needs no docstring.

Every Examples section is a doctest, and is run here.
"""

from __future__ import annotations

import ast
import dataclasses
import doctest
import functools
import importlib
import inspect
import re
import textwrap
from collections.abc import Callable, Iterator
from types import ModuleType

import pytest


def _every_module() -> list[str]:
    """Every module of the package: a new module is checked from its first commit."""
    import pkgutil

    import growthloop

    return ["growthloop"] + sorted(m.name for m in pkgutil.walk_packages(growthloop.__path__, "growthloop."))


DOCUMENTED = _every_module()

_HEADER_LINE = re.compile(r"-{3,}")


def _typer_callbacks() -> set[Callable]:
    """The functions typer runs for the growthloop commands (their docstring is the help)."""
    from growthloop.run.cli import app

    found = {c.callback for c in app.registered_commands}
    if app.registered_callback is not None:
        found.add(app.registered_callback.callback)
    return {f for f in found if f is not None}


def _is_field_only_dataclass(cls: type) -> bool:
    return dataclasses.is_dataclass(cls) and not any(
        not name.startswith("_") and (callable(v) or isinstance(v, property | functools.cached_property))
        for name, v in vars(cls).items())


def _own_docstring(obj) -> str | None:
    """The object's own docstring (not one inherited, nor the one dataclass writes)."""
    doc = obj.__dict__.get("__doc__") if isinstance(obj, type) else obj.__doc__
    if isinstance(obj, type) and dataclasses.is_dataclass(obj) and doc and doc.startswith(
            f"{obj.__name__}("):
        return None  # dataclass's generated "Name(field: type, ...)"
    return doc if doc and doc.strip() else None


def _members(module: ModuleType) -> Iterator[tuple[str, object, str]]:
    """(qualified name, object, kind) of every public function, class, method and property
    defined in `module`; kind is function, class, method or property."""
    for name, obj in sorted(vars(module).items()):
        if name.startswith("_") or getattr(obj, "__module__", None) != module.__name__:
            continue
        if inspect.isfunction(obj):
            yield name, obj, "function"
        elif inspect.isclass(obj):
            yield name, obj, "class"
            for attr, value in vars(obj).items():
                if attr.startswith("_"):
                    continue
                if isinstance(value, staticmethod | classmethod):
                    yield f"{name}.{attr}", value.__func__, "method"
                elif isinstance(value, property):
                    yield f"{name}.{attr}", value.fget, "property"
                elif isinstance(value, functools.cached_property):
                    yield f"{name}.{attr}", value.func, "property"
                elif inspect.isfunction(value):
                    yield f"{name}.{attr}", value, "method"


def _sections(doc: str) -> tuple[dict[str, list[str]], list[str]]:
    """The numpydoc sections of a docstring (name -> its lines, dedented as the docstring),
    and the problems of its headers (an underline that is not as long as its header)."""
    lines = inspect.cleandoc(doc).splitlines()
    sections: dict[str, list[str]] = {}
    problems = []
    current = None
    skip = False
    for i, line in enumerate(lines):
        if skip:
            skip = False
            continue
        following = lines[i + 1] if i + 1 < len(lines) else ""
        if line.strip() and not line.startswith(" ") and _HEADER_LINE.fullmatch(following.strip()):
            current = line.strip()
            sections[current] = []
            if len(following.strip()) != len(current):
                problems.append(f"the underline of {current!r} is not as long as the header")
            skip = True
            continue
        if current is not None:
            sections[current].append(line)
    return sections, problems


def _documented_names(lines: list[str]) -> list[str]:
    """Parameter names of a Parameters section: the unindented lines (`name : type`, or
    `a, b : type` for several; `*args` written with its stars)."""
    names = []
    for line in lines:
        if not line.strip() or line.startswith(" "):
            continue
        head = line.split(" : ", 1)[0]
        names += [n.strip().lstrip("*") for n in head.split(",") if n.strip()]
    return names


def _returns_something(func: Callable) -> bool:
    """Whether the function gives something back: its return annotation, or without one a
    `return <value>` or `yield` in its own body (not in a nested function)."""
    annotation = inspect.signature(func).return_annotation
    if annotation is not inspect.Signature.empty:
        return annotation not in (None, "None", type(None))
    try:
        source = textwrap.dedent(inspect.getsource(inspect.unwrap(func)))
    except (OSError, TypeError):
        return False
    node = ast.parse(source).body[0]
    todo = list(ast.iter_child_nodes(node))
    while todo:
        child = todo.pop()
        if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda | ast.ClassDef):
            continue
        if isinstance(child, ast.Yield | ast.YieldFrom):
            return True
        if isinstance(child, ast.Return) and child.value is not None and not (
                isinstance(child.value, ast.Constant) and child.value.value is None):
            return True
        todo.extend(ast.iter_child_nodes(child))
    return False


def _parameters(func: Callable) -> list[str]:
    return [p.name for p in inspect.signature(func).parameters.values()
            if p.name not in ("self", "cls")]


def _problems(module: ModuleType) -> list[str]:
    exempt = _typer_callbacks() if module.__name__ == "growthloop.run.cli" else set()
    problems = []
    for qualname, obj, kind in _members(module):
        where = f"{module.__name__}.{qualname}"
        doc = _own_docstring(obj)
        if kind == "class":
            if doc is None and not _is_field_only_dataclass(obj):
                problems.append(f"{where}: class without a docstring")
            continue
        if doc is None:
            problems.append(f"{where}: no docstring")
            continue
        if kind == "property" or obj in exempt:
            continue  # an attribute's docstring; a command's --help text
        sections, header_problems = _sections(doc)
        problems += [f"{where}: {p}" for p in header_problems]
        params = _parameters(obj)
        if params:
            if "Parameters" not in sections:
                problems.append(f"{where}: no Parameters section for {params}")
            else:
                named = _documented_names(sections["Parameters"])
                missing = [p for p in params if p not in named]
                extra = [n for n in named if n not in params]
                if missing:
                    problems.append(f"{where}: Parameters does not name {missing}")
                if extra:
                    problems.append(f"{where}: Parameters names {extra}, which it does not take")
        if _returns_something(obj) and not ({"Returns", "Yields"} & set(sections)):
            problems.append(f"{where}: returns a value but has no Returns (or Yields) section")
    return problems


@pytest.mark.parametrize("name", DOCUMENTED)
def test_public_functions_have_numpydoc_sections(name: str) -> None:
    module = importlib.import_module(name)
    # a package's __init__ may hold nothing but its docstring; a module without a function is
    # suspicious (a module of constants or exceptions only says so in its name)
    assert (any(kind != "class" for _q, _o, kind in _members(module)) or name.endswith("errors")
            or hasattr(module, "__path__")), f"{name} has no public function: is it still a module?"
    assert module.__doc__, f"{name} has no module docstring"
    problems = _problems(module)
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("name", DOCUMENTED)
def test_examples_are_correct_doctests(name: str) -> None:
    module = importlib.import_module(name)
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS)
    for test in doctest.DocTestFinder().find(module):
        runner.run(test)
    result = runner.summarize(verbose=False)
    assert result.failed == 0, f"{result.failed} of {result.attempted} examples of {name} fail"


def test_the_checker_catches_what_it_should() -> None:
    """The rules above, on small made-up functions: a missing parameter, a stale one, a missing
    Returns, an unannotated function that returns, a generator with Yields."""

    def good(a: int, *rest: int) -> int:
        """Add.

        Parameters
        ----------
        a : int
            First.
        *rest : int
            Others.

        Returns
        -------
        int
            The sum.
        """
        return a + sum(rest)

    def stale(a, b):
        """Do.

        Parameters
        ----------
        a, c
            Things.
        """
        return None

    def gen():
        """Count.

        Yields
        ------
        int
            0, 1.
        """
        yield from range(2)

    sections, header = _sections(good.__doc__)
    assert set(sections) == {"Parameters", "Returns"} and not header
    assert _documented_names(sections["Parameters"]) == ["a", "rest"]
    assert _parameters(good) == ["a", "rest"] and _returns_something(good)
    assert _documented_names(_sections(stale.__doc__)[0]["Parameters"]) == ["a", "c"]
    assert not _returns_something(stale)
    assert _returns_something(gen) and "Yields" in _sections(gen.__doc__)[0]
    assert _sections("X.\n\nReturns\n----\nint\n")[1]  # underline too short
