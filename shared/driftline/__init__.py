"""Driftline: serverless monitoring for machine-learning models in production, on AWS."""

__version__ = "0.1.0"
