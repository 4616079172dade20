"""Parts of one page: app_pages/softmax.py."""
