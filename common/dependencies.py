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

        config = self.container.config
        self.store = open_store(config["OBJECT_STORE_URL"], config.get("S3_VERIFIES_CHECKSUMS", True))
        if self.store.kind == "s3":
            self.store.ensure_bucket()

    def get_dependency(self, worker_ctx):
        return self.store


class Limits(DependencyProvider):
    """The service's rate limits (`common.ratelimit.RateLimits`), one set per process."""

    def setup(self):
        from common.ratelimit import RateLimits

        self.limits = RateLimits(self.container.config)

    def get_dependency(self, worker_ctx):
        return self.limits


class Segmenter(DependencyProvider):
    """jieba, loaded once when the service starts, on the service's own thread.

    Segmentation then runs in `eventlet.tpool` threads; loading there would hang,
    because the loading locks (jieba's, OpenCC's in `common.text`) are created under
    eventlet's monkey-patching (green locks) and a real thread cannot wait on them.
    Once loaded, cutting and converting take no lock.
    """

    def setup(self):
        from common import segment

        segment.words("預熱：加載分詞詞典和繁簡轉換表")  # loads jieba, the dictionary and OpenCC

    def get_dependency(self, worker_ctx):
        from common import segment

        return segment
