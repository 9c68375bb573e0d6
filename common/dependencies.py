"""nameko dependencies every service uses: its database and the object store."""
from __future__ import annotations

from nameko.extensions import DependencyProvider

from common.db import Store

DATABASE_URL_KEY = "DATABASE_URL"


class ServiceDb:
    """What a worker sees: transactions, and idempotent event handling."""

    def __init__(self, store: Store, processed_model, consumer: str):
        self.store = store
        self._processed_model = processed_model
        self._consumer = consumer

    def transaction(self):
        return self.store.transaction()

    def handling(self, event):
        """`with db.handling(event) as session:`; session is None if already done."""
        return self.store.handling(event, self._consumer, self._processed_model)


class Database(DependencyProvider):
    def __init__(self, processed_model):
        self.processed_model = processed_model
        self.store: Store | None = None

    def setup(self):
        self.store = Store(self.container.config[DATABASE_URL_KEY])

    def stop(self):
        if self.store is not None:
            self.store.dispose()

    def get_dependency(self, worker_ctx):
        consumer = f"{self.container.service_name}.{worker_ctx.entrypoint.method_name}"
        return ServiceDb(self.store, self.processed_model, consumer)



class ObjectStore(DependencyProvider):
    """The object store named by OBJECT_STORE_URL (folder or S3)."""

    def setup(self):
        from common.objectstore import open_store

        self.store = open_store(self.container.config["OBJECT_STORE_URL"])
        if self.store.kind == "s3":
            self.store.ensure_bucket()

    def get_dependency(self, worker_ctx):
        return self.store
