"""benchmarks/gpu_check.py, the prepared GPU check: its --smoke run on every
installed backend (so it cannot rot between GPU loans), its time budget, and
its one-line message when something is missing."""

import importlib.util
import json
import os
import subprocess
import sys

import pytest

from conftest import REPO_ROOT

SCRIPT = REPO_ROOT / "benchmarks" / "gpu_check.py"
sys.path.insert(0, str(SCRIPT.parent))
import gpu_check  # noqa: E402


@pytest.fixture(scope="module")
def smoke(tmp_path_factory):
    installed = [backend for backend in gpu_check.BACKENDS if importlib.util.find_spec(backend) is not None]
    if os.environ.get("GAN_KERAS_REQUIRE_BACKENDS") == "1":
        assert set(installed) == set(gpu_check.BACKENDS), installed
    out = tmp_path_factory.mktemp("gpu_check")
    completed = subprocess.run([sys.executable, str(SCRIPT), "--smoke", "--out", str(out)], capture_output=True,
                               text=True, timeout=900, cwd=REPO_ROOT)
    assert completed.returncode == 0, completed.stdout[-3000:] + completed.stderr[-3000:]
    return json.loads((out / "gpu_check.json").read_text()), (out / "gpu_check.md").read_text(), completed.stdout, installed


def test_smoke_run_times_both_models_and_both_precisions_on_every_backend(smoke):
    report, _, _, installed = smoke
    rows = gpu_check.speed_rows(report)
    assert {(row["backend"], row["model"], row["precision"], row["batch"]) for row in rows} == {
        (backend, model, precision, batch) for backend in installed
        for model, precision in gpu_check.SMOKE["speed_parts"] for batch in gpu_check.SMOKE["batches"]}
    assert {model for model, _ in gpu_check.SMOKE["speed_parts"]} == set(gpu_check.MODELS)
    assert {precision for _, precision in gpu_check.SMOKE["speed_parts"]} == set(gpu_check.PRECISIONS)
    for row in rows:
        assert row["images_per_second"] > 0 and row["steps"] >= 2
        assert row["epoch_seconds"] == pytest.approx(gpu_check.EPOCH_IMAGES / row["images_per_second"], rel=1e-2)
        assert row["ms_per_step"] == pytest.approx(1000 * row["batch"] / row["images_per_second"], rel=1e-2)
        assert isinstance(row["first_epoch_extra"], float)
        # The same-script baseline: the tutorial's models in float32, hand-written, on the same backend.
        if (row["model"], row["precision"]) == ("tutorial", "float32"):
            assert row["handwritten_images_per_second"] > 0
            assert row["ratio_to_handwritten"] == pytest.approx(
                row["images_per_second"] / row["handwritten_images_per_second"], rel=1e-2)
        else:
            assert "ratio_to_handwritten" not in row
        assert "cpu" in row["device"].lower()
        assert row["peak_bytes"] is None or row["peak_bytes"] > 0  # a CPU may have no device memory to report


def test_what_bounds_a_step_is_read_from_how_its_time_grows_with_the_batch():
    def rows(model, milliseconds):
        return [{"part": "speed", "backend": "jax", "model": model, "precision": "float32", "batch": batch,
                 "ms_per_step": value} for batch, value in zip((64, 256, 1024), milliseconds)]

    report = {"groups": [{"parts": rows("default", [5.0, 5.2, 12.0]) + rows("tutorial", [2.0, 8.0, 32.0])}]}
    gpu_check.add_bounds(report)
    default, tutorial = gpu_check.speed_rows(report)[:3], gpu_check.speed_rows(report)[3:]
    # The same time at 4x the batch: a fixed cost per step (Python, dispatch) is the limit.
    assert [row["bound"] for row in default] == ["overhead", "both", "both"]
    assert [row["bound"] for row in tutorial] == ["device"] * 3 and tutorial[0]["scaling"] == 1.0


def test_smoke_run_trains_and_scores_the_default_model_on_every_backend(smoke):
    report, _, _, installed = smoke
    runs = {part["backend"]: part for group in report["groups"] for part in group["parts"] if part["part"] == "train"}
    assert set(runs) == set(installed)
    for run in runs.values():
        assert run["epochs"] >= 1 and run["images_per_second"] > 0
        assert run["fid"] > 0 and 0 <= run["classes_covered"] <= 10 and 0 <= run["conditional_accuracy"] <= 1


