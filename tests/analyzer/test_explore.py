"""analyzer.load(): the analysis as objects for notebooks, what-if re-splits, and plots."""

from __future__ import annotations

import json
from pathlib import Path

import matplotlib
import pytest

import analyzer
from analyzer.errors import AnalyzerError

matplotlib.use("Agg")
FIXTURE = Path(__file__).parent / "fixtures" / "twoclusters"


@pytest.fixture(scope="module")
def two():
    return analyzer.load(FIXTURE)


def test_load_takes_a_project_a_report_folder_or_a_file(two, tmp_path):
    (tmp_path / "analysis.json").write_text(json.dumps(two.data))
    assert analyzer.load(tmp_path).data["services"] == two.data["services"]
    assert analyzer.load(tmp_path / "analysis.json").data["plan"] == two.data["plan"]
    with pytest.raises(AnalyzerError, match="no analysis.json, report folder or Django project"):
        analyzer.load(tmp_path / "missing")


def test_tables_line_up_with_the_contract(two):
    assert len(two.models) == len(two.data["models"]) and set(
        two.models["service"].dropna()
    ) <= set(two.services.index)
    assert len(two.edges) == len(two.data["edges"])
    crossing = two.edges[two.edges["crosses_services"]]
    assert crossing[["source", "target", "kind"]].values.tolist() == [
        ["invoices.views", "catalog.pricing", "import"]
    ]
    assert (
        list(two.metrics.columns) == ["suggested", "per_app"]
        and "cut:foreign_keys" in two.metrics.index
    )
    assert two.graph.number_of_edges() == len(two.data["edges"])
    worst = two.worst_couplings(3)
    assert {"billing", "invoices"} == {worst.iloc[0]["source_app"], worst.iloc[0]["target_app"]}


def test_resplit_and_compare(two):
    apart = two.resplit("apart", apart=[["billing", "invoices"]], services=3)
    table = two.compare(apart)
    assert list(table.columns) == ["per_app", "suggested", "apart"]
    assert table.loc["cut:atomic_blocks", "apart"] > table.loc["cut:atomic_blocks", "suggested"]
    heavy = two.resplit(weights={"import": 50})
    assert heavy.options.weights == {"import": 50.0}
    plain = two.resplit("plain", roles=False)  # the boundary roles (shared kernel, hubs) off
    assert plain.options.roles is False and two.resplit("roles").options.roles is True


@pytest.mark.parametrize(("changes", "says"), [({"colour": 1}, "resplit() takes"), ({"weights": {"imports": 1}}, "no edge kind"),
                                               ({"granularity": "class"}, "granularity must be")])  # fmt: skip
def test_resplit_checks_like_the_config(two, changes, says):
    with pytest.raises(AnalyzerError, match=None) as info:
        two.resplit(**changes)
    assert says in str(info.value)


def test_plots_draw(two):
    ax = two.plot_coupling_matrix()
    assert (
        ax.images and len(ax.get_xticklabels()) == len(two.data["apps"]) - 2
    )  # auth and contenttypes are not the project's
    ax = two.plot_services()
    assert ax.get_legend() is not None and ax.collections
