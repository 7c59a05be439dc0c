"""Distributed data-parallel training through pythae's own trainer, on CPU (gloo) as well as CUDA.

pythae 0.1.2 starts the process group only on CUDA and wraps the model as
``DDP(model, device_ids=[local_rank])``, which DDP rejects for a model on the CPU. ``DistributedTrainer``
fills that gap and otherwise leaves pythae's training loop, checkpoints and callbacks as they are.
Launch one process per rank with ``torchrun``; ``BaseTrainerConfig`` reads ``WORLD_SIZE``, ``RANK``,
``LOCAL_RANK``, ``MASTER_ADDR`` and ``MASTER_PORT`` from the environment.

Two changes apply on CUDA too, because pythae's loop gets them wrong for any device:

- the ``DistributedSampler`` is reshuffled every epoch (``set_epoch``); pythae never calls it, so every
  epoch visits the data in the same order;
- after pythae seeds every rank with ``seed``, each rank is reseeded with ``seed + rank``, so ranks draw
  different posterior noise and flips instead of the same draws for different images. Parameters are
  unaffected: DDP copies rank 0's parameters to every rank when it wraps the model.

DDP averages the gradients over ranks. So ``world_size`` ranks with ``per_device_train_batch_size`` B
each take the same step as one process on the concatenated batch of world_size * B samples, provided
the loss is a per-sample mean with fixed weights. For the conditional models that means setting
``class_counts``, because without it uniform class weighting uses each rank's own batch counts.
"""

import logging

import torch
import torch.distributed as dist
from pythae.trainers import BaseTrainer, BaseTrainerConfig
from pythae.trainers.trainer_utils import set_seed
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data.distributed import DistributedSampler

logger = logging.getLogger(__name__)

CPU_BACKEND = "gloo"


def _runs_on_cpu(training_config: BaseTrainerConfig) -> bool:
    return training_config.no_cuda or not torch.cuda.is_available()


class DistributedTrainer(BaseTrainer):
    """pythae's ``BaseTrainer`` whose distributed mode also works on CPU, with the gloo backend.

    With ``world_size`` <= 1 it is pythae's trainer, and with ``world_size`` > 1 on CUDA pythae's
    distributed path. On CPU (``no_cuda=True`` or no GPU) it starts the process group with gloo and
    wraps the model in DDP without device ids. An ``nccl`` setting, pythae's default, is replaced by
    gloo with a warning.

    Args:
        model, train_dataset, eval_dataset, training_config, callbacks: as for ``BaseTrainer``.
        init_method: how the ranks find each other, passed to ``torch.distributed.init_process_group``;
            ``"env://"`` (default, what torchrun sets up) or for example ``"file:///shared/rendezvous"``.
            Unused when the process group is already initialised.
    """

    def __init__(
        self,
        model,
        train_dataset,
        eval_dataset=None,
        training_config=None,
        callbacks=None,
        init_method: str = "env://",
    ):
        if training_config is None:
            training_config = BaseTrainerConfig()
        self.init_method = init_method

        if training_config.world_size <= 1 or not _runs_on_cpu(training_config):
            super().__init__(model, train_dataset, eval_dataset, training_config, callbacks)
            return

        if training_config.dist_backend != CPU_BACKEND:
            logger.warning(
                "dist_backend=%r needs CUDA, so this CPU run uses the %r backend instead",
                training_config.dist_backend, CPU_BACKEND,
            )
            training_config.dist_backend = CPU_BACKEND
        training_config.no_cuda = True
        self._init_process_group(training_config)

        # pythae would pass device_ids to DDP, so it builds the trainer as a single process on the
        # CPU, and the model and the loaders are distributed afterwards.
        world_size = training_config.world_size
        training_config.world_size = 1
        try:
            super().__init__(model, train_dataset, eval_dataset, training_config, callbacks)
        finally:
            training_config.world_size = world_size

        self.world_size = world_size
        self.distributed = True
        self.model = DistributedDataParallel(self.model)
        self.train_loader = self.get_train_dataloader(train_dataset)
        if eval_dataset is not None:
            self.eval_loader = self.get_eval_dataloader(eval_dataset)

    def _init_process_group(self, training_config) -> None:
        if dist.is_initialized():
            if dist.get_world_size() != training_config.world_size:
                raise ValueError(
                    f"the initialised process group has {dist.get_world_size()} ranks but "
                    f"training_config.world_size={training_config.world_size}: make them match"
                )
            return
        if training_config.rank < 0:
            raise ValueError(
                f"distributed training needs the rank of this process, got rank={training_config.rank}. "
                "Launch with torchrun (which sets RANK) or set BaseTrainerConfig(rank=...)"
            )
        dist.init_process_group(
            backend=training_config.dist_backend,
            init_method=self.init_method,
            world_size=training_config.world_size,
            rank=training_config.rank,
        )

    def _setup_devices(self):
        # The CUDA path: pythae starts the group with env:// only, so honour init_method first.
        if not self.training_config.no_cuda and not dist.is_initialized():
            torch.cuda.set_device(self.local_rank)
            self._init_process_group(self.training_config)
        return super()._setup_devices()

    def prepare_training(self):
        super().prepare_training()
        if self.distributed:
            set_seed(self.training_config.seed + max(self.rank, 0))

    def train_step(self, epoch: int):
        sampler = getattr(self.train_loader, "sampler", None)
        if isinstance(sampler, DistributedSampler):
            sampler.set_epoch(epoch)
        return super().train_step(epoch)
