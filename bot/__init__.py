"""newsbot's outer layer: the command line and the Telegram bot over the ``index`` core.

Importing this package does not import ``telegram``; the bot modules load it only when the bot runs.
"""

from importlib import metadata

try:  # pyproject.toml holds the one version string; an installed newsbot reports it
    __version__ = metadata.version("newsbot")
except metadata.PackageNotFoundError:  # run from a source tree that was never installed
    __version__ = "0+unknown"
