"""The expert-split scorer: ARI and pairwise F1 against values worked out by hand, the
shapes of shared kernel it reads, and the expert files themselves kept consistent."""

from __future__ import annotations

import json
import subprocess
import sys
from fractions import Fraction
from pathlib import Path

import pytest

from bench.expert_scoring import (
    SHARED_BLOCK,
    ExpertSplit,
    ScoringError,
    adjusted_rand_index,
    compare,
    pair_counts,
    parse_expert,
    per_app_partition,
    score,
    suggested_partition,
)

ROOT = Path(__file__).resolve().parents[2]
SPLITS = ROOT / "bench" / "expert_splits"
CLI = ROOT / "bench" / "score_expert_splits.py"


def labels(*groups: str) -> dict[str, str]:
    """'ab', 'c' -> {a: 0, b: 0, c: 1}: one string of one-letter apps per group."""
    return {app: str(i) for i, group in enumerate(groups) for app in group}


def from_lists(truth: list[object], pred: list[object]) -> tuple[dict, dict]:
    """Two label vectors over items 0..n-1, as in textbooks and scikit-learn's docs."""
    return (
        {str(i): str(t) for i, t in enumerate(truth)},
        {str(i): str(p) for i, p in enumerate(pred)},
    )


# --- adjusted Rand index -----------------------------------------------------------------


def test_ari_is_one_for_identical_partitions_whatever_the_group_names():
    truth = labels("abc", "de", "f")
    renamed = {app: f"other-{group}" for app, group in truth.items()}
    assert adjusted_rand_index(truth, renamed) == 1.0


def test_ari_of_splitting_one_group_of_two_pairs_is_four_sevenths():
    # truth {0,1}{2,3}, pred {0,1}{2}{3}: index 1, Σ C(a,2) = 2, Σ C(b,2) = 1, C(4,2) = 6;
    # expected = 2*1/6 = 1/3, max = 3/2, ARI = (1 - 1/3) / (3/2 - 1/3) = 4/7.
    truth, pred = from_lists([0, 0, 1, 1], [0, 0, 1, 2])
    assert adjusted_rand_index(truth, pred) == pytest.approx(4 / 7)


def test_ari_is_negative_when_the_split_crosses_every_group():
    # truth {0,1}{2,3}, pred {0,2}{1,3}: index 0, expected 2*2/6 = 2/3, max 2 -> -1/2.
    truth, pred = from_lists([0, 0, 1, 1], [0, 1, 0, 1])
    assert adjusted_rand_index(truth, pred) == pytest.approx(-0.5)


def test_ari_of_one_group_against_all_singletons_is_zero():
    truth, pred = from_lists([0, 0, 0, 0], [0, 1, 2, 3])
    assert adjusted_rand_index(truth, pred) == 0.0


def test_textbook_example_manning_raghavan_schutze_ir_book_figure_16_4():
    # Introduction to Information Retrieval, section 16.3: 17 points, three clusters
    # (5x 1o | 1x 4o 1d | 2x 3d). The book gives TP 20, FP 20, FN 24 and F1 about 0.48.
    # ARI by hand: index 20; Σ C(class, 2) = 28 + 10 + 6 = 44; Σ C(cluster, 2) = 15 + 15 + 10
    # = 40; C(17, 2) = 136; expected = 44*40/136 = 220/17; max = 42;
    # ARI = (20 - 220/17) / (42 - 220/17) = 120/494 = 60/247.
    classes = ["x"] * 5 + ["o"] + ["x"] + ["o"] * 4 + ["d"] + ["x"] * 2 + ["d"] * 3
    clusters = [1] * 6 + [2] * 6 + [3] * 5
    truth, pred = from_lists(classes, clusters)
    counts = pair_counts(truth, pred)
    assert (counts.tp, counts.fp, counts.fn) == (20, 20, 24)
    assert adjusted_rand_index(truth, pred) == pytest.approx(float(Fraction(60, 247)))
    assert score(truth, pred).f1 == pytest.approx(40 / 84)


def test_ari_of_a_single_app_is_one():
    assert adjusted_rand_index({"a": "x"}, {"a": "y"}) == 1.0


def test_partitions_over_different_apps_are_refused():
    with pytest.raises(ValueError):
        pair_counts(labels("ab"), labels("ac"))


# --- pairwise precision, recall, F1 -------------------------------------------------------


def test_pairwise_scores_on_a_hand_made_case():
    # expert {a,b,c}{d}: pairs ab ac bc; suggestion {a,b}{c,d}: pairs ab cd.
    s = score(labels("abc", "d"), labels("ab", "cd"))
    assert (s.tp, s.fp, s.fn) == (1, 1, 2)
    assert s.precision == pytest.approx(1 / 2)
    assert s.recall == pytest.approx(1 / 3)
    assert s.f1 == pytest.approx(2 / 5)


