"""Loading rules: a planted pickle never runs without allow_pickle=True, locally or from the hub.

The hub tests replace ``huggingface_hub`` by a stand-in that serves files from a local folder, so
the code path up to the network call runs without a network. One test runs the real library in
offline mode when it is installed.
"""

import importlib.machinery
import json
import os
import pickle
import shutil
import subprocess
import sys
import types

import pytest
import torch
from pythae.models import VAE, AutoModel, VAEConfig

from pythae_t3cvae import T3CVAE, T3CVAEConfig

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


class Payload:
    """Unpickles by evaluating ``code``: what a malicious encoder.pkl can do."""

    def __init__(self, code):
        self.code = code

    def __reduce__(self):
        return eval, (self.code,)


def _mlp_encoder_code(marker, config_expression):
    # Touch the marker, then return a working encoder so that the opted-in load succeeds.
    return (
        f"(__import__('pathlib').Path({str(marker)!r}).touch(), "
        "__import__('pythae.models.nn.default_architectures', fromlist=['x'])"
        f".Encoder_VAE_MLP({config_expression}))[1]"
    )


def plant_pickle(folder, marker, config_expression):
    """Turn a saved model folder into one that claims a custom encoder stored as a booby-trapped pickle."""
    with open(folder / "model_config.json") as f:
        config = json.load(f)
    config["uses_default_encoder"] = False
    with open(folder / "model_config.json", "w") as f:
        json.dump(config, f)
    with open(folder / "encoder.pkl", "wb") as f:
        pickle.dump(Payload(_mlp_encoder_code(marker, config_expression)), f)


T3_CONFIG = "__import__('pythae_t3cvae').T3CVAEConfig(input_dim=(1, 8, 8), latent_dim=2)"


@pytest.fixture
def planted(tmp_path):
    """A T3CVAE folder (pythae's MLPs) with a planted encoder.pkl, and the marker it would create."""
    torch.manual_seed(0)
    model = T3CVAE(T3CVAEConfig(input_dim=(1, 8, 8), latent_dim=2, n_classes=3))
    folder = tmp_path / "model"
    model.save(str(folder))
    marker = tmp_path / "pwned"
    plant_pickle(folder, marker, T3_CONFIG)
    return model, folder, marker


@pytest.mark.parametrize("load", [
    lambda path: T3CVAE.load_from_folder(path),
    lambda path: AutoModel.load_from_folder(path),
    lambda path: AutoModel.load_from_folder(path, allow_pickle=False),
], ids=["T3CVAE", "AutoModel", "AutoModel-explicit-false"])
def test_planted_pickle_is_not_run_without_opt_in(planted, load):
    _, folder, marker = planted
    with pytest.raises(ValueError, match="allow_pickle=True") as error:
        load(str(folder))
    assert "encoder.pkl" in str(error.value)
    assert not marker.exists()


@pytest.mark.parametrize("load", [T3CVAE.load_from_folder, AutoModel.load_from_folder], ids=["T3CVAE", "AutoModel"])
def test_planted_pickle_loads_with_opt_in(planted, load):
    model, folder, marker = planted
    with pytest.warns(UserWarning, match="unpickling"):
        loaded = load(str(folder), allow_pickle=True)
    assert marker.exists()  # the user asked for it
    assert isinstance(loaded, T3CVAE)
    for key, value in model.state_dict().items():
        assert torch.equal(loaded.state_dict()[key], value)


def test_named_network_folder_has_no_pickle_and_loads(tmp_path):
    model = T3CVAE(T3CVAEConfig(input_dim=(1, 8, 8), latent_dim=2, n_classes=3, network="conv8"))
    model.save(str(tmp_path))
    assert not [name for name in os.listdir(tmp_path) if name.endswith(".pkl")]
    loaded = AutoModel.load_from_folder(str(tmp_path))
    assert loaded.model_config.network == "conv8"


def test_pickled_weights_are_rejected(planted):
    _, folder, marker = planted
    torch.save({"model_state_dict": Payload(f"__import__('pathlib').Path({str(marker)!r}).touch()")},
               folder / "model.pt")
    with pytest.raises(pickle.UnpicklingError):
        T3CVAE.load_from_folder(str(folder), allow_pickle=True)
    assert not marker.exists()


def test_pythae_model_honours_explicit_allow_pickle_false(tmp_path):
    torch.manual_seed(0)
    VAE(VAEConfig(input_dim=(1, 8, 8), latent_dim=2)).save(str(tmp_path / "vae"))
    marker = tmp_path / "pwned"
    plant_pickle(tmp_path / "vae", marker, "__import__('pythae.models', fromlist=['x']).VAEConfig("
                 "input_dim=(1, 8, 8), latent_dim=2)")
    with pytest.raises(ValueError, match="encoder.pkl"):
        AutoModel.load_from_folder(str(tmp_path / "vae"), allow_pickle=False)
    assert not marker.exists()
    loaded = AutoModel.load_from_folder(str(tmp_path / "vae"), allow_pickle=True)
    assert isinstance(loaded, VAE) and marker.exists()


