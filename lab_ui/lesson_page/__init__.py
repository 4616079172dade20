"""Parts of one page: app_pages/lesson.py."""
