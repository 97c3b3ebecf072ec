"""The local state DB every process on one settings folder shares, and its schema migrations."""
