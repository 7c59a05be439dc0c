"""Distributed training on CPU through pythae's trainer (gloo), checked against one process.

Two ranks with per-device batch B take the same SGD steps as one process on the concatenated batch
of 2B samples under these conditions:

- DDP averages the gradients of per-rank batch means, and the batch sizes are equal;
- the sample weights are fixed (uniform class weighting from ``class_counts``);
- the single process visits the same pairs of batches as the ranks (``DistributedSampler`` with
  ``set_epoch``);
- there is no BatchNorm (pythae's MLPs);
- the posterior draw is the same in both runs (here deterministic).

The ranks meet through a file (``init_method="file://..."``) and gloo talks over the loopback
interface only, so nothing listens on any other address.
"""

import math
import os
import subprocess
import sys

import pytest
import torch
import torch.multiprocessing as mp
from pythae.data.datasets import BaseDataset, DatasetOutput
from pythae.trainers import BaseTrainerConfig
from torch.utils.data.distributed import DistributedSampler

from pythae_t3cvae import T3CVAE, T3CVAEConfig
from pythae_t3cvae.distributed import DistributedTrainer

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
WORLD, BATCH, EPOCHS, N = 2, 4, 2, 24
COUNTS = [12, 8, 4]
LR, MOMENTUM = 0.05, 0.9
EPS = 0.5  # the fixed "noise" of the deterministic posterior draw


def deterministic_t3_posterior(self, mu, log_var):
    """The t3 posterior draw with a fixed standardised draw EPS instead of random noise."""
    scale = math.sqrt(self.model_config.nu / (self.model_config.nu + self.data_dim))
    return mu + EPS * scale * torch.exp(0.5 * log_var)


def make_data():
    generator = torch.Generator().manual_seed(1)
    x = torch.rand(N, 1, 4, 4, generator=generator)
    y = torch.cat([torch.full((c,), k) for k, c in enumerate(COUNTS)])
    y = y[torch.randperm(N, generator=generator)]
    return x, y


def make_model(class_counts):
    torch.manual_seed(0)
    config = T3CVAEConfig(input_dim=(1, 4, 4), latent_dim=2, n_classes=3, nu=5.0, class_counts=class_counts)
    return T3CVAE(config)


def training_config(output_dir, **distributed):
    return BaseTrainerConfig(
        output_dir=output_dir, num_epochs=EPOCHS, per_device_train_batch_size=BATCH,
        optimizer_cls="SGD", optimizer_params={"momentum": MOMENTUM}, learning_rate=LR,
        no_cuda=True, steps_saving=None, **distributed,
    )


def _worker(rank, folder):
    """One rank: train with class_counts, then without, saving this rank's final parameters."""
    torch.set_num_threads(1)
    os.environ["GLOO_SOCKET_IFNAME"] = "lo"
    T3CVAE.sample_posterior = deterministic_t3_posterior
    x, y = make_data()
    for tag, counts in (("counts", COUNTS), ("batch", None)):
        # pythae's default backend, nccl, is left in the config: the trainer must switch to gloo.
        config = training_config(folder, world_size=WORLD, rank=rank, local_rank=rank)
        trainer = DistributedTrainer(
            make_model(counts), BaseDataset(x, y.float()), training_config=config,
            init_method=f"file://{folder}/rendezvous_{tag}",
        )
        trainer.train()
        torch.save(
            {"state": trainer.model.module.state_dict(), "backend": config.dist_backend},
            os.path.join(folder, f"{tag}_rank{rank}.pt"),
        )


def reference_run(class_counts):
    """One process, SGD on the ranks' batches concatenated, in the order DistributedSampler gives."""
    x, y = make_data()
    model = make_model(class_counts)
    optimizer = torch.optim.SGD(model.parameters(), lr=LR, momentum=MOMENTUM)
    model.train()
    for epoch in range(1, EPOCHS + 1):
        per_rank = []
        for rank in range(WORLD):
            sampler = DistributedSampler(range(N), num_replicas=WORLD, rank=rank)
            sampler.set_epoch(epoch)
            indices = list(sampler)
            per_rank.append([indices[i:i + BATCH] for i in range(0, len(indices), BATCH)])
        for step_batches in zip(*per_rank):
            index = torch.tensor(sum(step_batches, []))
            loss = model(DatasetOutput(data=x[index], labels=y[index])).loss
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
    return model.state_dict()


