"""Katib's SDK constants (``kubeflow.katib.constants.constants``), with the same names and values.

Kubernetes-only values (API group, plurals, images) are kept so that code reading them runs; locally
they name nothing.
"""

from __future__ import annotations

import os

DEFAULT_TIMEOUT = 120

RFC3339_FORMAT = "%Y-%m-%dT%H:%M:%SZ"

KATIB_VERSION = os.environ.get("EXPERIMENT_VERSION", "v1beta1")

KUBEFLOW_GROUP = "kubeflow.org"
API_VERSION = f"{KUBEFLOW_GROUP}/{KATIB_VERSION}"
EXPERIMENT_KIND = "Experiment"
EXPERIMENT_PLURAL = "experiments"
SUGGESTION_PLURAL = "suggestions"
TRIAL_PLURAL = "trials"

DEFAULT_PRIMARY_CONTAINER_NAME = "training-container"

EXPERIMENT_LABEL = "katib.kubeflow.org/experiment"

CONDITION_STATUS_TRUE = "True"
CONDITION_STATUS_FALSE = "False"

EXPERIMENT_CONDITION_CREATED = "Created"
EXPERIMENT_CONDITION_RUNNING = "Running"
EXPERIMENT_CONDITION_RESTARTING = "Restarting"
EXPERIMENT_CONDITION_SUCCEEDED = "Succeeded"
EXPERIMENT_CONDITION_FAILED = "Failed"

TRIAL_CONDITION_SUCCEEDED = "Succeeded"

BASE_IMAGE_TENSORFLOW = "docker.io/tensorflow/tensorflow:2.13.0"
BASE_IMAGE_TENSORFLOW_GPU = "docker.io/tensorflow/tensorflow:2.13.0-gpu"
BASE_IMAGE_PYTORCH = "docker.io/pytorch/pytorch:2.2.1-cuda12.1-cudnn8-runtime"

DEFAULT_DB_MANAGER_ADDRESS = "katib-db-manager.kubeflow:6789"

PVC_DEFAULT_SIZE = "10Gi"
PVC_DEFAULT_ACCESS_MODES = ["ReadWriteOnce", "ReadOnlyMany"]

#: Katib's value of a metric that was reported but is not a number.
UNAVAILABLE_METRIC_VALUE = "unavailable"
