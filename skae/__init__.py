"""skae: scikit-learn autoencoders backed by PyTorch.

Every estimator is a scikit-learn transformer with ``fit``, ``transform``,
``inverse_transform`` and ``score``: a drop-in, non-linear replacement for
:class:`~sklearn.decomposition.PCA`.
"""

from . import exceptions
from ._config import config_context, get_config, set_config
from ._contractive import ContractiveAE
from ._convolutional import ConvolutionalAE
from ._denoising import DenoisingAE
from ._impute import AutoencoderImputer
from ._outliers import OutlierDetector
from ._persistence import load_model, save_model
from ._sequence import SequenceAE
from ._show_config import show_config
from ._sparse import SparseAE
from ._stacked import StackedAE
from ._undercomplete import UndercompleteAE
from ._variational import VAE
from .exceptions import ModelFileError, TrainingDiverged

__version__ = "0.2.0"

__all__ = [
    "AutoencoderImputer",
    "ContractiveAE",
    "ConvolutionalAE",
    "DenoisingAE",
    "ModelFileError",
    "OutlierDetector",
    "SequenceAE",
    "SparseAE",
    "StackedAE",
    "TrainingDiverged",
    "UndercompleteAE",
    "VAE",
    "__version__",
    "config_context",
    "exceptions",
    "get_config",
    "load_model",
    "save_model",
    "set_config",
    "show_config",
]
