"""The public names: __all__ is true, and every public name is documented."""

from __future__ import annotations

import inspect

import kepler_reader as kr


def test_all_names_exist() -> None:
    for name in kr.__all__:
        assert hasattr(kr, name), name


def test_all_is_sorted_and_unique() -> None:
    assert kr.__all__ == sorted(set(kr.__all__))


def test_every_public_name_has_a_docstring() -> None:
    for name in kr.__all__:
        obj = getattr(kr, name)
        if isinstance(obj, str):
            continue
        assert inspect.getdoc(obj), name
        if inspect.isclass(obj):
            for attr, member in vars(obj).items():
                if attr.startswith("_") or not callable(member):
                    continue
                assert inspect.getdoc(member), f"{name}.{attr}"


def test_errors_form_one_tree() -> None:
    for name in kr.__all__:
        obj = getattr(kr, name)
        if inspect.isclass(obj) and issubclass(obj, Exception):
            assert issubclass(obj, kr.KeplerReaderError), name
    assert issubclass(kr.ParseError, ValueError)
    assert issubclass(kr.AuthenticationError, kr.HTTPStatusError)


def _printed_by(program: str) -> list[str]:
    """The words a fresh interpreter prints running ``program``."""
    import subprocess
    import sys

    return subprocess.run(
        [sys.executable, "-c", program], capture_output=True, text=True, check=True
    ).stdout.split()


_LOADED = (
    "print(' '.join(sorted(m for m in sys.modules if m in "
    "('requests', 'numpy', 'attr', 'attrs') or "
    "m.startswith(('kepler_reader.', 'matplotlib', 'prometheus_client')))))"
)


def test_import_loads_only_the_version_and_the_errors() -> None:
    """``import kepler_reader`` loads no numpy, attrs, HTTP stack or subsystem."""
    loaded = _printed_by("import sys, kepler_reader\n" + _LOADED)
    assert loaded == ["kepler_reader._version", "kepler_reader.exceptions"]


def test_first_use_loads_the_core_without_the_http_stack() -> None:
    """Parsing loads numpy and the parser, still not ``requests`` or a subsystem."""
    loaded = _printed_by(
        "import sys, kepler_reader as kr\n"
        "snapshot = kr.parse(b'a 1\\n')\n"
        "assert float(snapshot.values[0]) == 1.0\n" + _LOADED
    )
    assert "numpy" in loaded
    assert "kepler_reader.parser" in loaded
    assert "requests" not in loaded
    assert not [m for m in loaded if m.startswith(("matplotlib", "prometheus_client"))]
    assert not {"kepler_reader.scraping", "kepler_reader.promql"} & set(loaded)


def test_a_lazy_name_imported_after_its_module_is_still_the_object() -> None:
    """Importing a module first does not put the module where a name should be."""
    out = _printed_by(
        "import kepler_reader.histogram, kepler_reader.parser, kepler_reader as kr\n"
        "print(type(kr.histograms).__name__, type(kr.parse).__name__)"
    )
    assert out == ["function", "function"]


def test_every_lazy_name_resolves_to_its_object() -> None:
    for name in kr.__all__:
        value = getattr(kr, name)
        assert getattr(value, "__name__", name) == name or not callable(value), name


def test_no_public_name_is_also_a_module_name() -> None:
    """A module named like a lazy name would replace it once imported."""
    from pathlib import Path

    package = Path(kr.__file__).parent
    modules = {path.stem for path in package.glob("*.py")}
    assert not modules & set(kr.__all__)
