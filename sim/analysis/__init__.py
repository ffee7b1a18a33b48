"""Analyses built on runs: calibration against published figures, sensitivity, scenario comparisons.

Imports :mod:`sim.runs` and :mod:`sim.model` below it; draws no figures.
"""
