"""derivation: the activation memory of Transformer layers, derived tensor by tensor.

>>> from derivation import derive
>>> print(derive())
sbh(34 + 5as/h)
"""

from .checker import check
from .comparison import compare
from .pipeline import derive
from .errors import DerivationError, ParseError
from .parser import parse
from .memory import budget
from .result import Derivation
from .states import model_states, parameter_count
from .variant import Variant, make_variant

__all__ = ["budget", "check", "compare", "derive", "Derivation", "DerivationError", "ParseError", "Variant",
           "make_variant", "model_states", "parameter_count", "parse"]
__version__ = "0.1.0"
