"""A Python client of the platform's portal API (services/intake/openapi.yaml) and a command line over it:
`python -m client.siyige submit-folder …` submits a folder of works described by an XLSX manifest."""
from .api import Client
from .errors import (
    ApiError,
    Conflict,
    Forbidden,
    Invalid,
    ManifestError,
    NotFound,
    RateLimited,
    ServerError,
    SiyigeError,
    TooLarge,
    Unauthorized,
)

__all__ = ["ApiError", "Client", "Conflict", "Forbidden", "Invalid", "ManifestError", "NotFound", "RateLimited",
           "ServerError", "SiyigeError", "TooLarge", "Unauthorized"]
