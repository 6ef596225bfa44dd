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
