"""The training step stays one a newcomer can read: tools/step_depth.py counts
what one eager `GAN.train_step` of a plain DCGAN runs (issue: the step was 32
functions in 5 files, 13 calls deep)."""

import importlib.util

from conftest import REPO_ROOT


def _step_depth():
    spec = importlib.util.spec_from_file_location("step_depth", REPO_ROOT / "tools" / "step_depth.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_one_train_step_runs_few_functions_in_few_files_not_deeply_nested():
    step_depth = _step_depth()
    profile = step_depth.measure()
    functions = [name for _, _, name in profile.functions if not name.endswith(step_depth.COMPREHENSIONS)]
    files = {filename for filename, _, _ in profile.functions}
    # The step's own methods are among them: the count is of the real step, not of nothing.
    assert {"GAN.train_step", "GAN.discriminator_step", "GAN.generator_step", "descend"} <= set(functions)
    assert len(functions) <= 15, sorted(functions)
    assert len(files) <= 3, sorted(files)
    assert profile.max_depth <= 6, " -> ".join(profile.deepest_chain)
