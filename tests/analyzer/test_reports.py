"""The report formats: each is valid of its kind, and nothing from the analysed code becomes markup."""

from __future__ import annotations

import copy
import io
import json
import re
import subprocess
import sys
from pathlib import Path

import networkx as nx
import pytest

from analyzer.counts import count
from analyzer.decompose import decompose
from analyzer.errors import AnalyzerError
from analyzer.report import graph_formats, markdown, parse_formats
from analyzer.report import html as html_report

EVIL = "<script>alert(1)</script>"
FIGKIT = Path(sys.executable).with_name("figkit")


@pytest.fixture(scope="module")
def shop(monolith) -> dict:
    return decompose(monolith.doc)


def poisoned(document: dict) -> dict:
    """The monolith's analysis with a model, an app's file and a warning named to inject script."""
    doc = copy.deepcopy(document)
    label = f"catalog.{EVIL}"
    doc["models"].append(
        {
            **doc["models"][0],
            "label": label,
            "app": "catalog",
            "table": EVIL,
            "file": f"catalog/{EVIL}.py",
        }
    )
    for app in doc["apps"]:
        if app["label"] == "catalog":
            app["models"].append(label)
    doc["edges"].append({"source": "legacy_monolith.catalog.views", "target": label, "source_app": "catalog", "target_app": "catalog",
                         "kind": "orm_read", "weight": 1, "evidence": [{"file": f"catalog/{EVIL}.py", "line": 1}]})  # fmt: skip
    doc["warnings"].append({"file": EVIL, "line": 3, "message": EVIL})
    return decompose(doc)


def test_markdown_has_services_a_mermaid_diagram_metrics_and_the_plan(shop):
    text = markdown.render(shop)
    assert "```mermaid\ngraph LR" in text
    for service in shop["services"]:
        assert f"| {service['name']}" in text
    assert "| modularity ↑ |" in text and "## Extraction plan" in text
    assert text.count("- [ ] ") >= len(shop["plan"])


def test_markdown_escapes_names_from_the_code(shop):
    text = markdown.render(poisoned(shop))
    assert EVIL not in text and "&lt;script&gt;alert(1)&lt;/script&gt;" in text


def test_graphml_reads_back_with_every_element_and_edge(shop):
    graph = nx.read_graphml(io.StringIO(graph_formats.graphml(shop)))
    assert graph.number_of_edges() == len(shop["edges"])
    assert all(graph.nodes[n]["service"] for n in shop["services"][0]["models"])


def test_dot_groups_apps_by_service_and_quotes_names(shop):
    document = poisoned(shop)
    text = graph_formats.dot(document)
    assert text.count("subgraph cluster_") == len(document["services"])
    assert '"catalog" -> ' in text or '-> "catalog"' in text


def test_mermaid_ids_are_safe_and_labels_escaped(shop):
    text = graph_formats.mermaid(shop)
    ids = re.findall(r"^  (s_\w+)\[", text, re.M)
    assert len(ids) == len(shop["services"]) == len(set(ids))


def test_the_html_page_is_one_file_with_no_fetch_and_no_raw_markup_from_the_code(shop):
    page = html_report.render(poisoned(shop))
    assert (
        "src=" not in page.split("<script", 1)[0]
        and 'src="http' not in page
        and 'href="http' not in page
    )
    data_block = page.split('id="figkit-data">', 1)[1].split("</script>", 1)[0]
    assert "<" not in data_block and EVIL not in page.split("<script", 2)[1]
    assert json.loads(data_block)["counts"]["models"] == count(poisoned(shop)).models.n


def test_format_lists_are_checked():
    assert parse_formats("md, json,md") == ("md", "json")
    with pytest.raises(AnalyzerError, match="not pdf"):
        parse_formats("html,pdf")


def test_analyze_writes_every_format_asked_for(tmp_path):
    fixture = Path(__file__).parent / "fixtures" / "twoclusters"
    result = subprocess.run([str(FIGKIT), "analyze", str(fixture), "--out", str(tmp_path), "--format", "html,md,json,dot,graphml,mermaid"],
                            capture_output=True, text=True, timeout=120)  # fmt: skip
    assert result.returncode == 0, result.stderr
    for name in (
        "analysis.json",
        "report.html",
        "report.md",
        "coupling.dot",
        "coupling.graphml",
        "services.mmd",
    ):
        assert (tmp_path / name).stat().st_size > 0, name
    bad = subprocess.run([str(FIGKIT), "analyze", str(fixture), "--out", str(tmp_path / "x"), "--format", "pdf"],
                         capture_output=True, text=True, timeout=120)  # fmt: skip
    assert bad.returncode == 2 and "--format takes" in bad.stderr and not (tmp_path / "x").exists()
