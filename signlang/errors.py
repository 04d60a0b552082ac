class SignlangError(Exception):
    """A problem with the user's input, printed by the CLI as one line (no traceback).

    The message is always one line: line breaks in it (a file name, a library's error text) become spaces.
    """

    def __init__(self, message=""):
        super().__init__(" ".join(str(message).splitlines()))
