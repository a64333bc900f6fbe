"""The web app, run from a checkout: `python ui.py --corpus corpus --index index` (the same as `qa serve`)."""

from qa.web.server import main

if __name__ == "__main__":
    raise SystemExit(main())