def test_smoke_run_writes_and_prints_the_tables(smoke):
    report, table, stdout, installed = smoke
    assert table in stdout
    rows = [line for line in table.splitlines() if line.startswith("| ") and "---" not in line]
    assert len(rows) == 2 + len(gpu_check.speed_rows(report)) + len(installed)  # two headers, then the rows
    assert all(f"| {backend} | default | mixed | 8 |" in table for backend in installed)
    assert all(f"| {backend} | tutorial | float32 | 8 |" in table for backend in installed)
    assert "Fastest: " in table and "the published anchor" in table
    assert all(group["status"] == "ok" for group in report["groups"])


def test_a_part_over_its_budget_is_stopped_and_what_it_measured_kept(tmp_path):
    row = {"part": "speed", "backend": "jax", "device": "gpu: NVIDIA H200 x1", "model": "default",
           "precision": "float32", "batch": 64, "steps": 240, "images_per_second": 20000.0, "epoch_seconds": 3.0,
           "first_epoch_extra": 5.0, "ms_per_step": 3.2, "peak_bytes": 2**30}
    result_path = tmp_path / "rows.json"
    # A worker that measures one batch size, then hangs.
    worker = f"import json, sys, time; open(sys.argv[1], 'w').write(json.dumps([{row!r}])); time.sleep(120)"
    result = gpu_check.run_group([sys.executable, "-c", worker, str(result_path)], dict(os.environ), 10, result_path)
    assert result["status"] == "stopped" and "over its budget" in result["error"]
    assert result["parts"] == [row] and result["seconds"] < 60
    table = gpu_check.markdown({"smoke": False, "groups": [{"backend": "jax", "requested": ["speed:default:float32"],
                                                            **result}]})
    assert "| jax | default | float32 | 64 | 20,000 | 3.00 | 5.0 | 3.20 | 1,024 | ? (?) | n/a |" in table
    assert "- jax speed:default:float32: stopped: stopped after 10 s, over its budget" in table


def test_what_is_missing_is_said_in_one_line(tmp_path):
    completed = subprocess.run([sys.executable, str(SCRIPT), "--backends", "mxnet"], capture_output=True, text=True,
                               timeout=300, cwd=REPO_ROOT)
    assert completed.returncode == 2
    assert completed.stdout.strip().splitlines() == [
        "gpu_check: cannot run, missing: a Keras backend (one of mxnet) (carry them as wheels: docs/gpu.md, "
        "'Measure a GPU')"]
    # A Keras whose own needs are missing, as on a machine where only its wheel was carried.
    shadow = tmp_path / "keras"
    shadow.mkdir()
    (shadow / "__init__.py").write_text("raise ModuleNotFoundError(\"No module named 'optree'\", name='optree')\n")
    environment = {**os.environ, "PYTHONPATH": str(tmp_path)}
    completed = subprocess.run([sys.executable, str(SCRIPT), "--backends", "jax,torch,tensorflow"],
                               capture_output=True, text=True, timeout=300, cwd=REPO_ROOT, env=environment)
    assert completed.returncode == 2
    assert completed.stdout.strip().splitlines() == [
        "gpu_check: cannot run, missing: ModuleNotFoundError: No module named 'optree' (carry them as wheels: "
        "docs/gpu.md, 'Measure a GPU')"]


def test_the_full_run_fits_eight_minutes_and_finishes_one_backend_before_the_next():
    settings = gpu_check.FULL
    groups = gpu_check.plan(["jax", "torch"], settings, smoke=False)  # what the project's GPU machines have
    speed = [[f"speed:{model}:{precision}"] for model, precision in settings["speed_parts"]]
    assert [backend for backend, _, _ in groups] == ["jax"] * 5 + ["torch"] * 5
    assert [parts for _, parts, _ in groups] == (speed + [["train"]]) * 2
    assert sum(budget for _, _, budget in groups) <= settings["budget"] < 8 * 60
    assert len(speed) == len(gpu_check.MODELS) * len(gpu_check.PRECISIONS) and settings["batches"] == (64, 256, 1024)
