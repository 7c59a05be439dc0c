#!/usr/bin/env python
"""Check that T3VAE, T3CVAE and CVAE train and sample on CUDA.

For each model (network "conv32" at width 0.25, input (3, 32, 32)) the script trains a few steps
through pythae's TrainingPipeline on random labelled images, which pythae runs on CUDA whenever
CUDA is available. It then checks that the parameters, the latent draws (``draw_latents``) and the
generated images are on that device, that a same-seed draw repeats, and that a forward pass under
``torch.autocast`` gives a finite loss.

Without CUDA it prints that and runs the same checks on the CPU (autocast in bfloat16 there).

Usage:  python scripts/gpu_check.py
Prints one line per check. Exit status: 0 when every check passes, 1 otherwise.
"""

import logging
import sys
import tempfile
import traceback

import torch
from pythae.data.datasets import BaseDataset
from pythae.pipelines import TrainingPipeline
from pythae.trainers import BaseTrainerConfig

from pythae_t3cvae import (
    CVAE,
    T3CVAE,
    T3VAE,
    ClassMixtureSampler,
    CVAEConfig,
    T3CVAEConfig,
    T3Sampler,
    T3VAEConfig,
)

INPUT_DIM = (3, 32, 32)
LATENT_DIM = 16
N_CLASSES = 4
N_IMAGES = 64
BATCH_SIZE = 16  # N_IMAGES / BATCH_SIZE = 4 training steps
N_GENERATED = 24


class CheckLog:
    """Print one PASS or FAIL line per check and remember whether any failed."""

    def __init__(self):
        self.failures = 0

    def check(self, name: str, passed: bool, detail: str = "") -> bool:
        status = "PASS" if passed else "FAIL"
        print(f"[{status}] {name}" + (f": {detail}" if detail else ""), flush=True)
        self.failures += not passed
        return passed


def build_models():
    common = dict(input_dim=INPUT_DIM, latent_dim=LATENT_DIM, network="conv32", network_width=0.25)
    conditional = dict(common, n_classes=N_CLASSES, class_counts=[N_IMAGES // N_CLASSES] * N_CLASSES)
    return [
        ("T3VAE", T3VAE(T3VAEConfig(**common)), T3Sampler),
        ("T3CVAE", T3CVAE(T3CVAEConfig(**conditional)), ClassMixtureSampler),
        ("CVAE", CVAE(CVAEConfig(**conditional)), ClassMixtureSampler),
    ]


def random_dataset() -> BaseDataset:
    """Random images in [0, 1] with every class equally often."""
    generator = torch.Generator().manual_seed(0)
    images = torch.rand(N_IMAGES, *INPUT_DIM, generator=generator)
    labels = torch.arange(N_IMAGES) % N_CLASSES
    return BaseDataset(images, labels)


def train_a_few_steps(model, dataset, output_dir) -> None:
    config = BaseTrainerConfig(
        output_dir=output_dir, num_epochs=1, per_device_train_batch_size=BATCH_SIZE, learning_rate=1e-4
    )
    TrainingPipeline(model=model, training_config=config)(train_data=dataset)


def on_device(tensor, device_type: str) -> bool:
    return tensor.device.type == device_type


def check_model(log: CheckLog, name, model, sampler_cls, dataset, device_type: str, output_dir) -> None:
    # 1. Training through pythae, which places the model itself.
    train_a_few_steps(model, dataset, output_dir)
    parameter_devices = {p.device.type for p in model.parameters()}
    log.check(f"{name}: parameters on {device_type} after training", parameter_devices == {device_type},
              f"devices {sorted(parameter_devices)}")

    # 2. Latent draws and generated images on the model's device.
    sampler = sampler_cls(model)
    log.check(f"{name}: sampler device is {device_type}", sampler.device.type == device_type,
              f"got {sampler.device}")
    conditional = isinstance(sampler, ClassMixtureSampler)
    labels = torch.arange(N_GENERATED, device=sampler.device) % N_CLASSES if conditional else None

    def draw(seed):
        generator = torch.Generator(device=sampler.device).manual_seed(seed)
        return sampler.draw_latents(labels, N_GENERATED, generator)

    z = draw(0)
    log.check(f"{name}: draw_latents on {device_type}", on_device(z, device_type), f"got {z.device}")
    log.check(f"{name}: draw_latents shape", tuple(z.shape) == (N_GENERATED, LATENT_DIM), f"got {tuple(z.shape)}")
    log.check(f"{name}: draw_latents same seed repeats", torch.equal(z, draw(0)))
    log.check(f"{name}: draw_latents other seed differs", not torch.equal(z, draw(1)))

    images, sample_labels = sampler.sample(N_GENERATED, batch_size=8, seed=3, return_labels=True)
    log.check(f"{name}: images on {device_type}", on_device(images, device_type), f"got {images.device}")
    log.check(f"{name}: images finite, shape {(N_GENERATED, *INPUT_DIM)}",
              tuple(images.shape) == (N_GENERATED, *INPUT_DIM) and bool(torch.isfinite(images).all()))
    if conditional:
        log.check(f"{name}: labels on {device_type}", on_device(sample_labels, device_type),
                  f"got {sample_labels.device}")

    again, again_labels = sampler.sample(N_GENERATED, batch_size=8, seed=3, return_labels=True)
    difference = (images - again).abs().max().item()
    log.check(f"{name}: same seed gives the same images", difference <= 1e-5, f"max difference {difference:.2e}")
    if conditional:
        log.check(f"{name}: same seed gives the same labels", torch.equal(sample_labels, again_labels))

    # 3. A forward pass under autocast.
    batch = {"data": dataset.data[:BATCH_SIZE].to(sampler.device),
             "labels": dataset.labels[:BATCH_SIZE].to(sampler.device)}
    autocast_dtype = torch.float16 if device_type == "cuda" else torch.bfloat16
    model.train()
    with torch.autocast(device_type, dtype=autocast_dtype):
        loss = model(batch).loss
    log.check(f"{name}: loss finite under autocast({device_type}, {autocast_dtype})",
              bool(torch.isfinite(loss).all()), f"loss {loss.item():.4g}")
    model.eval()


def main() -> int:
    logging.getLogger("pythae").setLevel(logging.WARNING)
    if torch.cuda.is_available():
        device_type = "cuda"
        print(f"CUDA is available ({torch.cuda.get_device_name(0)}): running the checks on CUDA")
    else:
        device_type = "cpu"
        print("CUDA is not available: running the same checks on the CPU")

    log = CheckLog()
    dataset = random_dataset()
    with tempfile.TemporaryDirectory() as output_dir:
        for name, model, sampler_cls in build_models():
            try:
                check_model(log, name, model, sampler_cls, dataset, device_type, output_dir)
            except Exception:  # one model's crash is reported as a failed check; the others still run
                log.check(f"{name}: checks ran without an exception", False, traceback.format_exc().strip())

    print(f"{log.failures} check(s) failed" if log.failures else "all checks passed")
    return 1 if log.failures else 0


if __name__ == "__main__":
    sys.exit(main())
