"""Parts of one page: app_pages/train.py."""
