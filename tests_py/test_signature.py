"""A protected function still looks like itself: name, docstring, signature,
``__wrapped__``, and binding as a method."""

from __future__ import annotations

import functools
import inspect
from collections.abc import Iterator

import pytest

import baldur
from helpers import Flaky


def original(sku: str, /, quantity: int = 1, *extra: str, region: str, **tags: str) -> str:
    """Looks an item up."""
    return f"{sku} x{quantity} {extra} {region} {sorted(tags.items())}"


@pytest.fixture
def lookup(zone_name: str) -> object:
    return baldur.protected(zone_name, retry=True, timeout=5)(original)


def test_functools_metadata_is_kept(lookup: object) -> None:
    assert lookup.__name__ == "original"  # type: ignore[attr-defined]
    assert lookup.__qualname__ == "original"  # type: ignore[attr-defined]
    assert lookup.__doc__ == "Looks an item up."
    assert lookup.__module__ == original.__module__
    assert lookup.__wrapped__ is original  # type: ignore[attr-defined]
    assert inspect.unwrap(lookup) is original  # type: ignore[arg-type]


def test_signature_equals_the_originals(lookup: object) -> None:
    assert inspect.signature(lookup) == inspect.signature(original)  # type: ignore[arg-type]


def test_every_kind_of_argument_passes_through(lookup: object) -> None:
    expected = original("A-1", 2, "x", "y", region="eu", color="red")
    assert lookup("A-1", 2, "x", "y", region="eu", color="red") == expected  # type: ignore[operator]
    assert lookup("A-1", region="eu") == original("A-1", region="eu")  # type: ignore[operator]


def test_a_bad_call_raises_the_functions_own_type_error(zone_name: str) -> None:
    def strict(a: int) -> int:
        return a

    protected = baldur.protected(zone_name, retry=baldur.RetryPolicy(base_delay=0))(strict)
    with pytest.raises(TypeError):
        protected(1, 2)


def test_custom_attributes_are_kept(zone_name: str) -> None:
    def tagged() -> None:
        pass

    tagged.route = "/charge"  # type: ignore[attr-defined]
    assert baldur.protected(zone_name)(tagged).route == "/charge"


def test_repr_names_the_zone_and_the_function(zone_name: str, lookup: object) -> None:
    text = repr(lookup)
    assert zone_name in text
    assert "original" in text
    assert "baldur.protected" in text


def test_an_instance_method_receives_self(zone_name: str) -> None:
    class Client:
        def __init__(self, base: str) -> None:
            self.base = base

        @baldur.protected(zone_name, retry=True)
        def get(self, path: str, *, timeout: float = 1.0) -> str:
            """GETs a path."""
            return f"{self.base}{path}?t={timeout}"

    client = Client("https://api")
    assert client.get("/items", timeout=2.0) == "https://api/items?t=2.0"
    assert Client.get(client, "/x") == "https://api/x?t=1.0"  # through the class
    assert client.get.__doc__ == "GETs a path."
    assert client.get.__name__ == "get"
    assert list(inspect.signature(client.get).parameters) == ["path", "timeout"]
    assert list(inspect.signature(Client.get).parameters) == ["self", "path", "timeout"]


def test_each_instance_is_bound_separately(zone_name: str) -> None:
    class Counter:
        def __init__(self) -> None:
            self.hits = 0

        @baldur.protected(zone_name)
        def hit(self) -> int:
            self.hits += 1
            return self.hits

    a, b = Counter(), Counter()
    assert (a.hit(), a.hit(), b.hit()) == (1, 2, 1)


def test_a_method_shares_one_breaker_across_instances(zone_name: str) -> None:
    class Gateway:
        @baldur.protected(zone_name)
        def charge(self) -> str:
            return "charged"

    Gateway().charge()
    Gateway().charge()
    assert baldur.circuits()[zone_name]["calls"] == 2


def test_staticmethod_and_classmethod_usage(zone_name: str) -> None:
    class Service:
        prefix = "svc"

        @staticmethod
        @baldur.protected(zone_name)
        def ping(value: str) -> str:
            return f"pong {value}"

        @classmethod
        @baldur.protected(zone_name)
        def name(cls, suffix: str) -> str:
            return f"{cls.prefix}-{suffix}"

    assert Service.ping("a") == "pong a"
    assert Service().ping("b") == "pong b"
    assert Service.name("x") == "svc-x"
    assert Service().name("y") == "svc-y"


def test_a_method_error_is_retried_with_the_same_self(zone_name: str) -> None:
    dependency = Flaky(ConnectionError("blip"), value="ok")

    class Client:
        @baldur.protected(zone_name, retry=baldur.RetryPolicy(base_delay=0))
        def call(self, payload: str) -> object:
            return dependency(self, payload)

    client = Client()
    assert client.call("p") == "ok"
    assert dependency.calls == [((client, "p"), {})] * 2


def test_wrapping_a_protected_function_again_keeps_the_chain(zone_name: str) -> None:
    protected = baldur.protected(zone_name)(original)

    @functools.wraps(protected)
    def logged(*args: object, **kwargs: object) -> object:
        return protected(*args, **kwargs)

    assert logged.__name__ == "original"
    assert inspect.signature(logged) == inspect.signature(original)
    assert inspect.unwrap(logged) is original


@pytest.mark.parametrize("form", [baldur.protect, baldur.protect_with_meta])
def test_the_function_forms_document_themselves(form: object) -> None:
    assert list(inspect.signature(form).parameters) == ["name", "func", "keywords"]  # type: ignore[arg-type]
    doc = inspect.getdoc(form)
    assert doc is not None
    assert doc.startswith("Calls ``func()`` now, protected")  # no repeated signature header


def test_a_protected_staticmethod_and_classmethod_keep_their_kind(zone_name: str) -> None:
    class Client:
        base = 10

        @baldur.protected(zone_name)
        @staticmethod
        def double(x: int) -> int:
            return 2 * x

        @baldur.protected(zone_name)
        @classmethod
        def shifted(cls, x: int) -> int:
            return cls.base + x

    assert Client.double(2) == 4
    assert Client().double(3) == 6
    assert Client.shifted(1) == 11
    assert Client().shifted(2) == 12
    assert baldur.circuits()[zone_name]["calls"] == 4


def test_a_generator_function_is_refused_at_decoration(zone_name: str) -> None:
    """Its work would run while iterated, after the protected call returned."""

    def stream() -> Iterator[int]:
        yield 1

    with pytest.raises(TypeError, match="generator"):
        baldur.protected(zone_name)(stream)
