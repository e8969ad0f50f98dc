"""Reading feed pages: byte streams, JSON (whole or streamed), timestamps, string lists.

Pure helpers that source parsers share: :mod:`~threatstream.parsing.streams`,
:mod:`~threatstream.parsing.json_stream`, :mod:`~threatstream.parsing.timestamps` and
:mod:`~threatstream.parsing.string_lists`.
"""
