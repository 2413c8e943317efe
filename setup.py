"""Packaging for ovirt-vf-scheduler (VM-FEX VF filter and weight for ovirt-scheduler-proxy)."""
from setuptools import find_packages, setup

setup(
    name="ovirt-vf-scheduler",
    version="0.1.0",
    description="ovirt-scheduler-proxy units that schedule VM-FEX / SR-IOV VMs by free virtual functions",
    long_description=open("README.md", encoding="utf-8").read(),
    long_description_content_type="text/markdown",
    license="Apache-2.0",
    python_requires=">=3.9",
    packages=find_packages(include=["ovirt_scheduler_proxy_plugins", "ovirt_scheduler_proxy_plugins.*",
                                    "ucsm_source", "ucsm_source.*"]),
    # The plugin modules are installed as top-level modules too, so that `install-plugins`
    # can copy the exact files this version ships.
    py_modules=["vf_filter", "vf_weight"],
    install_requires=[
        "ovirt-engine-sdk-python>=4.6,<4.7",
        "requests>=2.25",
        "defusedxml>=0.7",
        "lxml>=4.6",
        "prometheus_client>=0.12",
    ],
    extras_require={
        "test": ["pytest>=7", "trustme>=1.0", "ucsmsdk>=0.9"],
    },
    entry_points={"console_scripts": ["ovirt-vf-scheduler=ovirt_scheduler_proxy_plugins.cli:main"]},
)
