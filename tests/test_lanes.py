"""`make test` runs the suite in lanes (tests/lanes.py): no test may fall between them."""

from tests import lanes


def test_every_test_folder_is_in_a_lane():
    assert lanes.unassigned() == []


def test_a_folder_outside_the_lanes_is_found(tmp_path):
    for folder in ("analyzer", "zz_new", "helpers"):
        (tmp_path / folder).mkdir()
    (tmp_path / "analyzer" / "test_a.py").write_text("")
    (tmp_path / "zz_new" / "test_x.py").write_text("")
    (tmp_path / "helpers" / "stack.py").write_text("")  # no tests in it: nothing to run
    (tmp_path / "test_loose.py").write_text("")
    assert lanes.unassigned(tmp_path) == ["tests/test_loose.py", "tests/zz_new"]
