"""The example script's JSON configs: one per model and dataset preset, each one trains.

Presets whose data are not here get a model built from the config by the script's own functions and
one optimizer step on random images of the preset's shape with labels. digits-lt (no files needed)
runs the script itself for one epoch; Fashion-MNIST, when installed, does too under ``-m slow``.
"""

import glob
import importlib.util
import json
import math
import os
import subprocess
import sys

import pytest
import torch
from pythae.data.datasets import DatasetOutput

from pythae_t3cvae import class_counts
from pythae_t3cvae.data import load_preset

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SCRIPT = os.path.join(ROOT, "examples", "scripts", "training.py")
CONFIGS = os.path.join(ROOT, "examples", "scripts", "configs")

# (input_dim, n_classes) of every preset, as its reader produces them.
PRESET_SHAPES = {
    "digits-lt": ((1, 8, 8), 10),
    "mnist-lt": ((1, 28, 28), 10),
    "fashion-mnist-lt": ((1, 28, 28), 10),
    "cifar10-lt": ((3, 32, 32), 10),
    "cifar100-lt": ((3, 32, 32), 100),
    "svhn-lt": ((3, 32, 32), 10),
    "celeba": ((3, 64, 64), 2),
}


def _load_script():
    spec = importlib.util.spec_from_file_location("example_training_script", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


script = _load_script()

MODEL_CONFIGS = sorted(glob.glob(os.path.join(CONFIGS, "*", "*_config.json")))
MODEL_CONFIGS = [path for path in MODEL_CONFIGS if not path.endswith("base_training_config.json")]


def _ids(path):
    return f"{os.path.basename(os.path.dirname(path))}/{os.path.basename(path)}"


def _params(paths):
    # The network is --nn's choice, not the config's. Every config trains one step with pythae's
    # MLPs (--nn default). With the reference conv network (--nn conv, the default) one config per
    # preset trains by default and the others under -m slow. CelebA's conv64 (22M parameters, seconds
    # per step on a CPU) runs only under -m slow.
    params = []
    for path in paths:
        params.append(pytest.param(path, "default", id=_ids(path) + "-mlp"))
        fast = path.endswith("/t3cvae_config.json") and "/celeba/" not in path
        params.append(pytest.param(path, None, id=_ids(path) + "-conv", marks=() if fast else pytest.mark.slow))
    return params


def test_every_model_and_preset_has_configs():
    found = {os.path.relpath(path, CONFIGS) for path in glob.glob(os.path.join(CONFIGS, "*", "*.json"))}
    expected = {
        f"{dataset}/{name}_config.json"
        for dataset in PRESET_SHAPES for name in [*script.MODELS, "base_training"]
    }
    assert found == expected


@pytest.mark.parametrize("path, nn", _params(MODEL_CONFIGS))
def test_config_trains_one_step(path, nn):
    dataset = os.path.basename(os.path.dirname(path))
    model_name = os.path.basename(path)[: -len("_config.json")]
    input_dim, n_classes = PRESET_SHAPES[dataset]
    counts = [10 * (k + 1) for k in range(n_classes)]

    config = script.load_model_config(path, model_name, input_dim, n_classes, counts)
    torch.manual_seed(0)
    model = script.build_model(model_name, config, nn)
    if hasattr(config, "network"):
        expected = script.network_for_input(input_dim) if nn is None else None  # --nn's default: 'conv'
        assert config.network == expected
    if getattr(model, "conditional", False):
        assert config.class_counts == counts
        assert config.n_classes == n_classes

    training = script.load_training_config(os.path.join(os.path.dirname(path), "base_training_config.json"))
    optimizer_cls = getattr(torch.optim, training.optimizer_cls)
    optimizer = optimizer_cls(model.parameters(), lr=training.learning_rate, **(training.optimizer_params or {}))

    batch = DatasetOutput(data=torch.rand(2, *input_dim), labels=torch.tensor([0.0, n_classes - 1.0]))
    before = [p.detach().clone() for p in model.parameters()]
    model.train()
    loss = model(batch).loss
    assert math.isfinite(loss.item())
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
    assert any(not torch.equal(a, b) for a, b in zip(before, model.parameters()))


def _run_script(tmp_path, dataset, model_name, extra=()):
    with open(os.path.join(CONFIGS, dataset, "base_training_config.json")) as f:
        training = json.load(f)
    training.update(num_epochs=1, no_cuda=True, output_dir=str(tmp_path / "out"))
    (tmp_path / "training.json").write_text(json.dumps(training))
    env = {key: value for key, value in os.environ.items() if key not in ("WORLD_SIZE", "RANK", "LOCAL_RANK")}
    return subprocess.run(
        [sys.executable, SCRIPT, "--dataset", dataset, "--model_name", model_name,
         "--training_config", str(tmp_path / "training.json"), *extra],
        cwd=str(tmp_path), env=env, capture_output=True, text=True, timeout=600,
    )


def test_script_trains_digits_for_one_epoch(tmp_path):
    result = _run_script(tmp_path, "digits-lt", "t3cvae")
    assert result.returncode == 0, result.stdout + result.stderr
    [final] = glob.glob(str(tmp_path / "out" / "T3CVAE_training_*" / "final_model"))
    with open(os.path.join(final, "model_config.json")) as f:
        saved = json.load(f)
    assert saved["network"] == "conv8"
    assert saved["n_classes"] == 10
    assert saved["class_counts"] == class_counts(load_preset("digits-lt").train, 10)
    assert not glob.glob(os.path.join(final, "*.pkl"))


@pytest.mark.parametrize("model_name, args, message", [
    ("cvae", ["--model_config", os.path.join(CONFIGS, "celeba", "cvae_config.json")], "n_classes=2"),
    ("t3cvae", ["--model_config", os.path.join(CONFIGS, "digits-lt", "cvae_config.json")], "needs a T3CVAEConfig"),
    ("t3cvae", ["--model_config", "missing.json"], "pass one with --model_config"),
    ("t3cvae", ["--training_config", os.path.join(CONFIGS, "digits-lt", "t3cvae_config.json")],
     "needs a BaseTrainerConfig"),
    ("vae", ["--nn", "conv", "--rho", "0.5"], "rho"),
])
def test_script_rejects_bad_input(model_name, args, message, capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # whatever goes wrong, nothing lands in the repository
    with pytest.raises(SystemExit) as exit_info:
        script.main(["--dataset", "digits-lt", "--model_name", model_name, *args])
    assert exit_info.value.code == 2
    assert message in capsys.readouterr().err


def test_script_rejects_unknown_config_keys(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "typo.json").write_text('{"name": "T3VAEConfig", "latnt_dim": 4}')
    with pytest.raises(SystemExit):
        script.main(["--dataset", "digits-lt", "--model_name", "t3vae", "--model_config", "typo.json"])
    assert "has no fields ['latnt_dim']" in capsys.readouterr().err


@pytest.mark.slow
@pytest.mark.skipif(not os.path.isdir("/usr/share/datasets/fashion-mnist"), reason="apt-get install dataset-fashion-mnist")
def test_script_trains_fashion_mnist_for_one_epoch(tmp_path):
    result = _run_script(tmp_path, "fashion-mnist-lt", "cvae", ["--rho", "100"])
    assert result.returncode == 0, result.stdout + result.stderr
    assert glob.glob(str(tmp_path / "out" / "CVAE_training_*" / "final_model" / "model.pt"))
