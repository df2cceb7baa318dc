"""Model families. Each saves to a folder with ``kemala_model.json`` naming its family.

Only :mod:`training.models.base` is imported eagerly; the torch-backed families load
on demand, so a linear model can be served without importing torch.
"""

from training.models.base import MODEL_META_FILE, TextClassifier, build_classifier, load_classifier

__all__ = ["MODEL_META_FILE", "TextClassifier", "build_classifier", "load_classifier"]
