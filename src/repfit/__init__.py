"""repfit: reps while your model fits.

Subpackages
-----------
repfit.wire          the MQTT message contract (topics, payloads, validation)
repfit.detection     pure streaming rep counting and motion simulation
repfit.integrations  training-side adapters (LightGBM, ...) and the coach
repfit.host          the host near the user: bus, sessions, store, wearables, CLI
"""

__version__ = "0.1.0"
__all__ = ["__version__"]
