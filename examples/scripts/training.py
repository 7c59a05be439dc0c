"""Train one model on a long-tailed preset with pythae's trainer, from JSON configs.

The shape of pythae's ``examples/scripts/training.py``, with this package's models and labelled
long-tailed data. Configs default to ``configs/<dataset>/<model_name>_config.json`` and
``configs/<dataset>/base_training_config.json`` next to this script. ``input_dim`` comes from the
data; for the conditional models ``n_classes`` and ``class_counts`` come from the training set.

    python examples/scripts/training.py --dataset digits-lt --model_name t3cvae
    python examples/scripts/training.py --dataset cifar10-lt --data_root data/cifar10 --rho 100 \\
        --model_name t3cvae --use_mlflow --mlflow_tracking_uri sqlite:///mlflow.db

Under torchrun (WORLD_SIZE > 1) it trains with ``pythae_t3cvae.distributed.DistributedTrainer``,
which also runs on CPU with the gloo backend; ``per_device_train_batch_size`` is then per process:

    torchrun --standalone --nproc_per_node 2 examples/scripts/training.py --dataset digits-lt \\
        --model_name t3cvae
"""

import argparse
import dataclasses
import json
import logging
import os
import sys

from pythae.models import VAE, BetaVAE, BetaVAEConfig, VAEConfig
from pythae.trainers import BaseTrainer, BaseTrainerConfig

from pythae_t3cvae import CVAE, T3CVAE, T3VAE, CVAEConfig, T3CVAEConfig, T3VAEConfig, class_counts
from pythae_t3cvae.data import list_presets, load_preset
from pythae_t3cvae.distributed import DistributedTrainer
from pythae_t3cvae.networks import build_networks, network_for_input

logger = logging.getLogger(__name__)

PATH = os.path.dirname(os.path.abspath(__file__))
CONFIG_DIR = os.path.join(PATH, "configs")

#: --model_name -> (model class, config class); the beta variants are ``beta`` in the JSON config
MODELS = {
    "vae": (VAE, VAEConfig),
    "beta_vae": (BetaVAE, BetaVAEConfig),
    "t3vae": (T3VAE, T3VAEConfig),
    "cvae": (CVAE, CVAEConfig),
    "t3cvae": (T3CVAE, T3CVAEConfig),
}
NETWORK_CHOICES = ("conv", "default")


def config_folder(dataset: str) -> str:
    """Return the configs folder of a dataset; ``celeba-<attribute>`` uses ``configs/celeba``."""
    name = "celeba" if dataset.startswith("celeba-") else dataset
    return os.path.join(CONFIG_DIR, name)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        description="Train one model on a long-tailed preset with pythae's trainer.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=__doc__.split("\n\n", 1)[1],
    )
    data = parser.add_argument_group("data")
    data.add_argument(
        "--dataset", required=True,
        help=f"preset name: one of {list_presets()} or celeba-<attribute>, for example celeba-mustache",
    )
    data.add_argument("--data_root", default=None, help="folder with the preset's files (see load_preset)")
    data.add_argument("--rho", type=float, default=None,
                      help="imbalance ratio n_max / n_min (default: the preset's, 100 for *-lt)")
    data.add_argument("--data_seed", type=int, default=0, help="seed of which images are kept")

    model = parser.add_argument_group("model and training")
    model.add_argument("--model_name", required=True, choices=sorted(MODELS), help="the model to train")
    model.add_argument("--model_config", default=None,
                       help="model config JSON (default: configs/<dataset>/<model_name>_config.json)")
    model.add_argument("--training_config", default=None,
                       help="training config JSON (default: configs/<dataset>/base_training_config.json)")
    model.add_argument(
        "--nn", choices=NETWORK_CHOICES, default=None,
        help="'conv': this package's reference network for the image size (conv8/28/32/64); "
             "'default': pythae's MLPs. Default: the config's 'network' if it names one, else 'conv'",
    )
    model.add_argument("--output_dir", default=None, help="overrides output_dir of the training config")
    model.add_argument("--eval_on_test", action="store_true",
                       help="pass the balanced test set as pythae's eval set; pythae then keeps the "
                            "epoch with the lowest test loss as final_model")
    model.add_argument("--init_method", default="env://",
                       help="rendezvous of distributed runs (default env://, set up by torchrun)")

    tracking = parser.add_argument_group("tracking")
    tracking.add_argument("--use_mlflow", action="store_true", help="log loss terms per epoch to MLflow")
    tracking.add_argument("--mlflow_tracking_uri", default=None,
                          help="for example sqlite:///mlflow.db or file:/path/mlruns")
    tracking.add_argument("--mlflow_experiment", default=None, help="MLflow experiment name")
    tracking.add_argument("--use_wandb", action="store_true",
                          help="log loss terms per epoch to wandb (WANDB_MODE=offline works without account)")
    tracking.add_argument("--wandb_project", default="pythae_t3cvae", help="wandb project")
    tracking.add_argument("--wandb_entity", default=None, help="wandb entity")
    return parser


def _read_json(path: str, what: str) -> dict:
    if not os.path.isfile(path):
        option = "--model_config" if what == "model config" else "--training_config"
        raise FileNotFoundError(f"{what} not found: {path}; pass one with {option}")
    with open(path) as f:
        try:
            return json.load(f)
        except json.JSONDecodeError as error:
            raise ValueError(f"{what} {path} is not valid JSON: {error}") from error


