"""What a curate run raises: both the worker path and the SQL path fail with these."""

from __future__ import annotations


class CurateError(RuntimeError):
    """A curate run could not complete (missing input, changed raw data, unbalanced accounting)."""


class RejectRateExceeded(CurateError):
    """More rows were rejected than the contract allows; quarantine and manifest are already written."""

    def __init__(
        self,
        dataset: str,
        run_id: str,
        rejected: int,
        read: int,
        threshold: float,
        quarantine: str,
        manifest: str,
    ) -> None:
        self.dataset, self.run_id = dataset, run_id
        self.rejected, self.read, self.threshold = rejected, read, threshold
        self.rate = rejected / read if read else 0.0
        self.quarantine, self.manifest = quarantine, manifest
        super().__init__(
            f"{dataset}: reject rate {self.rate:.2%} ({rejected} of {read} rows) is above the threshold "
            f"{threshold:.2%} (quality.reject_rate_max) in run {run_id}; nothing was curated. "
            f"Rejects with reasons: {quarantine}; manifest: {manifest}"
        )
