"""Install the project's top-level folders under the one import name ``tokenfab``.

The folders ``hw/``, ``sim/``, ``rtl/``, ``fpga/``, ``arch_models/`` and ``cost_models/`` stay
at the top of the repository (the project's specified layout) but are packaged as
``tokenfab.hw``, ``tokenfab.sim``, ...: the distribution adds exactly one top-level import
name, so it never shadows a user's own ``hw`` or ``sim`` package. Sub-packages are found
here, so a new design's packages need no edit of this file.
"""
from setuptools import find_packages, setup

LEVELS = ("hw", "sim", "rtl", "fpga", "arch_models", "cost_models")

packages = find_packages(include=["tokenfab", "tokenfab.*"])
package_dir = {"tokenfab": "tokenfab"}
for level in LEVELS:
    package_dir[f"tokenfab.{level}"] = level
    packages += [f"tokenfab.{level}"] + [f"tokenfab.{level}.{p}" for p in find_packages(level)]

setup(packages=packages, package_dir=package_dir)
