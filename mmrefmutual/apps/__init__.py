"""Applications on top of the library: the human evaluation of REG (the paper's Table 2)
and the interactive demo, served by one small web app (:mod:`.server`).

Nothing in the library imports this package; its web dependencies (starlette, uvicorn)
are imported by :mod:`.server` only.
"""
