"""The HTTP entrypoint: an OpenStack Block Storage v3-shaped REST API (FastAPI)."""

from volclone.api.app import create_app

__all__ = ["create_app"]
