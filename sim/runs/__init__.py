"""Runs of the model: configuration (Hydra), replicates and seeds, posterior draws, sweeps, results.

Imports only :mod:`sim.model` below it.
"""
