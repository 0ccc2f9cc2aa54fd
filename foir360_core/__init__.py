"""foir360_core: fine-grained object importance ranking in 360° panoramas, without ROS.

Subpackages follow the pipeline: ``geometry`` (ERP conventions, views), ``structures``
(the instance container), ``io`` (dataset files), ``synth`` (synthetic panoramas),
``labeling`` (weak-supervision pseudo-labels), ``models`` and ``training`` (PanoRank),
``metrics``, ``export`` and ``runtime``.
"""

__version__ = "0.1.0"