def test_perfect_agreement_scores_one_everywhere():
    s = score(labels("ab", "cde"), labels("cde", "ab"))
    assert (s.precision, s.recall, s.f1, s.ari) == (1.0, 1.0, 1.0, 1.0)


def test_per_app_baseline_has_no_precision_and_zero_recall_and_f1():
    truth = labels("abc", "d")
    s = score(truth, per_app_partition(truth))
    assert s.precision is None
    assert (s.recall, s.f1, s.services) == (0.0, 0.0, 4)


def test_scores_with_nothing_to_count_are_none_not_a_division_by_zero():
    s = score(labels("a", "b", "c"), labels("a", "b", "c"))
    assert (s.precision, s.recall, s.f1, s.ari) == (None, None, None, 1.0)


# --- reading a suggestion ----------------------------------------------------------------


def analysis(*services: dict, **extra: object) -> dict:
    return {"services": list(services), **extra}


def svc(name: str, *apps: str, **extra: object) -> dict:
    return {"name": name, "apps": list(apps), "models": [], "tables": [], "routes": [], **extra}


EXPERT = ExpertSplit(
    services={"shop": ("orders", "payments"), "catalog": ("products",)},
    shared_kernel=("core", "utils"),
    reasons="test",
)


def test_shared_kernel_counts_as_one_group_on_both_sides_via_service_kind():
    suggestion = analysis(
        svc("shop", "orders", "payments"),
        svc("catalog", "products"),
        svc("common", "core", "utils", kind="shared_kernel"),
    )
    result = compare(EXPERT, suggestion)
    assert (result.suggestion.f1, result.suggestion.ari) == (1.0, 1.0)


@pytest.mark.parametrize(
    "shared",
    [
        ["core", "utils"],
        [{"name": "common", "apps": ["core", "utils"]}],
        {"apps": ["core", "utils"]},
    ],
    ids=["labels", "objects", "one-object"],
)
def test_a_top_level_shared_kernel_takes_its_apps_out_of_their_services(shared):
    suggestion = analysis(
        svc("shop", "orders", "payments", "core"),
        svc("catalog", "products", "utils"),
        shared_kernel=shared,
    )
    groups, _ = suggested_partition(suggestion)
    assert groups["core"] == groups["utils"] == SHARED_BLOCK
    assert compare(EXPERT, suggestion).suggestion.f1 == 1.0


def test_a_shared_kernel_in_a_service_on_the_suggestion_side_is_a_disagreement():
    suggestion = analysis(svc("everything", "orders", "payments", "products", "core", "utils"))
    s = compare(EXPERT, suggestion).suggestion
    # 10 pairs suggested; the expert's together: orders-payments, core-utils.
    assert (s.tp, s.fp, s.fn) == (2, 8, 0)


def test_apps_on_one_side_only_are_reported_and_not_scored():
    suggestion = analysis(svc("shop", "orders", "payments", "billing"), svc("catalog", "products"))
    result = compare(EXPERT, suggestion)
    assert result.apps == ("orders", "payments", "products")
    assert result.only_expert == ("core", "utils")
    assert result.only_suggestion == ("billing",)
    assert result.baseline.services == 3


def test_an_app_in_two_services_is_scored_in_the_first_with_a_warning():
    groups, warnings = suggested_partition(analysis(svc("a", "x", "y"), svc("b", "y")))
    assert groups["y"] == "service:a"
    assert len(warnings) == 1 and "'y'" in warnings[0]


def test_verdict_says_first_when_the_suggestion_loses_to_per_app():
    suggestion = analysis(
        svc("all", "orders", "products"), svc("p", "payments"), svc("c", "core"), svc("u", "utils")
    )
    result = compare(EXPERT, suggestion)
    assert result.suggestion.f1 == 0.0
    assert "NOT" in result.verdict()


@pytest.mark.parametrize(
    "bad",
    [
        {"services": {}},
        {"services": [{"name": "x"}]},
        {"services": [svc("a", "x")], "shared_kernel": 3},
    ],
    ids=["not-a-list", "no-apps", "shared-kernel-number"],
)
def test_a_malformed_analysis_is_a_one_line_error(bad):
    with pytest.raises(ScoringError) as caught:
        suggested_partition(bad)
    assert "\n" not in str(caught.value)


# --- expert files ------------------------------------------------------------------------

GOOD = """
reasons = "why"
shared_kernel = ["core"]
identity = ["users"]
[services]
identity = ["users"]
shop = ["orders", "payments"]
"""


