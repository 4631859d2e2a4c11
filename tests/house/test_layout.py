"""The shape of the house: stage deps match the import graph, flows stay thin, the tools import no Prefect."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.house.imports import PACKAGES, ROOT, closure, direct_imports, module_file, module_name

STAGE_FLOWS = {"ct_pool": "flows.ct_pool", "drrs": "flows.drrs", "folds": "flows.folds",
               "xray_domain": "flows.xray_domain", "pose_regressor": "flows.pose_regressor", "train": "flows.train",
               "evaluate": "flows.evaluate", "promote": "flows.promote", "biplanar": "flows.biplanar",
               "x2ct": "flows.x2ct", "x2ct_evaluate": "flows.x2ct_evaluate",
               "generation_data": "flows.generation_data", "generate_train": "flows.generate_train",
               "generate_evaluate": "flows.generate_evaluate"}
ABLATION_FLOWS = {"train_no_rhs": "flows.train", "cyclegan": "flows.cyclegan", "evaluate_ablations": "flows.evaluate"}


def stages(path: Path) -> dict:
    return yaml.safe_load(path.read_text())["stages"]


def dep_paths(stage: dict) -> list[str]:
    return [next(iter(d)) if isinstance(d, dict) else d for d in stage.get("deps", [])]


def covered(file: Path, deps: list[str]) -> bool:
    rel = file.relative_to(ROOT).as_posix()
    return any(rel == d or rel.startswith(d.rstrip("/") + "/") for d in deps)


@pytest.mark.parametrize("dvc_file, stage, module", [("dvc.yaml", s, m) for s, m in STAGE_FLOWS.items()]
                         + [("ablations/dvc.yaml", s, m) for s, m in ABLATION_FLOWS.items()])
def test_every_module_a_stage_imports_is_one_of_its_deps(dvc_file, stage, module):
    spec = stages(ROOT / dvc_file)[stage]
    assert spec["cmd"].split()[2] == module  # python -m <module>
    missing = sorted(f.relative_to(ROOT).as_posix() for f in closure(module) if not covered(f, dep_paths(spec)))
    assert not missing, f"{dvc_file} stage {stage} imports these but does not depend on them: {missing}"


def test_the_pipeline_runs_every_stage_flow():
    assert set(stages(ROOT / "dvc.yaml")) == set(STAGE_FLOWS)


def test_stage_flows_are_thin_and_import_no_other_flow():
    for path in sorted((ROOT / "flows").glob("*.py")):
        if path.name == "__init__.py":
            continue
        lines = len(path.read_text().splitlines())
        assert lines <= 125, f"{path.name}: {lines} lines; its work belongs in components/"
        flows_imported = {n for n in direct_imports(path) if n.startswith("flows.") and n not in ("flows.stage",)}
        allowed = {"flows.pipeline"} if path.name == "deploy.py" else set()
        assert flows_imported <= allowed, f"{path.name} imports {sorted(flows_imported - allowed)}"


def test_components_import_no_flow_and_no_tool():
    for path in sorted((ROOT / "components").rglob("*.py")):
        bad = sorted(n for n in direct_imports(path) if n.split(".")[0] in ("flows", "radrotator"))
        assert not bad, f"{path.relative_to(ROOT)} imports {bad}"


def test_no_import_cycle_between_modules():
    """Module-level imports only (an import inside a function runs later, and cannot deadlock)."""
    graph: dict[str, set[str]] = {}
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            tree = ast.parse(path.read_text())
            names = set()
            for node in tree.body:
                if isinstance(node, ast.Import):
                    names.update(a.name for a in node.names)
                elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                    names.update({node.module, *(f"{node.module}.{a.name}" for a in node.names)})
            graph[module_name(path)] = {n for n in names if module_file(n) and module_file(n) != path}

    def visit(name: str, trail: list[str]) -> None:
        if name in trail:
            cycle = trail[trail.index(name):] + [name]
            # a package importing its own submodule (components.x → components.x.y) is not a cycle
            if not all(b.startswith(a + ".") or a.startswith(b + ".") for a, b in zip(cycle, cycle[1:])):
                raise AssertionError("import cycle: " + " → ".join(cycle))
            return
        for nxt in graph.get(name, ()):
            if module_file(nxt):
                visit(module_name(module_file(nxt)), trail + [name])

    for module in graph:
        visit(module, [])


def test_the_tools_package_imports_no_prefect():
    code = ("import sys, radrotator, radrotator.cli, radrotator.demo; "
            "print(sorted(m for m in sys.modules if m.split('.')[0] in ('prefect', 'flows')))")
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == "[]"


def test_tests_mirror_the_component_packages():
    packages = {p.name for p in (ROOT / "components").iterdir() if (p / "__init__.py").exists()}
    tests = {p.name for p in (ROOT / "tests").iterdir() if p.is_dir()}
    assert packages <= tests, f"no tests/ folder for components/{sorted(packages - tests)}"
