"""The browser tests' fixtures (support/browser.py): a whole hub per module, and Chromium."""
from support.browser import chromium, console_hub  # noqa: F401  (fixtures)
