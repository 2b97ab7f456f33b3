"""Changing the served models while serving, as TF Serving does: ModelService's
HandleReloadConfigRequest and --model_config_file_poll_wait_seconds (the config file read again
when it changes). The new model list replaces the old (reconcile.Reconciler.reload); then every
version label must name an AVAILABLE version unless --allow_version_labels_for_unavailable_models.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable

from ie_serving.config import ModelConfig, check_unique_names
from ie_serving.errors import ConfigError, FailedPrecondition, InvalidInput
from ie_serving.periodic import Periodic
from ie_serving.protos.tensorflow_serving.config import model_server_config_pb2
from ie_serving.reconcile import Reconciler
from ie_serving.tf_serving_flags import models_from_proto

log = logging.getLogger(__name__)


class ConfigReloader:
    """Applies a new model list to the store; one reload at a time."""

    def __init__(
        self,
        reconciler: Reconciler,
        allow_unavailable_labels: bool = False,
        after_reload: Callable[[], None] | None = None,
    ):
        self.reconciler = reconciler
        self.allow_unavailable_labels = allow_unavailable_labels
        self.after_reload = after_reload
        self._lock = threading.Lock()

    def check_labels(self) -> None:
        """FailedPrecondition, in TF Serving's words, for a label naming a version that is not
        AVAILABLE (server_core.cc UpdateModelVersionLabelMap), unless that is allowed."""
        errors = [] if self.allow_unavailable_labels else self.reconciler.store.label_errors()
        if errors:
            raise FailedPrecondition("; ".join(errors))

    def reload(self, models: tuple[ModelConfig, ...], source: str) -> None:
        """Serve `models` from now on; InvalidInput for a list that cannot be served,
        FailedPrecondition when a label names a version that is not AVAILABLE."""
        try:
            check_unique_names(models, source)
        except ConfigError as exc:
            raise InvalidInput(str(exc)) from None
        with self._lock:
            log.info("reloading the model config from %s: %s", source, ", ".join(m.name for m in models))
            self.reconciler.reload(models)
            if self.after_reload is not None:
                self.after_reload()
            self.check_labels()

    def reload_proto(self, document: model_server_config_pb2.ModelServerConfig) -> None:
        """HandleReloadConfigRequest's ModelServerConfig."""
        try:
            models = models_from_proto(document, "HandleReloadConfigRequest")
        except ConfigError as exc:
            raise InvalidInput(str(exc)) from None
        self.reload(models, "HandleReloadConfigRequest")


class ConfigFilePoller(Periodic):
    """Reads the config file again every `interval` seconds and reloads when it changed
    (size or modification time), as --model_config_file_poll_wait_seconds does; a file that
    cannot be read or served is logged and the models already served stay."""

    def __init__(
        self, path: str, load: Callable[[str], tuple[ModelConfig, ...]], interval: float, reloader: ConfigReloader
    ):
        self._path = path
        self._load = load
        self._reloader = reloader
        self._seen = self._stamp()
        super().__init__("config-poller", interval, self._check)

    def _stamp(self) -> tuple[int, int] | None:
        try:
            stat = os.stat(self._path)
        except OSError:
            return None
        return stat.st_size, stat.st_mtime_ns

    def _check(self) -> None:
        stamp = self._stamp()
        if stamp is None or stamp == self._seen:
            return
        self._seen = stamp
        self._reloader.reload(self._load(self._path), self._path)
