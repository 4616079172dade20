"""Parts of one page: app_pages/upload.py."""
