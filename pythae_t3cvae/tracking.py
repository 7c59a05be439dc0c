"""Experiment tracking: per-epoch loss terms and class-mean spread, logged to MLflow or wandb.

pythae's ``MLFlowCallback`` and ``WandbCallback`` log the epoch loss only, and pythae gives callbacks
no model outputs (``on_train_step_end`` receives none). The callbacks here register a forward hook
on the model when training begins. The hook reads ``recon_loss`` and ``reg_loss`` from every output
of the trainer's own forward passes, so no extra pass is run and the logged numbers are the ones the
optimizer saw. Per epoch they log

    train/recon_loss, train/reg_loss    mean over the epoch's training batches (pythae averages its
                                        epoch loss the same way); with posterior noise, not a
                                        deterministic evaluation
    eval/recon_loss, eval/reg_loss      the same over the evaluation batches, when there is an eval set
    train/epoch_loss, eval/epoch_loss   pythae's epoch losses (``log_epoch_loss=False`` leaves them to
                                        pythae's own callback)
    class_mean_spread                   mean Euclidean distance between the rows of ``model.class_means``
                                        at the end of the epoch (conditional models only)

at step = epoch. Passes in training mode count as training and passes in eval mode as evaluation.
pythae's copies of the model (the best model, used for predictions) are not counted. Under DDP only
rank 0 logs, and its train/* terms cover rank 0's share of the data.

Both tracking libraries are imported when a callback is created, so neither is a dependency.
"""

import logging
import math
from collections import defaultdict
from typing import Dict, Optional

import torch
from pythae.trainers.training_callbacks import TrainingCallback

logger = logging.getLogger(__name__)

LOSS_TERMS = ("recon_loss", "reg_loss")
# pythae's log keys and the names its own callbacks log them under.
EPOCH_LOSSES = {"train_epoch_loss": "train/epoch_loss", "eval_epoch_loss": "eval/epoch_loss"}


def _unwrap(model):
    """Return the model inside a DistributedDataParallel wrapper, or the model itself."""
    return getattr(model, "module", model)


def class_mean_spread(model) -> Optional[float]:
    """Mean Euclidean distance over all pairs of rows of ``model.class_means``; None without class means."""
    means = getattr(_unwrap(model), "class_means", None)
    if means is None or means.shape[0] < 2:
        return None
    with torch.no_grad():
        return float(torch.pdist(means.detach().double()).mean())


class LossTermsRecorder:
    """Forward hook that sums the loss terms of one model's outputs, separately in train and eval mode."""

    def __init__(self):
        self._handle = None
        self._sums = defaultdict(float)
        self._counts = defaultdict(int)

    def reset(self) -> None:
        # Cleared in place, because the hook keeps references to these two dicts.
        self._sums.clear()
        self._counts.clear()

    def attach(self, model) -> None:
        """Start observing ``model`` (unwrapped from DDP), in place of any model observed before."""
        self.detach()
        target = _unwrap(model)
        sums, counts = self._sums, self._counts

        # A closure rather than a bound method, because pythae deep-copies the model with its hooks.
        # deepcopy keeps a function as the same object, so the copies call this hook and are skipped.
        def hook(module, args, output):
            if module is not target or not hasattr(output, "get"):
                return
            mode = "train" if module.training else "eval"
            for name in LOSS_TERMS:
                value = output.get(name)
                if value is not None:
                    key = f"{mode}/{name}"
                    sums[key] += float(value.detach().float().mean())
                    counts[key] += 1

        self._handle = target.register_forward_hook(hook)

    def detach(self) -> None:
        if self._handle is not None:
            self._handle.remove()
            self._handle = None

    def pop_means(self) -> Dict[str, float]:
        """Return the mean of every term since the last call, and start again from zero."""
        means = {key: self._sums[key] / self._counts[key] for key in self._counts}
        self.reset()
        return means


class LossTermsCallback(TrainingCallback):
    """Base class that collects the per-epoch metrics, which subclasses send to a tracking library."""

    def __init__(self, log_epoch_loss: bool = True):
        self.log_epoch_loss = log_epoch_loss
        self.recorder = LossTermsRecorder()
        #: every logged dict, as (epoch, metrics), kept on the logging rank
        self.history = []
        self._started = False

    # Hooks for the subclasses.

    def start(self, training_config, model_config) -> None:
        raise NotImplementedError

    def log(self, metrics: Dict[str, float], step: int) -> None:
        raise NotImplementedError

    def finish(self) -> None:
        raise NotImplementedError

    # pythae's callback events.

    @staticmethod
    def _is_main(training_config) -> bool:
        return training_config.rank in (-1, 0)

    def on_train_begin(self, training_config, **kwargs):
        model = kwargs.get("model")
        if model is None:
            raise ValueError(
                f"{type(self).__name__} needs the model: use it as a callback of a pythae trainer, "
                "which passes model= to every event"
            )
        self.recorder.attach(model)
        if self._is_main(training_config):
            self.start(training_config, kwargs.get("model_config"))
            self._started = True

    def on_epoch_begin(self, training_config, **kwargs):
        self.recorder.reset()

    def on_log(self, training_config, logs, **kwargs):
        metrics = self.recorder.pop_means()
        if self.log_epoch_loss:
            for key, name in EPOCH_LOSSES.items():
                if isinstance(logs.get(key), (int, float)):
                    metrics[name] = float(logs[key])
        spread = class_mean_spread(kwargs.get("model"))
        if spread is not None:
            metrics["class_mean_spread"] = spread

        bad = sorted(name for name, value in metrics.items() if not math.isfinite(value))
        if bad:
            logger.warning("non-finite values logged for %s", bad)
        if self._started:
            step = kwargs.get("global_step")
            self.history.append((step, dict(metrics)))
            self.log(metrics, step)

    def on_train_end(self, training_config, **kwargs):
        self.recorder.detach()
        if self._started:
            self.finish()
            self._started = False


