"""File and image sharing: a file is a chat line that points at a stored file.

* :mod:`.requests`: the ``upload`` frame, the name and size rules, the sentences;
* :mod:`.media`: what a file is (from its bytes), and images decoded, cleaned and shrunk with Pillow;
* :mod:`.storage`: the files dir: parts being received, files served inline or as attachments, withdrawn ones;
* :mod:`.routes`: ``PUT /api/uploads/ID`` and ``GET /files/ID/NAME``.

The one-time upload tickets are kept by the store (:class:`~wsserver.store.base.Tickets`),
so that the ``PUT`` may reach any process or node.
"""
