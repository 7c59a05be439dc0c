from setuptools import find_packages, setup

setup(
    name="pythae-t3cvae",
    version="0.1.0",
    description=(
        "Heavy-tailed class-conditional VAEs (t3VAE, C-t3VAE, C-VAE) for long-tailed data, "
        "as pythae models and samplers"
    ),
    long_description=open("README.md", encoding="utf-8").read(),
    long_description_content_type="text/markdown",
    python_requires=">=3.9",
    packages=find_packages(include=["pythae_t3cvae", "pythae_t3cvae.*"]),
    install_requires=[
        # pythae 0.1.2 is the release whose registries and trainer hooks this package extends.
        "pythae==0.1.2",
        "pydantic>=2",
        "torch>=2.0",
        "torchvision",
        "numpy",
        "scipy",
        "scikit-learn",
        "matplotlib",
        "tqdm",
        "pillow",
    ],
    extras_require={
        # mlflow-skinny: the tracking client and file store without mlflow's server stack
        # (pyarrow, pandas, Flask, SQLAlchemy); the full mlflow package works the same way.
        "test": ["pytest", "prdc==0.2", "mlflow-skinny"],
    },
    entry_points={
        "console_scripts": [
            "t3cvae-bench=pythae_t3cvae.bench.cli:main",
            "t3cvae-evaluate=pythae_t3cvae.bench.evaluate:main",
        ]
    },
)