def _flat_params(training_config, model_config) -> Dict[str, str]:
    params = {}
    for prefix, config in (("training", training_config), ("model", model_config)):
        if config is not None:
            for key, value in config.to_dict().items():
                params[f"{prefix}.{key}"] = str(value)[:500]
    return params


class MLflowLossTermsCallback(LossTermsCallback):
    """Log the per-epoch terms to MLflow (see the module docstring for the metric names).

    Logs into the active MLflow run when there is one, for example the run of pythae's
    ``MLFlowCallback``. Otherwise it starts a run and ends it when training ends.

    Args:
        tracking_uri: passed to ``mlflow.set_tracking_uri``; None keeps MLflow's setting. For a local
            folder without a server use ``"file:" + path`` (MLflow 3 also wants the environment
            variable ``MLFLOW_ALLOW_FILE_STORE=true`` for it) or ``"sqlite:///mlflow.db"``.
        experiment_name: MLflow experiment, created if missing; None keeps the current one.
        run_name: name of the run this callback starts.
        log_epoch_loss: also log pythae's train/eval epoch loss.
        log_params: log the training and model configs as run parameters.
    """

    def __init__(
        self,
        tracking_uri: Optional[str] = None,
        experiment_name: Optional[str] = None,
        run_name: Optional[str] = None,
        log_epoch_loss: bool = True,
        log_params: bool = True,
    ):
        super().__init__(log_epoch_loss)
        try:
            import mlflow
        except ImportError as error:
            raise ModuleNotFoundError(
                "MLflowLossTermsCallback needs mlflow: pip install mlflow-skinny (or mlflow)"
            ) from error
        self._mlflow = mlflow
        self.tracking_uri, self.experiment_name, self.run_name = tracking_uri, experiment_name, run_name
        self.log_params = log_params
        self.run_id = None
        self._own_run = False

    def start(self, training_config, model_config):
        mlflow = self._mlflow
        if self.tracking_uri is not None:
            mlflow.set_tracking_uri(self.tracking_uri)
        if self.experiment_name is not None:
            mlflow.set_experiment(self.experiment_name)
        run = mlflow.active_run()
        self._own_run = run is None
        if run is None:
            run = mlflow.start_run(run_name=self.run_name)
        self.run_id = run.info.run_id
        if self.log_params and self._own_run:
            mlflow.log_params(_flat_params(training_config, model_config))
        logger.info("logging loss terms to MLflow run %s", self.run_id)

    def log(self, metrics, step):
        self._mlflow.log_metrics(metrics, step=step)

    def finish(self):
        if self._own_run:
            self._mlflow.end_run()
            self._own_run = False


class WandbLossTermsCallback(LossTermsCallback):
    """Log the per-epoch terms to Weights & Biases (see the module docstring for the metric names).

    Logs into the active wandb run when there is one, for example the run of pythae's
    ``WandbCallback``, against pythae's step metric ``train/global_step``. Otherwise it starts a run and
    finishes it when training ends. ``WANDB_MODE=offline`` (or ``mode="offline"``) writes the run to
    disk for a later ``wandb sync`` and needs no account or network.

    Args:
        project, entity, run_name, mode, dir: passed to ``wandb.init`` (``name=run_name``).
        log_epoch_loss: also log pythae's train/eval epoch loss.
    """

    def __init__(
        self,
        project: str = "pythae_t3cvae",
        entity: Optional[str] = None,
        run_name: Optional[str] = None,
        mode: Optional[str] = None,
        dir: Optional[str] = None,
        log_epoch_loss: bool = True,
    ):
        super().__init__(log_epoch_loss)
        try:
            import wandb
        except ImportError as error:
            raise ModuleNotFoundError(
                "WandbLossTermsCallback needs wandb: pip install wandb (WANDB_MODE=offline needs no account)"
            ) from error
        self._wandb = wandb
        self.init_kwargs = dict(project=project, entity=entity, name=run_name, mode=mode, dir=dir)
        self.run = None
        self._own_run = False

    def start(self, training_config, model_config):
        wandb = self._wandb
        self.run = wandb.run
        self._own_run = self.run is None
        if self._own_run:
            config = {"training_config": training_config.to_dict()}
            if model_config is not None:
                config["model_config"] = model_config.to_dict()
            kwargs = {key: value for key, value in self.init_kwargs.items() if value is not None}
            self.run = wandb.init(config=config, **kwargs)
            self.run.define_metric("train/global_step")
            self.run.define_metric("*", step_metric="train/global_step", step_sync=True)

    def log(self, metrics, step):
        self.run.log({**metrics, "train/global_step": step})

    def finish(self):
        if self._own_run:
            self.run.finish()
            self._own_run = False
