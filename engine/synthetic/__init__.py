"""Synthetic data for machine types: the physics-informed degradation simulator (`simulator.py`)."""
