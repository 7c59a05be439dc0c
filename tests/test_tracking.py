"""Tracking callbacks: the logged loss terms and class-mean spread, read back from MLflow's file store."""

import math
import os
import sys
import types

import pytest
import torch
from pythae.data.datasets import BaseDataset
from pythae.models import VAE, VAEConfig
from pythae.trainers import BaseTrainer, BaseTrainerConfig

from pythae_t3cvae import CVAE, T3CVAE, CVAEConfig, T3CVAEConfig
from pythae_t3cvae.tracking import (
    LossTermsCallback,
    MLflowLossTermsCallback,
    WandbLossTermsCallback,
    class_mean_spread,
)

# MLflow sends no usage reports. Its file store, which MLflow 3 accepts only on request, is enabled per test.
os.environ["MLFLOW_DISABLE_TELEMETRY"] = "true"
os.environ["DO_NOT_TRACK"] = "true"
mlflow = pytest.importorskip("mlflow")

COUNTS = [8, 4, 4]  # 16 training images in two full batches of 8, so the mean of batch means is the set's
EPS = 0.5


def deterministic_t3_posterior(self, mu, log_var):
    scale = math.sqrt(self.model_config.nu / (self.model_config.nu + self.data_dim))
    return mu + EPS * scale * torch.exp(0.5 * log_var)


def labelled_data(n_per_class, seed):
    generator = torch.Generator().manual_seed(seed)
    y = torch.cat([torch.full((c,), k) for k, c in enumerate(n_per_class)])
    x = torch.rand(len(y), 1, 4, 4, generator=generator)
    return BaseDataset(x, y.float())


def t3cvae(**overrides):
    torch.manual_seed(0)
    config = dict(input_dim=(1, 4, 4), latent_dim=2, n_classes=3, nu=5.0, beta=0.5, class_counts=COUNTS)
    return T3CVAE(T3CVAEConfig(**{**config, **overrides}))


def train(model, output_dir, callback, epochs=2, eval_dataset=None, **config):
    settings = dict(
        output_dir=str(output_dir), num_epochs=epochs, per_device_train_batch_size=8,
        per_device_eval_batch_size=4, no_cuda=True, steps_saving=None, seed=3,
    )
    trainer = BaseTrainer(
        model, labelled_data(COUNTS, 1), eval_dataset,
        BaseTrainerConfig(**{**settings, **config}), callbacks=[callback],
    )
    trainer.train()
    return trainer


@pytest.fixture
def file_store(tmp_path, monkeypatch):
    monkeypatch.setenv("MLFLOW_ALLOW_FILE_STORE", "true")
    uri = "file:" + str(tmp_path / "mlruns")
    yield uri
    while mlflow.active_run() is not None:
        mlflow.end_run()


def history(uri, run_id, name):
    client = mlflow.tracking.MlflowClient(tracking_uri=uri)
    return [(m.step, m.value) for m in sorted(client.get_metric_history(run_id, name), key=lambda m: m.step)]


def spread_by_hand(class_means):
    rows = class_means.detach().double()
    distances = [
        float(torch.sqrt(((rows[i] - rows[j]) ** 2).sum()))
        for i in range(len(rows)) for j in range(i + 1, len(rows))
    ]
    return sum(distances) / len(distances)


def terms_by_hand(model, dataset):
    """Weighted recon and reg terms of the whole set in one pass, the recon term from the formula."""
    x, y = dataset.data, dataset.labels.long()
    with torch.no_grad():
        encoded = model.encoder(x)
        z = model.sample_posterior(encoded.embedding, encoded.log_covariance)
        squared_error = ((model.decoder(z)["reconstruction"] - x) ** 2).flatten(1).sum(1)
        weights = sum(COUNTS) / (len(COUNTS) * torch.tensor(COUNTS, dtype=torch.float)[y])
        recon = float((weights * squared_error / model.model_config.sigma ** 2).mean())
        reg = float(model({"data": x, "labels": y}).reg_loss)
    return recon, reg


def test_logged_terms_equal_independent_computation(tmp_path, file_store, monkeypatch):
    """With learning rate 0 and a deterministic draw, each epoch's mean of batch terms is the set's mean."""
    monkeypatch.setattr(T3CVAE, "sample_posterior", deterministic_t3_posterior)
    model = t3cvae()
    eval_data = labelled_data([4, 4, 4], 2)
    callback = MLflowLossTermsCallback(tracking_uri=file_store, experiment_name="exact")
    train(model, tmp_path / "out", callback, eval_dataset=eval_data, learning_rate=0.0, optimizer_cls="SGD")

    recon, reg = terms_by_hand(model, labelled_data(COUNTS, 1))
    eval_recon, eval_reg = terms_by_hand(model, eval_data)
    expected = {
        "train/recon_loss": recon, "train/reg_loss": reg, "train/epoch_loss": recon + 0.5 * reg,
        "eval/recon_loss": eval_recon, "eval/reg_loss": eval_reg, "eval/epoch_loss": eval_recon + 0.5 * eval_reg,
        "class_mean_spread": spread_by_hand(model.class_means),
    }
    for name, value in expected.items():
        logged = history(file_store, callback.run_id, name)
        assert [step for step, _ in logged] == [1, 2], name
        for _, logged_value in logged:
            assert logged_value == pytest.approx(value, rel=1e-5), name


