"""The users' tools, which work against any stack: the local one or a deployed one.

A command reaches its stack only through a :class:`payctl.tools.connection.Connection`, so
nothing here imports the local stack or the moto runtime: the same calls reach moto locally
and AWS when deployed.
"""
