"""Branching strategies as registered plug-ins.

Each strategy is one module defining a pydantic ``Params`` model (its YAML parameters,
with ``name`` as the discriminator) and a :class:`~trunksim.strategies.base.Strategy`
subclass, plus one line in :data:`trunksim.strategies.registry.REGISTRY`.
"""
