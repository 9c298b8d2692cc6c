"""The run folder has one owner (seas.run_folder) and the package's import graph follows the pipeline."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import seas
from seas.errors import ModelLoadError
from seas.run_folder import LAYOUT, RunFolder, read_token_map

PACKAGE = Path(seas.__file__).parent
# Packages in pipeline order: a module may import from its own stage or an earlier one, never a later one.
STAGES = ("data", "models", "pretrain", "stage1", "stage2", "generate", "evaluate", "report")
TRAINING_SCRIPTS = {"seas.stage1.train", "seas.stage2.train", "seas.pretrain.train"}


def _modules() -> dict[str, ast.Module]:
    trees = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        name = ".".join(("seas", *path.relative_to(PACKAGE).with_suffix("").parts)).removesuffix(".__init__")
        trees[name] = ast.parse(path.read_text(encoding="utf-8"))
    return trees


def _imports(tree: ast.Module) -> set[str]:
    """Every ``seas.*`` module imported anywhere in the file (function-level imports included)."""
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("seas"):
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)  # ``from seas.stage1 import train``
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names if alias.name.startswith("seas"))
    return found


def _stage(module: str) -> int | None:
    parts = module.split(".")
    return STAGES.index(parts[1]) if len(parts) > 2 and parts[1] in STAGES else None


def test_only_the_pipeline_and_the_api_import_a_training_script() -> None:
    importers = {name: sorted(_imports(tree) & TRAINING_SCRIPTS) for name, tree in _modules().items()}
    allowed = {"seas.pipeline", "seas.api"}  # the command line goes through seas.api
    offenders = {name: found for name, found in importers.items() if found and name not in allowed}
    assert offenders == {}


def test_no_module_imports_a_later_stage_or_the_cli() -> None:
    offenders = []
    for name, tree in _modules().items():
        mine = _stage(name)
        for imported in _imports(tree):
            theirs = _stage(imported)
            if imported == "seas.cli" or (mine is not None and theirs is not None and theirs > mine):
                offenders.append(f"{name} -> {imported}")
    assert offenders == []


def test_run_folder_file_names_are_spelled_only_in_run_folder() -> None:
    # Names that mean "a stage-1 run folder" and nothing else; generic ones (unet/, config.json) are
    # also the layout of a pretrain export or an output folder's settings record.
    names = {
        "split.json",
        "token_map.json",
        "token_embeddings.safetensors",
        "train_complete.json",
        "checkpoint_ids.json",
        "stage2",
        "evaluation",
    }
    assert names <= set(LAYOUT.values())
    spelled = []
    for module, tree in _modules().items():
        if module == "seas.run_folder":
            continue
        for node in ast.walk(tree):
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and node.value in names:
                spelled.append(f"{module}:{node.lineno} {node.value}")
    assert spelled == []


def test_run_folder_names_every_path_under_its_root(tmp_path: Path) -> None:
    run = RunFolder(tmp_path / "run")
    for attribute, relative in LAYOUT.items():
        assert getattr(run, attribute) == tmp_path / "run" / relative
    assert run.generated("tire") == tmp_path / "run" / "generated" / "tire"
    assert run.generated("tire", tmp_path / "pairs") == tmp_path / "pairs" / "tire"
    with pytest.raises(AttributeError):
        run.split = tmp_path  # type: ignore[misc]  # frozen: a layout cannot drift at run time


def test_a_missing_token_map_is_one_line_naming_it(tmp_path: Path) -> None:
    with pytest.raises(ModelLoadError, match=r"token_map\.json: missing from this run; rerun seas train"):
        read_token_map(tmp_path)


def test_the_command_line_runs_every_stage_through_the_api() -> None:
    work = TRAINING_SCRIPTS | {"seas.generate.run", "seas.pipeline", "seas.generate.paste", "seas.report.build"}
    work |= {f"{m}.{name}" for m in work for name in ("generate", "run_product", "paste_pairs", "build_report")}
    cli = _imports(_modules()["seas.cli"])
    assert cli & work == set()
    assert "seas.api" in cli
