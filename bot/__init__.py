"""newsbot's outer layer: the command line and the Telegram bot over the ``index`` core.

Importing this package does not import ``telegram``; the bot modules load it only when the bot runs.
"""

__version__ = "0.1.0"
