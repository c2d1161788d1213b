"""The tamper-evident audit log: the record and segment formats, the RFC 9162 Merkle tree, C2SP signed
checkpoints, the local spool, the write-once buckets (filesystem, S3 Object Lock) and the offline verifier.

The formats and the tree (``record``, ``segment``, ``merkle``, ``checkpoint``, ``verify``) do no I/O of their
own; ``spool``, ``hashstore``, ``keys`` and the buckets are the parts that touch disks and networks. The
compliance service runs them (``compliance/trail.py``); ``tradingdesk audit`` is the auditor's side.
docs/audit.md describes all of it for auditors.
"""
