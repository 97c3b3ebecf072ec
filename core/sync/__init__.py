"""The machinery every record-syncing module shares: plan, guard, then apply in batches.

A module only reads its source and turns each item into a ``SourceRecord``; ``RecordSync``
does the rest (matching, change detection, the mass-deactivation guard, batching, dry run,
per-record errors, the id map in the state DB), so every integration behaves the same.
"""
