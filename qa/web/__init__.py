"""The web app: a Gradio page over the `qa` library (`qa serve`, `python ui.py`).

    render    pure HTML from library objects, everything from an article escaped
    builds    one background build at a time, with its progress
    watching  the corpus watcher (--watch) building through the app, and its last build and feed sync
    app       the app's state and actions (ask, open an article, status, upload, add by URL, watch)
    page      the Gradio Blocks: widgets, their events, the public API (/ask, /ask_sorted, /add_urls)
    limits    who may come in (a login) and how fast one client may ask
    options   the watching options shared by ui.py and qa serve
    server    the command line and launch

Importing qa.web alone loads no Gradio; it only makes sure that Gradio, once
loaded, calls nowhere (no analytics) and that models load offline.
"""

from __future__ import annotations

import os

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
