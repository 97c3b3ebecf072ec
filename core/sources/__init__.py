"""Source clients: the only code that speaks a source's protocol (LDAP, Graph, IMAP, SQL, files).

Each client translates its library's errors into ``core.errors`` once, and is the only file
importing that library, so a module whose extra is missing fails alone, with a clear sentence.
"""