@pytest.fixture(scope="module")
def distributed_results(tmp_path_factory):
    folder = str(tmp_path_factory.mktemp("ddp"))
    # DDP imports torch._dynamo on first use; importing it here once lets the forked ranks skip it.
    import torch._dynamo  # noqa: F401

    mp.start_processes(_worker, args=(folder,), nprocs=WORLD, start_method="fork", join=True)
    return {
        (tag, rank): torch.load(os.path.join(folder, f"{tag}_rank{rank}.pt"), weights_only=True)
        for tag in ("counts", "batch") for rank in range(WORLD)
    }


def _max_difference(a, b):
    return max(float((a[key] - b[key]).abs().max()) for key in a)


def test_two_ranks_match_one_process(distributed_results, monkeypatch):
    monkeypatch.setattr(T3CVAE, "sample_posterior", deterministic_t3_posterior)
    rank0 = distributed_results[("counts", 0)]
    rank1 = distributed_results[("counts", 1)]
    assert rank0["backend"] == "gloo"

    # The ranks agree, and they agree with one process on the concatenated batches.
    assert _max_difference(rank0["state"], rank1["state"]) == 0.0
    reference = reference_run(COUNTS)
    for key, value in reference.items():
        torch.testing.assert_close(rank0["state"][key], value, rtol=1e-5, atol=1e-6, msg=key)

    # The comparison is not trivial: training moved the parameters well beyond the tolerance.
    assert _max_difference(reference, make_model(COUNTS).state_dict()) > 1e-2


def test_batch_class_weights_break_the_match(distributed_results, monkeypatch):
    """Without class_counts each rank weights by its own batch counts: no longer the same steps."""
    monkeypatch.setattr(T3CVAE, "sample_posterior", deterministic_t3_posterior)
    rank0 = distributed_results[("batch", 0)]["state"]
    assert _max_difference(rank0, distributed_results[("batch", 1)]["state"]) == 0.0
    with pytest.warns(UserWarning, match="class_counts is not set"):
        reference = reference_run(None)
    assert _max_difference(rank0, reference) > 1e-4


def test_distributed_cpu_run_needs_a_rank():
    config = training_config("unused", world_size=2, rank=-1, local_rank=-1, dist_backend="gloo")
    x, y = make_data()
    with pytest.raises(ValueError, match="rank=-1"):
        DistributedTrainer(make_model(COUNTS), BaseDataset(x, y.float()), training_config=config,
                           init_method="file:///nonexistent/never-used")


def test_single_process_is_pythae_trainer(tmp_path):
    x, y = make_data()
    trainer = DistributedTrainer(make_model(COUNTS), BaseDataset(x, y.float()),
                                 training_config=training_config(str(tmp_path)))
    assert not trainer.distributed
    trainer.train()


@pytest.mark.slow
def test_example_script_runs_as_two_ranks(tmp_path):
    """The example script launched as two processes, as torchrun would (file rendezvous)."""
    config = tmp_path / "training.json"
    config.write_text(
        '{"name": "BaseTrainerConfig", "num_epochs": 1, "per_device_train_batch_size": 64, "no_cuda": true}'
    )
    env = {**os.environ, "WORLD_SIZE": "2", "GLOO_SOCKET_IFNAME": "lo", "OMP_NUM_THREADS": "1"}
    processes = [
        subprocess.Popen(
            [sys.executable, os.path.join(ROOT, "examples", "scripts", "training.py"),
             "--dataset", "digits-lt", "--model_name", "t3cvae", "--training_config", str(config),
             "--output_dir", str(tmp_path / "out"), "--init_method", f"file://{tmp_path}/rendezvous"],
            env={**env, "RANK": str(rank), "LOCAL_RANK": str(rank)},
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        )
        for rank in range(2)
    ]
    outputs = [p.communicate(timeout=300)[0] for p in processes]
    assert [p.returncode for p in processes] == [0, 0], outputs
    finals = list((tmp_path / "out").glob("T3CVAE_training_*/final_model/model.pt"))
    assert len(finals) == 1
