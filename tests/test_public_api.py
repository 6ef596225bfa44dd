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


def test_import_loads_only_the_core() -> None:
    """``import kepler_reader`` leaves the HTTP stack and the subsystems unloaded."""
    import subprocess
    import sys

    probe = (
        "import sys, kepler_reader\n"
        "print(' '.join(sorted(m for m in sys.modules if m == 'requests' or "
        "m.startswith(('kepler_reader.', 'matplotlib', 'prometheus_client')))))"
    )
    loaded = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True
    ).stdout.split()
    assert "requests" not in loaded
    assert not [m for m in loaded if m.startswith(("matplotlib", "prometheus_client"))]
    assert set(loaded) <= {
        "kepler_reader._version",
        "kepler_reader.assembly",
        "kepler_reader.delta",
        "kepler_reader.dumps",
        "kepler_reader.exceptions",
        "kepler_reader.grammar",
        "kepler_reader.histograms",
        "kepler_reader.kepler",
        "kepler_reader.limits",
        "kepler_reader.parser",
        "kepler_reader.recording",
        "kepler_reader.shortcuts",
        "kepler_reader.snapshot",
    }


def test_every_lazy_name_resolves_to_its_object() -> None:
    for name in kr.__all__:
        value = getattr(kr, name)
        assert getattr(value, "__name__", name) == name or not callable(value), name
