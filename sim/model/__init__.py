"""The model: parameter schemas, the Mesa model and its agents, populations as arrays, mechanisms.

The bottom layer. It knows nothing of Hydra, files or plots, and importing it loads neither Hydra,
pandas nor matplotlib: it takes :class:`sim.model.schemas.ModelParams` and a seed and leaves its
record in :attr:`sim.model.model.ScamModel.ledger`.
"""
