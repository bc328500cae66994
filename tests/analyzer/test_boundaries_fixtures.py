"""The boundary rules on small Django projects read by the whole pipeline (one fact each)."""

from __future__ import annotations

from pathlib import Path

import pytest

from analyzer.contract import validate
from analyzer.decompose import Options, decompose
from analyzer.pipeline import analyze

FIXTURES = Path(__file__).parent / "fixtures"


@pytest.fixture(scope="module")
def kernel_project() -> dict:
    return analyze(FIXTURES / "boundaries_shared_kernel", jobs=1).to_json()


@pytest.fixture(scope="module")
def route_package() -> dict:
    return analyze(FIXTURES / "boundaries_route_package", jobs=1).to_json()


def test_a_base_classes_package_used_by_every_app_is_reported_as_a_library(kernel_project):
    out = decompose(kernel_project)
    kernel = [s for s in out["services"] if s.get("kind") == "shared_kernel"]
    assert [s["apps"] for s in kernel] == [["common"]]
    assert "library to vendor or publish" in kernel[0]["note"]
    services = [s for s in out["services"] if s.get("kind") != "shared_kernel"]
    assert sorted(s["name"] for s in services) == ["billing", "catalog", "orders"]
    assert out["metrics"]["suggested"]["services"] == 3
    assert sorted(step["service"] for step in out["plan"]) == ["billing", "catalog", "orders"]
    assert not any(
        r["target"].startswith("common.") for st in out["plan"] for r in st["cut_relations"]
    )
    validate(out)


def test_with_roles_off_the_same_package_is_clustered_as_code(kernel_project):
    out = decompose(kernel_project, Options(roles=False))
    assert not any(s.get("kind") == "shared_kernel" for s in out["services"])
    assert any("common" in s["apps"] for s in out["services"])


def test_a_login_package_that_is_no_app_goes_with_the_data_it_writes(route_package):
    routes = {r["pattern"]: r for r in route_package["routes"]}
    assert routes["auth/login/"]["app"] is None, "the fixture's point: proj.auth is no app"
    out = decompose(route_package)
    holder = next(s for s in out["services"] if "auth/login/" in s["routes"])
    assert {"auth", "accounts"} <= set(holder["apps"])
    assert "shop/<int:pk>/" not in holder["routes"]
    step = next(st for st in out["plan"] if st["service"] == holder["name"])
    assert {r["pattern"] for r in step["routes"]} == {"auth/login/", "auth/register/"}
    validate(out)