def _read_config(path: str, what: str, config_cls, needed_by: str) -> dict:
    """Read the fields of a config JSON and reject keys unknown to ``config_cls``, which would ignore them."""
    values = _read_json(path, what)
    name = values.pop("name", config_cls.__name__)
    if name != config_cls.__name__:
        raise ValueError(
            f"{path} is a {name} but {needed_by} needs a {config_cls.__name__}: "
            f"pass the matching config or set \"name\": \"{config_cls.__name__}\""
        )
    unknown = sorted(set(values) - {field.name for field in dataclasses.fields(config_cls)})
    if unknown:
        raise ValueError(f"{path}: {config_cls.__name__} has no fields {unknown}, check their spelling")
    return values


def load_training_config(path: str) -> BaseTrainerConfig:
    """Read a training config JSON; WORLD_SIZE, RANK and LOCAL_RANK come from the environment."""
    return BaseTrainerConfig(**_read_config(path, "training config", BaseTrainerConfig, "--training_config"))


def load_model_config(path: str, model_name: str, input_dim, n_classes: int, counts) -> object:
    """Read a model config JSON and fill in what the data decide."""
    model_cls, config_cls = MODELS[model_name]
    values = _read_config(path, "model config", config_cls, f"--model_name {model_name}")
    values["input_dim"] = tuple(input_dim)
    if getattr(model_cls, "conditional", False):
        if values.get("n_classes", n_classes) != n_classes:
            raise ValueError(
                f"{path} sets n_classes={values['n_classes']} but the dataset has {n_classes} classes: "
                "fix or remove n_classes in the config"
            )
        if values.get("class_counts") not in (None, list(counts)):
            logger.warning("replacing class_counts of %s by the training set's %s", path, list(counts))
        values["n_classes"], values["class_counts"] = n_classes, list(counts)
    try:
        return config_cls(**values)
    except TypeError as error:
        raise ValueError(f"{path}: {error}") from error


def build_model(model_name: str, model_config, nn_choice):
    """Build the model, with the networks chosen by ``--nn`` (see the parser's help)."""
    model_cls, _ = MODELS[model_name]
    ours = model_cls not in (VAE, BetaVAE)
    if nn_choice is None:
        nn_choice = "conv" if not ours or model_config.network is None else "named"
    if nn_choice == "default":
        if ours:
            model_config.network = None
        return model_cls(model_config)

    network = model_config.network if nn_choice == "named" else network_for_input(model_config.input_dim)
    if network is None:
        raise ValueError(
            f"no reference network for input_dim={tuple(model_config.input_dim)} (square 8, 28, 32 or "
            "64 pixel images); use --nn default for pythae's MLPs"
        )
    if ours:
        model_config.network = network
        return model_cls(model_config)
    # pythae's VAEs take the networks as objects (and pickle them when saved).
    encoder, decoder = build_networks(network, model_config.input_dim, model_config.latent_dim)
    return model_cls(model_config, encoder=encoder, decoder=decoder)


def build_callbacks(args) -> list:
    callbacks = []
    if args.use_mlflow:
        from pythae_t3cvae.tracking import MLflowLossTermsCallback

        callbacks.append(MLflowLossTermsCallback(args.mlflow_tracking_uri, args.mlflow_experiment))
    if args.use_wandb:
        from pythae_t3cvae.tracking import WandbLossTermsCallback

        callbacks.append(WandbLossTermsCallback(project=args.wandb_project, entity=args.wandb_entity))
    return callbacks


def main(argv=None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    rank = int(os.environ.get("RANK", 0))
    # pythae's loggers print on their own; only this script's and the package's need a handler.
    handler = logging.StreamHandler()
    for name in (__name__, "pythae_t3cvae"):
        logging.getLogger(name).addHandler(handler)
        logging.getLogger(name).setLevel(logging.INFO if rank == 0 else logging.WARNING)

    folder = config_folder(args.dataset)
    model_config_path = args.model_config or os.path.join(folder, f"{args.model_name}_config.json")
    training_config_path = args.training_config or os.path.join(folder, "base_training_config.json")
    try:
        data = load_preset(args.dataset, root=args.data_root, rho=args.rho, data_seed=args.data_seed)
        n_classes = len(data.class_names)
        counts = class_counts(data.train, n_classes)
        model_config = load_model_config(model_config_path, args.model_name, data.input_dim, n_classes, counts)
        model = build_model(args.model_name, model_config, args.nn)

        training_config = load_training_config(training_config_path)
        if args.output_dir is not None:
            training_config.output_dir = args.output_dir
        callbacks = build_callbacks(args)
    except (ValueError, FileNotFoundError, ModuleNotFoundError, TypeError) as error:
        parser.error(str(error))

    logger.info("%s on %s: train counts %s, input_dim %s", args.model_name, args.dataset, counts, data.input_dim)
    logger.info("model config: %s", model_config)
    logger.info("training config: %s", training_config)

    eval_dataset = data.test if args.eval_on_test else None
    if training_config.world_size > 1:
        trainer = DistributedTrainer(
            model, data.train, eval_dataset, training_config, callbacks, init_method=args.init_method
        )
    else:
        trainer = BaseTrainer(model, data.train, eval_dataset, training_config, callbacks)
    trainer.train()
    if trainer.is_main_process:
        logger.info("final model: %s", os.path.join(trainer.training_dir, "final_model"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
