"""Operator tools that work against any stack through a :class:`payctl.tools.connection.Connection`.

Nothing here imports the local runtime: the same calls reach moto locally and AWS when deployed.
"""
