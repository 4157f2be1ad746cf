"""Prefect flows and deployments: orchestration of the pipeline steps, nothing else."""
