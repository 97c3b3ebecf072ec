"""Sync modules: one small class per integration, behind ``SyncModule``."""
