class SignlangError(Exception):
    """A problem with the user's input, printed by the CLI as one line (no traceback)."""
