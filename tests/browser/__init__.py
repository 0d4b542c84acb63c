"""Real-browser tests: a JupyterLab server, headless Chromium, and notebooks run in both UIs.

Fixtures are in ``conftest.py``; the helpers to drive a notebook are in ``jupyter.py``.
"""
