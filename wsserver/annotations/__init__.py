"""Reactions, replies and threads, edits: lines of the channel log that point at earlier lines.

* :mod:`.lines`: the grammar of annotation lines (format, parse), unforgeable from chat text;
* :mod:`.index`: what the annotations of one log say about its lines, folded from the log;
* :mod:`.requests`: the client frames that ask for them, and their sentences;
* :mod:`.writer`: checking a request against the log and appending its line.
"""