def test_spread_matches_saved_model(tmp_path, file_store):
    model = t3cvae()
    callback = MLflowLossTermsCallback(tracking_uri=file_store, experiment_name="training", run_name="t3")
    trainer = train(model, tmp_path / "out", callback, epochs=3, learning_rate=0.05)

    client = mlflow.tracking.MlflowClient(tracking_uri=file_store)
    run = client.get_run(callback.run_id)
    assert run.info.status == "FINISHED"
    assert run.info.run_name == "t3"
    assert run.data.params["model.nu"] == "5.0"
    assert set(run.data.metrics) == {
        "train/recon_loss", "train/reg_loss", "train/epoch_loss", "class_mean_spread"
    }
    for name in run.data.metrics:
        logged = history(file_store, callback.run_id, name)
        assert [step for step, _ in logged] == [1, 2, 3]
        assert all(math.isfinite(value) for _, value in logged)

    # The spread of the last epoch is that of the model as training left it, saved and reloaded.
    trainer.model.save(str(tmp_path / "last"))
    reloaded = T3CVAE.load_from_folder(str(tmp_path / "last"))
    spreads = history(file_store, callback.run_id, "class_mean_spread")
    assert spreads[-1][1] == pytest.approx(spread_by_hand(reloaded.class_means), rel=1e-6)
    assert spreads[0][1] != spreads[-1][1]  # the class means moved
    # The hook is gone once training ends.
    assert not model._forward_hooks


def test_active_run_with_pythae_vae(tmp_path, file_store):
    mlflow.set_tracking_uri(file_store)
    mlflow.set_experiment("user run")
    with mlflow.start_run() as run:
        callback = MLflowLossTermsCallback(log_epoch_loss=False)
        torch.manual_seed(0)
        train(VAE(VAEConfig(input_dim=(1, 4, 4), latent_dim=2)), tmp_path / "out", callback)
        assert mlflow.active_run().info.run_id == run.info.run_id  # not ended by the callback
    assert callback.run_id == run.info.run_id
    metrics = mlflow.tracking.MlflowClient(file_store).get_run(run.info.run_id).data.metrics
    assert set(metrics) == {"train/recon_loss", "train/reg_loss"}


def test_class_mean_spread():
    model = t3cvae()
    assert class_mean_spread(model) == pytest.approx(spread_by_hand(model.class_means), rel=1e-9)
    assert class_mean_spread(VAE(VAEConfig(input_dim=(1, 4, 4), latent_dim=2))) is None


class FakeRun:
    def __init__(self, **kwargs):
        self.init_kwargs, self.logged, self.defined, self.finished = kwargs, [], [], False

    def log(self, data):
        self.logged.append(dict(data))

    def define_metric(self, *args, **kwargs):
        self.defined.append((args, kwargs))

    def finish(self):
        self.finished = True


def test_wandb_offline_run_gets_terms_per_epoch(tmp_path, monkeypatch):
    fake = types.ModuleType("wandb")
    fake.run = None
    fake.init = lambda **kwargs: FakeRun(**kwargs)
    monkeypatch.setitem(sys.modules, "wandb", fake)

    callback = WandbLossTermsCallback(project="p", mode="offline", dir=str(tmp_path))
    torch.manual_seed(0)
    model = CVAE(CVAEConfig(input_dim=(1, 4, 4), latent_dim=2, n_classes=3, class_counts=COUNTS))
    train(model, tmp_path / "out", callback)

    run = callback.run
    assert run.init_kwargs["mode"] == "offline"
    assert run.init_kwargs["project"] == "p"
    assert run.init_kwargs["config"]["model_config"]["n_classes"] == 3
    assert [entry["train/global_step"] for entry in run.logged] == [1, 2]
    for entry in run.logged:
        assert {"train/recon_loss", "train/reg_loss", "train/epoch_loss", "class_mean_spread"} <= set(entry)
        assert all(math.isfinite(value) for value in entry.values())
    assert run.finished


@pytest.mark.parametrize("module, factory", [
    ("wandb", WandbLossTermsCallback), ("mlflow", MLflowLossTermsCallback),
])
def test_missing_tracking_library_names_the_install(monkeypatch, module, factory):
    monkeypatch.setitem(sys.modules, module, None)
    with pytest.raises(ModuleNotFoundError, match=f"pip install {module}"):
        factory()


class RecordingCallback(LossTermsCallback):
    def __init__(self):
        super().__init__()
        self.events = []

    def start(self, training_config, model_config):
        self.events.append("start")

    def log(self, metrics, step):
        self.events.append(("log", step))

    def finish(self):
        self.events.append("finish")


def test_only_rank_zero_logs(tmp_path):
    model = t3cvae()
    for rank, expected in ((1, []), (0, ["start", ("log", 1), "finish"])):
        callback = RecordingCallback()
        config = BaseTrainerConfig(output_dir=str(tmp_path), rank=rank)
        callback.on_train_begin(config, model=model)
        model.train()
        model({"data": torch.rand(2, 1, 4, 4), "labels": torch.tensor([0, 1])})
        callback.on_log(config, {"train_epoch_loss": 1.0}, global_step=1, model=model)
        callback.on_train_end(config, model=model)
        assert callback.events == expected


def test_callback_without_model_is_a_clear_error(tmp_path):
    with pytest.raises(ValueError, match="needs the model"):
        RecordingCallback().on_train_begin(BaseTrainerConfig(output_dir=str(tmp_path)))
