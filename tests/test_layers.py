"""The layering of the packages, read from the source: every import points down, and no modules import each other
in a ring (tests/layers.py holds the rules)."""

from tests.layers import ALLOWED, PACKAGES, ROOT, against_layers, cycles, graph, imported


def test_every_import_follows_the_layers():
    assert against_layers(graph()) == []


def test_no_modules_import_each_other_in_a_cycle():
    assert cycles(graph()) == []


def test_every_package_of_the_tree_has_its_rule():
    packages = {path.parent.name for path in ROOT.glob("*/__init__.py")} - {"tests"}
    assert packages == set(PACKAGES) == set(ALLOWED)


def test_a_lazy_import_in_a_function_breaks_the_layers_too(tmp_path):
    module = tmp_path / "consumer.py"
    module.write_text("def run():\n    from service.cli import NotReady\n")
    assert "ingest.consumer -> service.cli" in against_layers({"ingest.consumer": imported("ingest.consumer", module)})


def test_a_ring_of_imports_is_a_cycle():
    assert cycles({"a.x": {"a.y"}, "a.y": {"a.z"}, "a.z": {"a.x"}, "a.w": {"a.x"}}) == [["a.x", "a.y", "a.z"]]
