"""The one exception type for mistakes a user can fix (a bad file, a wrong option).

``foir360`` prints such an error as one line, ``foir360 COMMAND: message``, and exits 2;
anything else is a bug and keeps its traceback. Error types of the packages derive from it
(``DatasetError``, ``CheckpointError``, ``ConfigError``, ...), and their messages name the
file and the fix.
"""


class UserError(Exception):
    """Bad input from the user: the message names the problem and the fix."""