# Hugging Face hub -----------------------------------------------------------------------------------


@pytest.fixture
def fake_hub(tmp_path, monkeypatch):
    """A stand-in huggingface_hub: repositories are folders under tmp_path/hub, downloads are copies."""
    hub = types.ModuleType("huggingface_hub")
    hub.__spec__ = importlib.machinery.ModuleSpec("huggingface_hub", None)  # pythae looks for it
    hub.requested = []

    def repo_folder(repo_id):
        return tmp_path / "hub" / repo_id.replace("/", "--")

    def hf_hub_download(repo_id, filename, **kwargs):
        hub.requested.append(filename)
        source = repo_folder(repo_id) / filename
        if not source.is_file():
            raise FileNotFoundError(f"{filename} not in {repo_id}")
        target = tmp_path / "cache" / repo_id.replace("/", "--") / filename
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(source, target)
        return str(target)

    class CommitOperationAdd:
        def __init__(self, path_in_repo, path_or_fileobj):
            self.path_in_repo, self.path_or_fileobj = path_in_repo, path_or_fileobj

    class HfApi:
        def create_commit(self, commit_message, repo_id, operations, **kwargs):
            folder = repo_folder(repo_id)
            folder.mkdir(parents=True, exist_ok=True)
            for operation in operations:
                shutil.copy(operation.path_or_fileobj, folder / operation.path_in_repo)

    hub.hf_hub_download, hub.HfApi, hub.CommitOperationAdd = hf_hub_download, HfApi, CommitOperationAdd
    hub.repo_folder = repo_folder
    monkeypatch.setitem(sys.modules, "huggingface_hub", hub)
    return hub


def test_push_then_load_from_hub_without_pickle(fake_hub):
    torch.manual_seed(0)
    model = T3CVAE(T3CVAEConfig(input_dim=(1, 8, 8), latent_dim=2, n_classes=3, network="conv8"))
    model.push_to_hf_hub("someone/t3cvae")
    pushed = sorted(os.listdir(fake_hub.repo_folder("someone/t3cvae")))
    assert pushed == ["README.md", "environment.json", "model.pt", "model_config.json"]

    for load in (T3CVAE.load_from_hf_hub, AutoModel.load_from_hf_hub):
        fake_hub.requested.clear()
        loaded = load("someone/t3cvae")
        assert isinstance(loaded, T3CVAE)
        assert "encoder.pkl" not in fake_hub.requested
        for key, value in model.state_dict().items():
            assert torch.equal(loaded.state_dict()[key], value)


def test_hub_pickle_needs_opt_in(planted, fake_hub):
    _, folder, marker = planted
    shutil.copytree(folder, fake_hub.repo_folder("someone/trap"))
    for load in (T3CVAE.load_from_hf_hub, AutoModel.load_from_hf_hub):
        fake_hub.requested.clear()
        with pytest.raises(ValueError, match="allow_pickle=True"):
            load("someone/trap")
        assert "encoder.pkl" not in fake_hub.requested
    assert not marker.exists()

    with pytest.warns(UserWarning, match="unpickling"):
        loaded = T3CVAE.load_from_hf_hub("someone/trap", allow_pickle=True)
    assert isinstance(loaded, T3CVAE) and marker.exists()


def test_hub_without_huggingface_hub_is_a_clear_error(monkeypatch):
    monkeypatch.setitem(sys.modules, "huggingface_hub", None)
    for load in (T3CVAE.load_from_hf_hub, AutoModel.load_from_hf_hub):
        with pytest.raises(ModuleNotFoundError, match="pip install huggingface_hub"):
            load("someone/t3cvae")
    model = T3CVAE(T3CVAEConfig(input_dim=(1, 8, 8), latent_dim=2, n_classes=3))
    with pytest.raises(ModuleNotFoundError, match="huggingface_hub"):
        model.push_to_hf_hub("someone/t3cvae")


@pytest.mark.slow
def test_hub_offline_is_a_clear_error(tmp_path):
    """The real huggingface_hub in offline mode: a missing file, not a NameError (no network used)."""
    pytest.importorskip("huggingface_hub")
    code = (
        "import pythae_t3cvae\n"
        "from pythae.models import AutoModel\n"
        "for load in (pythae_t3cvae.T3CVAE.load_from_hf_hub, AutoModel.load_from_hf_hub):\n"
        "    try:\n"
        "        load('someone/t3cvae')\n"
        "    except FileNotFoundError as error:\n"
        "        print(type(error).__name__)\n"
    )
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_HOME": str(tmp_path)}
    result = subprocess.run([sys.executable, "-c", code], env=env, cwd=ROOT, capture_output=True,
                            text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["LocalEntryNotFoundError"] * 2
