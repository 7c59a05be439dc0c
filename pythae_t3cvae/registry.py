"""Registries that let pythae's loaders and pipelines find this package's models and samplers.

pythae 0.1.2 looks models up in fixed if/elif chains (``AutoConfig.from_json_file``,
``AutoModel.load_from_folder``, ``GenerationPipeline.__init__``). ``install`` wraps each of them once,
without editing pythae: a name found in these registries is served from here, and any other name
goes to pythae's own chain unchanged. A new model or sampler is one ``register_*`` call.
"""

import json
import os

from pythae.models.auto_model import AutoConfig, AutoModel
from pythae.pipelines import GenerationPipeline

#: config class name -> (config class, model class)
MODELS = {}
#: sampler config class name -> (sampler config class, sampler class)
SAMPLERS = {}

_installed = False


def register_model(config_cls, model_cls) -> None:
    """Make ``AutoConfig`` and ``AutoModel`` load ``model_cls`` for configs named like ``config_cls``."""
    MODELS[config_cls.__name__] = (config_cls, model_cls)


def register_sampler(config_cls, sampler_cls) -> None:
    """Make ``GenerationPipeline`` build ``sampler_cls`` for sampler configs named like ``config_cls``."""
    SAMPLERS[config_cls.__name__] = (config_cls, sampler_cls)


def _config_name(dir_path: str) -> str:
    with open(os.path.join(dir_path, "model_config.json")) as f:
        return json.load(f)["name"]


def _pickled_networks(dir_path: str) -> list:
    """Return the pickle files a model folder needs, read from the flags of its model_config.json."""
    with open(os.path.join(dir_path, "model_config.json")) as f:
        config = json.load(f)
    flags = (config.get("uses_default_encoder", True), config.get("uses_default_decoder", True))
    return [name for name, default in zip(("encoder.pkl", "decoder.pkl"), flags) if not default]


def install() -> None:
    """Wrap pythae's lookups once so they consult the registries first (idempotent)."""
    global _installed
    if _installed:
        return

    pythae_config_from_json = AutoConfig.from_json_file.__func__
    pythae_load_from_folder = AutoModel.load_from_folder.__func__
    pythae_load_from_hf_hub = AutoModel.load_from_hf_hub.__func__
    pythae_generation_init = GenerationPipeline.__init__

    def config_from_json_file(cls, json_path):
        name = cls._dict_from_json(json_path).get("name")
        if name in MODELS:
            return MODELS[name][0].from_json_file(json_path)
        return pythae_config_from_json(cls, json_path)

    def load_from_folder(cls, dir_path, allow_pickle=None):
        name = _config_name(dir_path)
        if name in MODELS:
            return MODELS[name][1].load_from_folder(dir_path, allow_pickle=bool(allow_pickle))
        # pythae's own models unpickle their custom networks without asking; an explicit
        # allow_pickle=False is honoured for them too.
        if allow_pickle is False and _pickled_networks(dir_path):
            raise ValueError(
                f"{dir_path} stores its networks as pickle files ({', '.join(_pickled_networks(dir_path))}), "
                "and unpickling runs any code the file contains; pass allow_pickle=True only for a "
                "folder from a trusted source"
            )
        return pythae_load_from_folder(cls, dir_path)

    def load_from_hf_hub(cls, hf_hub_path, allow_pickle=False):
        # pythae's chain does not know this package's names, so read the name first.
        try:
            from huggingface_hub import hf_hub_download
        except ImportError as error:
            raise ModuleNotFoundError(
                "loading from the Hugging Face hub needs huggingface_hub: pip install huggingface_hub"
            ) from error
        name = _config_name(os.path.dirname(hf_hub_download(repo_id=hf_hub_path, filename="model_config.json")))
        if name in MODELS:
            return MODELS[name][1].load_from_hf_hub(hf_hub_path, allow_pickle=allow_pickle)
        return pythae_load_from_hf_hub(cls, hf_hub_path, allow_pickle=allow_pickle)

    def generation_init(self, model, sampler_config=None):
        name = getattr(sampler_config, "name", None)
        if name in SAMPLERS:
            self.sampler = SAMPLERS[name][1](model=model, sampler_config=sampler_config)
            return
        pythae_generation_init(self, model, sampler_config)

    AutoConfig.from_json_file = classmethod(config_from_json_file)
    AutoModel.load_from_folder = classmethod(load_from_folder)
    AutoModel.load_from_hf_hub = classmethod(load_from_hf_hub)
    GenerationPipeline.__init__ = generation_init
    _installed = True
