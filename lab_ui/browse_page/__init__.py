"""Parts of one page: app_pages/browse.py."""
