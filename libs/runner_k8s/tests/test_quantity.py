from __future__ import annotations

from decimal import Decimal

import pytest

from runner_k8s.kube.quantity import parse_quantity


@pytest.mark.parametrize(
    ("a", "b"),
    [("0.5", "500m"), ("2", 2), ("1Gi", str(2**30)), ("1k", "1000"), ("1e3", "1k"), (".5", "0.5")],
)
def test_equal_spellings(a: object, b: object) -> None:
    assert parse_quantity(a) == parse_quantity(b)


def test_binary_and_decimal_suffixes_differ() -> None:
    assert parse_quantity("1Gi") > parse_quantity("1G")
    assert parse_quantity("4Gi") == Decimal(4 * 2**30)


@pytest.mark.parametrize("bad", ["", "lots", "1GB", "1.2.3", True, "1 Gi", "Gi"])
def test_not_quantities(bad: object) -> None:
    with pytest.raises(ValueError, match="Kubernetes quantity"):
        parse_quantity(bad)
