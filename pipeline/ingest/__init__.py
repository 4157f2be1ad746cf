"""Submission files → items, one per question."""

from pipeline.ingest._split import (
    DEFAULT_MAX_BYTES,
    SUBMISSION_SUFFIXES,
    CodeBlock,
    Item,
    RejectedFile,
    Submission,
    SubmissionRejected,
    discover,
    file_id,
    read_file,
    split_code,
    split_file,
    split_markdown,
    split_round,
)

__all__ = [
    "DEFAULT_MAX_BYTES",
    "SUBMISSION_SUFFIXES",
    "CodeBlock",
    "Item",
    "RejectedFile",
    "Submission",
    "SubmissionRejected",
    "discover",
    "file_id",
    "read_file",
    "split_code",
    "split_file",
    "split_markdown",
    "split_round",
]
