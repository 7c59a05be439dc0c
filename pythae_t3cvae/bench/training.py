"""Resumable training of one grid model with pythae's trainer.

A run folder contains pythae's training folders (``<Model>_training_<time>/checkpoint_epoch_<k>/``) and,
once finished, ``final_model/`` and ``done.json``. A rerun skips finished runs and continues an
interrupted one from its newest checkpoint, optimizer state included, until the requested number of
epochs is reached.
"""

import glob
import json
import logging
import os
import re
import shutil
import time
from typing import Optional

import torch
from pythae.models.auto_model import AutoModel
from pythae.trainers import BaseTrainer, BaseTrainerConfig
from pythae.trainers.training_callbacks import TrainingCallback

logger = logging.getLogger(__name__)

DONE_FILE = "done.json"
FINAL_MODEL = "final_model"
_CHECKPOINT = re.compile(r"checkpoint_epoch_(\d+)$")


def load_model(folder: str):
    """Load a model folder written by this runner (pythae's or this package's models)."""
    # The grid's pythae VAE/BetaVAE pickle their networks; these folders are written by this runner.
    return AutoModel.load_from_folder(folder, allow_pickle=True)


def latest_checkpoint(run_dir: str):
    """Return (epoch, folder) of the newest complete checkpoint under ``run_dir``, or (0, None)."""
    best = (0, None)
    for folder in glob.glob(os.path.join(run_dir, "*_training_*", "checkpoint_epoch_*")):
        match = _CHECKPOINT.search(folder)
        complete = all(os.path.isfile(os.path.join(folder, f)) for f in ("model.pt", "optimizer.pt"))
        if match and complete and int(match.group(1)) > best[0]:
            best = (int(match.group(1)), folder)
    return best


class ResumableTrainer(BaseTrainer):
    """pythae's ``BaseTrainer`` that can start from a saved optimizer state and epoch.

    Checkpoints hold the current model (pythae's hold the best one so far), so that training resumes
    from exactly where it stopped, and they are numbered by global epoch.
    """

    def __init__(self, *args, start_epoch: int = 0, optimizer_state: Optional[dict] = None, **kwargs):
        self.start_epoch = start_epoch
        self._optimizer_state = optimizer_state
        super().__init__(*args, **kwargs)

    def set_optimizer(self):
        super().set_optimizer()
        if self._optimizer_state is not None:
            self.optimizer.load_state_dict(self._optimizer_state)

    def save_checkpoint(self, model, dir_path, epoch):
        super().save_checkpoint(self.model, dir_path, self.start_epoch + epoch)


class EpochLogger(TrainingCallback):
    """Log one plain line per epoch: run name, global epoch and losses."""

    def __init__(self, run_name: str, start_epoch: int, total_epochs: int):
        self.run_name, self.start_epoch, self.total_epochs = run_name, start_epoch, total_epochs

    def on_log(self, training_config, logs, **kwargs):
        epoch = self.start_epoch + kwargs.get("global_step", 0)
        losses = ", ".join(f"{key}={value:.4f}" for key, value in logs.items())
        logger.info("%s: epoch %d/%d %s", self.run_name, epoch, self.total_epochs, losses)


def train_run(
    build_model,
    train_dataset,
    run_dir: str,
    epochs: int,
    batch_size: int,
    learning_rate: float,
    seed: int,
    device: str,
    checkpoint_every: int = 1,
    run_name: str = "",
):
    """Train (or resume, or skip) one run and return ``(model, status)``.

    ``status`` is "skipped" for a finished run, "resumed" or "trained".
    """
    final_dir = os.path.join(run_dir, FINAL_MODEL)
    if os.path.isfile(os.path.join(run_dir, DONE_FILE)):
        return load_model(final_dir), "skipped"

    # 1. Start from the newest checkpoint, if any.
    start_epoch, checkpoint = latest_checkpoint(run_dir)
    optimizer_state = None
    if checkpoint is not None and start_epoch < epochs:
        model = load_model(checkpoint)
        optimizer_state = torch.load(os.path.join(checkpoint, "optimizer.pt"), map_location="cpu", weights_only=True)
        logger.info("%s: resuming from %s (epoch %d of %d)", run_name, checkpoint, start_epoch, epochs)
    else:
        start_epoch = 0
        torch.manual_seed(seed)
        model = build_model()

    # 2. Train the remaining epochs with pythae's trainer (AdamW, as the reference runs).
    config = BaseTrainerConfig(
        output_dir=run_dir,
        num_epochs=epochs - start_epoch,
        per_device_train_batch_size=batch_size,
        per_device_eval_batch_size=batch_size,
        learning_rate=learning_rate,
        optimizer_cls="AdamW",
        steps_saving=checkpoint_every,
        seed=seed + start_epoch,
        no_cuda=(device == "cpu"),
    )
    trainer = ResumableTrainer(
        model=model,
        train_dataset=train_dataset,
        training_config=config,
        callbacks=[EpochLogger(run_name, start_epoch, epochs)],
        start_epoch=start_epoch,
        optimizer_state=optimizer_state,
    )
    started = time.time()
    trainer.train()

    # 3. Keep the final model where reruns look for it, then mark the run as done.
    if os.path.isdir(final_dir):
        shutil.rmtree(final_dir)
    shutil.copytree(os.path.join(trainer.training_dir, FINAL_MODEL), final_dir)
    with open(os.path.join(run_dir, DONE_FILE), "w") as f:
        json.dump({"epochs": epochs, "resumed_from_epoch": start_epoch, "seconds": time.time() - started}, f)

    model = load_model(final_dir)
    return model, ("resumed" if start_epoch else "trained")
