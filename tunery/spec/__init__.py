"""Experiment specs: Katib ``kubeflow.org/v1beta1`` and native ``tunery/v1`` documents.

- :func:`load_file` / :func:`parse_text`: every Experiment of a YAML or JSON file, defaulted
  (as Katib's defaulting webhook) and validated (as Katib's validating webhook);
- :func:`parse_document` / :func:`to_document`: one document <-> :class:`ExperimentSpec`;
- :func:`render_trial`: a trial's argv, environment, working directory, timeout, resources;
- :func:`format_value`: how a parameter value is written into a command;
- :func:`spec_warnings`: valid but questionable settings, one line each.
"""

from __future__ import annotations

from tunery.spec.katib import (
    ParsedExperiment,
    load_file,
    parse_document,
    parse_experiment,
    parse_text,
    to_document,
)
from tunery.spec.template import RenderedTrial, format_value, render_trial
from tunery.spec.validate import spec_warnings

__all__ = [
    "ParsedExperiment",
    "RenderedTrial",
    "format_value",
    "load_file",
    "parse_document",
    "parse_experiment",
    "parse_text",
    "render_trial",
    "spec_warnings",
    "to_document",
]