def test_a_valid_expert_file_gives_its_partition():
    split = parse_expert(GOOD)
    assert split.partition() == {
        "users": "service:identity",
        "orders": "service:shop",
        "payments": "service:shop",
        "core": SHARED_BLOCK,
    }


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (GOOD.replace('["orders", "payments"]', '["orders", "users"]'), "listed twice"),
        (GOOD.replace('shared_kernel = ["core"]', 'shared_kernel = ["orders"]'), "listed twice"),
        (GOOD.replace('["orders", "payments"]', "[]"), "is empty"),
        (GOOD.replace('reasons = "why"', 'reasons = " "'), "reasons"),
        (GOOD.replace('reasons = "why"', ""), "reasons"),
        ("extra = 1\n" + GOOD, "unknown key"),
        ('reasons = "why"\nservices = "x"\n', "[services]"),
        (GOOD.replace('identity = ["users"]\n[', 'identity = ["core"]\n['), "identity app"),
        (GOOD.replace('["orders", "payments"]', '["orders", 3]'), "list of app labels"),
        (GOOD.replace("[services]", "[services"), "not valid TOML"),
    ],
    ids=[
        "twice",
        "twice-in-kernel",
        "empty",
        "blank-reasons",
        "no-reasons",
        "unknown-key",
        "services-not-table",
        "identity-outside",
        "not-a-label",
        "toml-syntax",
    ],
)
def test_a_malformed_expert_file_is_a_one_line_error(text, message):
    with pytest.raises(ScoringError) as caught:
        parse_expert(text, "x.toml")
    assert message in str(caught.value)
    assert str(caught.value).startswith("x.toml: ")
    assert "\n" not in str(caught.value)


EXPERT_FILES = sorted(SPLITS.glob("*.toml"))


def test_there_are_expert_splits_for_at_least_four_projects():
    assert len(EXPERT_FILES) >= 4


@pytest.mark.parametrize("path", EXPERT_FILES, ids=[p.stem for p in EXPERT_FILES])
def test_each_expert_file_lists_every_app_once_with_reasons_and_the_commit_read(path):
    text = path.read_text(encoding="utf-8")
    split = parse_expert(text, str(path))  # raises on an app listed twice or an empty service
    assert split.project == path.stem
    assert split.commit and f"commit read: {split.commit}" in text
    assert len(split.reasons.split()) > 50
    apps = [app for group in split.services.values() for app in group] + list(split.shared_kernel)
    assert len(apps) == len(set(apps))
    assert not split.identity or set(split.identity) <= set(split.services.get("identity", ()))


# --- the command line ----------------------------------------------------------------------


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(CLI), *args], capture_output=True, text=True, timeout=60
    )


def test_cli_prints_the_suggestion_beside_the_per_app_baseline(tmp_path):
    path = tmp_path / "analysis.json"
    path.write_text(json.dumps(analysis(svc("s", "orders", "payments"), svc("c", "products"))))
    (tmp_path / "e.toml").write_text(GOOD.replace("users", "products"))
    out = run("--analysis", str(path), "--expert", str(tmp_path / "e.toml"))
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert "better than per-app" in lines[0]
    assert any(line.startswith("suggestion") and "1.000" in line for line in lines)
    assert any(line.startswith("per-app baseline") and "n/a" in line for line in lines)

    data = json.loads(
        run("--analysis", str(path), "--expert", str(tmp_path / "e.toml"), "--json").stdout
    )
    assert data["suggestion"]["f1"] == 1.0
    assert data["per_app_baseline"]["f1"] == 0.0
    assert data["only_expert"] == ["core"]


def test_cli_turns_bad_input_into_one_line_and_exit_code_2(tmp_path):
    path = tmp_path / "analysis.json"
    path.write_text("{not json")
    out = run("--analysis", str(path), "--expert", str(SPLITS / "saleor.toml"))
    assert out.returncode == 2
    assert out.stderr.count("\n") == 1 and "not valid JSON" in out.stderr
    assert "Traceback" not in out.stderr


def test_kernel_agreement_tells_a_library_from_a_service_that_groups_the_same_apps():
    as_service = analysis(
        svc("shop", "orders", "payments"),
        svc("catalog", "products"),
        svc("common", "core", "utils"),
    )
    result = compare(EXPERT, as_service)
    assert result.suggestion.ari == 1.0  # the grouping is the same...
    assert result.kernel_jaccard == 0.0  # ...but the suggestion calls it a service
    half = analysis(
        svc("shop", "orders", "payments"),
        svc("catalog", "products", "utils"),
        svc("common", "core", kind="shared_kernel"),
    )
    assert compare(EXPERT, half).kernel_jaccard == 0.5
    assert compare(EXPERT, analysis(svc("a", "orders"))).kernel_jaccard is None
