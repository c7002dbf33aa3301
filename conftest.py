"""Loaded first by pytest (before any arithlens module is imported for doctests): the whole
suite runs with the Hugging Face Hub offline, so nothing can be downloaded."""

import os

os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"
