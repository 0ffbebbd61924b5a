"""Which optional packages each use of the plugin needs, checked before any work starts.

`pip install "cs_transformer[serve]"` is enough to serve a trained model on CPU (onnxruntime,
tokenizers); training, `--finetune` and torch serving need `cs_transformer[train]`. A missing
package is reported when the component is created or loaded, with the install line, instead
of a `ModuleNotFoundError` from deep inside a run.
"""

from __future__ import annotations

import importlib.util
from typing import Sequence, Text

from cs_transformer.errors import CsTransformerError

# Import names (what `required_packages()` lists), per extra of pyproject.toml.
SERVING_MODULES = ("onnxruntime", "tokenizers")
TRAINING_MODULES = ("torch", "transformers", "onnx", "onnxruntime", "tokenizers")
TORCH_SERVING_MODULES = ("torch", "transformers")
TRAIN_INSTALL = 'pip install "cs_transformer[train]"'
SERVE_INSTALL = 'pip install "cs_transformer[serve]"'


def require(modules: Sequence[Text], install: Text, purpose: Text) -> None:
    """Raises a CsTransformerError naming every missing module of `modules` and the line that installs them."""
    missing = [module for module in modules if not installed(module)]
    if missing:
        raise CsTransformerError(
            f"cs_transformer needs {', '.join(missing)} {purpose}, and this Python environment lacks "
            f"{'it' if len(missing) == 1 else 'them'}. Install with: {install}"
        )


def installed(module: Text) -> bool:
    """Whether `module` can be imported here, without importing it (torch alone takes seconds)."""
    try:
        return importlib.util.find_spec(module) is not None
    except ValueError:  # in sys.modules as None: import blocked
        return False
